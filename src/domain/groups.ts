import { badRequest, conflict, forbidden, notFound } from "../errors";
import type { groupMembers, groups } from "../db/schema";
import type { Ctx } from "./context";
import type { Flow } from "./store";
import { eventFrame } from "../push";
import type { WriteCtx } from "../write/writer";
import { appendEvent, recordDepartures, type GroupEvent } from "./events";
import { checkAvatar } from "./files";
import { assertUsersExist } from "./users";
import { groupView, userView, type GroupView, type UserView } from "./views";

export const ROLE = { member: 1, admin: 2, owner: 3 } as const;
export const MODE = { direct: 1, group: 2 } as const;

export type GroupRow = typeof groups.$inferSelect;
export type MemberRow = typeof groupMembers.$inferSelect;

export type NewGroup = { name: string; avatar: string; mode: number; members: { uid: number; role: number }[] };

const directKey = (a: number, b: number) => (a < b ? `${a}:${b}` : `${b}:${a}`);


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


function* requireAdmin(ctx: Ctx, gid: number, uid: number) {
  const found = yield* memberOf(ctx, gid, uid);
  if (found.member.role < ROLE.admin) throw forbidden("only the group's admins may do that");
  return found;
}

/** New members' sockets join the topic first, so they hear of it too. */
function* announceAdded(w: WriteCtx, gid: number, actor: number, uids: number[]): Flow<GroupEvent> {
  const event = yield* appendEvent(w, { gid, kind: "MemberAdded", actor, payload: { uids } });
  w.effects.push({ type: "join", gid, uids }, { type: "publish", gid, data: eventFrame(event) });
  return event;
}

/**
 * Creates a group owned by the caller. A direct chat (mode 1) between the
 * same two people exists once: creating it again returns the first.
 */
export function* createGroup(w: WriteCtx, callerId: number, input: NewGroup): Flow<{ gid: number; created: boolean }> {
  const others = new Map<number, number>();
  for (const m of input.members) if (m.uid !== callerId) others.set(m.uid, Math.max(others.get(m.uid) ?? 0, m.role));
  yield* assertUsersExist(w, [...others.keys()]);
  let key: string | null = null;
  if (input.mode === MODE.direct) {
    if (others.size !== 1) throw badRequest("users: a direct chat (mode 1) has exactly one other member");
    const other = [...others.keys()][0]!;
    key = directKey(callerId, other);
    const existing = yield* w.store.groupIdByDirectKey(key);
    if (existing !== null) return { gid: existing, created: false };
  }
  const now = w.clock();
  const id = yield* w.store.insertGroup({ name: input.name, avatar: input.avatar, mode: input.mode, creatorUid: callerId, directKey: key, createdAt: now });
  const rows = [{ uid: callerId, role: ROLE.owner as number }, ...[...others].map(([uid, role]) => ({ uid, role }))];
  yield* w.store.insertMembers(id, rows, now, 0);
  yield* announceAdded(w, id, callerId, rows.map((r) => r.uid));
  return { gid: id, created: true };
}

export function* updateGroup(w: WriteCtx, callerId: number, input: { gid: number; name?: string; avatar?: string }): Flow<GroupView> {
  yield* requireAdmin(w, input.gid, callerId);
  if (input.avatar !== undefined) yield* checkAvatar(w, callerId, input.avatar);
  // A value left out keeps the stored one.
  if (input.name !== undefined || input.avatar !== undefined) yield* w.store.renameGroup(input.gid, input.name ?? null, input.avatar ?? null);
  const group = groupView(yield* groupOrNotFound(w, input.gid));
  const event = yield* appendEvent(w, { gid: group.id, kind: "GroupUpdated", actor: callerId, payload: { group } });
  w.effects.push({ type: "publish", gid: group.id, data: eventFrame(event) });
  return group;
}

export function* listGroupsOf(ctx: Ctx, uid: number): Flow<GroupView[]> {
  return (yield* ctx.store.groupsOf(uid)).map(groupView);
}

/** Members with their roles; readMsgId (an addition to rim's shape) lets clients show "read by N". */
export function* listMembers(ctx: Ctx, callerId: number, gid: number): Flow<{ role: number; user: UserView; readMsgId: number }[]> {
  yield* memberOf(ctx, gid, callerId);
  return (yield* ctx.store.membersWithUsers(gid)).map((r) => ({ role: r.role, user: userView(r.user), readMsgId: r.readMsgId }));
}

export function* groupIdsOf(ctx: Ctx, uid: number): Flow<number[]> {
  return yield* ctx.store.groupIdsOf(uid);
}

/** Adds members (admins and owner only). Returns the uids that were not members yet. */
export function* addMembers(w: WriteCtx, callerId: number, gid: number, uids: number[]): Flow<number[]> {
  const { group } = yield* requireAdmin(w, gid, callerId);
  if (group.mode === MODE.direct) throw badRequest("gid: a direct chat's members cannot change");
  yield* assertUsersExist(w, uids);
  const present = new Set((yield* w.store.membersAmong(gid, uids)).map((r) => r.uid));
  const added = [...new Set(uids)].filter((u) => !present.has(u));
  if (added.length === 0) return added;
  // A newcomer starts with everything already said counted as read.
  yield* w.store.insertMembers(gid, added.map((uid) => ({ uid, role: ROLE.member })), w.clock(), group.lastMsgId ?? 0);
  yield* announceAdded(w, gid, callerId, added);
  return added;
}

/**
 * Removes members. Anyone may leave; admins remove members, only the owner
 * removes admins, and nobody removes the owner. All or nothing. Members
 * removed hear the MemberRemoved, then stop receiving the group.
 */
