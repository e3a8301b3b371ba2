// Fan-out load generator: one sender, every other member of the group
// connected and logged in. Closed loop keeps `inflight` messages unacked for
// the maximum rate; open loop sends at a fixed rate on a schedule and measures
// from the scheduled time (no coordinated omission). Receivers only count
// frames; a few probe receivers also time each push (sent → received).
// With editShare, that share of the frames are Edit and React (alternately) on
// the newest acked message: every frame is acked, and every one but a React
// that changed nothing reaches every receiver (a Msg push or a Notify).
import { cpuPercent, procSample, selfCpuMs, sysPercent } from "../lib/proc";
import { Samples, round } from "../lib/stats";
import { openLoggedIn, parseTarget, pool, type Conn } from "../lib/ws";
import { emit, readConfig, runMain } from "../lib/client";

export type FanoutConfig = {
  wsUrl: string;
  serverPid: number;
  /** A cluster: the sender on the first node, receivers spread over all of them round-robin; CPU sampled on each. */
  wsUrls?: string[];
  serverPids?: number[];
  gid: number;
  sender: { uid: number; token: string };
  receivers: { uid: number; token: string }[];
  mode: "closed" | "open";
  inflight: number;
  rate: number;
  warmupMs: number;
  durationMs: number;
  probes: number;
  contentBytes: number;
  /** Sentences of words (64 of them, in turn, each about contentBytes long) instead of one word of "x": what the search index sees of real chat. */
  contentWords?: boolean;
  /** Share of the sender's frames that are changes (Edit and React, alternately) to its latest message instead of new messages. */
  editShare?: number;
};

const WORDS = ("meeting moved to three tomorrow please bring the quarterly report and your laptop deploy went fine after " +
  "the rollback we should talk about pricing lunch is on me can someone review my change before friday thanks").split(" ");
/** 64 different sentences of about `bytes` characters (JSON-safe), from WORDS in a fixed order. */
function sentences(bytes: number): string[] {
  const out: string[] = [];
  for (let k = 0; k < 64; k++) {
    const words: string[] = [];
    for (let j = 0; words.join(" ").length < bytes; j++) words.push(WORDS[(k * 7 + j * (k % 5 + 1)) % WORDS.length]!);
    out.push(words.join(" "));
  }
  return out;
}

const NEEDLE = Buffer.from('"clientMsgId":"f');
const MAX_MSGS = 1 << 21;

function indexOfMsg(payload: Buffer, from = 0): number {
  const at = payload.indexOf(NEEDLE, from);
  if (at < 0) return -1;
  let i = at + NEEDLE.length;
  let n = 0;
  for (let c = payload[i]!; c >= 48 && c <= 57; c = payload[++i]!) n = n * 10 + (c - 48);
  return n;
}

