// Changes to a stored message: edit, delete, react. Each is recorded in the
// group's log (domain/events.ts) in the job that updates the message row, so
// Sync replays it among the messages, in id order; its Notify carries the
// message as it is after the change. A change made over the socket carries
// the frame's clientMsgId: a resend is answered with the first change and
// changes nothing. Every check (and anything else that may throw) comes
// before a change's first write, so its frames run without a savepoint
// (ws/dispatch.ts, FAILS_BEFORE_WRITING).
import { selectList } from "../db/columns";
import { messages } from "../db/schema";
import { AppError, forbidden, notFound } from "../errors";
import { changeFrame } from "../push";
import { reindexMessage } from "./search";
import type { WriteCtx } from "../write/writer";
import type { Sock } from "../ws/hub";
import type { Ctx } from "./context";
import { eventByClientMsgId, recordEvent, type GroupEvent, type MessageChangeKind } from "./events";
import { ROLE } from "./groups";
import { mentionsIn, storeMentions } from "./mentions";
import { messageView, type MessageView, type Reaction } from "./views";

type MessageRow = typeof messages.$inferSelect;

export const EMOJI_MAX = 32;
/** An emoji (or any short reaction text): 1-32 characters (code points), no control characters. */
export function isEmoji(s: string): boolean {
  if (s.length === 0 || s.length > EMOJI_MAX * 2 || /\p{Cc}|\p{Cs}/u.test(s)) return false;
  let n = 0;
  for (const _ of s) if (++n > EMOJI_MAX) return false;
  return true;
}

export type Change = {
  /** The change recorded (or, for a resend, the one recorded the first time); null when nothing changed (a React already in place). */
  event: GroupEvent | null;
  message: MessageView;
  duplicate: boolean;
};

const SQL_MESSAGE_BY_ID = `SELECT ${selectList(messages)} FROM messages WHERE id = ?`;

function messageRow(ctx: Ctx, id: number): MessageRow | null {
  return ctx.db.$client.query<MessageRow, [number]>(SQL_MESSAGE_BY_ID).get(id);
}

/** The message as it is now (Sync's replay of a change carries this). */
export function currentMessage(ctx: Ctx, id: number): MessageView | null {
  const row = messageRow(ctx, id);
  return row ? messageView(row) : null;
}

// Simple statements, each through its index: measured, they cost a fraction of one LEFT JOIN
// doing the same with bound parameters (bench/, BENCHMARKS.md).
const SQL_ROLE = "SELECT role FROM group_members WHERE group_id = ? AND user_id = ?";
const SQL_GROUP_EXISTS = "SELECT 1 AS x FROM groups WHERE id = ?";

/** The message a change targets: 404 for no group, 403 for a non-member, 404 for a message not in the group or deleted. */
function target(ctx: Ctx, uid: number, gid: number, msgId: number): { row: MessageRow; role: number } {
  const sqlite = ctx.db.$client;
  const member = sqlite.query<{ role: number }, [number, number]>(SQL_ROLE).get(gid, uid);
  if (!member) {
    if (!sqlite.query(SQL_GROUP_EXISTS).get(gid)) throw notFound("group not found");
    throw forbidden("not a member of this group");
  }
  const row = messageRow(ctx, msgId);
  if (!row || row.groupId !== gid) throw notFound("msgId: no such message in this group");
  if (row.deletedAt !== null) throw notFound("msgId: that message was deleted");
  return { row, role: member.role };
}

/** A socket frame already applied (its clientMsgId used for a change): the first change answers it, nothing else happens. */
function resent(ctx: Ctx, uid: number, clientMsgId: string | undefined): Change | null {
  if (clientMsgId === undefined) return null;
  const earlier = eventByClientMsgId(ctx, uid, clientMsgId);
  if (!earlier) return null;
  const message = earlier.msgId === null ? null : currentMessage(ctx, earlier.msgId);
  if (!message) throw notFound("msgId: no such message");
  return { event: earlier, message, duplicate: true };
}

type Input = { gid: number; msgId: number; clientMsgId?: string };

function record(w: WriteCtx, kind: MessageChangeKind, uid: number, row: MessageRow, clientMsgId: string | undefined, payload: Record<string, unknown> = {}) {
  return recordEvent(w, { gid: row.groupId, kind, actor: uid, msgId: row.id, payload, clientMsgId });
}

const SQL_EDIT = "UPDATE messages SET content = ?, mentions = ?, edited_at = ?, updated_at = ? WHERE id = ?";

/** Replaces the content (the sender only); msgId and seq stay, mentions are worked out anew. */
export function editMessage(w: WriteCtx, uid: number, input: Input & { content: string }): Change {
  const again = resent(w, uid, input.clientMsgId);
  if (again) return again;
  const { row } = target(w, uid, input.gid, input.msgId);
  if (row.senderUid !== uid) throw forbidden("only the sender may edit a message");
  if (Buffer.byteLength(input.content) > w.limits.maxContent) throw new AppError("too_large", `content: longer than ${w.limits.maxContent} bytes`);
  const mentioned = mentionsIn(w, row.groupId, row.kind, input.content);
  const mentions = mentioned.length ? JSON.stringify(mentioned) : null;
  const now = w.clock();
  const event = record(w, "Edited", uid, row, input.clientMsgId);
  w.db.$client.query(SQL_EDIT).run(input.content, mentions, now, now, row.id);
  // Found by its new text, no longer by its old.
  reindexMessage(w, row.id, row.groupId, row.content, input.content, row.kind);
  // Nothing to take back when the message mentioned nobody (the common case).
  storeMentions(w, { id: row.id, gid: row.groupId, sender: row.senderUid }, mentioned, row.mentions !== null);
  const updated: MessageRow = { ...row, content: input.content, mentions, editedAt: now, updatedAt: now };
  return { event, message: messageView(updated), duplicate: false };
}