export function* removeMembers(w: WriteCtx, callerId: number, gid: number, uids: number[]): Flow<number[]> {
  const { group, member: caller } = yield* memberOf(w, gid, callerId);
  if (group.mode === MODE.direct) throw badRequest("gid: a direct chat's members cannot change");
  const wanted = [...new Set(uids)];
  const targets = yield* w.store.membersAmong(gid, wanted);
  for (const t of targets) {
    if (t.role === ROLE.owner) throw forbidden(t.uid === callerId ? "the owner cannot leave the group" : "the owner cannot be removed");
    if (t.uid === callerId) continue;
    if (caller.role < ROLE.admin) throw forbidden("only the group's admins may remove others");
    if (t.role >= ROLE.admin && caller.role < ROLE.owner) throw forbidden("only the owner may remove an admin");
  }
  // Checked on the uids asked for, not only the members found: a member's request to remove others is refused, not a silent no-op.
  if (caller.role < ROLE.admin && wanted.some((u) => u !== callerId)) throw forbidden("only the group's admins may remove others");
  const absent = wanted.filter((u) => !targets.some((t) => t.uid === u));
  if (absent.length) {
    const known = new Set(yield* w.store.existingUserIds(absent, false));
    const unknown = absent.find((u) => !known.has(u));
    if (unknown !== undefined) throw notFound(`user ${unknown} not found`);
  }
  const removed = targets.map((t) => t.uid);
  if (removed.length) {
    yield* w.store.deleteMembers(gid, removed);
    // The removed hear it, then leave the topic before anything else is published.
    const event = yield* appendEvent(w, { gid, kind: "MemberRemoved", actor: callerId, payload: { uids: removed } });
    yield* recordDepartures(w, gid, removed, event.id);
    w.effects.push({ type: "publish", gid, data: eventFrame(event) }, { type: "leave", gid, uids: removed });
  }
  return removed;
}

/** A member leaves. The owner must hand the group over first, unless alone in it: then leaving deletes it. */
export function* leaveGroup(w: WriteCtx, callerId: number, gid: number): Flow<void> {
  const { group, member } = yield* memberOf(w, gid, callerId);
  if (group.mode === MODE.direct) throw badRequest("gid: a direct chat cannot be left");
  if (member.role === ROLE.owner) {
    const others = yield* w.store.countOtherMembers(gid, callerId);
    if (others > 0) throw conflict("the owner must transfer the group to another member before leaving (POST /api/group/transfer)");
    return yield* deleteGroup(w, callerId, gid);
  }
  yield* removeMembers(w, callerId, gid, [callerId]);
}

function* announceRoles(w: WriteCtx, gid: number, actor: number, roles: { uid: number; role: number }[]): Flow<void> {
  const event = yield* appendEvent(w, { gid, kind: "RoleChanged", actor, payload: { roles } });
  w.effects.push({ type: "publish", gid, data: eventFrame(event) });
}

function* requireOwner(w: WriteCtx, gid: number, callerId: number) {
  const found = yield* memberOf(w, gid, callerId);
  if (found.member.role !== ROLE.owner) throw forbidden("only the group's owner may do that");
  return found;
}

function* requireOtherMember(w: WriteCtx, gid: number, callerId: number, uid: number): Flow<MemberRow> {
  if (uid === callerId) throw badRequest("uid: must be another member");
  const target = yield* w.store.membership(gid, uid);
  if (!target) throw notFound(`user ${uid} is not a member of this group`);
  return target;
}

/** The owner hands the group to another member, and stays on as an admin. */
export function* transferGroup(w: WriteCtx, callerId: number, gid: number, uid: number): Flow<void> {
  const { group } = yield* requireOwner(w, gid, callerId);
  if (group.mode === MODE.direct) throw badRequest("gid: a direct chat has no owner to change");
  yield* requireOtherMember(w, gid, callerId, uid);
  yield* w.store.setRole(gid, uid, ROLE.owner);
  yield* w.store.setRole(gid, callerId, ROLE.admin);
  yield* announceRoles(w, gid, callerId, [{ uid, role: ROLE.owner }, { uid: callerId, role: ROLE.admin }]);
}

/** The owner makes a member an admin (2) or an admin a member (1). */
export function* changeRole(w: WriteCtx, callerId: number, gid: number, uid: number, role: 1 | 2): Flow<void> {
  const { group } = yield* requireOwner(w, gid, callerId);
  if (group.mode === MODE.direct) throw badRequest("gid: a direct chat has no roles to change");
  const target = yield* requireOtherMember(w, gid, callerId, uid);
  if (target.role === role) return;
  yield* w.store.setRole(gid, uid, role);
  yield* announceRoles(w, gid, callerId, [{ uid, role }]);
}

/**
 * The owner deletes the group: every member hears GroupDeleted and leaves it.
 * The group's row and log stay (marked deleted), so a member who was offline
 * gets the GroupDeleted from Sync; nobody can read or write it any more.
 */
export function* deleteGroup(w: WriteCtx, callerId: number, gid: number): Flow<void> {
  yield* requireOwner(w, gid, callerId);
  const uids = yield* w.store.memberIds(gid);
  const event = yield* appendEvent(w, { gid, kind: "GroupDeleted", actor: callerId, payload: { uids } });
  yield* recordDepartures(w, gid, uids, event.id);
  yield* w.store.deleteMembers(gid, null);
  // A direct chat's key is freed, so the two can start a new one.
  yield* w.store.markGroupDeleted(gid, w.clock());
  w.effects.push({ type: "publish", gid, data: eventFrame(event) }, { type: "leave", gid, uids });
}
