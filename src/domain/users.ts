import { conflict, forbidden, notFound, unauthorized } from "../errors";
import { foldName } from "./fold";
import type { HashPriority } from "./hashing";
import { inviteIsLive, redeemInvite } from "./invites";
import type { Ctx } from "./context";
import type { Flow, UserRow } from "./store";
import type { WriteCtx } from "../write/writer";
import { issueSession, revokeUserSessions } from "./sessions";
import { selfView, userView, type UserView } from "./views";

export type NewUser = { name: string; avatar: string; email: string; account: string; password: string };

// Hashing is the one slow step, so these functions are async; the database
// work around it stays synchronous. Every argon2 call goes through the gate
// (hashing.ts): a bounded number at once, a login's before anything else.
export function hashPassword(ctx: Ctx, password: string, priority: HashPriority = "other"): Promise<string> {
  return ctx.auth.hashing.run(priority, () => Bun.password.hash(password, { algorithm: "argon2id", ...ctx.auth.argon2 }));
}

function verifyPassword(ctx: Ctx, password: string, hash: string, priority: HashPriority): Promise<boolean> {
  return ctx.auth.hashing.run(priority, () => Bun.password.verify(password, hash));
}

function dummyHash(ctx: Ctx): Promise<string> {
  ctx.auth.dummyHash ??= hashPassword(ctx, "not a password " + ctx.newId(), "login");
  return ctx.auth.dummyHash;
}

const accountTaken = () => conflict("Account Existed");

/**
 * Registers a user; with an invite code, the code is redeemed in the same
 * transaction. With ip (a registration from the network, not an operator's),
 * at most --register-max-per-ip per address and hour.
 */
export async function registerUser(ctx: Ctx, input: NewUser, invite?: string, ip?: string): Promise<number> {
  let release = ip === undefined ? () => {} : ctx.auth.registrations.reserve(ip);
  if (release instanceof Promise) release = await release;
  try {
    // Checked before hashing so a dead code or a taken account costs no argon2 work. The code first: a bad
    // code gets the same 403 whether or not the account exists, so it cannot be used to probe accounts.
    if (invite !== undefined && !(await ctx.read(inviteIsLive(ctx, invite)))) throw forbidden("invite: unknown, used or expired code");
    if (await ctx.read(findUserByAccount(ctx, input.account))) throw accountTaken();
    const passwordHash = await hashPassword(ctx, input.password);
    return await insertUser(ctx, input, passwordHash, invite);
  } catch (err) {
    release(); // only registrations that happened count
    throw err;
  }
}

function insertUser(ctx: Ctx, input: NewUser, passwordHash: string, invite: string | undefined): Promise<number> {
  return ctx.write(function* (w) {
    const id = yield* w.store.insertUser({ name: input.name, nameFold: foldName(input.name), avatar: input.avatar, email: input.email, account: input.account, passwordHash, createdAt: w.clock() });
    // Taken between the check and this write (the check is before hashing).
    if (id === null) throw accountTaken();
    if (invite !== undefined) yield* redeemInvite(w, invite, id);
    return id;
  });
}

/** Checks the password and opens a session; unknown account and wrong password fail alike. */
export async function login(ctx: Ctx, account: string, password: string, ip: string): Promise<{ token: string; userId: number }> {
  // Checked and counted as a failure at once (before any other await), so parallel guesses cannot all pass; a success takes it back.
  const counted = ctx.auth.throttle.attempt(account, ip);
  if (counted) await counted;
  const user = await ctx.read(findUserByAccount(ctx, account));
  const hash = user && !user.disabledAt ? user.passwordHash : await dummyHash(ctx);
  const ok = await verifyPassword(ctx, password, hash, "login");
  if (!ok || !user || user.disabledAt) throw unauthorized("wrong account or password");
  ctx.auth.throttle.succeeded(account, ip);
  return { token: await ctx.write((w) => issueSession(w, user.id)), userId: user.id };
}