const SQL_DELETE = "UPDATE messages SET content = '', mentions = NULL, reactions = NULL, deleted_at = ?, updated_at = ? WHERE id = ?";

/** Deletes a message (its sender, or the group's owner or an admin): it stays as a tombstone, its content, mentions and reactions gone. */
export function deleteMessage(w: WriteCtx, uid: number, input: Input): Change {
  const again = resent(w, uid, input.clientMsgId);
  if (again) return again;
  const { row, role } = target(w, uid, input.gid, input.msgId);
  if (row.senderUid !== uid && role < ROLE.admin) throw forbidden("only the sender or the group's admins may delete a message");
  const now = w.clock();
  const event = record(w, "Deleted", uid, row, input.clientMsgId);
  const sqlite = w.db.$client;
  sqlite.query(SQL_DELETE).run(now, now, row.id);
  // Never found again.
  reindexMessage(w, row.id, row.groupId, row.content, "", row.kind);
  if (row.reactions !== null) sqlite.query("DELETE FROM message_reactions WHERE message_id = ?").run(row.id);
  if (row.mentions !== null) sqlite.query("DELETE FROM message_mentions WHERE message_id = ?").run(row.id);
  const updated: MessageRow = { ...row, content: "", mentions: null, reactions: null, deletedAt: now, updatedAt: now };
  return { event, message: messageView(updated), duplicate: false };
}

const SQL_HOLDS = "SELECT 1 AS x FROM message_reactions WHERE message_id = ? AND emoji = ? AND uid = ?";
// The emoji's first use orders it (ord): every holder's row carries the same one, else it is this
// change's id. Read apart from the INSERT (inside it, as a subquery on the table being written, it
// cost ≈ 50 µs), and any holder's row will do (min() over them cost 3 µs more).
const SQL_FIRST_USE = "SELECT ord FROM message_reactions WHERE message_id = ? AND emoji = ? LIMIT 1";
const SQL_REACT_ADD = "INSERT INTO message_reactions (message_id, emoji, uid, created_at, ord) VALUES (?, ?, ?, ?, ?)";
const SQL_REACT_REMOVE = "DELETE FROM message_reactions WHERE message_id = ? AND emoji = ? AND uid = ?";
const SQL_SET_REACTIONS = "UPDATE messages SET reactions = ? WHERE id = ?";

/**
 * The wire's reactions after one change, from the ones before: a new emoji goes last (it is
 * the latest first use), a new holder last among its emoji's; an emoji nobody holds is dropped.
 * The same order as message_reactions by (ord, rowid), without reading it back.
 */
export function nextReactions(before: Reaction[], emoji: string, uid: number, on: boolean): Reaction[] {
  const after: Reaction[] = [];
  let found = false;
  for (const r of before) {
    if (r.emoji !== emoji) after.push(r);
    else {
      found = true;
      const uids = on ? [...r.uids, uid] : r.uids.filter((u) => u !== uid);
      if (uids.length) after.push({ emoji, uids });
    }
  }
  if (on && !found) after.push({ emoji, uids: [uid] });
  return after;
}

/** Adds (on) or removes (off) the caller's reaction; any member; doing it twice changes nothing the second time. */
export function reactToMessage(w: WriteCtx, uid: number, input: Input & { emoji: string; on: boolean }): Change {
  const again = resent(w, uid, input.clientMsgId);
  if (again) return again;
  const { row } = target(w, uid, input.gid, input.msgId);
  const sqlite = w.db.$client;
  const holds = sqlite.query(SQL_HOLDS).get(row.id, input.emoji, uid) !== null;
  // Already so: nothing changes, nothing is recorded.
  if (holds === input.on) return { event: null, message: messageView(row), duplicate: false };
  const summary = nextReactions(row.reactions === null ? [] : (JSON.parse(row.reactions) as Reaction[]), input.emoji, uid, input.on);
  const reactions = summary.length ? JSON.stringify(summary) : null;
  const event = record(w, "Reacted", uid, row, input.clientMsgId, { emoji: input.emoji, on: input.on });
  if (input.on) {
    const ord = sqlite.query<{ ord: number }, [number, string]>(SQL_FIRST_USE).get(row.id, input.emoji)?.ord ?? event.id;
    sqlite.query(SQL_REACT_ADD).run(row.id, input.emoji, uid, w.clock(), ord);
  } else sqlite.query(SQL_REACT_REMOVE).run(row.id, input.emoji, uid);
  sqlite.query(SQL_SET_REACTIONS).run(reactions, row.id);
  return { event, message: messageView({ ...row, reactions }), duplicate: false };
}

/** Publishes a new change to the group (but `except`, the socket that made it); a resend or a no-op publishes nothing. */
export function announceChange(w: WriteCtx, change: Change, except?: Sock) {
  if (change.duplicate || !change.event) return;
  w.effects.push({ type: "publish", gid: change.event.gid, data: changeFrame(change.event, change.message), except });
}
