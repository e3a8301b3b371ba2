// Read and delivered cursors only move forward (as Tinode's `if seq <= readId return`):
// a late or replayed receipt can never make read messages unread again.
import { and, count, desc, eq, gt, lt, ne } from "drizzle-orm";
import { groupMembers, groups, messages, users } from "../db/schema";
import { notFound } from "../errors";
import type { Ctx } from "./context";
import { MODE, requireMember } from "./groups";
import { findMessageInGroup } from "./messages";
import { groupView, messageView, userView, type GroupView, type MessageView, type UserView } from "./views";

type Cursor = "readMsgId" | "deliveredMsgId";

function moveCursor(ctx: Ctx, uid: number, gid: number, msgId: number, cursor: Cursor): boolean {
  const column = groupMembers[cursor];
  const moved = ctx.db
    .update(groupMembers)
    .set({ [cursor]: msgId })
    .where(and(eq(groupMembers.groupId, gid), eq(groupMembers.userId, uid), lt(column, msgId)))
    .returning({ gid: groupMembers.groupId })
    .all();
  return moved.length > 0;
}

function assertMessage(ctx: Ctx, gid: number, msgId: number) {
  if (!findMessageInGroup(ctx, gid, msgId)) throw notFound("message not found in this group");
}

/** Marks everything up to msgId read; returns whether the cursor moved. */
export function markRead(ctx: Ctx, uid: number, gid: number, msgId: number): boolean {
  requireMember(ctx, gid, uid);
  assertMessage(ctx, gid, msgId);
  const moved = moveCursor(ctx, uid, gid, msgId, "readMsgId");
  // Reading implies delivery.
  moveCursor(ctx, uid, gid, msgId, "deliveredMsgId");
  return moved;
}

export function markDelivered(ctx: Ctx, uid: number, gid: number, msgId: number): boolean {
  requireMember(ctx, gid, uid);
  assertMessage(ctx, gid, msgId);
  return moveCursor(ctx, uid, gid, msgId, "deliveredMsgId");
}

/** REST group/read: the cursor jumps to the group's newest message. Returns it (or null). */
export function markGroupRead(ctx: Ctx, uid: number, gid: number): number | null {
  const { group } = requireMember(ctx, gid, uid);
  if (group.lastMsgId === null) return null;
  moveCursor(ctx, uid, gid, group.lastMsgId, "readMsgId");
  moveCursor(ctx, uid, gid, group.lastMsgId, "deliveredMsgId");
  return group.lastMsgId;
}

export function unreadCount(ctx: Ctx, uid: number, gid: number, readMsgId: number): number {
  return ctx.db
    .select({ n: count() })
    .from(messages)
    .where(and(eq(messages.groupId, gid), gt(messages.id, readMsgId), ne(messages.senderUid, uid)))
    .get()!.n;
}

export type ChatEntry = { group: GroupView; msg: MessageView; user: UserView; unread: number };

/**
 * One entry per conversation with at least one message, newest activity
 * first. `user` is the other person of a direct chat, else the last sender.
 */
export function chatList(ctx: Ctx, uid: number, page: number, size: number): ChatEntry[] {
  const rows = ctx.db
    .select({ group: groups, msg: messages, readMsgId: groupMembers.readMsgId })
    .from(groupMembers)
    .innerJoin(groups, eq(groups.id, groupMembers.groupId))
    .innerJoin(messages, eq(messages.id, groups.lastMsgId))
    .where(eq(groupMembers.userId, uid))
    .orderBy(desc(groups.lastMsgId))
    .limit(size)
    .offset((page - 1) * size)
    .all();
  return rows.map((r) => {
    const otherUid = r.group.mode === MODE.direct ? otherOfDirect(r.group.directKey, uid) : r.msg.senderUid;
    const user = ctx.db.select().from(users).where(eq(users.id, otherUid ?? r.msg.senderUid)).get()!;
    return { group: groupView(r.group), msg: messageView(r.msg), user: userView(user), unread: unreadCount(ctx, uid, r.group.id, r.readMsgId) };
  });
}

function otherOfDirect(key: string | null, uid: number): number | null {
  if (!key) return null;
  const [a, b] = key.split(":").map(Number);
  return a === uid ? b! : a!;
}

