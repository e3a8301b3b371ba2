import { and, asc, desc, eq, inArray } from "drizzle-orm";
import { selectList } from "../db/columns";
import { groupMembers, groups, users } from "../db/schema";
import { badRequest, conflict, forbidden, notFound } from "../errors";
import type { Ctx } from "./context";
import { runSync, type Flow } from "./store";
import { eventFrame } from "../push";
import type { WriteCtx } from "../write/writer";
import { recordDepartures, recordEvent, type GroupEvent } from "./events";
import { checkAvatar } from "./files";
import { assertUsersExist } from "./users";
import { groupView, userView, type GroupView, type UserView } from "./views";

export const ROLE = { member: 1, admin: 2, owner: 3 } as const;
export const MODE = { direct: 1, group: 2 } as const;

export type GroupRow = typeof groups.$inferSelect;
export type MemberRow = typeof groupMembers.$inferSelect;

export type NewGroup = { name: string; avatar: string; mode: number; members: { uid: number; role: number }[] };

const directKey = (a: number, b: number) => (a < b ? `${a}:${b}` : `${b}:${a}`);


const SQL_RENAME = "UPDATE groups SET name = coalesce(?1, name), avatar = coalesce(?2, avatar) WHERE id = ?3";

/** The group; 404 if there is none. */
export function* groupOrNotFound(ctx: Ctx, gid: number): Flow<GroupRow> {
  const group = yield* ctx.store.groupById(gid);
  if (!group) throw notFound("group not found");
  return group;
}

/** The group and the caller's membership; 404 for no group, 403 for a non-member. */
export function* memberOf(ctx: Ctx, gid: number, uid: number): Flow<{ group: GroupRow; member: MemberRow }> {
  const group = yield* groupOrNotFound(ctx, gid);
  const member = yield* ctx.store.membership(gid, uid);
  if (!member) throw forbidden("not a member of this group");
  return { group, member };
}

// The same, for callers not converted to flows yet (SQLite only).
export const findGroup = (ctx: Ctx, gid: number): GroupRow => runSync(groupOrNotFound(ctx, gid));
export const findMembership = (ctx: Ctx, gid: number, uid: number): MemberRow | undefined => runSync(ctx.store.membership(gid, uid)) ?? undefined;
export const requireMember = (ctx: Ctx, gid: number, uid: number): { group: GroupRow; member: MemberRow } => runSync(memberOf(ctx, gid, uid));

function requireAdmin(ctx: Ctx, gid: number, uid: number) {
  const found = requireMember(ctx, gid, uid);
  if (found.member.role < ROLE.admin) throw forbidden("only the group's admins may do that");
  return found;
}

/** New members' sockets join the topic first, so they hear of it too. */
function announceAdded(w: WriteCtx, gid: number, actor: number, uids: number[]): GroupEvent {
  const event = recordEvent(w, { gid, kind: "MemberAdded", actor, payload: { uids } });
  w.effects.push({ type: "join", gid, uids }, { type: "publish", gid, data: eventFrame(event) });
  return event;
}

/**
 * Creates a group owned by the caller. A direct chat (mode 1) between the
 * same two people exists once: creating it again returns the first.
 */
export function createGroup(w: WriteCtx, callerId: number, input: NewGroup): { gid: number; created: boolean } {
  const others = new Map<number, number>();
  for (const m of input.members) if (m.uid !== callerId) others.set(m.uid, Math.max(others.get(m.uid) ?? 0, m.role));
  assertUsersExist(w, [...others.keys()]);
  let key: string | null = null;
  if (input.mode === MODE.direct) {
    if (others.size !== 1) throw badRequest("users: a direct chat (mode 1) has exactly one other member");
    const other = [...others.keys()][0]!;
    key = directKey(callerId, other);
    const existing = w.db.select({ id: groups.id }).from(groups).where(eq(groups.directKey, key)).get();
    if (existing) return { gid: existing.id, created: false };
  }
  const now = w.clock();
  const { id } = w.db
    .insert(groups)
    .values({ name: input.name, avatar: input.avatar, mode: input.mode, creatorUid: callerId, directKey: key, createdAt: now })
    .returning({ id: groups.id })
    .get();
  const rows = [{ uid: callerId, role: ROLE.owner as number }, ...[...others].map(([uid, role]) => ({ uid, role }))];
  w.db.insert(groupMembers)
    .values(rows.map((r) => ({ groupId: id, userId: r.uid, role: r.role, joinedAt: now })))
    .run();
  announceAdded(w, id, callerId, rows.map((r) => r.uid));
  return { gid: id, created: true };
}

