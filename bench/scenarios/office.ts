// Office day: a seeded company of N users in groups of 2, 10, 100 and 1000.
import type { OfficeConfig } from "../clients/office";
import { closeSeedDb, openSeedDb, productionHash, seedGroups, seedUsers } from "../lib/seed";
import { runClient } from "../lib/spawn";
import { startNodes, stopNodes } from "../lib/cluster";
import { dbPath, type RunCtx } from "./context";

export type OfficeOptions = { users: number; durationMs: number };

/**
 * Every user is in: one group of 1000 (consecutive blocks), one of 100,
 * two of 10 (one by block, one by stride) and two direct chats (i, i+1).
 */
export function company(n: number): number[][] {
  const groups: number[][] = [];
  const ids = Array.from({ length: n }, (_, i) => i);
  for (const size of [1000, 100]) for (let s = 0; s + size <= n; s += size) groups.push(ids.slice(s, s + size));
  for (let s = 0; s + 10 <= n; s += 10) groups.push(ids.slice(s, s + 10));
  const stride = Math.floor(n / 10);
  for (let s = 0; s < stride; s++) groups.push(Array.from({ length: 10 }, (_, k) => s + k * stride));
  for (let i = 0; i < n; i++) groups.push([i, (i + 1) % n]);
  return groups;
}

export async function office(ctx: RunCtx, o: OfficeOptions) {
  const file = dbPath(ctx, "office");
  const db = openSeedDb(file);
  const users = seedUsers(db, o.users, await productionHash());
  const shapes = company(o.users);
  const gids = seedGroups(db, shapes.map((idx) => ({ uids: idx.map((i) => users[i]!.uid), mode: idx.length === 2 ? 1 : 2 })));
  closeSeedDb(db);
  const nodes = await startNodes(ctx, file);
  const server = nodes[0]!;
  try {
    const cfg: OfficeConfig = {
      wsUrl: server.wsUrl,
      serverPid: server.pid,
      ...(nodes.length > 1 ? { wsUrls: nodes.map((n) => n.wsUrl), serverPids: nodes.map((n) => n.pid) } : {}),
      users,
      groups: shapes.map((idx, i) => ({ gid: gids[i]!, members: idx.map((k) => users[k]!.uid) })),
      weights: { 2: 0.45, 10: 0.35, 100: 0.15, 1000: 0.05 },
      sendEveryMs: [30_000, 60_000],
      reconnectPerMinute: 0.01,
      offlineMs: [500, 3000],
      durationMs: o.durationMs,
      seed: 42,
    };
    const r = await runClient("office", cfg, { dir: ctx.dir, timeoutMs: o.durationMs + 120_000 });
    for (const n of nodes)
      if (n.proc.exitCode !== null || n.proc.signalCode) {
        throw new Error(`rim exited (${n.proc.exitCode ?? n.proc.signalCode}) during office day:\n${n.tail().slice(-40).join("\n")}`);
      }
    ctx.log(
      `office ${r.users} users: ${r.msgs_per_s} msg/s, ack p99 ${r.ack_ms.p99} ms, delivery p99 ${r.delivery_ms.p99} ms, ` +
        `server cpu ${r.server_cpu_pct}%, rss ${r.server_rss_mb.end} MB, missing ${r.missing}, errors ${r.errors}`,
    );
    return { ...r, groupSizes: countSizes(shapes) };
  } finally {
    await stopNodes(nodes);
  }
}

function countSizes(shapes: number[][]) {
  const m: Record<number, number> = {};
  for (const g of shapes) m[g.length] = (m[g.length] ?? 0) + 1;
  return m;
}
