// Each group's log of changes. A change takes the next id of the sequence
// message ids come from, so a client's one cursor (the highest msgId or
// eventId it has seen) orders and resumes messages and changes together.
import type { WriteCtx } from "../write/writer";
import type { Ctx } from "./context";
import type { EventRow, Flow } from "./store";

export type GroupEventKind = "MemberAdded" | "MemberRemoved" | "GroupUpdated" | "RoleChanged" | "GroupDeleted" | MessageChangeKind;
/** Changes to one message: their Notify carries the message as it is after the change. */
export type MessageChangeKind = "Edited" | "Deleted" | "Reacted";
export const MESSAGE_CHANGE_KINDS: ReadonlySet<string> = new Set<MessageChangeKind>(["Edited", "Deleted", "Reacted"]);

export type GroupEvent = {
  id: number;
  gid: number;
  kind: GroupEventKind;
  actor: number;
  msgId: number | null;
  payload: Record<string, unknown>;
  createdAt: number;
};

/**
 * Appends a change to the group's log, with the next id of the sequence
 * messages take theirs from; its Notify is published by the caller's effects.
 * `clientMsgId` (a socket frame's) is unique per actor: see earlierEvent.
 */
export function* appendEvent(
  w: WriteCtx,
  e: { gid: number; kind: GroupEventKind; actor: number; msgId?: number | null; payload: Record<string, unknown>; clientMsgId?: string | null },
): Flow<GroupEvent> {
  const createdAt = w.clock();
  const msgId = e.msgId ?? null;
  const id = yield* w.store.insertEvent({ gid: e.gid, kind: e.kind, actor: e.actor, msgId, payload: JSON.stringify(e.payload), createdAt, clientMsgId: e.clientMsgId ?? null });
  return { id, gid: e.gid, kind: e.kind, actor: e.actor, msgId, payload: e.payload, createdAt };
}

/** The change this actor already made with this clientMsgId (a resent frame), if any. */
export function* earlierEvent(ctx: Ctx, actor: number, clientMsgId: string): Flow<GroupEvent | null> {
  const row = yield* ctx.store.eventByClientMsgId(actor, clientMsgId);
  return row ? toEvent(row) : null;
}

/** Remembers that these users left the group at this event, for Sync. */
export function* recordDepartures(w: WriteCtx, gid: number, uids: number[], eventId: number): Flow<void> {
  yield* w.store.recordDepartures(gid, uids, eventId);
}

const toEvent = (r: EventRow): GroupEvent => ({ id: r.id, gid: r.groupId, kind: r.kind, actor: r.actorUid, msgId: r.msgId, payload: JSON.parse(r.payload), createdAt: r.createdAt });

/** Changes of these groups with afterId < id <= upTo, ascending, at most limit. */
export function* eventsSince(ctx: Ctx, gids: number[], afterId: number, upTo: number, limit: number): Flow<GroupEvent[]> {
  if (gids.length === 0) return [];
  return (yield* ctx.store.eventsSince(gids, afterId, upTo, limit)).map(toEvent);
}

/** Groups the user was removed from (and is not back in) after afterId, with the id of that removal. */
export function* departuresSince(ctx: Ctx, uid: number, afterId: number): Flow<{ gid: number; eventId: number }[]> {
  return yield* ctx.store.departuresSince(uid, afterId);
}
