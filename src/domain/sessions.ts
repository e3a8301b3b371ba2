// Tokens are random (nanoid, 192 bits) and stored only as their sha256, so
// the database file never holds a usable token.
import { unauthorized } from "../errors";
import type { WriteCtx } from "../write/writer";
import type { Ctx } from "./context";
import type { Flow } from "./store";

export type Session = { sessionId: number; userId: number; tokenHash: string; expiresAt: number; /** last_used_at is due a touch */ stale: boolean };

export const hashToken = (token: string) => new Bun.CryptoHasher("sha256").update(token).digest("hex");

// Touching last_used_at on every request would turn reads into writes.
const TOUCH_EVERY_MS = 60_000;

export function* issueSession(ctx: WriteCtx, userId: number): Flow<string> {
  const token = ctx.newId(32);
  const now = ctx.clock();
  yield* ctx.store.insertSession({ tokenHash: hashToken(token), userId, createdAt: now, expiresAt: now + ctx.auth.tokenTtlMs });
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
function* announceRevoked(w: WriteCtx, tokenHashes: string[], reason: string): Flow<void> {
  if (tokenHashes.length === 0) return;
  yield* w.store.insertRevocations(tokenHashes, reason, w.clock());
  w.effects.push({ type: "revoke", tokenHashes, reason });
}

/** Revokes one session (logout). */
export function* revokeSession(w: WriteCtx, session: Session, reason = "logged out"): Flow<void> {
  yield* w.store.deleteSession(session.sessionId);
  yield* announceRevoked(w, [session.tokenHash], reason);
}

/** Revokes every session of a user but, optionally, one. Returns the revoked token hashes. */
export function* revokeUserSessions(w: WriteCtx, userId: number, reason: string, keepSessionId?: number): Flow<string[]> {
  const hashes = yield* w.store.deleteUserSessions(userId, keepSessionId ?? null);
  yield* announceRevoked(w, hashes, reason);
  return hashes;
}

// Revocations stay long enough for every process polling them to have seen them.
const KEEP_REVOCATIONS_MS = 86_400_000;

/** Drops expired sessions and old revocations (a timer of the server). */
export function* purgeExpiredSessions(w: WriteCtx): Flow<number> {
  const now = w.clock();
  return yield* w.store.purgeSessions(now, now - KEEP_REVOCATIONS_MS);
}

/** Revocations after a cursor, for the poller. */
export function* revocationsAfter(ctx: Ctx, afterId: number): Flow<{ id: number; tokenHash: string; reason: string }[]> {
  return yield* ctx.store.revocationsAfter(afterId, 1000);
}

export function* lastRevocationId(ctx: Ctx): Flow<number> {
  return yield* ctx.store.lastRevocationId();
}
