// Tokens are random (nanoid, 192 bits) and stored only as their sha256, so
// the database file never holds a usable token.
import { and, eq, gt, lt, ne } from "drizzle-orm";
import { sessions, users } from "../db/schema";
import { unauthorized } from "../errors";
import type { Ctx } from "./context";

export type Session = { sessionId: number; userId: number; tokenHash: string; expiresAt: number };

export const hashToken = (token: string) => new Bun.CryptoHasher("sha256").update(token).digest("hex");

// Touching last_used_at on every request would turn reads into writes.
const TOUCH_EVERY_MS = 60_000;

export function issueSession(ctx: Ctx, userId: number): string {
  const token = ctx.newId(32);
  const now = ctx.clock();
  ctx.db
    .insert(sessions)
    .values({ tokenHash: hashToken(token), userId, createdAt: now, expiresAt: now + ctx.auth.tokenTtlMs, lastUsedAt: now })
    .run();
  return token;
}

/** The live session of a token, or 401. */
export function resolveToken(ctx: Ctx, token: string): Session {
  if (!token || token.length > 200) throw unauthorized();
  const tokenHash = hashToken(token);
  const now = ctx.clock();
  const row = ctx.db
    .select({ id: sessions.id, userId: sessions.userId, expiresAt: sessions.expiresAt, lastUsedAt: sessions.lastUsedAt, disabledAt: users.disabledAt })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(and(eq(sessions.tokenHash, tokenHash), gt(sessions.expiresAt, now)))
    .get();
  if (!row || row.disabledAt) throw unauthorized();
  if (now - row.lastUsedAt > TOUCH_EVERY_MS) {
    ctx.db.update(sessions).set({ lastUsedAt: now }).where(eq(sessions.id, row.id)).run();
  }
  return { sessionId: row.id, userId: row.userId, tokenHash, expiresAt: row.expiresAt };
}

/** Revokes one session (logout). */
export function revokeSession(ctx: Ctx, sessionId: number): void {
  ctx.db.delete(sessions).where(eq(sessions.id, sessionId)).run();
}

/** Revokes every session of a user but, optionally, one. Returns the revoked token hashes. */
export function revokeUserSessions(ctx: Ctx, userId: number, keepSessionId?: number): string[] {
  const keep = keepSessionId === undefined ? undefined : ne(sessions.id, keepSessionId);
  return ctx.db
    .delete(sessions)
    .where(and(eq(sessions.userId, userId), keep))
    .returning({ tokenHash: sessions.tokenHash })
    .all()
    .map((r) => r.tokenHash);
}

export function purgeExpiredSessions(ctx: Ctx): number {
  return ctx.db.delete(sessions).where(lt(sessions.expiresAt, ctx.clock())).returning({ id: sessions.id }).all().length;
}