export function updateGroup(w: WriteCtx, callerId: number, input: { gid: number; name?: string; avatar?: string }): GroupView {
  requireAdmin(w, input.gid, callerId);
  if (input.avatar !== undefined) checkAvatar(w, callerId, input.avatar);
  // Prepared once, not built by drizzle per call: a value left out keeps the stored one.
  if (input.name !== undefined || input.avatar !== undefined) {
    w.db.$client.query<unknown, [string | null, string | null, number]>(SQL_RENAME).run(input.name ?? null, input.avatar ?? null, input.gid);
  }
  const group = groupView(findGroup(w, input.gid));
  const event = recordEvent(w, { gid: group.id, kind: "GroupUpdated", actor: callerId, payload: { group } });
  w.effects.push({ type: "publish", gid: group.id, data: eventFrame(event) });
  return group;
}

export function listGroupsOf(ctx: Ctx, uid: number): GroupView[] {
  return ctx.db
    .select({ id: groups.id, name: groups.name, avatar: groups.avatar, mode: groups.mode, creatorUid: groups.creatorUid })
    .from(groupMembers)
    .innerJoin(groups, eq(groups.id, groupMembers.groupId))
    .where(eq(groupMembers.userId, uid))
    .orderBy(asc(groups.id))
    .all()
    .map(groupView);
}

/** Members with their roles; readMsgId (an addition to rim's shape) lets clients show "read by N". */
export function listMembers(ctx: Ctx, callerId: number, gid: number): { role: number; user: UserView; readMsgId: number }[] {
  requireMember(ctx, gid, callerId);
  return ctx.db
    .select({ role: groupMembers.role, user: users, readMsgId: groupMembers.readMsgId })
    .from(groupMembers)
    .innerJoin(users, eq(users.id, groupMembers.userId))
    .where(eq(groupMembers.groupId, gid))
    .orderBy(desc(groupMembers.role), asc(groupMembers.joinedAt), asc(users.id))
    .all()
    .map((r) => ({ role: r.role, user: userView(r.user), readMsgId: r.readMsgId }));
}

export function* groupIdsOf(ctx: Ctx, uid: number): Flow<number[]> {
  return yield* ctx.store.groupIdsOf(uid);
}

/** Adds members (admins and owner only). Returns the uids that were not members yet. */
export function addMembers(w: WriteCtx, callerId: number, gid: number, uids: number[]): number[] {
  const { group } = requireAdmin(w, gid, callerId);
  if (group.mode === MODE.direct) throw badRequest("gid: a direct chat's members cannot change");
  assertUsersExist(w, uids);
  const present = new Set(
    w.db.select({ uid: groupMembers.userId }).from(groupMembers)
      .where(and(eq(groupMembers.groupId, gid), inArray(groupMembers.userId, uids))).all().map((r) => r.uid),
  );
  const added = [...new Set(uids)].filter((u) => !present.has(u));
  if (added.length === 0) return added;
  // A newcomer starts with everything already said counted as read.
  const cursor = group.lastMsgId ?? 0;
  const now = w.clock();
  w.db.insert(groupMembers)
    .values(added.map((uid) => ({ groupId: gid, userId: uid, role: ROLE.member, joinedAt: now, readMsgId: cursor, deliveredMsgId: cursor })))
    .run();
  announceAdded(w, gid, callerId, added);
  return added;
}

/**
 * Removes members. Anyone may leave; admins remove members, only the owner
 * removes admins, and nobody removes the owner. All or nothing. Members
 * removed hear the MemberRemoved, then stop receiving the group.
 */
export function removeMembers(w: WriteCtx, callerId: number, gid: number, uids: number[]): number[] {
  const ctx = w;
  const { group, member: caller } = requireMember(ctx, gid, callerId);
  if (group.mode === MODE.direct) throw badRequest("gid: a direct chat's members cannot change");
  const targets = ctx.db
    .select({ uid: groupMembers.userId, role: groupMembers.role })
    .from(groupMembers)
    .where(and(eq(groupMembers.groupId, gid), inArray(groupMembers.userId, [...new Set(uids)])))
    .all();
  for (const t of targets) {
    if (t.role === ROLE.owner) throw forbidden(t.uid === callerId ? "the owner cannot leave the group" : "the owner cannot be removed");
    if (t.uid === callerId) continue;
    if (caller.role < ROLE.admin) throw forbidden("only the group's admins may remove others");
    if (t.role >= ROLE.admin && caller.role < ROLE.owner) throw forbidden("only the owner may remove an admin");
  }
  // Checked on the uids asked for, not only the members found: a member's request to remove others is refused, not a silent no-op.
  const wanted = [...new Set(uids)];
  if (caller.role < ROLE.admin && wanted.some((u) => u !== callerId)) throw forbidden("only the group's admins may remove others");
  const absent = wanted.filter((u) => !targets.some((t) => t.uid === u));
  if (absent.length) {
    const known = new Set(ctx.db.select({ id: users.id }).from(users).where(inArray(users.id, absent)).all().map((r) => r.id));
    const unknown = absent.find((u) => !known.has(u));
    if (unknown !== undefined) throw notFound(`user ${unknown} not found`);
  }
  const removed = targets.map((t) => t.uid);
  if (removed.length) {
    ctx.db.delete(groupMembers).where(and(eq(groupMembers.groupId, gid), inArray(groupMembers.userId, removed))).run();
    // The removed hear it, then leave the topic before anything else is published.
    const event = recordEvent(w, { gid, kind: "MemberRemoved", actor: callerId, payload: { uids: removed } });
    recordDepartures(w, gid, removed, event.id);
    w.effects.push({ type: "publish", gid, data: eventFrame(event) }, { type: "leave", gid, uids: removed });
  }
  return removed;
}