runMain(async () => {
  const cfg = readConfig<FanoutConfig>();
  const targets = (cfg.wsUrls ?? [cfg.wsUrl]).map(parseTarget);
  const t = targets[0]!;
  const pids = cfg.serverPids ?? [cfg.serverPid];
  const samplePids = () => pids.map((p) => procSample(p));
  const R = cfg.receivers.length;
  const receivers = await pool(cfg.receivers, 64, (u, i) => openLoggedIn(targets[(i + 1) % targets.length]!, u.uid, u.token, { gid: cfg.gid }));
  const sender = await openLoggedIn(t, cfg.sender.uid, cfg.sender.token, { gid: cfg.gid });

  const intended = new Float64Array(MAX_MSGS);
  let windowStart = Infinity;
  let windowEnd = Infinity;
  const measured = (i: number) => intended[i]! >= windowStart && intended[i]! < windowEnd;
  const ackLat = new Samples();
  const e2e = new Samples();
  let sent = 0;
  let acked = 0;
  let errors = 0;
  let firstError: unknown = null;
  let sending = true;
  let overloaded = false;

  // Probes: receivers spread over the member list, each timing every push.
  const probeIdx = new Set<number>();
  for (let k = 0; k < Math.min(cfg.probes, R); k++) probeIdx.add(Math.round((k * (R - 1)) / Math.max(1, cfg.probes - 1)));
  for (const i of probeIdx) {
    receivers[i]!.onFrame = (_c, payload) => {
      // Only Msg pushes are timed: a Notify's message carries the clientMsgId of the message it changed.
      if (payload[10] === 78 /* {"event":"N… */) return;
      const now = performance.now();
      const m = indexOfMsg(payload);
      if (m >= 0 && measured(m)) e2e.add(now - intended[m]!);
    };
  }
  let closedReceivers = 0;
  for (const r of receivers) r.onClose = () => closedReceivers++;
  const totalReceived = () => {
    let n = 0;
    for (const r of receivers) n += r.received;
    return n;
  };

  const bodies = cfg.contentWords ? sentences(cfg.contentBytes) : ["x".repeat(cfg.contentBytes)];
  let body = bodies[0]!;
  // Unique per run: a resent clientMsgId is (rightly) deduplicated by the server and not pushed again.
  const run = `${process.pid.toString(36)}${Date.now().toString(36)}`;
  const share = cfg.editShare ?? 0;
  const EMOJIS = ["👍", "🎉", "👀", "❤️"];
  let newest = 0; // the newest message acked, which changes target
  let changes = 0;
  let silent = 0; // acked changes that reached nobody (a React already in place)
  const isChange = (i: number) => share > 0 && newest > 0 && Math.floor((i + 1) * share) > Math.floor(i * share);
  const sendOne = (at: number) => {
    const i = sent++;
    intended[i] = at;
    if (isChange(i)) {
      const k = changes++;
      if (k % 2 === 0) sender.send(`{"event":"Edit","body":{"gid":${cfg.gid},"msgId":${newest},"content":"${body}!","clientMsgId":"f${i}.${run}"}}`);
      else sender.send(`{"event":"React","body":{"gid":${cfg.gid},"msgId":${newest},"emoji":"${EMOJIS[(k >> 1) % EMOJIS.length]}","on":true,"clientMsgId":"f${i}.${run}"}}`);
      return;
    }
    body = bodies[i % bodies.length]!;
    sender.send(`{"event":"Msg","body":{"kind":"Text","gid":${cfg.gid},"content":"${body}","clientMsgId":"f${i}.${run}"}}`);
  };

  sender.onFrame = (_c, payload) => {
    const now = performance.now();
    const ack = JSON.parse(payload.toString("utf8"));
    if (typeof ack.clientMsgId !== "string" || ack.clientMsgId[0] !== "f") return;
    const i = parseInt(ack.clientMsgId.slice(1), 10);
    acked++;
    if (ack.content !== "Ok") {
      errors++;
      firstError ??= ack;
    } else if (typeof ack.seq === "number") newest = Math.max(newest, ack.serverMsgId);
    else if (ack.serverMsgId === null) silent++;
    if (measured(i)) ackLat.add(now - intended[i]!);
    if (cfg.mode === "closed" && sending && sent < MAX_MSGS) sendOne(performance.now());
  };

  // The sender's login tells every receiver it is online (Presence): let those land before counting.
  await Bun.sleep(300);
  const base = totalReceived();
  // For a scenario that starts another load generator with this one's schedule (bench/scenarios/mixed.ts).
  emit("STARTED", {});
  const t0 = performance.now();
  windowStart = t0 + cfg.warmupMs;
  windowEnd = windowStart + cfg.durationMs;
  let snapStart = { recv: 0, acked: 0, srv: procSample(cfg.serverPid), srvs: samplePids(), cpu: 0, at: 0 };
  let snapEnd = { ...snapStart };
  const startTimer = setTimeout(() => {
    snapStart = { recv: totalReceived(), acked, srv: procSample(cfg.serverPid), srvs: samplePids(), cpu: selfCpuMs(), at: performance.now() };
  }, cfg.warmupMs);
  const ended = new Promise<void>((resolve) =>
    setTimeout(() => {
      snapEnd = { recv: totalReceived(), acked, srv: procSample(cfg.serverPid), srvs: samplePids(), cpu: selfCpuMs(), at: performance.now() };
      sending = false;
      resolve();
    }, cfg.warmupMs + cfg.durationMs),
  );

  if (cfg.mode === "closed") {
    for (let k = 0; k < cfg.inflight; k++) sendOne(performance.now());
  } else {
    const period = 1000 / cfg.rate;
    const backlogCap = Math.max(1000, cfg.rate * 2);
    const tick = () => {
      if (!sending) return;
      const now = performance.now();
      while (sent < MAX_MSGS && t0 + sent * period <= now) sendOne(t0 + sent * period);
      if (sent - acked > backlogCap || closedReceivers > 0) {
        // More than two seconds of work queued: the server cannot keep up at this rate.
        overloaded = true;
        sending = false;
        return;
      }
      setTimeout(tick, 1);
    };
    tick();
  }
  await Promise.race([ended, (async () => { while (sending) await Bun.sleep(20); })()]);
  clearTimeout(startTimer);
  if (overloaded) snapEnd = { recv: totalReceived(), acked, srv: procSample(cfg.serverPid), srvs: samplePids(), cpu: selfCpuMs(), at: performance.now() };

  // Drain: every sent message acked and pushed to every live receiver (bounded).
  const drainUntil = performance.now() + 10_000;
  while (performance.now() < drainUntil && (acked < sent || totalReceived() - base < (acked - silent) * (R - closedReceivers))) await Bun.sleep(10);
  const expected = (acked - silent) * R;
  const got = totalReceived() - base;

  const secs = (snapEnd.at - snapStart.at) / 1000;
  const result = {
    mode: cfg.mode,
    rate: cfg.mode === "open" ? cfg.rate : null,
    inflight: cfg.mode === "closed" ? cfg.inflight : null,
    editShare: share,
    changes,
    groupSize: R + 1,
    window_s: round(secs, 2),
    sent,
    acked,
    msgs_per_s: round((snapEnd.acked - snapStart.acked) / secs, 0),
    deliveries_per_s: round((snapEnd.recv - snapStart.recv) / secs, 0),
    ack_ms: ackLat.summary(),
    e2e_ms: e2e.summary(),
    errors,
    firstError,
    undelivered: expected - got,
    closedReceivers,
    overloaded,
    server_cpu_pct: round(pids.reduce((a, _, k) => a + cpuPercent(snapStart.srvs[k]!, snapEnd.srvs[k]!), 0), 1),
    server_sys_pct: sysPercent(snapStart.srv, snapEnd.srv),
    client_cpu_pct: round(((snapEnd.cpu - snapStart.cpu) / (snapEnd.at - snapStart.at)) * 100, 1),
    server_rss_kb: snapEnd.srv?.rssKB ?? null,
    nodes: pids.length,
    // Per node: its CPU in % of one core, and its CPU µs per delivery made by the whole cluster.
    server_cpu_pct_per_node: pids.map((_, k) => cpuPercent(snapStart.srvs[k]!, snapEnd.srvs[k]!)),
    server_cpu_us_per_delivery_per_node: pids.map((_, k) => {
      const a = snapStart.srvs[k], b = snapEnd.srvs[k], n = snapEnd.recv - snapStart.recv;
      return a && b && n > 0 ? round(((b.cpuMs - a.cpuMs) * 1000) / n, 2) : null;
    }),
  };
  sender.close();
  for (const r of receivers) r.close();
  await Bun.sleep(50);
  return result;
});
