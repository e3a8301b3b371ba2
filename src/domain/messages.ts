import { and, asc, desc, eq, gt, inArray, lt, type SQL } from "drizzle-orm";
import { groupMembers, groups, messages } from "../db/schema";
import { AppError } from "../errors";
import type { Ctx } from "./context";
import { requireMember } from "./groups";
import { getUsers } from "./users";
import { groupView, messageView, type GroupView, type MessageView, type UserView } from "./views";

export const MESSAGE_KINDS = ["Text", "RichText", "Image"] as const;
export type MessageKind = (typeof MESSAGE_KINDS)[number];

export type OutgoingMessage = { gid: number; kind: MessageKind; content: string; clientMsgId: string };
export type Sent = { message: MessageView; duplicate: boolean };

/**
 * Stores a message with the group's next seq. Idempotent per sender and
 * clientMsgId: a resend returns the message stored the first time.
 * Runs inside the caller's transaction when there is one.
 */
export function sendMessage(ctx: Ctx, senderId: number, input: OutgoingMessage): Sent {
  const earlier = ctx.db
    .select()
    .from(messages)
    .where(and(eq(messages.senderUid, senderId), eq(messages.clientMsgId, input.clientMsgId)))
    .get();
  if (earlier) return { message: messageView(earlier), duplicate: true };
  if (Buffer.byteLength(input.content) > ctx.limits.maxContent) {
    throw new AppError("too_large", `content: longer than ${ctx.limits.maxContent} bytes`);
  }
  const { group } = requireMember(ctx, input.gid, senderId);
  const now = ctx.clock();
  const seq = group.lastSeq + 1;
  const row = ctx.db
    .insert(messages)
    .values({ groupId: group.id, seq, senderUid: senderId, kind: input.kind, content: input.content, clientMsgId: input.clientMsgId, createdAt: now, updatedAt: now })
    .returning()
    .get();
  ctx.db.update(groups).set({ lastSeq: seq, lastMsgId: row.id }).where(eq(groups.id, group.id)).run();
  return { message: messageView(row), duplicate: false };
}

export type HistoryQuery = { gid: number; page: number; size: number; beforeId?: number };

/** A page of a group's messages with their senders: page 1 is the newest, each page ascending. */
export function history(ctx: Ctx, callerId: number, q: HistoryQuery): { group: GroupView; msg: MessageView; user: UserView; unread: null }[] {
  const group = groupView(requireMember(ctx, q.gid, callerId).group);
  const where: SQL[] = [eq(messages.groupId, q.gid)];
  if (q.beforeId !== undefined) where.push(lt(messages.id, q.beforeId));
  const rows = ctx.db
    .select()
    .from(messages)
    .where(and(...where))
    .orderBy(desc(messages.id))
    .limit(q.size)
    .offset(q.beforeId !== undefined ? 0 : (q.page - 1) * q.size)
    .all()
    .reverse();
  const senders = getUsers(ctx, rows.map((r) => r.senderUid));
  return rows.map((r) => ({ group, msg: messageView(r), user: senders.get(r.senderUid)!, unread: null }));
}

/** Messages of the user's groups after `afterId`, ascending, at most `limit` (for Sync). */
export function messagesSince(ctx: Ctx, uid: number, q: { afterId: number; gid?: number; limit: number }): MessageView[] {
  if (q.gid !== undefined) requireMember(ctx, q.gid, uid);
  const gids = q.gid !== undefined
    ? [q.gid]
    : ctx.db.select({ gid: groupMembers.groupId }).from(groupMembers).where(eq(groupMembers.userId, uid)).all().map((r) => r.gid);
  if (gids.length === 0) return [];
  return ctx.db
    .select()
    .from(messages)
    .where(and(inArray(messages.groupId, gids), gt(messages.id, q.afterId)))
    .orderBy(asc(messages.id))
    .limit(q.limit)
    .all()
    .map(messageView);
}

export function findMessageInGroup(ctx: Ctx, gid: number, msgId: number) {
  return ctx.db.select({ id: messages.id }).from(messages).where(and(eq(messages.id, msgId), eq(messages.groupId, gid))).get();
}
