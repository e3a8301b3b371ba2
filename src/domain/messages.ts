import { messages } from "../db/schema";
import { selectList } from "../db/columns";
import { AppError, forbidden, notFound } from "../errors";
import { formatTime } from "../time";
import type { Ctx } from "./context";
import { requireMember } from "./groups";
import { getUsers } from "./users";
import { groupView, messageView, type GroupView, type MessageView, type UserView } from "./views";

export const MESSAGE_KINDS = ["Text", "RichText", "Image"] as const;
export type MessageKind = (typeof MESSAGE_KINDS)[number];

export type OutgoingMessage = { gid: number; kind: MessageKind; content: string; clientMsgId: string };
export type Sent = { message: MessageView; duplicate: boolean };

// The Msg path runs once per message: its SQL is written out and prepared
// once (Database.query caches the statement), where drizzle's builder would
// render and prepare every query anew, which cost ~80% of the server's CPU
// under load (bench/, BENCHMARKS.md).
const MESSAGE_COLUMNS = selectList(messages);
const SQL_EARLIER = `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE sender_uid = ? AND client_msg_id = ?`;
// The membership as a subquery, not a LEFT JOIN: with Bun's SQLite (3.54) a
// statement joining two tables costs ~4.5 µs more per run once it has bound
// parameters (~5.7 µs against ~1.2 µs here; bench/ in BENCHMARKS.md).
const SQL_MEMBER = "SELECT last_seq AS lastSeq, (SELECT user_id FROM group_members WHERE group_id = ?2 AND user_id = ?1) AS member FROM groups WHERE id = ?2";
const SQL_INSERT =
  "INSERT INTO messages (group_id, seq, sender_uid, kind, content, client_msg_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sender_uid, client_msg_id) DO NOTHING";
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
    return earlier ? { message: messageView(earlier), duplicate: true } : null;
  };
  // requireMember's checks in one statement: 404 for no group, 403 for a non-member.
  const found = sqlite.query<{ lastSeq: number; member: number | null }, [number, number]>(SQL_MEMBER).get(senderId, input.gid);
  if (!found || found.member === null) {
    const earlier = resent();
    if (earlier) return earlier;
    throw found ? forbidden("not a member of this group") : notFound("group not found");
  }
  if (Buffer.byteLength(input.content) > ctx.limits.maxContent) {
    const earlier = resent();
    if (earlier) return earlier;
    throw new AppError("too_large", `content: longer than ${ctx.limits.maxContent} bytes`);
  }
  const now = ctx.clock();
  const seq = found.lastSeq + 1;
  const inserted = sqlite.query(SQL_INSERT).run(input.gid, seq, senderId, input.kind, input.content, input.clientMsgId, now, now);
  if (inserted.changes === 0) return resent()!;
  const id = Number(inserted.lastInsertRowid);
  sqlite.query(SQL_BUMP).run(seq, id, input.gid);
  // messageView of the stored row, with its one timestamp formatted once.
  const time = formatTime(now);
  const message: MessageView = { id, kind: input.kind, content: input.content, gid: input.gid, uid: senderId, client_msg_id: input.clientMsgId, seq, createTime: time, updateTime: time };
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
  return rows.map((r) => ({ group, msg: messageView(r), user: senders.get(r.senderUid)!, unread: null }));
}

const SQL_IN_GROUP = "SELECT id FROM messages WHERE id = ? AND group_id = ?";

export function findMessageInGroup(ctx: Ctx, gid: number, msgId: number): { id: number } | undefined {
  return ctx.db.$client.query<{ id: number }, [number, number]>(SQL_IN_GROUP).get(msgId, gid) ?? undefined;
}
