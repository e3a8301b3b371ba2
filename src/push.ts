// The frames the server pushes, shared by every transport: a stored message
// (rim's `Msg` push) and a change (`Notify`). Field names and casing are rim's.
import type { GroupEvent } from "./domain/events";
import type { MessageView } from "./domain/views";

/** The push every member receives for a stored message; one that shares a file carries `file` {id, name, size, mime}. */
export const msgPush = (m: MessageView) =>
  JSON.stringify({
    event: "Msg",
    body: m.file
      ? { kind: m.kind, uid: m.uid, gid: m.gid, content: m.content, clientMsgId: m.client_msg_id, msgId: m.id, seq: m.seq, createTime: m.createTime, file: m.file }
      : { kind: m.kind, uid: m.uid, gid: m.gid, content: m.content, clientMsgId: m.client_msg_id, msgId: m.id, seq: m.seq, createTime: m.createTime },
  });

export type NotifyName = "Read" | GroupEvent["kind"];

/** A Notify frame; a change of the group's log carries its `eventId`, a read receipt none. */
export function notifyFrame(name: NotifyName, actor: number, gid: number, msgId: number | null, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    event: "Notify",
    body: { kind: "Text", uid: actor, gid, content: name, clientMsgId: "", msgId, ...extra },
  });
}

export const eventFrame = (e: GroupEvent) => notifyFrame(e.kind, e.actor, e.gid, e.msgId, { ...e.payload, eventId: e.id });
