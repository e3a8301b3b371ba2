// Each group's log of changes. A change takes the next id of the sequence
// message ids come from, so a client's one cursor (the highest msgId or
// eventId it has seen) orders and resumes messages and changes together.
import type { WriteCtx } from "../write/writer";
import type { Ctx } from "./context";

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

// The messages table's AUTOINCREMENT counter is the one sequence: bumping it
// reserves an id no message will take (SQLite documents sqlite_sequence as
// writable with ordinary statements). The bump is a plain `seq + 1`: every
// event id comes from it, so it is never behind the log (only the first one,
// with no row yet, looks at the log). A `max(seq, …)` here, with a subquery
// or a parameter, made FTS5 write out the terms of the batch's messages so
// far as a segment of their own (measured; SQLite runs such a statement in a
// savepoint of its own, and FTS5 flushes on every savepoint): ≈ 15-35 µs,
// and more segments to merge. Bumped, then read (RETURNING cost ≈ 2 µs more).
const SQL_BUMP_SEQ = "UPDATE sqlite_sequence SET seq = seq + 1 WHERE name = 'messages'";
const SQL_READ_SEQ = "SELECT seq FROM sqlite_sequence WHERE name = 'messages'";
const SQL_FIRST_SEQ = "INSERT INTO sqlite_sequence (name, seq) VALUES ('messages', (SELECT coalesce(max(id), 0) FROM group_events) + 1)";
const SQL_INSERT = "INSERT INTO group_events (id, group_id, kind, actor_uid, msg_id, payload, created_at, client_msg_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";

export function nextId(ctx: Ctx): number {
  const sqlite = ctx.db.$client;
  if (sqlite.query(SQL_BUMP_SEQ).run().changes === 0) sqlite.query(SQL_FIRST_SEQ).run();
  return sqlite.query<{ seq: number }, []>(SQL_READ_SEQ).get()!.seq;
}

/**
 * Appends a change to the group's log; its Notify is published by the caller's effects.
 * `clientMsgId` (a socket frame's) is unique per actor: see eventByClientMsgId.
 */
export function recordEvent(
  w: WriteCtx,
  e: { gid: number; kind: GroupEventKind; actor: number; msgId?: number | null; payload: Record<string, unknown>; clientMsgId?: string | null },
): GroupEvent {
  const event: GroupEvent = { id: nextId(w), gid: e.gid, kind: e.kind, actor: e.actor, msgId: e.msgId ?? null, payload: e.payload, createdAt: w.clock() };
  w.db.$client.query(SQL_INSERT).run(event.id, event.gid, event.kind, event.actor, event.msgId, JSON.stringify(event.payload), event.createdAt, e.clientMsgId ?? null);
  return event;
}

const SQL_BY_CLIENT_ID =
  "SELECT id, group_id AS groupId, kind, actor_uid AS actorUid, msg_id AS msgId, payload, created_at AS createdAt FROM group_events WHERE actor_uid = ? AND client_msg_id = ?";

/** The change this actor already made with this clientMsgId (a resent frame), if any. */
export function eventByClientMsgId(ctx: Ctx, actor: number, clientMsgId: string): GroupEvent | null {
  const row = ctx.db.$client.query<EventRow, [number, string]>(SQL_BY_CLIENT_ID).get(actor, clientMsgId);
  return row ? toEvent(row) : null;
}

/** Remembers that these users left the group at this event, for Sync. */
export function recordDepartures(w: WriteCtx, gid: number, uids: number[], eventId: number) {
  const q = w.db.$client.query("INSERT INTO departures (user_id, group_id, event_id) VALUES (?, ?, ?) ON CONFLICT (user_id, group_id) DO UPDATE SET event_id = excluded.event_id");
  for (const uid of uids) q.run(uid, gid, eventId);
}

type EventRow = { id: number; groupId: number; kind: GroupEventKind; actorUid: number; msgId: number | null; payload: string; createdAt: number };

const toEvent = (r: EventRow): GroupEvent => ({ id: r.id, gid: r.groupId, kind: r.kind, actor: r.actorUid, msgId: r.msgId, payload: JSON.parse(r.payload), createdAt: r.createdAt });

const SQL_SINCE =
  "SELECT id, group_id AS groupId, kind, actor_uid AS actorUid, msg_id AS msgId, payload, created_at AS createdAt FROM group_events " +
  "WHERE group_id IN (SELECT value FROM json_each(?)) AND id > ? AND id <= ? ORDER BY id LIMIT ?";

/** Changes of these groups with afterId < id <= upTo, ascending, at most limit. */
export function eventsSince(ctx: Ctx, gids: number[], afterId: number, upTo: number, limit: number): GroupEvent[] {
  if (gids.length === 0) return [];
  return ctx.db.$client.query<EventRow, [string, number, number, number]>(SQL_SINCE).all(JSON.stringify(gids), afterId, upTo, limit).map(toEvent);
}

/** Groups the user was removed from (and is not back in) after afterId, with the id of that removal. */
export function departuresSince(ctx: Ctx, uid: number, afterId: number): { gid: number; eventId: number }[] {
  return ctx.db.$client
    .query<{ gid: number; eventId: number }, [number, number, number]>(
      "SELECT d.group_id AS gid, d.event_id AS eventId FROM departures d WHERE d.user_id = ? AND d.event_id > ? " +
        "AND NOT EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = d.group_id AND m.user_id = ?)",
    )
    .all(uid, afterId, uid);
}
