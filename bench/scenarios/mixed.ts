// REST writes mixed with the fan-out: the open-loop fan-out to a group (every
// other member connected) and, at the same time, REST writes on their own
// schedule by the same users: `group/read` of the fan-out group (moves the
// reader's cursor and publishes a Read to the group: the common REST write)
// and renames of side groups of 10 (an event in the group's log, published
// to its members). Each load also runs alone first, for comparison.
import type { FanoutConfig } from "../clients/fanout";
import type { RestConfig } from "../clients/rest";
import { closeSeedDb, openSeedDb, productionHash, seedGroup, seedUsers } from "../lib/seed";
import { runClient, startClient, startServer } from "../lib/spawn";
import { dbPath, type RunCtx } from "./context";

export type MixedOptions = {
  size: number;
  msgRate: number;
  restRate: number;
  warmupMs: number;
  durationMs: number;
  /** The REST ops' weights (default: group/read of the fan-out group 0.8, rename of a group of 10 0.2). */
  weights?: { read: number; readSide: number; rename: number };
};

export async function mixed(ctx: RunCtx, o: MixedOptions) {
  const file = dbPath(ctx, "mixed");
  const db = openSeedDb(file);
  const users = seedUsers(db, o.size, await productionHash());
  const gid = seedGroup(db, users.map((u) => u.uid));
  // Side groups of 10 members, each owned by its first member (who may rename it).
  const side: { members: typeof users; gid: number }[] = [];
  for (let s = 0; s + 10 <= users.length; s += 10) {
    const members = users.slice(s, s + 10);
    side.push({ members, gid: seedGroup(db, members.map((u) => u.uid)) });
  }
  const w = o.weights ?? { read: 0.8, readSide: 0, rename: 0.2 };
  closeSeedDb(db);

  const server = await startServer({ kind: "rim", rimCmd: ctx.rimCmd, db: file });
  const fanoutCfg: FanoutConfig = {
    wsUrl: server.wsUrl,
    serverPid: server.pid,
    gid,
    sender: users[0]!,
    receivers: users.slice(1),
    mode: "open",
    inflight: 64,
    rate: o.msgRate,
    warmupMs: o.warmupMs,
    durationMs: o.durationMs,
    probes: 8,
    contentBytes: 64,
  };
  const restCfg: RestConfig = {
    url: server.url,
    serverPid: server.pid,
    rate: o.restRate,
    warmupMs: o.warmupMs,
    durationMs: o.durationMs,
    seed: 7,
    ops: [
      { name: "group/read", weight: w.read, path: "/api/message/group/read", users: users.slice(1).map((u) => ({ token: u.token, body: { gid } })) },
      { name: "group/read (10)", weight: w.readSide, path: "/api/message/group/read", users: side.flatMap((g) => g.members.map((u) => ({ token: u.token, body: { gid: g.gid } }))) },
      { name: "group/update", weight: w.rename, path: "/api/group/update", users: side.map((g) => ({ token: g.members[0]!.token, body: { id: g.gid, name: "side $n" } })) },
    ].filter((op) => op.weight > 0),
  };
  const timeoutMs = o.warmupMs + o.durationMs + 60_000;
  const startRest = async () => {
    const c = startClient("rest", restCfg, { dir: ctx.dir, timeoutMs });
    await c.waitLine("READY", 60_000);
    return c;
  };
  const rows: Record<string, any>[] = [];
  const check = () => {
    if (server.proc.exitCode !== null) throw new Error(`rim exited during the mixed scenario:\n${server.tail().slice(-40).join("\n")}`);
  };
  try {
    // The fan-out alone.
    const alone = await runClient("fanout", fanoutCfg, { dir: ctx.dir, timeoutMs });
    rows.push({ load: `fan-out ${o.msgRate / 1000}k msg/s alone`, fanout: alone, rest: null });
    check();
    // REST alone.
    const restAlone = await startRest();
    restAlone.release();
    rows.push({ load: `REST ${o.restRate}/s alone`, fanout: null, rest: await restAlone.result });
    check();
    // Both: the REST schedule starts when the fan-out's does.
    const rest = await startRest();
    const fan = startClient("fanout", fanoutCfg, { dir: ctx.dir, timeoutMs });
    await fan.waitLine("STARTED", 60_000);
    rest.release();
    fan.release();
    const [f, r] = await Promise.all([fan.result, rest.result]);
    rows.push({ load: `fan-out ${o.msgRate / 1000}k msg/s + REST ${o.restRate}/s`, fanout: f, rest: r });
    check();
  } finally {
    await server.stop();
  }
  for (const r of rows) {
    ctx.log(
      `mixed ${r.load}: ` +
        (r.fanout ? `${r.fanout.msgs_per_s} msg/s, ack p99 ${r.fanout.ack_ms.p99} ms, e2e p99 ${r.fanout.e2e_ms.p99} ms, server cpu ${r.fanout.server_cpu_pct}%` : "") +
        (r.fanout && r.rest ? "; " : "") +
        (r.rest ? `REST ${r.rest.achieved_per_s}/s, p50 ${r.rest.latency_ms.p50} ms, p99 ${r.rest.latency_ms.p99} ms, errors ${r.rest.errors}` : ""),
    );
  }
  return { size: o.size, msgRate: o.msgRate, restRate: o.restRate, rows };
}
