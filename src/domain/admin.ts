// Server administration: what a server admin (users.is_admin) may do from the
// API, and what operators do from the CLI. Every call checks the caller's
// admin flag in the database, so a demotion takes effect at once.
import { badRequest, forbidden, notFound } from "../errors";
import { formatTime } from "../time";
import type { WriteCtx } from "../write/writer";
import type { Ctx } from "./context";
import { revokeUserSessions } from "./sessions";
import { escapeLike, foldName } from "./fold";
import type { Flow } from "./store";
import { userView, type UserView } from "./views";

export function* isAdmin(ctx: Ctx, uid: number): Flow<boolean> {
  return (yield* ctx.store.userById(uid))?.isAdmin === true;
}

export function* requireServerAdmin(ctx: Ctx, uid: number): Flow<void> {
  if (!(yield* isAdmin(ctx, uid))) throw forbidden("server admins only");
}

export type AdminUserView = UserView & { admin: boolean; disabled: boolean; createTime: string };

/** Users, newest first, optionally those whose account or name contains q (case- and diacritic-insensitive, as the directory). */
export function* listUsers(ctx: Ctx, q: { q?: string; page: number; size: number }): Flow<{ users: AdminUserView[]; total: number }> {
  const like = q.q ? `%${escapeLike(foldName(q.q))}%` : null;
  const { rows, total } = yield* ctx.store.listUsers(like, q.size, (q.page - 1) * q.size);
  return {
    users: rows.map((u) => ({ ...userView(u), admin: u.isAdmin, disabled: u.disabledAt !== null, createTime: formatTime(u.createdAt) })),
    total,
  };
}

function* findUser(ctx: Ctx, uid: number) {
  const row = yield* ctx.store.userById(uid);
  if (!row) throw notFound("user not found");
  return row;
}

/** Disables (revoking every token, closing every socket) or enables a user. */
export function* setUserDisabled(w: WriteCtx, actor: number, uid: number, disabled: boolean): Flow<void> {
  if (disabled && uid === actor) throw badRequest("uid: you cannot disable yourself");
  yield* findUser(w, uid);
  yield* w.store.setDisabledAt(uid, disabled ? w.clock() : null);
  if (disabled) yield* revokeUserSessions(w, uid, "account disabled");
}

/** Sets a new password hash (hashed by the caller, off the write path) and revokes every token. */
export function* setUserPassword(w: WriteCtx, uid: number, passwordHash: string): Flow<void> {
  yield* findUser(w, uid);
  yield* w.store.setPasswordHash(uid, passwordHash);
  yield* revokeUserSessions(w, uid, "password reset");
}

export function* setUserAdmin(w: WriteCtx, uid: number, admin: boolean): Flow<void> {
  yield* findUser(w, uid);
  yield* w.store.setAdmin(uid, admin);
}

export type InviteView = { id: number; createdBy: number | null; createTime: string; expireTime: string; usedBy: number | null; status: "live" | "used" | "expired" };

export function* listInvites(ctx: Ctx): Flow<InviteView[]> {
  const now = ctx.clock();
  return (yield* ctx.store.listInvites(500)).map((i) => ({
    id: i.id,
    createdBy: i.createdBy,
    createTime: formatTime(i.createdAt),
    expireTime: formatTime(i.expiresAt),
    usedBy: i.usedBy,
    status: i.usedAt !== null ? "used" : i.expiresAt <= now ? "expired" : "live",
  }));
}

/** Revokes a live invite (it expires now); a used one is kept as it is. */
export function* revokeInvite(w: WriteCtx, id: number): Flow<void> {
  if (!(yield* w.store.expireInvite(id, w.clock()))) throw notFound("no live invite with that id");
}
