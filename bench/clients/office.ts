// Office day: thousands of users, each in a few groups of sizes 2, 10, 100
// and 1000, each sending every 30-60 s (marking its unread groups read just
// before), 1% of them reconnecting per minute and resuming with Sync. Checks
// that every member received every message (live or through Sync), and
// times acks and live deliveries (sent → received).
import { cpuPercent, procSample, selfCpuMs, type ProcSample } from "../lib/proc";
import { Samples, round } from "../lib/stats";
import { connectWs, parseTarget, pool, request, type Conn } from "../lib/ws";
import { readConfig, runMain } from "../lib/client";
import { rng } from "../lib/rng";

export type OfficeConfig = {
  wsUrl: string;
  serverPid: number;
  /** A cluster: user k connects (and reconnects) to node k mod N; CPU sampled on each node. */
  wsUrls?: string[];
  serverPids?: number[];
  users: { uid: number; token: string }[];
  /** Groups with their member uids and a weight class (their size). */
  groups: { gid: number; members: number[] }[];
  /** Probability of picking a group of each size when sending. */
  weights: Record<string, number>;
  sendEveryMs: [number, number];
  reconnectPerMinute: number;
  offlineMs: [number, number];
  durationMs: number;
  seed: number;
};


type User = {
  uid: number;
  token: string;
  conn: Conn | null;
  online: boolean;
  bySize: Map<number, number[]>;
  lastSeen: Map<number, number>;
  lastSeenAll: number;
  unread: Set<number>;
  received: Set<number>;
  nextSendAt: number;
  n: number;
  pending: Map<string, { at: number; kind: "Msg" | "Read" | "Sync"; gid: number }>;
  /** The node its socket is on. */
  node: number;
  /** Between a reconnect and the end of its Sync: pushes then are counted as recovered. */
  syncing: boolean;
};

