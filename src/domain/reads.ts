// Read and delivered cursors only move forward (as Tinode's `if seq <= readId return`):
// a late or replayed receipt can never make read messages unread again.
import { and, count, eq, gt, lt, ne } from "drizzle-orm";
import { selectList } from "../db/columns";
import { groupMembers, groups, messages } from "../db/schema";
import { notFound } from "../errors";
import type { Ctx } from "./context";
import { runSync } from "./store";
import { MODE, requireMember, type MemberRow } from "./groups";
import { attachFiles } from "./files";
import { findMessageInGroup } from "./messages";
import { getUsers } from "./users";
import { groupView, messageView, type GroupView, type MessageView, type UserView } from "./views";

// Every Read, Ack and REST group/read runs these: SQL prepared once (Database.query caches the
// statement), not built and prepared again by drizzle on every call (≈ 40 % of a group/read's CPU).
// Both cursors move in one statement; each only forward.
const SQL_MOVE_BOTH =
  "UPDATE group_members SET read_msg_id = max(read_msg_id, ?1), delivered_msg_id = max(delivered_msg_id, ?1) " +
  "WHERE group_id = ?2 AND user_id = ?3 AND (read_msg_id < ?1 OR delivered_msg_id < ?1)";
const SQL_MOVE_DELIVERED = "UPDATE group_members SET delivered_msg_id = ?1 WHERE group_id = ?2 AND user_id = ?3 AND delivered_msg_id < ?1";

function assertMessage(ctx: Ctx, gid: number, msgId: number) {
  if (!runSync(findMessageInGroup(ctx, gid, msgId))) throw notFound("message not found in this group");
}

/** Moves the read cursor (and with it the delivered one) up to msgId; returns whether the read cursor moved. */
function moveRead(ctx: Ctx, member: MemberRow, gid: number, uid: number, msgId: number): boolean {
  // member is this transaction's row: the cursors it shows are the ones the UPDATE would compare.
  if (member.readMsgId >= msgId && member.deliveredMsgId >= msgId) return false;
  ctx.db.$client.query<unknown, [number, number, number]>(SQL_MOVE_BOTH).run(msgId, gid, uid);
  return member.readMsgId < msgId;
}

/** Marks everything up to msgId read; returns whether the cursor moved. */
export function markRead(ctx: Ctx, uid: number, gid: number, msgId: number): boolean {
  const { member } = requireMember(ctx, gid, uid);
  assertMessage(ctx, gid, msgId);
  // Reading implies delivery.
  return moveRead(ctx, member, gid, uid, msgId);
}

export function markDelivered(ctx: Ctx, uid: number, gid: number, msgId: number): boolean {
  requireMember(ctx, gid, uid);
  assertMessage(ctx, gid, msgId);
  return ctx.db.$client.query<unknown, [number, number, number]>(SQL_MOVE_DELIVERED).run(msgId, gid, uid).changes > 0;
}

/** REST group/read: the cursor jumps to the group's newest message. Returns it (or null). */
export function markGroupRead(ctx: Ctx, uid: number, gid: number): number | null {
  const { group, member } = requireMember(ctx, gid, uid);
  if (group.lastMsgId === null) return null;
  moveRead(ctx, member, gid, uid, group.lastMsgId);
  return group.lastMsgId;
}

export function unreadCount(ctx: Ctx, uid: number, gid: number, readMsgId: number): number {
  return ctx.db
    .select({ n: count() })
    .from(messages)
    .where(and(eq(messages.groupId, gid), gt(messages.id, readMsgId), ne(messages.senderUid, uid)))
    .get()!.n;
}

/** `mentions`: how many unread messages of the chat mention the caller (an addition to rim's shape). */
export type ChatEntry = { group: GroupView; msg: MessageView; user: UserView; unread: number; mentions: number };

// The whole page in one statement. Unread = the messages after the read cursor
// (seqs are dense per group, so the group's last seq less the cursor message's
// seq) less the caller's own among them (index messages_group_sender_idx). The
// per-conversation count it replaces walked every unread message: ~15 ms for
// a page of 20 at 1M messages (bench/, BENCHMARKS.md). Unread mentions come
// from message_mentions' primary key (uid, group, message): a range count.
const SQL_CHAT_LIST = `SELECT gm.read_msg_id AS readMsgId,
  g.id AS gId, g.name AS gName, g.avatar AS gAvatar, g.mode AS gMode, g.creator_uid AS gCreatorUid, g.direct_key AS gDirectKey, g.last_seq AS gLastSeq,
  ${selectList(messages, "m")},
  (SELECT c.seq FROM messages c WHERE c.id = gm.read_msg_id AND c.group_id = g.id) AS cursorSeq,
  (SELECT count(*) FROM messages o WHERE o.group_id = g.id AND o.sender_uid = gm.user_id AND o.id > gm.read_msg_id) AS ownAfter,
  (SELECT count(*) FROM message_mentions mm WHERE mm.uid = gm.user_id AND mm.group_id = g.id AND mm.message_id > gm.read_msg_id) AS mentionsUnread
FROM group_members gm JOIN groups g ON g.id = gm.group_id JOIN messages m ON m.id = g.last_msg_id
WHERE gm.user_id = ? ORDER BY g.last_msg_id DESC LIMIT ? OFFSET ?`;

type ChatRow = typeof messages.$inferSelect & {
  readMsgId: number;
  gId: number;
  gName: string;
  gAvatar: string;
  gMode: number;
  gCreatorUid: number;
  gDirectKey: string | null;
  gLastSeq: number;
  cursorSeq: number | null;
  ownAfter: number;
  mentionsUnread: number;
};

/**
 * One entry per conversation with at least one message, newest activity
 * first. `user` is the other person of a direct chat, else the last sender.
 */
export function chatList(ctx: Ctx, uid: number, page: number, size: number): ChatEntry[] {
  const rows = ctx.db.$client.query<ChatRow, [number, number, number]>(SQL_CHAT_LIST).all(uid, size, (page - 1) * size);
  const others = rows.map((r) => (r.gMode === MODE.direct ? otherOfDirect(r.gDirectKey, uid) : null) ?? r.senderUid);
  const people = runSync(getUsers(ctx, others));
  const views = runSync(attachFiles(ctx, rows.map(messageView)));
  return rows.map((r, i) => {
    const unread =
      r.readMsgId === 0 ? r.gLastSeq - r.ownAfter
      : r.cursorSeq !== null ? r.gLastSeq - r.cursorSeq - r.ownAfter
      : unreadCount(ctx, uid, r.gId, r.readMsgId); // a cursor outside the group: count the slow way
    const group = groupView({ id: r.gId, name: r.gName, avatar: r.gAvatar, mode: r.gMode, creatorUid: r.gCreatorUid });
    return { group, msg: views[i]!, user: people.get(others[i]!)!, unread, mentions: r.mentionsUnread };
  });
}

function otherOfDirect(key: string | null, uid: number): number | null {
  if (!key) return null;
  const [a, b] = key.split(":").map(Number);
  return a === uid ? b! : a!;
}

