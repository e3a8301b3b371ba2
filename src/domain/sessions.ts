// Tokens are random (nanoid, 192 bits) and stored only as their sha256, so
// the database file never holds a usable token.
import { and, eq, lt, ne } from "drizzle-orm";
import { sessions } from "../db/schema";
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

const SQL_SESSION =
  "SELECT s.id, s.user_id AS userId, s.expires_at AS expiresAt, s.last_used_at AS lastUsedAt, u.disabled_at AS disabledAt " +
  "FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ? AND s.expires_at > ?";

/** The live session of a token, or 401. */
export function resolveToken(ctx: Ctx, token: string): Session {
  if (!token || token.length > 200) throw unauthorized();
  const tokenHash = hashToken(token);
  const now = ctx.clock();
  // Every REST request and every Login runs this: prepared once (Database.query caches it).
  const row = ctx.db.$client
    .query<{ id: number; userId: number; expiresAt: number; lastUsedAt: number; disabledAt: number | null }, [string, number]>(SQL_SESSION)
    .get(tokenHash, now);
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
