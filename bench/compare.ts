// Before/after on a noisy machine: several rim checkouts and the ceiling,
// each on its own server, loaded in turn by the fan-out client for several
// rounds (the order rotated every round), so every round compares figures
// taken within seconds of each other. Prints each round and the medians of
// msg/s, server CPU per message and rim ÷ ceiling.
//   bun bench/compare.ts [--rim NAME=DIR]... [--rounds 5] [--size 100]
//                        [--mode closed|open] [--rate 5000] [--inflight 64]
//                        [--warmup 1000] [--duration 3000] [--syscalls] [--profile DIR]
//                        [--mode mixed [--rest-rate 1000]] [--edit-share 0.1] [--args NAME="flags"]
//                        [--words] [--content-bytes 64]
// --mode mixed: issue 9's REST target, as bench/scenarios/mixed.ts loads it: the
// open-loop fan-out (--rate) and, at the same time, REST writes (--rest-rate:
// group/read of the fan-out group 80 %, renames of groups of 10 20 %); no
// ceiling (it has no REST); medians of REST p50/p99 and the fan-out's p99s.
// --words: messages are sentences of words (as the search index sees chat), not one word of "x".
// --edit-share: every rim also runs as NAME+changes (a server of its own),
// with that share of the frames Edit and React; the summary then gives the
// same-round ratio of its frames/s to NAME's (the target: ≥ 0.9).
// Without --rim: this checkout only. DIR is a checkout (its src/main.ts and
// its migrations are used), e.g. `git archive <commit> | tar -x -C /tmp/base`
// with node_modules linked in.
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import type { FanoutConfig } from "./clients/fanout";
import type { RestConfig } from "./clients/rest";
import { closeSeedDb, openSeedDb, productionHash, seedGroup, seedUsers, useMigrations } from "./lib/seed";
import { ROOT, runClient, startClient, startServer, type ServerProc } from "./lib/spawn";
import { table } from "./lib/stats";
import { MIGRATIONS } from "../src/db/migrations.gen";

const argv = process.argv.slice(2);
const value = (name: string, dflt: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1]! : dflt;
};
const rims: { name: string; dir: string }[] = [];
for (let i = 0; i < argv.length; i++) {
  if (argv[i] !== "--rim") continue;
  const [name, dir] = argv[i + 1]!.split("=");
  rims.push({ name: name!, dir: dir! });
}
if (rims.length === 0) rims.push({ name: "rim", dir: ROOT });
// --args NAME="--flag value ...": extra `rim serve` flags for the rim named NAME (one checkout under two settings).
const extraArgs = new Map<string, string[]>();
// --env NAME="K=V K=V": extra environment for the rim named NAME.
const extraEnv = new Map<string, Record<string, string>>();
for (let i = 0; i < argv.length; i++) {
  if (argv[i] !== "--env") continue;
  const at = argv[i + 1]!.indexOf("=");
  extraEnv.set(argv[i + 1]!.slice(0, at), Object.fromEntries(argv[i + 1]!.slice(at + 1).split(/\s+/).filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)])));
}
for (let i = 0; i < argv.length; i++) {
  if (argv[i] !== "--args") continue;
  const at = argv[i + 1]!.indexOf("=");
  extraArgs.set(argv[i + 1]!.slice(0, at), argv[i + 1]!.slice(at + 1).split(/\s+/).filter(Boolean));
}
const rounds = Number(value("--rounds", "5"));
const size = Number(value("--size", "100"));
const mixedMode = value("--mode", "closed") === "mixed";
const mode = (mixedMode ? "open" : value("--mode", "closed")) as "closed" | "open";
const restRate = Number(value("--rest-rate", "1000"));
const rate = Number(value("--rate", "5000"));
const inflight = Number(value("--inflight", "64"));
const warmupMs = Number(value("--warmup", "1000"));
const durationMs = Number(value("--duration", "3000"));
// --syscalls: count the server's system calls per message with `perf stat` (needs perf and the permission to trace).
const syscalls = argv.includes("--syscalls");
// --profile DIR: the rim servers run under `bun --cpu-prof` (bench/profile-summary.ts reads the files).
const profileDir = argv.includes("--profile") ? value("--profile", "") : "";
const editShare = Number(value("--edit-share", "0"));
const SYSCALLS = ["sendto", "write", "pwrite64", "pread64", "recvfrom", "fdatasync", "fsync", "epoll_pwait2", "epoll_wait", "futex"];

