// Fan-out against rim and against the ceiling server, interleaved in one run,
// closed loop then open loop, for each group size.
import { closeSeedDb, openSeedDb, productionHash, seedGroup, seedUsers } from "../lib/seed";
import { runClient, startServer, type ServerProc } from "../lib/spawn";
import { perMessage, serviceCounters, startNodes } from "../lib/cluster";
import type { FanoutConfig } from "../clients/fanout";
import { dbPath, type RunCtx } from "./context";
import { copyFileSync } from "node:fs";

/** A copy of a closed seed database, for a second server (a database is served by one process at a time). */
function copyOf(file: string): string {
  const copy = file.replace(/\.db$/, "") + "-changes.db";
  copyFileSync(file, copy);
  return copy;
}

/** editShare > 0: rim runs each load a second time with that share of the frames being edits and reactions ("rim+changes"). */
/** ceiling false: rim only (e.g. the cluster runs). */
export type FanoutOptions = { ceiling?: boolean; sizes: number[]; rates: number[]; closed: boolean; warmupMs: number; durationMs: number; inflight: number; editShare?: number };

type Kind = "rim" | "ceiling" | "rim+changes";
export type FanoutRow = { size: number; load: string; server: Kind } & Record<string, any>;

export async function fanout(ctx: RunCtx, o: FanoutOptions) {
  const maxSize = Math.max(...o.sizes);
  const file = dbPath(ctx, "fanout");
  const db = openSeedDb(file);
  const users = seedUsers(db, maxSize, await productionHash());
  const gids = new Map(o.sizes.map((s) => [s, seedGroup(db, users.slice(0, s).map((u) => u.uid))]));
  closeSeedDb(db);

  // With changes, rim runs them in a server process of its own (on a copy of the database), so that a
  // --profile run gives one profile per workload.
  const nodes = await startNodes(ctx, file);
  const servers: Partial<Record<Kind, ServerProc>> = {
    rim: nodes[0]!,
    ...(o.ceiling === false ? {} : { ceiling: await startServer({ kind: "ceiling" }) }),
    ...(o.editShare ? { "rim+changes": await startServer({ kind: "rim", rimCmd: ctx.rimCmd, db: copyOf(file) }) } : {}),
  };
  const rows: FanoutRow[] = [];
  try {
    for (const size of o.sizes) {
      const loads: { load: string; mode: "closed" | "open"; rate: number }[] = [];
      if (o.closed) loads.push({ load: `closed ${o.inflight}`, mode: "closed", rate: 0 });
      for (const rate of o.rates) loads.push({ load: `open ${rate / 1000}k/s`, mode: "open", rate });
      const kinds = ((o.editShare ? ["rim", "rim+changes", "ceiling"] : ["rim", "ceiling"]) as Kind[]).filter((k) => servers[k]);
      for (const l of loads) {
        for (const kind of kinds) {
          const s = servers[kind]!;
          const cfg: FanoutConfig = {
            wsUrl: s.wsUrl,
            serverPid: s.pid,
            ...(kind === "rim" && nodes.length > 1 ? { wsUrls: nodes.map((n) => n.wsUrl), serverPids: nodes.map((n) => n.pid) } : {}),
            gid: gids.get(size)!,
            sender: users[0]!,
            receivers: users.slice(1, size),
            mode: l.mode,
            inflight: o.inflight,
            rate: l.rate,
            warmupMs: o.warmupMs,
            durationMs: o.durationMs,
            probes: 8,
            contentBytes: 64,
            editShare: kind === "rim+changes" ? o.editShare : 0,
          };
          let r: any;
          const before = kind === "rim" ? await serviceCounters(ctx) : null;
          try {
            r = await runClient("fanout", cfg, { dir: ctx.dir, timeoutMs: o.warmupMs + o.durationMs + 60_000 });
          } catch (err) {
            if (s.proc.exitCode !== null) throw new Error(`${kind} server died:\n${s.tail().join("\n")}`);
            rows.push({ size, load: l.load, server: kind, error: String((err as Error).message ?? err) });
            ctx.log(`fanout ${size} ${l.load} ${kind}: failed: ${err}`);
            continue;
          }
          // PostgreSQL commits and rows, Redis commands and bytes per message over the whole load (logins and warm-up included).
          const services = before ? perMessage(before, await serviceCounters(ctx), r.acked) : null;
          rows.push({ size, load: l.load, server: kind, ...r, ...(services ? { services_per_msg: services } : {}) });
          ctx.log(
            `fanout ${size} ${l.load} ${kind}: ${r.msgs_per_s} msg/s, ${r.deliveries_per_s} deliveries/s, ack p99 ${r.ack_ms.p99} ms, e2e p99 ${r.e2e_ms.p99} ms` +
              (r.overloaded ? " (overloaded)" : "") + (r.errors ? ` errors ${r.errors}` : "") + (r.undelivered ? ` undelivered ${r.undelivered}` : ""),
          );
        }
      }
    }
  } finally {
    for (const s of new Set([...nodes, ...Object.values(servers)])) await s.stop();
  }
  return { rows, ratios: ratios(rows), changes: o.editShare ? changeRatios(rows) : undefined };
}

/** rim with edits and reactions ÷ rim with messages only, per size and load (target: deliveries ≥ 0.9). */
function changeRatios(rows: FanoutRow[]) {
  const out: Record<string, any>[] = [];
  for (const r of rows.filter((x) => x.server === "rim+changes" && !x.error)) {
    const p = rows.find((x) => x.server === "rim" && x.size === r.size && x.load === r.load && !x.error);
    if (!p) continue;
    const q = (a: number, b: number) => (b > 0 && Number.isFinite(a) && Number.isFinite(b) ? Math.round((a / b) * 100) / 100 : null);
    out.push({
      size: r.size,
      load: r.load,
      editShare: r.editShare,
      frames: q(r.msgs_per_s, p.msgs_per_s),
      deliveries: q(r.deliveries_per_s, p.deliveries_per_s),
      ack_p99: q(r.ack_ms.p99, p.ack_ms.p99),
      e2e_p99: q(r.e2e_ms.p99, p.e2e_ms.p99),
    });
  }
  return out;
}

/** rim ÷ ceiling for throughput, and rim ÷ ceiling for latencies, per size and load. */
function ratios(rows: FanoutRow[]) {
  const out: Record<string, any>[] = [];
  for (const r of rows.filter((x) => x.server === "rim")) {
    const c = rows.find((x) => x.server === "ceiling" && x.size === r.size && x.load === r.load);
    if (!c) continue;
    const q = (a: number, b: number) => (b > 0 && Number.isFinite(a) && Number.isFinite(b) ? Math.round((a / b) * 100) / 100 : null);
    out.push({
      size: r.size,
      load: r.load,
      deliveries: q(r.deliveries_per_s, c.deliveries_per_s),
      ack_p99: q(r.ack_ms.p99, c.ack_ms.p99),
      e2e_p99: q(r.e2e_ms.p99, c.e2e_ms.p99),
    });
  }
  return out;
}