/** Checks the old password, stores the new one and revokes every other session. Returns the revoked token hashes. */
export async function changePassword(ctx: Ctx, uid: number, sessionId: number, oldPassword: string, newPassword: string, ip = "unknown"): Promise<string[]> {
  const row = await ctx.read(ctx.store.userById(uid));
  if (!row) throw unauthorized();
  // A wrong old password is a password guess: it counts (in advance, as in login) toward the login throttle,
  // so a stolen token cannot brute-force the password. 403, not 401: the token itself is fine.
  const counted = ctx.auth.throttle.attempt(row.account, ip);
  if (counted) await counted;
  if (!(await verifyPassword(ctx, oldPassword, row.passwordHash, "other"))) throw forbidden("oldPassword: wrong password");
  ctx.auth.throttle.succeeded(row.account, ip);
  const passwordHash = await hashPassword(ctx, newPassword);
  return ctx.write(function* (w) {
    yield* w.store.setPasswordHash(uid, passwordHash);
    return yield* revokeUserSessions(w, uid, "password changed", sessionId);
  });
}

/** Operator: sets a new password and revokes every token. Returns the revoked token hashes. */
export async function resetPassword(ctx: Ctx, account: string, newPassword: string): Promise<string[]> {
  const user = await ctx.read(findUserByAccount(ctx, account));
  if (!user) throw notFound("user not found");
  const passwordHash = await hashPassword(ctx, newPassword);
  return ctx.write(function* (w) {
    yield* w.store.setPasswordHash(user.id, passwordHash);
    return yield* revokeUserSessions(w, user.id, "password reset");
  });
}

/** Operator: a disabled user cannot log in and loses every token. */
export function* setDisabled(w: WriteCtx, account: string, disabled: boolean): Flow<string[]> {
  const user = yield* findUserByAccount(w, account);
  if (!user) throw notFound("user not found");
  yield* w.store.setDisabledAt(user.id, disabled ? w.clock() : null);
  return disabled ? yield* revokeUserSessions(w, user.id, "account disabled") : [];
}

/** The user with this account, whatever its case ("BOB" finds "Bob"), through the lower(account) unique index. */
export function* findUserByAccount(ctx: Ctx, account: string): Flow<UserRow | null> {
  return yield* ctx.store.userByAccount(account);
}

/** A user as viewerId sees them: the email only when it is their own. */
export function* getUser(ctx: Ctx, uid: number, viewerId: number): Flow<UserView> {
  const row = yield* ctx.store.userById(uid);
  if (!row) throw notFound("user not found");
  return uid === viewerId ? selfView(row) : userView(row);
}

/** rim's search: an exact account, with the email blanked; null when none. */
export function* searchUser(ctx: Ctx, account: string): Flow<UserView | null> {
  const row = yield* findUserByAccount(ctx, account);
  return row && !row.disabledAt ? userView(row) : null;
}

// No email: these are other people (views.ts).
export function* getUsers(ctx: Ctx, uids: number[]): Flow<Map<number, UserView>> {
  if (uids.length === 0) return new Map();
  const rows = yield* ctx.store.usersByIds([...new Set(uids)]);
  return new Map(rows.map((r) => [r.id, userView(r)]));
}

/** Throws 404 unless every uid names an existing, enabled user. */
export function* assertUsersExist(ctx: Ctx, uids: number[]): Flow<void> {
  const unique = [...new Set(uids)];
  if (unique.length === 0) return;
  const found = yield* ctx.store.existingUserIds(unique, true);
  if (found.length !== unique.length) {
    const have = new Set(found);
    throw notFound(`user ${unique.find((u) => !have.has(u))} not found`);
  }
}

/** The moment the user's last socket closed (presence's lastSeen). */
export function* markLastSeen(w: WriteCtx, uid: number): Flow<void> {
  yield* w.store.setLastSeen(uid, w.clock());
}

/** Of these users, those who share a group with the caller, with when they were last seen (ms or null). */
export function* sharingAGroup(ctx: Ctx, callerId: number, uids: number[]): Flow<Map<number, number | null>> {
  const rows = yield* ctx.store.sharingAGroup(callerId, uids);
  return new Map(rows.map((r) => [r.uid, r.lastSeenAt]));
}