/** rim's commit counters (/metrics), to print how many jobs a commit carried; null for the ceiling. */
async function commitCounts(s: ServerProc): Promise<{ commits: number; jobs: number } | null> {
  if (s.kind !== "rim") return null;
  const text = await fetch(s.url + "/metrics").then((r) => r.text(), () => "");
  const count = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? NaN);
  // Counters are rendered once they are above 0; the histogram's count always is.
  const commits = count("rim_commit_seconds_count");
  return Number.isFinite(commits) ? { commits, jobs: count("rim_commit_jobs_total") || 0 } : null;
}

const dir = mkdtempSync(join(tmpdir(), "rim-compare-"));
const hash = await productionHash();
type Side = { gid: number; owner: { token: string } };
const servers: { name: string; s: ServerProc; gid: number; users: { uid: number; token: string }[]; editShare: number; plain?: string; side?: Side[] }[] = [];
try {
  for (const r of rims) {
    useMigrations((await import(join(r.dir, "src/db/migrations.gen.ts"))).MIGRATIONS);
    for (const share of editShare > 0 ? [0, editShare] : [0]) {
      const name = share > 0 ? `${r.name}+changes` : r.name;
      const file = join(dir, `${name}.db`);
      const db = openSeedDb(file);
      const users = seedUsers(db, size, hash);
      const gid = seedGroup(db, users.map((u) => u.uid));
      // Side groups of 10, each renamed by its first member (as in bench/scenarios/mixed.ts).
      const side: Side[] = [];
      for (let i = 0; mixedMode && i + 10 <= users.length; i += 10) side.push({ gid: seedGroup(db, users.slice(i, i + 10).map((u) => u.uid)), owner: users[i]! });
      closeSeedDb(db);
      const rimCmd = ["bun", ...(profileDir ? ["--cpu-prof", "--cpu-prof-dir", join(profileDir, name)] : []), join(r.dir, "src/main.ts")];
      servers.push({ name, s: await startServer({ kind: "rim", rimCmd, db: file, args: ["--metrics", "on", ...(extraArgs.get(name) ?? [])], env: extraEnv.get(name) }), gid, users, editShare: share, side, ...(share > 0 ? { plain: r.name } : {}) });
    }
  }
  useMigrations(MIGRATIONS);
  // The ceiling ignores who logs in; it needs a gid and users to hand to the client.
  if (!mixedMode) servers.push({ name: "ceiling", s: await startServer({ kind: "ceiling" }), gid: 1, users: servers[0]!.users, editShare: 0 });

  const rows: any[] = [];
  const load = () => Math.round(loadavg()[0]! * 100) / 100;
  for (let round = 0; round < rounds; round++) {
    const order = servers.map((_, i) => servers[(i + round) % servers.length]!);
    for (const x of order) {
      const cfg: FanoutConfig = {
        wsUrl: x.s.wsUrl,
        serverPid: x.s.pid,
        gid: x.gid,
        sender: x.users[0]!,
        receivers: x.users.slice(1),
        mode,
        inflight,
        rate,
        warmupMs,
        durationMs,
        probes: 8,
        contentBytes: Number(value("--content-bytes", "64")),
        contentWords: argv.includes("--words"),
        editShare: x.editShare,
      };
      const statFile = join(dir, `perf-${round}-${x.name}.txt`);
      const perf = syscalls
        ? Bun.spawn(["perf", "stat", "-x", ",", "-o", statFile, "-e", SYSCALLS.map((c) => `syscalls:sys_enter_${c}`).join(","), "-p", String(x.s.pid)], { stderr: "ignore" })
        : null;
      const commitsBefore = await commitCounts(x.s);
      let r: any;
      if (mixedMode) {
        const restCfg: RestConfig = {
          url: x.s.url,
          serverPid: x.s.pid,
          rate: restRate,
          warmupMs,
          durationMs,
          seed: 7 + round,
          ops: [
            { name: "group/read", weight: 0.8, path: "/api/message/group/read", users: x.users.slice(1).map((u) => ({ token: u.token, body: { gid: x.gid } })) },
            { name: "group/update", weight: 0.2, path: "/api/group/update", users: x.side!.map((g) => ({ token: g.owner.token, body: { id: g.gid, name: "side $n" } })) },
          ],
        };
        const rest = startClient("rest", restCfg, { dir, timeoutMs: warmupMs + durationMs + 60_000 });
        await rest.waitLine("READY", 60_000);
        const fan = startClient("fanout", cfg, { dir, timeoutMs: warmupMs + durationMs + 60_000 });
        await fan.waitLine("STARTED", 60_000);
        rest.release();
        fan.release();
        const [f, rr] = await Promise.all([fan.result, rest.result]);
        r = { ...f, rest: rr };
        console.error(`round ${round} ${x.name}: REST ${rr.achieved_per_s}/s p50/p99 ${rr.latency_ms.p50}/${rr.latency_ms.p99} ms, errors ${rr.errors}`);
      } else r = await runClient("fanout", cfg, { dir, timeoutMs: warmupMs + durationMs + 60_000 });
      if (perf) {
        perf.kill("SIGINT");
        await perf.exited;
        const counts: Record<string, number> = {};
        for (const line of (await Bun.file(statFile).text()).split("\n")) {
          const [n, , ev] = line.split(",");
          if (ev?.startsWith("syscalls:sys_enter_")) counts[ev.slice(19)] = Math.round((Number(n) / r.sent) * 100) / 100;
        }
        r.syscalls_per_msg = counts;
        console.error(`round ${round} ${x.name}: system calls per message (whole run, ${r.sent} messages): ${JSON.stringify(counts)}`);
      }
      const commitsAfter = await commitCounts(x.s);
      if (commitsBefore && commitsAfter) {
        const commits = commitsAfter.commits - commitsBefore.commits;
        r.jobs_per_commit = commits > 0 ? Math.round(((commitsAfter.jobs - commitsBefore.jobs) / commits) * 10) / 10 : 0;
      }
      const perMsg = (pct: number) => Math.round(((pct / 100) * 1e6) / r.msgs_per_s * 10) / 10;
      const usPerMsg = perMsg(r.server_cpu_pct);
      const sysPerMsg = perMsg(r.server_sys_pct);
      rows.push({ round, name: x.name, ...r, usPerMsg, sysPerMsg, load: load() });
      console.error(`round ${round} ${x.name}: ${r.msgs_per_s} msg/s, cpu ${r.server_cpu_pct}%, ${usPerMsg} µs/msg (kernel ${sysPerMsg}), ack p50/p99 ${r.ack_ms.p50}/${r.ack_ms.p99}, e2e p99 ${r.e2e_ms.p99}, client ${r.client_cpu_pct}%, load ${load()}${r.jobs_per_commit ? `, ${r.jobs_per_commit} jobs a commit` : ""}${r.errors ? ` errors ${r.errors}` : ""}${r.undelivered ? ` undelivered ${r.undelivered}` : ""}${r.overloaded ? " overloaded" : ""}`);
    }
  }
  const median = (xs: number[]) => {
    const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
    return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  const r2 = (v: number) => Math.round(v * 100) / 100;
  if (mixedMode) {
    const mixed = servers.map((x) => {
      const mine = rows.filter((r) => r.name === x.name);
      return [
        x.name,
        median(mine.map((r) => r.rest.latency_ms.p50)),
        median(mine.map((r) => r.rest.latency_ms.p99)),
        mine.map((r) => r.rest.latency_ms.p99).join(" "),
        median(mine.map((r) => r.ack_ms.p99)),
        median(mine.map((r) => r.e2e_ms.p99)),
        median(mine.map((r) => r.server_cpu_pct)),
        median(mine.map((r) => r.load)),
        // Not "undelivered": the fan-out's receivers also get the Read notifications of group/read, extra frames it counts.
        mine.reduce((n, r) => n + (r.errors ?? 0) + (r.rest.errors ?? 0), 0),
      ];
    });
    console.log(`REST ${restRate}/s (group/read of the group of ${size} 80 %, renames of groups of 10 20 %) with the fan-out open ${rate}/s, ${rounds} rounds of ${durationMs} ms; medians, ms`);
    console.log(table(["server", "REST p50", "REST p99", "REST p99 per round", "ack p99", "e2e p99", "srv cpu%", "load", "errors"], mixed));
  }
  const summary = servers.map((x) => {
    const mine = rows.filter((r) => r.name === x.name);
    const ratios = mine.map((r) => r.deliveries_per_s / (rows.find((c) => c.name === "ceiling" && c.round === r.round)?.deliveries_per_s ?? NaN));
    return [
      x.name,
      median(mine.map((r) => r.msgs_per_s)),
      median(mine.map((r) => r.server_cpu_pct)),
      median(mine.map((r) => r.usPerMsg)),
      median(mine.map((r) => r.sysPerMsg)),
      r2(median(ratios)),
      ratios.map(r2).join(" "),
      median(mine.map((r) => r.ack_ms.p50)),
      median(mine.map((r) => r.ack_ms.p99)),
      median(mine.map((r) => r.e2e_ms.p99)),
      // In the mixed mode the receivers also count group/read's Read notifications: more frames than messages, not fewer.
      mixedMode ? "–" : mine.reduce((n, r) => n + (r.errors ?? 0) + (r.undelivered ?? 0), 0),
    ];
  });
  console.log(`fan-out to ${size}, ${mode === "closed" ? `closed loop ${inflight}` : `open ${rate}/s`}, ${rounds} rounds of ${durationMs} ms; medians`);
  console.log(table(["server", "msg/s", "srv cpu%", "µs/msg", "of it kernel", "÷ ceiling", "per round", "ack p50", "ack p99", "e2e p99", "errors+undelivered"], summary));
  if (editShare > 0) {
    // Frames/s (every frame acked: messages, edits and reactions) with changes ÷ without, the same round.
    const changes = servers.filter((x) => x.plain).map((x) => {
      const pairs = rows.filter((r) => r.name === x.name).map((r) => [r, rows.find((p) => p.name === x.plain && p.round === r.round)!]);
      const frames = pairs.map(([c, p]) => c.msgs_per_s / p.msgs_per_s);
      const cpu = pairs.map(([c, p]) => p.usPerMsg / c.usPerMsg);
      return [x.name, r2(median(frames)), frames.map(r2).join(" "), median(pairs.map(([, p]) => p.usPerMsg)), median(pairs.map(([c]) => c.usPerMsg)), r2(median(cpu))];
    });
    console.log(`with ${editShare * 100} % of the frames Edit and React ÷ messages only, same round (target: frames/s ≥ 0.9)`);
    console.log(table(["server", "frames/s ratio", "per round", "µs/frame plain", "µs/frame changes", "CPU ratio (plain ÷ changes)"], changes));
  }
} finally {
  for (const x of servers) await x.s.stop();
  rmSync(dir, { recursive: true, force: true });
}
