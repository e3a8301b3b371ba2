import type { Ctx } from "./context";
import type { Flow } from "./store";

export type Stats = { users: number; groups: number; messages: number; sessions: number; lastMessageId: number };

export function* databaseStats(ctx: Ctx): Flow<Stats> {
  return yield* ctx.store.stats(ctx.clock());
}
