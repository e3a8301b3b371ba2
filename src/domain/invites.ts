// Single-use invite codes for `--registration invite`, stored hashed.
import { and, eq, gt, isNull } from "drizzle-orm";
import { invites } from "../db/schema";
import { forbidden } from "../errors";
import type { Ctx } from "./context";
import type { WriteCtx } from "../write/writer";
import { hashToken } from "./sessions";

export function createInvite(ctx: WriteCtx, createdBy: number | null, ttlDays: number): string {
  const code = ctx.newId(16);
  const now = ctx.clock();
  ctx.db.insert(invites).values({ codeHash: hashToken(code), createdBy, createdAt: now, expiresAt: now + ttlDays * 86_400_000 }).run();
  return code;
}

/** Marks a live code used by uid; 403 when the code is unknown, used or expired. Call inside the registration's transaction. */
export function redeemInvite(ctx: WriteCtx, code: string, uid: number): void {
  const now = ctx.clock();
  const used = ctx.db
    .update(invites)
    .set({ usedBy: uid, usedAt: now })
    .where(and(eq(invites.codeHash, hashToken(code)), isNull(invites.usedAt), gt(invites.expiresAt, now)))
    .returning({ id: invites.id })
    .all();
  if (used.length === 0) throw forbidden("invite: unknown, used or expired code");
}

export function inviteIsLive(ctx: Ctx, code: string): boolean {
  const row = ctx.db
    .select({ id: invites.id })
    .from(invites)
    .where(and(eq(invites.codeHash, hashToken(code)), isNull(invites.usedAt), gt(invites.expiresAt, ctx.clock())))
    .get();
  return row !== undefined;
}
