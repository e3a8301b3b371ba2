import { sql } from "drizzle-orm";
import type { Ctx } from "./context";

export type Stats = { users: number; groups: number; messages: number; sessions: number; lastMessageId: number };

export function databaseStats(ctx: Ctx): Stats {
  const one = (q: ReturnType<typeof sql>) => Number(ctx.db.all<{ n: number }>(q)[0]?.n ?? 0);
  return {
    users: one(sql`SELECT count(*) AS n FROM users`),
    groups: one(sql`SELECT count(*) AS n FROM groups`),
    messages: one(sql`SELECT count(*) AS n FROM messages`),
    sessions: one(sql`SELECT count(*) AS n FROM sessions WHERE expires_at > ${ctx.clock()}`),
    lastMessageId: one(sql`SELECT coalesce(max(id), 0) AS n FROM messages`),
  };
}