/** A member leaves. The owner must hand the group over first, unless alone in it: then leaving deletes it. */
export function leaveGroup(w: WriteCtx, callerId: number, gid: number): void {
  const { group, member } = requireMember(w, gid, callerId);
  if (group.mode === MODE.direct) throw badRequest("gid: a direct chat cannot be left");
  if (member.role === ROLE.owner) {
    const others = w.db.$client.query<{ n: number }, [number, number]>("SELECT count(*) AS n FROM group_members WHERE group_id = ? AND user_id != ?").get(gid, callerId)!.n;
    if (others > 0) throw conflict("the owner must transfer the group to another member before leaving (POST /api/group/transfer)");
    return deleteGroup(w, callerId, gid);
  }
  removeMembers(w, callerId, gid, [callerId]);
}

function setRole(w: WriteCtx, gid: number, uid: number, role: number) {
  w.db.update(groupMembers).set({ role }).where(and(eq(groupMembers.groupId, gid), eq(groupMembers.userId, uid))).run();
}

function announceRoles(w: WriteCtx, gid: number, actor: number, roles: { uid: number; role: number }[]) {
  const event = recordEvent(w, { gid, kind: "RoleChanged", actor, payload: { roles } });
  w.effects.push({ type: "publish", gid, data: eventFrame(event) });
}

function requireOwner(w: WriteCtx, gid: number, callerId: number) {
  const found = requireMember(w, gid, callerId);
  if (found.member.role !== ROLE.owner) throw forbidden("only the group's owner may do that");
  return found;
}

function requireOtherMember(w: WriteCtx, gid: number, callerId: number, uid: number): MemberRow {
  if (uid === callerId) throw badRequest("uid: must be another member");
  const target = findMembership(w, gid, uid);
  if (!target) throw notFound(`user ${uid} is not a member of this group`);
  return target;
}

/** The owner hands the group to another member, and stays on as an admin. */
export function transferGroup(w: WriteCtx, callerId: number, gid: number, uid: number): void {
  const { group } = requireOwner(w, gid, callerId);
  if (group.mode === MODE.direct) throw badRequest("gid: a direct chat has no owner to change");
  requireOtherMember(w, gid, callerId, uid);
  setRole(w, gid, uid, ROLE.owner);
  setRole(w, gid, callerId, ROLE.admin);
  announceRoles(w, gid, callerId, [{ uid, role: ROLE.owner }, { uid: callerId, role: ROLE.admin }]);
}

/** The owner makes a member an admin (2) or an admin a member (1). */
export function changeRole(w: WriteCtx, callerId: number, gid: number, uid: number, role: 1 | 2): void {
  const { group } = requireOwner(w, gid, callerId);
  if (group.mode === MODE.direct) throw badRequest("gid: a direct chat has no roles to change");
  const target = requireOtherMember(w, gid, callerId, uid);
  if (target.role === role) return;
  setRole(w, gid, uid, role);
  announceRoles(w, gid, callerId, [{ uid, role }]);
}

/**
 * The owner deletes the group: every member hears GroupDeleted and leaves it.
 * The group's row and log stay (marked deleted), so a member who was offline
 * gets the GroupDeleted from Sync; nobody can read or write it any more.
 */
export function deleteGroup(w: WriteCtx, callerId: number, gid: number): void {
  requireOwner(w, gid, callerId);
  const uids = w.db.select({ uid: groupMembers.userId }).from(groupMembers).where(eq(groupMembers.groupId, gid)).all().map((r) => r.uid);
  const event = recordEvent(w, { gid, kind: "GroupDeleted", actor: callerId, payload: { uids } });
  recordDepartures(w, gid, uids, event.id);
  w.db.delete(groupMembers).where(eq(groupMembers.groupId, gid)).run();
  // A direct chat's key is freed, so the two can start a new one.
  w.db.update(groups).set({ deletedAt: w.clock(), directKey: null }).where(eq(groups.id, gid)).run();
  w.effects.push({ type: "publish", gid, data: eventFrame(event) }, { type: "leave", gid, uids });
}
