// Read and delivered cursors only move forward (as Tinode's `if seq <= readId return`):
// a late or replayed receipt can never make read messages unread again.
import { forbidden, notFound } from "../errors";
import type { Ctx } from "./context";
import type { Flow } from "./store";
import { MODE, memberOf, type MemberRow } from "./groups";
import { attachFiles } from "./files";
import { getUsers } from "./users";
import { groupView, messageView, type GroupView, type MessageView, type UserView } from "./views";

/** The caller's membership for a receipt on msgId: 404 for no group, 403 for a non-member, 404 for a message not in the group. */
function* receiptMember(ctx: Ctx, gid: number, uid: number, msgId: number): Flow<MemberRow> {
  // One look (one round trip on PostgreSQL, where receipts are most of the writes), memberOf's verdicts in memberOf's order.
  const t = yield* ctx.store.receiptTarget(gid, uid, msgId);
  if (!t.group) throw notFound("group not found");
  if (!t.member) throw forbidden("not a member of this group");
  if (!t.message) throw notFound("message not found in this group");
  return t.member;
}

/** Moves the read cursor (and with it the delivered one) up to msgId; returns whether the read cursor moved. */
function* moveRead(ctx: Ctx, member: MemberRow, gid: number, uid: number, msgId: number): Flow<boolean> {
  // member is this transaction's row: the cursors it shows are the ones the UPDATE would compare.
  if (member.readMsgId >= msgId && member.deliveredMsgId >= msgId) return false;
  yield* ctx.store.moveReadCursor(gid, uid, msgId);
  return member.readMsgId < msgId;
}

/** Marks everything up to msgId read; returns whether the cursor moved. */
export function* markRead(ctx: Ctx, uid: number, gid: number, msgId: number): Flow<boolean> {
  const member = yield* receiptMember(ctx, gid, uid, msgId);
  // Reading implies delivery.
  return yield* moveRead(ctx, member, gid, uid, msgId);
}

export function* markDelivered(ctx: Ctx, uid: number, gid: number, msgId: number): Flow<boolean> {
  yield* receiptMember(ctx, gid, uid, msgId);
  return yield* ctx.store.moveDeliveredCursor(gid, uid, msgId);
}

/** REST group/read: the cursor jumps to the group's newest message. Returns it (or null). */
export function* markGroupRead(ctx: Ctx, uid: number, gid: number): Flow<number | null> {
  const { group, member } = yield* memberOf(ctx, gid, uid);
  if (group.lastMsgId === null) return null;
  yield* moveRead(ctx, member, gid, uid, group.lastMsgId);
  return group.lastMsgId;
}

export function* unreadCount(ctx: Ctx, uid: number, gid: number, readMsgId: number): Flow<number> {
  return yield* ctx.store.unreadCount(gid, uid, readMsgId);
}

/** `mentions`: how many unread messages of the chat mention the caller (an addition to rim's shape). */
export type ChatEntry = { group: GroupView; msg: MessageView; user: UserView; unread: number; mentions: number };

/**
 * One entry per conversation with at least one message, newest activity
 * first. `user` is the other person of a direct chat, else the last sender.
 * Unread = the messages after the read cursor (seqs are dense per group, so
 * the group's last seq less the cursor message's seq) less the caller's own
 * among them, from one statement for the page (the store's chatListPage).
 */
export function* chatList(ctx: Ctx, uid: number, page: number, size: number): Flow<ChatEntry[]> {
  const rows = yield* ctx.store.chatListPage(uid, size, (page - 1) * size);
  const others = rows.map((r) => (r.gMode === MODE.direct ? otherOfDirect(r.gDirectKey, uid) : null) ?? r.senderUid);
  const people = yield* getUsers(ctx, others);
  const views = yield* attachFiles(ctx, rows.map(messageView));
  const entries: ChatEntry[] = [];
  for (const [i, r] of rows.entries()) {
    const unread =
      r.readMsgId === 0 ? r.gLastSeq - r.ownAfter
      : r.cursorSeq !== null ? r.gLastSeq - r.cursorSeq - r.ownAfter
      : yield* unreadCount(ctx, uid, r.gId, r.readMsgId); // a cursor outside the group: count the slow way
    const group = groupView({ id: r.gId, name: r.gName, avatar: r.gAvatar, mode: r.gMode, creatorUid: r.gCreatorUid });
    entries.push({ group, msg: views[i]!, user: people.get(others[i]!)!, unread, mentions: r.mentionsUnread });
  }
  return entries;
}

function otherOfDirect(key: string | null, uid: number): number | null {
  if (!key) return null;
  const [a, b] = key.split(":").map(Number);
  return a === uid ? b! : a!;
}
