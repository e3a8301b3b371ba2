// Single-use invite codes for `--registration invite`, stored hashed.
import { forbidden } from "../errors";
import type { Ctx } from "./context";
import type { WriteCtx } from "../write/writer";
import { hashToken } from "./sessions";
import type { Flow } from "./store";

export function* createInvite(ctx: WriteCtx, createdBy: number | null, ttlDays: number): Flow<string> {
  const code = ctx.newId(16);
  const now = ctx.clock();
  yield* ctx.store.insertInvite({ codeHash: hashToken(code), createdBy, createdAt: now, expiresAt: now + ttlDays * 86_400_000 });
  return code;
}

/** Marks a live code used by uid; 403 when the code is unknown, used or expired. Call inside the registration's transaction. */
export function* redeemInvite(ctx: WriteCtx, code: string, uid: number): Flow<void> {
  if (!(yield* ctx.store.redeemInvite(hashToken(code), uid, ctx.clock()))) throw forbidden("invite: unknown, used or expired code");
}

export function* inviteIsLive(ctx: Ctx, code: string): Flow<boolean> {
  return yield* ctx.store.inviteIsLive(hashToken(code), ctx.clock());
}
