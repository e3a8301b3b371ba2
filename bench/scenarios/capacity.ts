// Capacity: authenticated idle sockets up to the open-file limit, added in
// steps by several client processes; server RSS sampled at each step once
// it has settled. RSS per socket is the slope between the first and the
// last step (fixed costs such as JIT and caches excluded), and also the
// whole growth over an idle server divided by the sockets.
import type { CapacityConfig } from "../clients/capacity";
import { procSample } from "../lib/proc";
import { closeSeedDb, openSeedDb, productionHash, seedGroups, seedUsers } from "../lib/seed";
import { startClient, startServer, type ClientProc, type ServerProc } from "../lib/spawn";
import { startNodes, stopNodes } from "../lib/cluster";
import { round } from "../lib/stats";
import { dbPath, type RunCtx } from "./context";

export type CapacityOptions = { sockets: number; steps: number[]; settleMs: number; ceiling: boolean };

export async function capacity(ctx: RunCtx, o: CapacityOptions) {
  const file = dbPath(ctx, "capacity");
  const db = openSeedDb(file);
  const users = seedUsers(db, o.sockets, await productionHash());
  // Each user in a group of 100 and one of 10: three topics per socket with its user topic.
  const gidsOf = users.map(() => [] as number[]);
  const blocks: number[][] = [];
  for (const size of [100, 10]) for (let s = 0; s < users.length; s += size) blocks.push(Array.from({ length: Math.min(size, users.length - s) }, (_, k) => s + k));
  const gids = seedGroups(db, blocks.map((b) => ({ uids: b.map((i) => users[i]!.uid) })));
  blocks.forEach((b, g) => b.forEach((i) => gidsOf[i]!.push(gids[g]!)));
  closeSeedDb(db);
  const withGids = users.map((u, i) => ({ uid: u.uid, token: u.token, gids: gidsOf[i]! }));

  const rim = await hold(ctx, o, withGids, "rim", file);
  // The same sockets on the ceiling server: what Bun itself needs per socket with the same subscriptions.
  const ceiling = o.ceiling ? await hold(ctx, o, withGids, "ceiling", file) : null;
  return { ...rim, ceiling };
}

async function hold(ctx: RunCtx, o: CapacityOptions, users: { uid: number; token: string; gids: number[] }[], kind: "rim" | "ceiling", file: string) {
  // On a cluster: every node gets its share of each step (round-robin), from a client process of its own; RSS is the nodes' sum.
  const nodes: ServerProc[] = kind === "rim" ? await startNodes(ctx, file) : [await startServer({ kind, rimCmd: ctx.rimCmd, db: file })];
  const server = nodes[0]!;
  const sample = () => {
    const all = nodes.map((n) => procSample(n.pid));
    return all.some((x) => !x) ? null : { rssKB: all.reduce((a, x) => a + x!.rssKB, 0), perNodeKB: all.map((x) => x!.rssKB) };
  };
  const clients: ClientProc[] = [];
  try {
    const limit = Number((await Bun.file(`/proc/${server.pid}/limits`).text()).match(/Max open files\s+(\d+)/)?.[1] ?? NaN);
    await Bun.sleep(o.settleMs);
    const idle = sample()!;
    const points: { sockets: number; rss_kb: number; per_node_kb?: number[]; connect_per_s: number }[] = [{ sockets: 0, rss_kb: idle.rssKB, connect_per_s: NaN }];
    let from = 0;
    let firstError: string | null = null;
    let failed = 0;
    for (const upTo of o.steps) {
      const share = users.slice(from, upTo);
      from = upTo;
      const step = nodes.map((n, k) => {
        const cfg: CapacityConfig = { wsUrl: n.wsUrl, users: share.filter((_, i) => i % nodes.length === k), concurrency: Math.ceil(256 / nodes.length), holdMaxMs: 600_000 };
        const c = startClient("capacity", cfg, { dir: ctx.dir, timeoutMs: 900_000 });
        clients.push(c);
        return c.waitLine("READY", 300_000);
      });
      const readies = await Promise.all(step);
      const ready = {
        opened: readies.reduce((a, r) => a + r.opened, 0),
        failed: readies.reduce((a, r) => a + r.failed, 0),
        firstError: readies.find((r) => r.firstError)?.firstError ?? null,
        per_s: readies.reduce((a, r) => a + r.per_s, 0),
      };
      failed += ready.failed;
      firstError ??= ready.firstError;
      await Bun.sleep(o.settleMs);
      const s = sample();
      if (!s) throw new Error(`${kind} died at ${points.at(-1)!.sockets} sockets:\n${server.tail().slice(-20).join("\n")}`);
      const total = points.at(-1)!.sockets + ready.opened;
      points.push({ sockets: total, rss_kb: s.rssKB, per_node_kb: s.perNodeKB, connect_per_s: ready.per_s });
      ctx.log(`capacity ${kind}: ${total} sockets, rss ${round(s.rssKB / 1024, 1)} MB, ${ready.per_s} connects/s${ready.failed ? `, ${ready.failed} failed (${ready.firstError})` : ""}`);
      if (ready.failed > 0) break;
    }
    const last = points.at(-1)!;
    const first = points[1] ?? last;
    // Release everything and see what memory comes back.
    for (const c of clients) c.release();
    const results = await Promise.all(clients.map((c) => c.result));
    await Bun.sleep(o.settleMs);
    const after = sample();
    return {
      target: o.sockets,
      held: last.sockets,
      failed,
      firstError,
      alive_at_release: results.reduce((a, r) => a + r.alive_at_release, 0),
      server_nofile_limit: limit,
      nodes: nodes.length,
      rss_held_per_node_mb: last.per_node_kb?.map((kb) => round(kb / 1024, 1)) ?? null,
      rss_idle_mb: round(idle.rssKB / 1024, 1),
      rss_held_mb: round(last.rss_kb / 1024, 1),
      rss_after_release_mb: after ? round(after.rssKB / 1024, 1) : null,
      kb_per_socket_slope: last.sockets > first.sockets ? round((last.rss_kb - first.rss_kb) / (last.sockets - first.sockets), 2) : null,
      kb_per_socket_total: last.sockets > 0 ? round((last.rss_kb - idle.rssKB) / last.sockets, 2) : null,
      // Up to 10k sockets: beyond, the client's ephemeral ports run short and connect() itself slows (the ceiling slows alike).
      connect_per_s: (() => {
        const early = points.slice(1).filter((p) => p.sockets <= 10_000);
        return round(early.reduce((a, p) => a + p.connect_per_s, 0) / Math.max(1, early.length), 0);
      })(),
      points,
    };
  } finally {
    for (const c of clients) c.kill();
    await stopNodes(nodes);
  }
}
