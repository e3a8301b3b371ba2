// What a reconnecting client missed: every message and every change with an
// id above its cursor in its groups, in id order. A group it was removed from
// is replayed up to that removal, ending with the MemberRemoved.
import { messages } from "../db/schema";
import { selectList } from "../db/columns";
import type { Ctx } from "./context";
import { runSync } from "./store";
import { MAX_ID } from "./context";
import { attachFiles } from "./files";
import { departuresSince, eventsSince, type GroupEvent } from "./events";
import { groupIdsOf, requireMember } from "./groups";
import { messageView, type MessageView } from "./views";

export type SyncItem = { id: number; message: MessageView; event?: undefined } | { id: number; event: GroupEvent; message?: undefined };

type Scope = { gids: number[]; upTo: number };

const SQL_MESSAGES =
  `SELECT ${selectList(messages)} FROM messages WHERE group_id IN (SELECT value FROM json_each(?)) AND id > ? AND id <= ? ORDER BY id LIMIT ?`;

function scopesOf(ctx: Ctx, uid: number, afterId: number, gid?: number): Scope[] {
  // Every departure the user has, so a cursor already past a removal gets an empty answer rather than 403.
  const departed = departuresSince(ctx, uid, gid === undefined ? afterId : 0);
  if (gid !== undefined) {
    const gone = departed.find((d) => d.gid === gid);
    if (gone) return gone.eventId > afterId ? [{ gids: [gid], upTo: gone.eventId }] : [];
    requireMember(ctx, gid, uid);
    return [{ gids: [gid], upTo: MAX_ID }];
  }
  return [{ gids: groupIdsOf(ctx, uid), upTo: MAX_ID }, ...departed.map((d) => ({ gids: [d.gid], upTo: d.eventId }))];
}

/** At most `limit` items after `afterId`, ascending by id. */
export function changesSince(ctx: Ctx, uid: number, q: { afterId: number; gid?: number; limit: number }): SyncItem[] {
  const items: SyncItem[] = [];
  const sqlite = ctx.db.$client;
  for (const s of scopesOf(ctx, uid, q.afterId, q.gid)) {
    if (s.gids.length === 0) continue;
    const rows = sqlite.query<typeof messages.$inferSelect, [string, number, number, number]>(SQL_MESSAGES).all(JSON.stringify(s.gids), q.afterId, s.upTo, q.limit);
    for (const m of runSync(attachFiles(ctx, rows.map(messageView)))) items.push({ id: m.id, message: m });
    for (const e of eventsSince(ctx, s.gids, q.afterId, s.upTo, q.limit)) items.push({ id: e.id, event: e });
  }
  items.sort((a, b) => a.id - b.id);
  return items.length > q.limit ? items.slice(0, q.limit) : items;
}
