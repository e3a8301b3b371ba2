// REST writes on a fixed schedule (open loop), timed from the scheduled
// instant, so a server that falls behind cannot hide its queue. Each request
// is one of the configured ops, picked by weight with a seeded PRNG, by one of
// its users; connections are kept alive (Bun's fetch pools them). Prints
// READY once warmed up, starts its schedule when released (stdin closed).
import { readConfig, emit, runMain, untilReleased } from "../lib/client";
import { rng } from "../lib/rng";
import { Samples, round } from "../lib/stats";
import { cpuPercent, procSample, sysPercent } from "../lib/proc";

export type RestOp = {
  name: string;
  weight: number;
  path: string;
  /** Requests go out as these users, in turn; `body` may name `$n` (a counter) in a string. */
  users: { token: string; body: Record<string, unknown> }[];
};

export type RestConfig = {
  url: string;
  serverPid: number;
  rate: number;
  warmupMs: number;
  durationMs: number;
  ops: RestOp[];
  seed: number;
};

runMain(async () => {
  const cfg = readConfig<RestConfig>();
  if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(cfg.url)) throw new Error("bench targets 127.0.0.1 only");
  const rand = rng(cfg.seed);
  const total = cfg.ops.reduce((s, o) => s + o.weight, 0);
  const turn = cfg.ops.map(() => 0);
  let counter = 0;
  const pick = () => {
    let x = rand() * total;
    for (let i = 0; i < cfg.ops.length; i++) if ((x -= cfg.ops[i]!.weight) < 0 || i === cfg.ops.length - 1) return i;
    return 0;
  };
  const fill = (v: unknown): unknown => (typeof v === "string" ? v.replace("$n", String(counter)) : v);
  const request = async (i: number) => {
    const op = cfg.ops[i]!;
    const u = op.users[turn[i]!++ % op.users.length]!;
    counter++;
    const body = Object.fromEntries(Object.entries(u.body).map(([k, v]) => [k, fill(v)]));
    const res = await fetch(cfg.url + op.path, {
      method: "POST",
      headers: { Authorization: `Bearer ${u.token}`, "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    let ok = res.status === 200;
    try {
      ok &&= JSON.parse(text).ok === true;
    } catch {
      ok = false;
    }
    return ok ? null : `${res.status} ${text.slice(0, 200)}`;
  };

  // Warm-up: a few requests of every op, one at a time (connections, JIT on both sides).
  for (let k = 0; k < 20; k++) for (let i = 0; i < cfg.ops.length; i++) await request(i);
  emit("READY", {});
  await untilReleased(600_000);

  const perOp = cfg.ops.map(() => new Samples());
  const all = new Samples();
  let errors = 0;
  let firstError: string | null = null;
  let sent = 0;
  let done = 0;
  let inFlightMax = 0;
  const t0 = performance.now();
  const windowStart = t0 + cfg.warmupMs;
  const end = windowStart + cfg.durationMs;
  const period = 1000 / cfg.rate;
  let measuredFrom = Infinity;
  let measuredTo = 0;
  let measuredDone = 0;
  let srvStart = procSample(cfg.serverPid);
  let srvEnd = srvStart;
  const sampleStart = setTimeout(() => (srvStart = procSample(cfg.serverPid)), cfg.warmupMs);
  const sampleEnd = setTimeout(() => (srvEnd = procSample(cfg.serverPid)), cfg.warmupMs + cfg.durationMs);
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (t0 + sent * period <= now && t0 + sent * period < end) {
        const at = t0 + sent * period;
        sent++;
        const i = pick();
        inFlightMax = Math.max(inFlightMax, sent - done);
        request(i).then(
          (err) => {
            const finished = performance.now();
            done++;
            if (err) {
              errors++;
              firstError ??= err;
            }
            if (at >= windowStart) {
              perOp[i]!.add(finished - at);
              all.add(finished - at);
              measuredFrom = Math.min(measuredFrom, at);
              measuredTo = Math.max(measuredTo, finished);
              measuredDone++;
            }
          },
          (err) => {
            done++;
            errors++;
            firstError ??= String(err);
          },
        );
      }
      if (t0 + sent * period >= end) {
        const wait = () => (done >= sent ? resolve() : setTimeout(wait, 5));
        return wait();
      }
      setTimeout(tick, 1);
    };
    tick();
  });
  clearTimeout(sampleStart);
  clearTimeout(sampleEnd);
  const ops: Record<string, unknown> = {};
  cfg.ops.forEach((o, i) => (ops[o.name] = perOp[i]!.summary()));
  return {
    rate: cfg.rate,
    sent,
    achieved_per_s: round((measuredDone / Math.max(1, measuredTo - measuredFrom)) * 1000, 0),
    latency_ms: all.summary(),
    ops,
    errors,
    firstError,
    in_flight_max: inFlightMax,
    server_cpu_pct: cpuPercent(srvStart, srvEnd),
    server_sys_pct: sysPercent(srvStart, srvEnd),
  };
});
