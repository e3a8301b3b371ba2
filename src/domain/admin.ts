// Server administration: what a server admin (users.is_admin) may do from the
// API, and what operators do from the CLI. Every call checks the caller's
// admin flag in the database, so a demotion takes effect at once.
import { and, desc, eq, isNull, sql } from "drizzle-orm";
import { invites, users } from "../db/schema";
import { badRequest, forbidden, notFound } from "../errors";
import { formatTime } from "../time";
import type { WriteCtx } from "../write/writer";
import type { Ctx } from "./context";
import { revokeUserSessions } from "./sessions";
import { runSync } from "./store";
import { userView, type UserView } from "./views";

export function isAdmin(ctx: Ctx, uid: number): boolean {
  return ctx.db.select({ a: users.isAdmin }).from(users).where(eq(users.id, uid)).get()?.a === true;
}

export function requireServerAdmin(ctx: Ctx, uid: number): void {
  if (!isAdmin(ctx, uid)) throw forbidden("server admins only");
}

export type AdminUserView = UserView & { admin: boolean; disabled: boolean; createTime: string };

/** Users, newest first, optionally those whose account or name contains q (case-insensitive). */
export function listUsers(ctx: Ctx, q: { q?: string; page: number; size: number }): { users: AdminUserView[]; total: number } {
  const like = q.q ? `%${q.q.toLowerCase().replace(/[\\%_]/g, (c) => "\\" + c)}%` : null;
  const where = like ? sql`(lower(${users.account}) LIKE ${like} ESCAPE '\\' OR lower(${users.name}) LIKE ${like} ESCAPE '\\')` : undefined;
  const rows = ctx.db.select().from(users).where(where).orderBy(desc(users.id)).limit(q.size).offset((q.page - 1) * q.size).all();
  const total = ctx.db.select({ n: sql<number>`count(*)` }).from(users).where(where).get()!.n;
  return {
    users: rows.map((u) => ({ ...userView(u), admin: u.isAdmin, disabled: u.disabledAt !== null, createTime: formatTime(u.createdAt) })),
    total,
  };
}

function findUser(ctx: Ctx, uid: number) {
  const row = ctx.db.select().from(users).where(eq(users.id, uid)).get();
  if (!row) throw notFound("user not found");
  return row;
}

/** Disables (revoking every token, closing every socket) or enables a user. */
export function setUserDisabled(w: WriteCtx, actor: number, uid: number, disabled: boolean): void {
  if (disabled && uid === actor) throw badRequest("uid: you cannot disable yourself");
  findUser(w, uid);
  w.db.update(users).set({ disabledAt: disabled ? w.clock() : null }).where(eq(users.id, uid)).run();
  if (disabled) runSync(revokeUserSessions(w, uid, "account disabled"));
}

/** Sets a new password hash (hashed by the caller, off the write path) and revokes every token. */
export function setUserPassword(w: WriteCtx, uid: number, passwordHash: string): void {
  findUser(w, uid);
  w.db.update(users).set({ passwordHash }).where(eq(users.id, uid)).run();
  runSync(revokeUserSessions(w, uid, "password reset"));
}

export function setUserAdmin(w: WriteCtx, uid: number, admin: boolean): void {
  findUser(w, uid);
  w.db.update(users).set({ isAdmin: admin }).where(eq(users.id, uid)).run();
}

export type InviteView = { id: number; createdBy: number | null; createTime: string; expireTime: string; usedBy: number | null; status: "live" | "used" | "expired" };

export function listInvites(ctx: Ctx): InviteView[] {
  const now = ctx.clock();
  return ctx.db.select().from(invites).orderBy(desc(invites.id)).limit(500).all().map((i) => ({
    id: i.id,
    createdBy: i.createdBy,
    createTime: formatTime(i.createdAt),
    expireTime: formatTime(i.expiresAt),
    usedBy: i.usedBy,
    status: i.usedAt !== null ? "used" : i.expiresAt <= now ? "expired" : "live",
  }));
}

/** Revokes a live invite (it expires now); a used one is kept as it is. */
export function revokeInvite(w: WriteCtx, id: number): void {
  const done = w.db.update(invites).set({ expiresAt: w.clock() }).where(and(eq(invites.id, id), isNull(invites.usedAt))).returning({ id: invites.id }).all();
  if (done.length === 0) throw notFound("no live invite with that id");
}
