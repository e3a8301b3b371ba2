import { messages } from "../db/schema";
import { selectList } from "../db/columns";
import { AppError, forbidden, notFound } from "../errors";
import { formatTime } from "../time";
import type { Ctx } from "./context";
import { attachFiles, fileToShare, fileView, type FileRow } from "./files";
import { requireMember } from "./groups";
import { indexMessage } from "./search";
import { mentionsIn, storeMentions } from "./mentions";
import { getUsers } from "./users";
import { groupView, messageView, type GroupView, type MessageView, type UserView } from "./views";

// File: content is the id of an uploaded file. Image: the id of an uploaded image, or (as in rim) a URL.
export const MESSAGE_KINDS = ["Text", "RichText", "Image", "File"] as const;
export type MessageKind = (typeof MESSAGE_KINDS)[number];

export type OutgoingMessage = { gid: number; kind: MessageKind; content: string; clientMsgId: string; replyTo?: number | null };
export type Sent = { message: MessageView; duplicate: boolean };

// The Msg path runs once per message: its SQL is written out and prepared
// once (Database.query caches the statement), where drizzle's builder would
// render and prepare every query anew, which cost ~80% of the server's CPU
// under load (bench/, BENCHMARKS.md).
const MESSAGE_COLUMNS = selectList(messages);
const SQL_EARLIER = `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE sender_uid = ? AND client_msg_id = ?`;
// Membership, then the group's last seq: two statements through their primary keys cost less
// than the one LEFT JOIN with bound parameters that did both (≈ 1 µs against ≈ 6 µs, measured).
const SQL_IS_MEMBER = "SELECT 1 AS x FROM group_members WHERE group_id = ? AND user_id = ?";
const SQL_LAST_SEQ = "SELECT last_seq AS lastSeq FROM groups WHERE id = ?";
const SQL_INSERT =
  "INSERT INTO messages (group_id, seq, sender_uid, kind, content, client_msg_id, created_at, updated_at, reply_to, mentions) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sender_uid, client_msg_id) DO NOTHING";
const SQL_REPLY_TARGET = "SELECT deleted_at AS deletedAt FROM messages WHERE id = ? AND group_id = ?";
const SQL_BUMP = "UPDATE groups SET last_seq = ?, last_msg_id = ? WHERE id = ?";

type MessageRow = typeof messages.$inferSelect;

/**
 * Stores a message with the group's next seq. Idempotent per sender and
 * clientMsgId: a resend returns the message stored the first time.
 * Runs on the write path (its caller's transaction).
 */
export function sendMessage(ctx: Ctx, senderId: number, input: OutgoingMessage): Sent {
  const sqlite = ctx.db.$client;
  // A resend is found through the unique index the insert already checks; the
  // select for it runs only when the insert (or a check before it) says no.
  const resent = (): Sent | null => {
    const earlier = sqlite.query<MessageRow, [number, string]>(SQL_EARLIER).get(senderId, input.clientMsgId);
    return earlier ? { message: attachFiles(ctx, [messageView(earlier)])[0]!, duplicate: true } : null;
  };
  // requireMember's checks: 404 for no group, 403 for a non-member.
  const member = sqlite.query(SQL_IS_MEMBER).get(input.gid, senderId) !== null;
  const found = sqlite.query<{ lastSeq: number }, [number]>(SQL_LAST_SEQ).get(input.gid);
  if (!found || !member) {
    const earlier = resent();
    if (earlier) return earlier;
    throw found ? forbidden("not a member of this group") : notFound("group not found");
  }
  if (Buffer.byteLength(input.content) > ctx.limits.maxContent) {
    const earlier = resent();
    if (earlier) return earlier;
    throw new AppError("too_large", `content: longer than ${ctx.limits.maxContent} bytes`);
  }
  // A file is shared only by its uploader or by someone who can already read it.
  let file: FileRow | null = null;
  if (input.kind === "File" || input.kind === "Image") {
    try {
      file = fileToShare(ctx, senderId, input.kind, input.content);
    } catch (err) {
      const earlier = resent();
      if (earlier) return earlier;
      throw err;
    }
  }
  const replyTo = input.replyTo ?? null;
  if (replyTo !== null) {
    // A reply answers a message of the same group that is still there.
    const target = sqlite.query<{ deletedAt: number | null }, [number, number]>(SQL_REPLY_TARGET).get(replyTo, input.gid);
    if (!target || target.deletedAt !== null) {
      const earlier = resent();
      if (earlier) return earlier;
      throw notFound(target ? "replyTo: that message was deleted" : "replyTo: no such message in this group");
    }
  }
  const mentioned = mentionsIn(ctx, input.gid, input.kind, input.content);
  const mentions = mentioned.length ? JSON.stringify(mentioned) : null;
  const now = ctx.clock();
  const seq = found.lastSeq + 1;
  const inserted = sqlite.query(SQL_INSERT).run(input.gid, seq, senderId, input.kind, input.content, input.clientMsgId, now, now, replyTo, mentions);
  if (inserted.changes === 0) return resent()!;
  const id = Number(inserted.lastInsertRowid);
  sqlite.query(SQL_BUMP).run(seq, id, input.gid);
  indexMessage(ctx, id, input.gid, input.content, input.kind);
  if (mentioned.length) storeMentions(ctx, { id, gid: input.gid, sender: senderId }, mentioned, false);
  const row: MessageRow = {
    id, groupId: input.gid, seq, senderUid: senderId, kind: input.kind, content: input.content, clientMsgId: input.clientMsgId, createdAt: now, updatedAt: now,
    replyTo, mentions, reactions: null, editedAt: null, deletedAt: null,
  };
  const message = messageView(row);
  if (file) message.file = fileView(file);
  return { message, duplicate: false };
}

const SQL_PAGE = `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE group_id = ? ORDER BY id DESC LIMIT ? OFFSET ?`;
const SQL_PAGE_BEFORE = `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE group_id = ? AND id < ? ORDER BY id DESC LIMIT ?`;

export type HistoryQuery = { gid: number; page: number; size: number; beforeId?: number };

/** A page of a group's messages with their senders: page 1 is the newest, each page ascending. */
export function history(ctx: Ctx, callerId: number, q: HistoryQuery): { group: GroupView; msg: MessageView; user: UserView; unread: null }[] {
  const group = groupView(requireMember(ctx, q.gid, callerId).group);
  const sqlite = ctx.db.$client;
  const rows = (
    q.beforeId !== undefined
      ? sqlite.query<MessageRow, [number, number, number]>(SQL_PAGE_BEFORE).all(q.gid, q.beforeId, q.size)
      : sqlite.query<MessageRow, [number, number, number]>(SQL_PAGE).all(q.gid, q.size, (q.page - 1) * q.size)
  ).reverse();
  const senders = getUsers(ctx, rows.map((r) => r.senderUid));
  const views = attachFiles(ctx, rows.map(messageView));
  return rows.map((r, i) => ({ group, msg: views[i]!, user: senders.get(r.senderUid)!, unread: null }));
}

const SQL_IN_GROUP = "SELECT id FROM messages WHERE id = ? AND group_id = ?";

export function findMessageInGroup(ctx: Ctx, gid: number, msgId: number): { id: number } | undefined {
  return ctx.db.$client.query<{ id: number }, [number, number]>(SQL_IN_GROUP).get(msgId, gid) ?? undefined;
}
