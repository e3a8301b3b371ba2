// Tokens are random (nanoid, 192 bits) and stored only as their sha256, so
// the database file never holds a usable token.
import { and, eq, lt, ne } from "drizzle-orm";
import { revocations, sessions } from "../db/schema";
import { unauthorized } from "../errors";
import type { WriteCtx } from "../write/writer";
import type { Ctx } from "./context";
import type { Flow } from "./store";

export type Session = { sessionId: number; userId: number; tokenHash: string; expiresAt: number; /** last_used_at is due a touch */ stale: boolean };

export const hashToken = (token: string) => new Bun.CryptoHasher("sha256").update(token).digest("hex");

// Touching last_used_at on every request would turn reads into writes.
const TOUCH_EVERY_MS = 60_000;

export function issueSession(ctx: WriteCtx, userId: number): string {
  const token = ctx.newId(32);
  const now = ctx.clock();
  ctx.db
    .insert(sessions)
    .values({ tokenHash: hashToken(token), userId, createdAt: now, expiresAt: now + ctx.auth.tokenTtlMs, lastUsedAt: now })
    .run();
  return token;
}

/** The live session of a token, or 401. Reads only: a stale session is touched by the caller, on the write path. */
export function* resolveToken(ctx: Ctx, token: string): Flow<Session> {
  if (!token || token.length > 200) throw unauthorized();
  const tokenHash = hashToken(token);
  const now = ctx.clock();
  const row = yield* ctx.store.sessionByTokenHash(tokenHash, now);
  // disabledAt: 0 for an enabled user, null when the user is gone.
  if (!row || row.disabledAt !== 0) throw unauthorized();
  return { sessionId: row.id, userId: row.userId, tokenHash, expiresAt: row.expiresAt, stale: now - row.lastUsedAt > TOUCH_EVERY_MS };
}

export function* touchSession(w: WriteCtx, sessionId: number): Flow<void> {
  yield* w.store.touchSession(sessionId, w.clock());
}

/**
 * Records revoked tokens for every process on this database (a server polls
 * the table to close sockets of revocations it did not make) and closes this
 * process's sockets on them once durable.
 */
function announceRevoked(w: WriteCtx, tokenHashes: string[], reason: string): void {
  if (tokenHashes.length === 0) return;
  const now = w.clock();
  w.db.insert(revocations).values(tokenHashes.map((tokenHash) => ({ tokenHash, reason, createdAt: now }))).run();
  w.effects.push({ type: "revoke", tokenHashes, reason });
}

/** Revokes one session (logout). */
export function revokeSession(w: WriteCtx, session: Session, reason = "logged out"): void {
  w.db.delete(sessions).where(eq(sessions.id, session.sessionId)).run();
  announceRevoked(w, [session.tokenHash], reason);
}

/** Revokes every session of a user but, optionally, one. Returns the revoked token hashes. */
export function revokeUserSessions(w: WriteCtx, userId: number, reason: string, keepSessionId?: number): string[] {
  const keep = keepSessionId === undefined ? undefined : ne(sessions.id, keepSessionId);
  const hashes = w.db
    .delete(sessions)
    .where(and(eq(sessions.userId, userId), keep))
    .returning({ tokenHash: sessions.tokenHash })
    .all()
    .map((r) => r.tokenHash);
  announceRevoked(w, hashes, reason);
  return hashes;
}

// Revocations stay long enough for every process polling them to have seen them.
const KEEP_REVOCATIONS_MS = 86_400_000;

/** Drops expired sessions and old revocations (a timer of the server). */
export function purgeExpiredSessions(w: WriteCtx): number {
  const now = w.clock();
  w.db.delete(revocations).where(lt(revocations.createdAt, now - KEEP_REVOCATIONS_MS)).run();
  return w.db.delete(sessions).where(lt(sessions.expiresAt, now)).returning({ id: sessions.id }).all().length;
}

const SQL_REVOKED_AFTER = "SELECT id, token_hash AS tokenHash, reason FROM revocations WHERE id > ? ORDER BY id LIMIT 1000";

/** Revocations after a cursor, for the poller. */
export function revocationsAfter(ctx: Ctx, afterId: number): { id: number; tokenHash: string; reason: string }[] {
  return ctx.db.$client.query<{ id: number; tokenHash: string; reason: string }, [number]>(SQL_REVOKED_AFTER).all(afterId);
}

export function lastRevocationId(ctx: Ctx): number {
  return ctx.db.$client.query<{ n: number }, []>("SELECT coalesce(max(id), 0) AS n FROM revocations").get()!.n;
}
