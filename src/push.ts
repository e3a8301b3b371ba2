// The frames the server pushes, shared by every transport: a stored message
// (rim's `Msg` push) and a change (`Notify`). Field names and casing are rim's.
import type { GroupEvent } from "./domain/events";
import type { MessageView } from "./domain/views";

/**
 * The body of a Msg push: rim's fields, then the additions (replyTo,
 * mentions, editedAt, deleted, reactions), which rim's clients ignore.
 */
export const msgBody = (m: MessageView) => ({
  kind: m.kind,
  uid: m.uid,
  gid: m.gid,
  content: m.content,
  clientMsgId: m.client_msg_id,
  msgId: m.id,
  seq: m.seq,
  createTime: m.createTime,
  replyTo: m.replyTo,
  mentions: m.mentions,
  editedAt: m.editedAt,
  deleted: m.deleted,
  reactions: m.reactions,
  // A message sharing an uploaded file: {id, name, size, mime} (GET /api/file/{id}).
  ...(m.file ? { file: m.file } : {}),
});

const str = JSON.stringify;

/**
 * The push every member receives for a stored message: the bytes of
 * JSON.stringify({ event: "Msg", body: msgBody(m) }), written out (one per
 * message on the hot path; tests/frames.fast.test.ts compares the two).
 */
export const msgPush = (m: MessageView) =>
  // Numbers, booleans and null are their own JSON; only strings and non-empty arrays need JSON.stringify.
  `{"event":"Msg","body":{"kind":${str(m.kind)},"uid":${m.uid},"gid":${m.gid},"content":${str(m.content)},"clientMsgId":${str(m.client_msg_id)},"msgId":${m.id},"seq":${m.seq},"createTime":${str(m.createTime)},` +
  `"replyTo":${m.replyTo},"mentions":${m.mentions.length ? str(m.mentions) : "[]"},"editedAt":${m.editedAt === null ? "null" : str(m.editedAt)},"deleted":${m.deleted},"reactions":${m.reactions.length ? str(m.reactions) : "[]"}${m.file ? `,"file":${str(m.file)}` : ""}}}`;

/** Notify names: the group log's kinds, plus live-only ones (not stored, not replayed, no eventId). */
export type NotifyName = "Read" | "Typing" | "Presence" | "Resync" | GroupEvent["kind"];

/** A Notify frame; a change of the group's log carries its `eventId`, a read receipt none. */
export function notifyFrame(name: NotifyName, actor: number, gid: number, msgId: number | null, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    event: "Notify",
    body: { kind: "Text", uid: actor, gid, content: name, clientMsgId: "", msgId, ...extra },
  });
}

export const eventFrame = (e: GroupEvent) => notifyFrame(e.kind, e.actor, e.gid, e.msgId, { ...e.payload, eventId: e.id });

/** A change to a message (Edited, Deleted, Reacted): the message as it is after it, shaped like a Msg push body. */
export const changeFrame = (e: GroupEvent, m: MessageView) => notifyFrame(e.kind, e.actor, e.gid, e.msgId, { eventId: e.id, message: msgBody(m) });

export const typingFrame = (uid: number, gid: number) => notifyFrame("Typing", uid, gid, null);

export const presenceFrame = (uid: number, gid: number, online: boolean) => notifyFrame("Presence", uid, gid, null, { online });

/**
 * Sent by a cluster node to its logged-in sockets when its bus may have lost
 * pushes (a gap, a lost or restored subscription): Sync from your cursor. No
 * user (uid 0), no group (gid 0), live only (msgId null, as Typing and Presence).
 */
export const resyncFrame = notifyFrame("Resync", 0, 0, null);
