// What a reconnecting client missed: every message and every change with an
// id above its cursor in its groups, in id order. A group it was removed from
// is replayed up to that removal, ending with the MemberRemoved.
import type { Ctx } from "./context";
import type { Flow } from "./store";
import { MAX_ID } from "./context";
import { attachFiles } from "./files";
import { departuresSince, eventsSince, type GroupEvent } from "./events";
import { groupIdsOf, memberOf } from "./groups";
import { messageView, type MessageView } from "./views";

export type SyncItem = { id: number; message: MessageView; event?: undefined } | { id: number; event: GroupEvent; message?: undefined };

type Scope = { gids: number[]; upTo: number };

function* scopesOf(ctx: Ctx, uid: number, afterId: number, gid?: number): Flow<Scope[]> {
  // Every departure the user has, so a cursor already past a removal gets an empty answer rather than 403.
  const departed = yield* departuresSince(ctx, uid, gid === undefined ? afterId : 0);
  if (gid !== undefined) {
    const gone = departed.find((d) => d.gid === gid);
    if (gone) return gone.eventId > afterId ? [{ gids: [gid], upTo: gone.eventId }] : [];
    yield* memberOf(ctx, gid, uid);
    return [{ gids: [gid], upTo: MAX_ID }];
  }
  return [{ gids: yield* groupIdsOf(ctx, uid), upTo: MAX_ID }, ...departed.map((d) => ({ gids: [d.gid], upTo: d.eventId }))];
}

/** At most `limit` items after `afterId`, ascending by id. */
export function* changesSince(ctx: Ctx, uid: number, q: { afterId: number; gid?: number; limit: number }): Flow<SyncItem[]> {
  const items: SyncItem[] = [];
  for (const s of yield* scopesOf(ctx, uid, q.afterId, q.gid)) {
    if (s.gids.length === 0) continue;
    const rows = yield* ctx.store.messagesSince(s.gids, q.afterId, s.upTo, q.limit);
    for (const m of yield* attachFiles(ctx, rows.map(messageView))) items.push({ id: m.id, message: m });
    for (const e of yield* eventsSince(ctx, s.gids, q.afterId, s.upTo, q.limit)) items.push({ id: e.id, event: e });
  }
  items.sort((a, b) => a.id - b.id);
  return items.length > q.limit ? items.slice(0, q.limit) : items;
}