runMain(async () => {
  const cfg = readConfig<OfficeConfig>();
  const targets = (cfg.wsUrls ?? [cfg.wsUrl]).map(parseTarget);
  const pids = cfg.serverPids ?? [cfg.serverPid];
  const rand = rng(cfg.seed);
  const between = ([lo, hi]: [number, number]) => lo + rand() * (hi - lo);
  const run = `${process.pid.toString(36)}${Date.now().toString(36)}`;

  const users = new Map<number, User>();
  for (const [k, u] of cfg.users.entries())
    users.set(u.uid, { node: k % targets.length, uid: u.uid, token: u.token, conn: null, online: false, bySize: new Map(), lastSeen: new Map(), lastSeenAll: 0, unread: new Set(), received: new Set(), nextSendAt: 0, n: 0, pending: new Map(), syncing: false });
  const sizeOf = new Map<number, number>();
  for (const g of cfg.groups) {
    sizeOf.set(g.gid, g.members.length);
    for (const uid of g.members) {
      const u = users.get(uid)!;
      const list = u.bySize.get(g.members.length) ?? [];
      list.push(g.gid);
      u.bySize.set(g.members.length, list);
    }
  }
  const members = new Map(cfg.groups.map((g) => [g.gid, g.members]));

  // Bookkeeping of every message sent: when, by whom, to which group, its id once acked.
  const sentAt = new Map<string, number>();
  const ackedLog: { gid: number; sender: number; msgId: number }[] = [];
  const ackMsg = new Samples();
  const ackRead = new Samples();
  const delivery = new Samples();
  const deliveryBySize = new Map<number, Samples>();
  // Sender and receiver on different nodes (the push crossed the bus) or on the same one.
  const deliveryCross = new Samples();
  const deliverySame = new Samples();
  const login = new Samples();
  const syncMs = new Samples();
  let measuring = false;
  let errors = 0;
  let firstError: unknown = null;
  let notifies = 0;
  let live = 0;
  let recovered = 0;
  let dupes = 0;
  let unexpectedCloses = 0;
  let reconnects = 0;
  let syncPages = 0;

  const dec = new TextDecoder();
  const onFrame = (c: Conn, payload: Buffer) => {
    const u = c.tag as User;
    const now = performance.now();
    // {"event":"Notify"...} is counted without parsing: byte 10 is N (Notify) or M (Msg).
    if (payload[2] === 0x65 /* e */ && payload[10] === 0x4e /* N */) {
      notifies++;
      return;
    }
    const f = JSON.parse(dec.decode(payload));
    if (f.kind === "Ack" && f.event === undefined) {
      const p = u.pending.get(f.clientMsgId);
      if (!p) return;
      u.pending.delete(f.clientMsgId);
      if (f.content !== "Ok") {
        errors++;
        firstError ??= f;
        return;
      }
      if (p.kind === "Msg") {
        ackedLog.push({ gid: p.gid, sender: u.uid, msgId: f.serverMsgId });
        if (measuring) ackMsg.add(now - p.at);
      } else if (p.kind === "Read") {
        if (measuring) ackRead.add(now - p.at);
      } else if (p.kind === "Sync") {
        syncPages++;
        if (f.more && f.serverMsgId) syncFrom(u, f.serverMsgId, p.at);
        else syncMs.add(now - p.at);
      }
      return;
    }
    if (f.event === "Msg") {
      const b = f.body;
      if (u.received.has(b.msgId)) {
        dupes++;
        return;
      }
      u.received.add(b.msgId);
      if (b.msgId > (u.lastSeen.get(b.gid) ?? 0)) u.lastSeen.set(b.gid, b.msgId);
      if (b.msgId > u.lastSeenAll) u.lastSeenAll = b.msgId;
      if (b.uid !== u.uid) u.unread.add(b.gid);
      const at = sentAt.get(b.clientMsgId);
      if (u.syncing) {
        recovered++;
      } else if (at !== undefined) {
        live++;
        if (measuring) {
          delivery.add(now - at);
          (users.get(b.uid)?.node === u.node ? deliverySame : deliveryCross).add(now - at);
          const size = sizeOf.get(b.gid)!;
          let s = deliveryBySize.get(size);
          if (!s) deliveryBySize.set(size, (s = new Samples()));
          s.add(now - at);
        }
      }
    }
  };

  const sendFrame = (u: User, event: "Msg" | "Read" | "Sync", body: Record<string, unknown>, at = performance.now()) => {
    const clientMsgId = `${event[0]}${u.uid}.${++u.n}.${run}`;
    u.pending.set(clientMsgId, { at, kind: event, gid: Number(body.gid ?? 0) });
    u.conn!.send(JSON.stringify({ event, body: { kind: "Text", ...body, clientMsgId } }));
    return clientMsgId;
  };
  function syncFrom(u: User, afterId: number, startedAt: number) {
    if (!u.conn || u.conn.closed) return;
    sendFrame(u, "Sync", { msgId: afterId, content: "" }, startedAt);
  }

  const connect = async (u: User) => {
    const t0 = performance.now();
    const conn = await connectWs(targets[u.node]!);
    conn.tag = u;
    const ack = await request(conn, { event: "Login", body: { kind: "Text", uid: u.uid, content: u.token, clientMsgId: "login" } });
    if (ack.content !== "Ok") throw new Error(`login refused: ${JSON.stringify(ack)}`);
    login.add(performance.now() - t0);
    conn.onFrame = onFrame;
    conn.onClose = () => {
      if (u.conn === conn && u.online) unexpectedCloses++;
    };
    u.conn = conn;
    u.online = true;
  };

  const all = [...users.values()];
  const connectStart = performance.now();
  await pool(all, 64, connect);
  const connectMs = performance.now() - connectStart;
  process.stderr.write(`office: ${all.length} users connected in ${Math.round(connectMs)} ms\n`);

  const sizes = Object.keys(cfg.weights).map(Number);
  const pickGroup = (u: User): number | null => {
    const have = sizes.filter((s) => u.bySize.has(s));
    const total = have.reduce((a, s) => a + cfg.weights[s]!, 0);
    let r = rand() * total;
    for (const s of have) {
      r -= cfg.weights[s]!;
      if (r <= 0) {
        const list = u.bySize.get(s)!;
        return list[Math.floor(rand() * list.length)]!;
      }
    }
    return null;
  };

  const content = "a typical office message, about the length of a sentence or two.";
  const t0 = performance.now();
  const end = t0 + cfg.durationMs;
  // First sends spread over the first interval, so the load is steady from the start.
  for (const u of all) u.nextSendAt = t0 + rand() * cfg.sendEveryMs[1];
  measuring = true;
  const srvStart = procSample(cfg.serverPid);
  const nodesStart = pids.map((p) => procSample(p));
  const cpuStart = selfCpuMs();
  const samples: ProcSample[] = [];
  let sent = 0;
  let reads = 0;
  const reconnectP = cfg.reconnectPerMinute / (60_000 / 50);
  const inflightReconnects = new Set<Promise<void>>();

  const reconnect = (u: User) => {
    reconnects++;
    u.online = false;
    // Replies owed on the old socket are lost with it (what they asked for may still be stored).
    u.pending.clear();
    u.conn?.close();
    u.conn = null;
    const p = (async () => {
      await Bun.sleep(between(cfg.offlineMs));
      try {
        u.syncing = true;
        await connect(u);
        // Resume: everything after the newest message this user has seen.
        await new Promise<void>((resolve) => {
          const started = performance.now();
          syncFrom(u, u.lastSeenAll, started);
          const check = setInterval(() => {
            if (![...u.pending.values()].some((p) => p.kind === "Sync") || performance.now() - started > 10_000) {
              clearInterval(check);
              resolve();
            }
          }, 5);
        });
      } catch (err) {
        errors++;
        firstError ??= String(err);
      } finally {
        u.syncing = false;
      }
    })();
    inflightReconnects.add(p);
    p.finally(() => inflightReconnects.delete(p));
  };

  let ticks = 0;
  while (performance.now() < end) {
    const now = performance.now();
    for (const u of all) {
      if (!u.online || u.syncing) continue;
      if (rand() < reconnectP) {
        reconnect(u);
        continue;
      }
      if (now >= u.nextSendAt) {
        // Reading first: the user looks at the groups with news, then writes.
        for (const gid of u.unread) {
          sendFrame(u, "Read", { gid, msgId: u.lastSeen.get(gid)! });
          reads++;
        }
        u.unread.clear();
        const gid = pickGroup(u);
        if (gid !== null) {
          const id = sendFrame(u, "Msg", { gid, content });
          sentAt.set(id, performance.now());
          sent++;
        }
        u.nextSendAt = now + between(cfg.sendEveryMs);
      }
    }
    if (++ticks % 20 === 0) {
      const s = procSample(cfg.serverPid);
      if (s) samples.push(s);
    }
    await Bun.sleep(50);
  }
  measuring = false;
  const srvEnd = procSample(cfg.serverPid);
  const nodesEnd = pids.map((p) => procSample(p));
  const cpuEnd = selfCpuMs();
  const elapsed = performance.now() - t0;

  // Let the last acks, pushes and reconnections land (bounded), then check completeness.
  const settleUntil = performance.now() + 15_000;
  while (performance.now() < settleUntil && (inflightReconnects.size > 0 || all.some((u) => u.pending.size > 0))) await Bun.sleep(20);
  await Bun.sleep(500);
  // Every acked message must have reached every other member, live or through Sync.
  let expected = 0;
  let missing = 0;
  const byGid = new Map<number, { msgId: number; sender: number }[]>();
  for (const m of ackedLog) {
    const list = byGid.get(m.gid) ?? [];
    list.push(m);
    byGid.set(m.gid, list);
  }
  for (const [gid, msgs] of byGid) {
    for (const uid of members.get(gid)!) {
      const u = users.get(uid)!;
      for (const m of msgs) {
        if (m.sender === uid) continue;
        expected++;
        if (!u.received.has(m.msgId)) missing++;
      }
    }
  }

  const rss = samples.map((s) => s.rssKB);
  const result = {
    users: all.length,
    groups: cfg.groups.length,
    duration_s: round(elapsed / 1000, 1),
    connect_ms: round(connectMs, 0),
    login_ms: login.summary(),
    sent,
    msgs_per_s: round(sent / (elapsed / 1000), 1),
    reads,
    live_deliveries: live,
    deliveries_per_s: round(live / (elapsed / 1000), 0),
    notifies,
    ack_ms: ackMsg.summary(),
    read_ack_ms: ackRead.summary(),
    delivery_ms: delivery.summary(),
    delivery_by_size_ms: Object.fromEntries([...deliveryBySize].sort((a, b) => a[0] - b[0]).map(([k, v]) => [k, v.summary()])),
    reconnects,
    sync_ms: syncMs.summary(),
    sync_pages: syncPages,
    recovered_by_sync: recovered,
    expected_deliveries: expected,
    missing,
    duplicates: dupes,
    unexpected_closes: unexpectedCloses,
    errors,
    firstError,
    server_cpu_pct: round(pids.reduce((a, _, k) => a + cpuPercent(nodesStart[k]!, nodesEnd[k]!), 0), 1),
    nodes: pids.length,
    delivery_cross_node_ms: deliveryCross.summary(),
    delivery_same_node_ms: deliverySame.summary(),
    server_cpu_pct_per_node: pids.map((_, k) => cpuPercent(nodesStart[k]!, nodesEnd[k]!)),
    // Per node: its CPU µs per live delivery made by the whole cluster.
    server_cpu_us_per_delivery_per_node: pids.map((_, k) => {
      const a = nodesStart[k], b = nodesEnd[k];
      return a && b && live > 0 ? round(((b.cpuMs - a.cpuMs) * 1000) / live, 1) : null;
    }),
    server_rss_mb: { start: round((srvStart?.rssKB ?? NaN) / 1024, 1), end: round((srvEnd?.rssKB ?? NaN) / 1024, 1), peak: round(Math.max(...rss, srvEnd?.rssKB ?? 0) / 1024, 1) },
    client_cpu_pct: round(((cpuEnd - cpuStart) / elapsed) * 100, 1),
  };
  for (const u of all) u.conn?.close();
  await Bun.sleep(100);
  return result;
});
