// The frames the server pushes, shared by every transport: a stored message
// (rim's `Msg` push) and a change (`Notify`). Field names and casing are rim's.
import type { GroupEvent } from "./domain/events";
import type { MessageView } from "./domain/views";

const str = JSON.stringify;

/**
 * The push every member receives for a stored message: the bytes of
 * JSON.stringify({ event: "Msg", body: { kind, uid, gid, content, clientMsgId,
 * msgId, seq, createTime } }), written out (one per message on the hot path;
 * tests/frames.fast.test.ts compares the two).
 */
export const msgPush = (m: MessageView) =>
  `{"event":"Msg","body":{"kind":${str(m.kind)},"uid":${str(m.uid)},"gid":${str(m.gid)},"content":${str(m.content)},"clientMsgId":${str(m.client_msg_id)},"msgId":${str(m.id)},"seq":${str(m.seq)},"createTime":${str(m.createTime)}}}`;

export type NotifyName = "Read" | GroupEvent["kind"];

/** A Notify frame; a change of the group's log carries its `eventId`, a read receipt none. */
export function notifyFrame(name: NotifyName, actor: number, gid: number, msgId: number | null, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    event: "Notify",
    body: { kind: "Text", uid: actor, gid, content: name, clientMsgId: "", msgId, ...extra },
  });
}

export const eventFrame = (e: GroupEvent) => notifyFrame(e.kind, e.actor, e.gid, e.msgId, { ...e.payload, eventId: e.id });
