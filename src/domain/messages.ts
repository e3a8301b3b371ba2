import { AppError, forbidden, notFound } from "../errors";
import { formatTime } from "../time";
import type { Ctx } from "./context";
import type { Flow, MessageRow } from "./store";
import { attachFiles, fileToShare, fileView, type FileRow } from "./files";
import { memberOf } from "./groups";
import { indexedBody } from "./search";
import { mayMention, mentionsIn, storeMentions } from "./mentions";
import { getUsers } from "./users";
import { groupView, messageView, type GroupView, type MessageView, type UserView } from "./views";

// File: content is the id of an uploaded file. Image: the id of an uploaded image, or (as in rim) a URL.
export const MESSAGE_KINDS = ["Text", "RichText", "Image", "File"] as const;
export type MessageKind = (typeof MESSAGE_KINDS)[number];

export type OutgoingMessage = { gid: number; kind: MessageKind; content: string; clientMsgId: string; replyTo?: number | null };
export type Sent = { message: MessageView; duplicate: boolean };

const NO_MENTIONS: number[] = [];

/**
 * Stores a message with the group's next seq. Idempotent per sender and
 * clientMsgId: a resend returns the message stored the first time.
 * Runs on the write path (its caller's transaction).
 */
export function* sendMessage(ctx: Ctx, senderId: number, input: OutgoingMessage): Flow<Sent> {
  const store = ctx.store;
  // A resend is found through the unique index the insert already checks; the
  // select for it runs only when the insert (or a check before it) says no.
  function* resent(): Flow<Sent | null> {
    const earlier = yield* store.messageBySenderClientId(senderId, input.clientMsgId);
    return earlier ? { message: (yield* attachFiles(ctx, [messageView(earlier)]))[0]!, duplicate: true } : null;
  }
  // requireMember's checks: 404 for no group, 403 for a non-member.
  const found = yield* store.groupForSender(input.gid, senderId);
  if (!found || !found.member) {
    const earlier = yield* resent();
    if (earlier) return earlier;
    throw found ? forbidden("not a member of this group") : notFound("group not found");
  }
  if (Buffer.byteLength(input.content) > ctx.limits.maxContent) {
    const earlier = yield* resent();
    if (earlier) return earlier;
    throw new AppError("too_large", `content: longer than ${ctx.limits.maxContent} bytes`);
  }
  // A file is shared only by its uploader or by someone who can already read it.
  let file: FileRow | null = null;
  if (input.kind === "File" || input.kind === "Image") {
    try {
      file = yield* fileToShare(ctx, senderId, input.kind, input.content);
    } catch (err) {
      const earlier = yield* resent();
      if (earlier) return earlier;
      throw err;
    }
  }
  const replyTo = input.replyTo ?? null;
  if (replyTo !== null) {
    // A reply answers a message of the same group that is still there.
    const target = yield* store.replyTarget(replyTo, input.gid);
    if (!target || target.deleted) {
      const earlier = yield* resent();
      if (earlier) return earlier;
      throw notFound(target ? "replyTo: that message was deleted" : "replyTo: no such message in this group");
    }
  }
  // Most messages mention nobody: no flow is started for them (each is an object and a resumption per message).
  const mentioned = mayMention(input.kind, input.content) ? yield* mentionsIn(ctx, input.gid, input.kind, input.content) : NO_MENTIONS;
  const mentions = mentioned.length ? JSON.stringify(mentioned) : null;
  const now = ctx.clock();
  const stored = yield* store.insertMessage(
    { groupId: input.gid, senderUid: senderId, kind: input.kind, content: input.content, clientMsgId: input.clientMsgId, createdAt: now, updatedAt: now, replyTo, mentions },
    found.lastSeq,
    store.searchIndexing === "inline" ? indexedBody(input.gid, input.content, input.kind) : null,
  );
  if (!stored) return (yield* resent())!;
  const { id, seq } = stored;
  if (mentioned.length) yield* storeMentions(ctx, { id, gid: input.gid, sender: senderId }, mentioned, false);
  const row: MessageRow = {
    id, groupId: input.gid, seq, senderUid: senderId, kind: input.kind, content: input.content, clientMsgId: input.clientMsgId, createdAt: now, updatedAt: now,
    replyTo, mentions, reactions: null, editedAt: null, deletedAt: null,
  };
  const message = messageView(row);
  if (file) message.file = fileView(file);
  return { message, duplicate: false };
}

export type HistoryQuery = { gid: number; page: number; size: number; beforeId?: number };

/** A page of a group's messages with their senders: page 1 is the newest, each page ascending. */
export function* history(ctx: Ctx, callerId: number, q: HistoryQuery): Flow<{ group: GroupView; msg: MessageView; user: UserView; unread: null }[]> {
  const group = groupView((yield* memberOf(ctx, q.gid, callerId)).group);
  const at = q.beforeId !== undefined ? { beforeId: q.beforeId } : { offset: (q.page - 1) * q.size };
  const rows = (yield* ctx.store.messagesPage(q.gid, q.size, at)).reverse();
  const senders = yield* getUsers(ctx, rows.map((r) => r.senderUid));
  const views = yield* attachFiles(ctx, rows.map(messageView));
  return rows.map((r, i) => ({ group, msg: views[i]!, user: senders.get(r.senderUid)!, unread: null }));
}
