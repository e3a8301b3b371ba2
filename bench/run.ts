// bun bench/run.ts [--quick] [--only fanout,mixed,office,capacity,history,coldstart,upload]
//                  [--server binary|source] [--rim-src DIR] [--profile] [--keep]
//                  [--fanout-sizes 100,1000] [--fanout-rates 1000,5000] [--edit-share 0.1]
//                  [--backend sqlite|postgres] [--cluster N] [--no-ceiling]
//                  [--office-seconds S] [--capacity-sockets N]
// --backend postgres serves from PostgreSQL with Redis as the bus (both started
// by the bench); --cluster N (implies postgres) runs N nodes on them, the load
// spreading its sockets over the nodes round-robin. With either, rim is not
// pinned to a core (nodes, PostgreSQL and Redis share the machine).
// Runs the scenarios, prints a table per scenario and writes the JSON to
// bench/results/. See BENCHMARKS.md.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { capacity } from "./scenarios/capacity";
import { coldStart } from "./scenarios/coldstart";
import { fanout } from "./scenarios/fanout";
import { history } from "./scenarios/history";
import { mixed } from "./scenarios/mixed";
import { office } from "./scenarios/office";
import { upload } from "./scenarios/upload";
import { CORES, PINNED, ROOT } from "./lib/spawn";
import { useMigrations } from "./lib/seed";
import { table } from "./lib/stats";
import type { RunCtx } from "./scenarios/context";

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(name);
const value = (name: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const quick = flag("--quick");
const profile = flag("--profile");
const server = profile ? "source" : (value("--server") ?? "binary");
const ALL = ["fanout", "mixed", "office", "capacity", "history", "coldstart", "upload"] as const;
const only = (value("--only")?.split(",") ?? [...ALL]) as string[];

const sh = (cmd: string[]) => {
  const r = Bun.spawnSync(cmd, { cwd: ROOT, stderr: "pipe" });
  return r.success ? r.stdout.toString().trim() : "";
};

const started = new Date();
const dir = mkdtempSync(join(tmpdir(), "rim-bench-"));
const log = (msg: string) => console.error(`[${((performance.now()) / 1000).toFixed(1)}s] ${msg}`);

if (value("--rim-src") && server === "binary") throw new Error("--rim-src needs --server source");
if (server === "binary" || only.includes("coldstart")) {
  log("building dist/rim");
  const b = Bun.spawnSync(["bun", "run", "build"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  if (!b.success) throw new Error("build failed:\n" + b.stderr.toString());
}
const profDir = join(ROOT, "bench/results/profiles");
if (profile) mkdirSync(profDir, { recursive: true });
// --rim-src DIR runs another checkout's src/main.ts (e.g. a baseline copy for before/after figures).
const rimSrc = value("--rim-src") ?? ROOT;
const rimCmd =
  server === "binary"
    ? [join(ROOT, "dist/rim")]
    : profile
      ? ["bun", "--cpu-prof", "--cpu-prof-dir", profDir, join(rimSrc, "src/main.ts")]
      : ["bun", join(rimSrc, "src/main.ts")];

const clusterNodes = Number(value("--cluster") ?? 1);
const backend = (value("--backend") ?? (clusterNodes > 1 ? "postgres" : "sqlite")) as RunCtx["backend"];
if (backend !== "sqlite" && backend !== "postgres") throw new Error("--backend: sqlite or postgres");
if (!(Number.isInteger(clusterNodes) && clusterNodes >= 1)) throw new Error("--cluster: a number of nodes");
if (backend === "sqlite" && clusterNodes > 1) throw new Error("--cluster needs --backend postgres: a SQLite file is served by one node");
const pinServer = value("--backend") === undefined && value("--cluster") === undefined;
const ctx: RunCtx = { dir, rimCmd, quick, log, backend, nodes: clusterNodes, pinServer };
if (rimSrc !== ROOT) useMigrations((await import(join(rimSrc, "src/db/migrations.gen.ts"))).MIGRATIONS);

const meta = {
  date: started.toISOString(),
  commit: sh(["git", "rev-parse", "--short", "HEAD"]),
  dirty: sh(["git", "status", "--porcelain", "--", "src"]).length > 0,
  bun: Bun.version,
  cpu: cpus()[0]?.model ?? "?",
  cores: CORES,
  memGB: Math.round(totalmem() / 2 ** 30),
  kernel: release(),
  pinned: PINNED && pinServer,
  backend,
  nodes: clusterNodes,
  server: server === "binary" ? "dist/rim (bun build --compile)" : `bun ${join(rimSrc, "src/main.ts")}${profile ? " --cpu-prof" : ""}`,
  quick,
  loadavgStart: loadavg().map((v) => Math.round(v * 100) / 100),
  loadavgEnd: [] as number[],
};

const results: Record<string, any> = {};
const out: (string | null)[] = [];

async function scenario(name: string, fn: () => Promise<any>) {
  if (!only.includes(name)) return;
  log(`— ${name}`);
  try {
    results[name] = await fn();
  } catch (err) {
    log(`${name} failed: ${(err as Error).stack ?? err}`);
    results[name] = { error: String((err as Error).message ?? err) };
  }
}

// Order: the noisiest on the machine (capacity leaves sockets in TIME_WAIT) last.
await scenario("coldstart", () => coldStart(ctx, { runs: quick ? 5 : 20 }));
// An empty list (--fanout-rates "") runs none of that kind: e.g. the closed loop only.
const list = (name: string) => value(name)?.split(",").filter(Boolean).map(Number);
await scenario("fanout", () => {
  const o = quick
    ? { sizes: [100], rates: [5000], closed: true, warmupMs: 1000, durationMs: 3000, inflight: 64 }
    : { sizes: [100, 1000], rates: [1000, 5000, 10000], closed: true, warmupMs: 1500, durationMs: 5000, inflight: 64 };
  // --fanout-sizes 100 --fanout-rates 5000: a subset, e.g. for before/after comparisons.
  // --edit-share 0.1: rim also runs each load with 10 % of the frames being edits and reactions.
  const editShare = value("--edit-share") === undefined ? 0 : Number(value("--edit-share"));
  if (!(editShare >= 0 && editShare < 1)) throw new Error("--edit-share: a share from 0 to below 1");
  return fanout(ctx, { ...o, ceiling: !flag("--no-ceiling"), sizes: list("--fanout-sizes") ?? o.sizes, rates: list("--fanout-rates") ?? o.rates, editShare });
});
// --rest-mix read,readSide,rename: the REST ops' weights (default 0.8,0,0.2).
const restMix = list("--rest-mix");
await scenario("mixed", () =>
  mixed(ctx, {
    ...(quick
      ? { size: 100, msgRate: 5000, restRate: 1000, warmupMs: 1000, durationMs: 3000 }
      : { size: 100, msgRate: 5000, restRate: 1000, warmupMs: 1500, durationMs: 10_000 }),
    ...(restMix ? { weights: { read: restMix[0]!, readSide: restMix[1]!, rename: restMix[2]! } } : {}),
  }),
);
await scenario("history", () =>
  history(ctx, quick
    ? { messages: 100_000, groups: 1000, users: 2000, groupsPerUser: 25, requests: 300, warmup: 100 }
    : { messages: 1_000_000, groups: 1000, users: 2000, groupsPerUser: 25, requests: 3000, warmup: 300 }),
);
await scenario("upload", () => upload(ctx, { sizeMiB: 25, runs: quick ? 4 : 12 }));
const officeSeconds = value("--office-seconds");
await scenario("office", () => {
  const o = quick ? { users: 1000, durationMs: 10_000 } : { users: 3000, durationMs: 120_000 };
  return office(ctx, officeSeconds ? { ...o, durationMs: Number(officeSeconds) * 1000 } : o);
});
const capacitySockets = value("--capacity-sockets");
await scenario("capacity", () =>
  capacity(ctx, quick
    ? { sockets: 2000, steps: [500, 2000], settleMs: 1000, ceiling: false }
    : capacitySockets
      ? { sockets: Number(capacitySockets), steps: [1, 2, 3, 4].map((k) => Math.round((Number(capacitySockets) * k) / 4)), settleMs: 3000, ceiling: false }
      : { sockets: 19_000, steps: [1000, 5500, 10_000, 14_500, 19_000], settleMs: 3000, ceiling: true }),
);

meta.loadavgEnd = loadavg().map((v) => Math.round(v * 100) / 100);

const r = results;
const err = (name: string) => (r[name]?.error ? `${name}: FAILED ${r[name].error}\n` : null);
if (r.fanout?.rows) {
  out.push("fan-out: one sender, every other member connected; deliveries = pushes received by them; latencies in ms");
  out.push(
    table(
      ["size", "load", "server", "msg/s", "deliveries/s", "ack p50", "ack p99", "e2e p50", "e2e p99", "srv cpu%", "cli cpu%", "note"],
      r.fanout.rows.map((x: any) => [
        x.size, x.load, x.server, x.msgs_per_s, x.deliveries_per_s, x.ack_ms?.p50, x.ack_ms?.p99, x.e2e_ms?.p50, x.e2e_ms?.p99,
        x.server_cpu_pct, x.client_cpu_pct,
        [x.error ? `error: ${x.error}` : "", x.overloaded ? "overloaded" : "", x.errors ? `${x.errors} errors` : "", x.undelivered ? `${x.undelivered} undelivered` : ""].filter(Boolean).join(" "),
      ]),
    ),
  );
  for (const x of r.fanout.rows.filter((x: any) => x.nodes > 1))
    out.push(`  ${x.size} ${x.load} on ${x.nodes} nodes: cpu % per node ${x.server_cpu_pct_per_node.join(" / ")}, cpu µs per delivery per node ${x.server_cpu_us_per_delivery_per_node.join(" / ")}`);
  for (const x of r.fanout.rows.filter((x: any) => x.services_per_msg)) {
    const v = x.services_per_msg;
    out.push(`  ${x.size} ${x.load} per message: PostgreSQL ${v.pg_commits} commits, ${v.pg_rows_written} rows written; Redis ${v.redis_commands} commands, ${v.redis_out_bytes} bytes sent`);
  }
  out.push("");
  out.push("fan-out, rim ÷ ceiling (throughput: higher is better; latency: lower is better)");
  out.push(table(["size", "load", "deliveries/s", "ack p99", "e2e p99"], r.fanout.ratios.map((x: any) => [x.size, x.load, x.deliveries, x.ack_p99, x.e2e_p99])));
  if (r.fanout.changes?.length) {
    out.push("rim with edits and reactions ÷ rim with messages only (target: deliveries ≥ 0.9):");
    out.push(table(["size", "load", "share", "frames/s", "deliveries/s", "ack p99", "e2e p99"], r.fanout.changes.map((x: any) => [x.size, x.load, x.editShare, x.frames, x.deliveries, x.ack_p99, x.e2e_p99])));
  }
  out.push("");
}
out.push(err("fanout"));
if (r.mixed?.rows) {
  out.push(`REST writes mixed with the fan-out: group of ${r.mixed.size}, open loop; REST = group/read of that group (80 %) and renames of groups of 10 (20 %); ms`);
  out.push(
    table(
      ["load", "msg/s", "ack p50", "ack p99", "e2e p99", "REST/s", "REST p50", "REST p90", "REST p99", "REST max", "REST errors", "srv cpu%"],
      r.mixed.rows.map((x: any) => [
        x.load, x.fanout?.msgs_per_s, x.fanout?.ack_ms.p50, x.fanout?.ack_ms.p99, x.fanout?.e2e_ms.p99,
        x.rest?.achieved_per_s, x.rest?.latency_ms.p50, x.rest?.latency_ms.p90, x.rest?.latency_ms.p99, x.rest?.latency_ms.max, x.rest?.errors, x.fanout?.server_cpu_pct ?? x.rest?.server_cpu_pct,
      ]),
    ),
  );
  out.push("");
}
out.push(err("mixed"));
if (r.office && !r.office.error) {
  const o = r.office;
  out.push(`office day: ${o.users} users in ${o.groups} groups (${Object.entries(o.groupSizes).map(([k, v]) => `${v}×${k}`).join(", ")}), ${o.duration_s} s`);
  out.push(
    table(
      ["msg/s", "deliveries/s", "ack p50", "ack p99", "delivery p50", "delivery p99", "read ack p99", "reconnects", "sync p99", "missing", "errors", "srv cpu%", "rss MB start→end"],
      [[o.msgs_per_s, o.deliveries_per_s, o.ack_ms.p50, o.ack_ms.p99, o.delivery_ms.p50, o.delivery_ms.p99, o.read_ack_ms.p99, o.reconnects, o.sync_ms.p99, o.missing, o.errors, o.server_cpu_pct, `${o.server_rss_mb.start}→${o.server_rss_mb.end}`]],
    ),
  );
  out.push(
    "delivery p99 by group size: " +
      Object.entries(o.delivery_by_size_ms).map(([k, v]: [string, any]) => `${k}: ${v.p99} ms (n=${v.n})`).join(", "),
  );
  if (o.nodes > 1)
    out.push(
      `on ${o.nodes} nodes: delivery p99 cross-node ${o.delivery_cross_node_ms.p99} ms (n=${o.delivery_cross_node_ms.n}), same node ${o.delivery_same_node_ms.p99} ms (n=${o.delivery_same_node_ms.n}); ` +
        `cpu % per node ${o.server_cpu_pct_per_node.join(" / ")}, cpu µs per delivery per node ${o.server_cpu_us_per_delivery_per_node.join(" / ")}`,
    );
  out.push("");
}
out.push(err("office"));
if (r.capacity && !r.capacity.error) {
  const c = r.capacity;
  out.push(`capacity: authenticated idle sockets (server open-file limit ${c.server_nofile_limit})`);
  const row = (name: string, x: any) => [name, x.held, x.failed, x.rss_idle_mb, x.rss_held_mb, x.kb_per_socket_total, x.kb_per_socket_slope, x.connect_per_s, x.rss_after_release_mb];
  out.push(
    table(
      ["server", "held", "failed", "rss idle MB", "rss held MB", "KB/socket", "KB/socket (slope)", "connects/s ≤10k", "rss after close MB"],
      [row("rim", c), ...(c.ceiling ? [row("ceiling", c.ceiling)] : [])],
    ),
  );
  if (c.nodes > 1) out.push(`on ${c.nodes} nodes (sockets spread round-robin): rss held per node ${c.rss_held_per_node_mb?.join(" / ")} MB`);
  out.push("KB/socket = (held − idle RSS) ÷ sockets; slope = between the first step and the last (one-time costs left out)");
  out.push("");
}
out.push(err("capacity"));
if (r.history && !r.history.error) {
  const h = r.history;
  out.push(`history: ${h.messages.toLocaleString("en-US")} messages in ${h.groups} groups, ${h.users} users × ${h.groupsPerUser} groups; REST, one request at a time; ms`);
  out.push(
    table(
      ["request", "p50", "p90", "p99", "max", "n", "errors"],
      ["rest_floor", "history", "history_deep", "chat_list"].map((k) => [k, h[k].p50, h[k].p90, h[k].p99, h[k].max, h[k].n, h[k].errors]),
    ),
  );
  out.push("");
}
out.push(err("history"));
if (r.coldstart && !r.coldstart.error) {
  const c = r.coldstart;
  out.push(`cold start: dist/rim ${c.binary_mb} MB; exec → first WebSocket Ack over ${c.runs} runs: p50 ${c.exec_to_ack_ms.p50} ms, max ${c.exec_to_ack_ms.max} ms (socket accepted: p50 ${c.exec_to_upgrade_ms.p50} ms)`);
  out.push("");
}
out.push(err("coldstart"));
if (r.upload && !r.upload.error) {
  const u = r.upload;
  out.push(`upload: ${u.size_mib} MiB files, one at a time; server RSS growth = its peak during the upload (VmHWM) − its RSS just before`);
  const first = u.length.first;
  out.push(
    table(
      ["body", "uploads", "MiB/s p50", "MiB/s min", "RSS growth p50 MB", "RSS growth max MB", "RSS MB start→end"],
      [
        ["first upload of the server", 1, first.mib_per_s, first.mib_per_s, first.rss_peak_growth_mb, first.rss_peak_growth_mb, `${first.rss_before_mb}→${first.rss_after_mb}`],
        ...(["length", "chunked"] as const).map((m) => {
          const x = u[m];
          const mins = Math.min(...x.runs.map((y: any) => y.mib_per_s));
          return [m === "length" ? "with Content-Length" : "chunked (no length)", x.runs.length, x.mib_per_s.p50, mins, x.rss_peak_growth_mb.p50, x.rss_peak_growth_mb_max_all, `${x.rss_start_end_mb[0]}→${x.rss_start_end_mb[1]}`];
        }),
      ],
    ),
  );
  out.push("");
}
out.push(err("upload"));

// The issue's targets, each with the measured figure beside it.
type Target = { target: string; measured: string; met: boolean | null };
const targets: Target[] = [];
const check = (target: string, value: number | null | undefined, ok: (v: number) => boolean, show: (v: number) => string) =>
  targets.push(value === null || value === undefined || !Number.isFinite(value) ? { target, measured: "not measured", met: null } : { target, measured: show(value), met: ok(value) });
for (const size of [100, 1000]) {
  const q = r.fanout?.ratios?.find((x: any) => x.size === size && x.load.startsWith("closed"));
  const rim = r.fanout?.rows?.find((x: any) => x.size === size && x.server === "rim" && x.load.startsWith("closed"));
  check(`fan-out deliveries/s ≥ 0.8× ceiling, group of ${size}`, q?.deliveries, (v) => v >= 0.8, (v) => `${v}× (${rim?.deliveries_per_s?.toLocaleString("en-US")}/s)`);
}
const open5k = r.fanout?.rows?.find((x: any) => x.size === 100 && x.server === "rim" && x.load === "open 5k/s");
check("open loop 5k msg/s, group of 100: ack p99 ≤ 5 ms", open5k?.overloaded ? NaN : open5k?.ack_ms?.p99, (v) => v <= 5, (v) => `${v} ms`);
check("open loop 5k msg/s, group of 100: e2e p99 ≤ 10 ms", open5k?.overloaded ? NaN : open5k?.e2e_ms?.p99, (v) => v <= 10, (v) => `${v} ms`);
const both = r.mixed?.rows?.find((x: any) => x.fanout && x.rest);
check("REST writes p99 ≤ 5 ms at 1,000/s with open loop 5k msg/s (group of 100)", both?.rest?.errors ? NaN : both?.rest?.latency_ms?.p99, (v) => v <= 5, (v) => `${v} ms (p50 ${both.rest.latency_ms.p50})`);
check("… and with it, ack p99 ≤ 5 ms / e2e p99 ≤ 10 ms", both?.fanout?.overloaded ? NaN : Math.max(both?.fanout?.ack_ms?.p99 / 5, both?.fanout?.e2e_ms?.p99 / 10), (v) => v <= 1, () => `${both.fanout.ack_ms.p99} / ${both.fanout.e2e_ms.p99} ms`);
check("≤ 6 KB RSS per idle authenticated socket", r.capacity?.kb_per_socket_total, (v) => v <= 6, (v) => `${v} KB (slope ${r.capacity.kb_per_socket_slope} KB)`);
check("19k sockets held", r.capacity?.held, (v) => v >= 19_000, (v) => `${v.toLocaleString("en-US")}${r.capacity.failed ? `, ${r.capacity.failed} failed` : ""}`);
check(`history p99 ≤ 1 ms at ${r.history?.messages?.toLocaleString("en-US") ?? "?"} messages`, r.history?.history?.p99, (v) => v <= 1, (v) => `${v} ms (p50 ${r.history.history.p50})`);
check(`chat/list p99 ≤ 1 ms at ${r.history?.messages?.toLocaleString("en-US") ?? "?"} messages`, r.history?.chat_list?.p99, (v) => v <= 1, (v) => `${v} ms (p50 ${r.history.chat_list.p50})`);
check("exec to first WebSocket Ack ≤ 100 ms", r.coldstart?.exec_to_ack_ms?.p50, (v) => v <= 100, (v) => `p50 ${v} ms, max ${r.coldstart.exec_to_ack_ms.max} ms`);
check(`upload of ${r.upload?.size_mib ?? 25} MiB: server RSS grows ≤ 8 MiB (every upload with a Content-Length, the first included)`, r.upload?.length?.rss_peak_growth_mb_max_all, (v) => v <= 8, (v) => `${v} MB max (p50 ${r.upload.length.rss_peak_growth_mb.p50})`);
check(`upload of ${r.upload?.size_mib ?? 25} MiB: ≥ 200 MiB/s on loopback (p50)`, r.upload?.length?.mib_per_s?.p50, (v) => v >= 200, (v) => `${v} MiB/s (min ${Math.min(...r.upload.length.runs.map((y: any) => y.mib_per_s))})`);
out.push(quick ? "targets (quick run: smaller scale and shorter, indicative only)" : "targets");
out.push(table(["target", "measured", "met"], targets.map((t) => [t.target, t.measured, t.met === null ? "–" : t.met ? "yes" : "NO"])));

const report = { meta, targets, results };
const resultsDir = join(ROOT, "bench/results");
mkdirSync(resultsDir, { recursive: true });
const stamp = started.toISOString().replace(/[:.]/g, "-");
const file = join(resultsDir, `${quick ? "quick" : "full"}-${stamp}.json`);
writeFileSync(file, JSON.stringify(report, null, 2));
writeFileSync(join(resultsDir, "latest.json"), JSON.stringify(report, null, 2));

console.log(JSON.stringify(report));
console.log("");
console.log(`rim bench ${meta.date} commit ${meta.commit}${meta.dirty ? " (src modified)" : ""}, bun ${meta.bun}, ${meta.cores} × ${meta.cpu}, pinned ${meta.pinned}, load ${meta.loadavgStart.join(" ")} → ${meta.loadavgEnd.join(" ")}`);
console.log(out.filter((l) => l !== null).join("\n"));
console.log(`results: ${file}`);
if (!flag("--keep")) rmSync(dir, { recursive: true, force: true });
