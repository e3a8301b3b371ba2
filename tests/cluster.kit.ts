// A cluster of real `rim serve` processes on one PostgreSQL database (reached
// through a cuttable TCP proxy) and one Redis, and chat clients that behave as
// a careful client must: one cursor (the highest id seen), every Msg with a
// clientMsgId resent with the same id until it is acked, on a lost socket a
// reconnect to a live node, Login, then Sync from the cursor; on a Resync
// Notify, Sync again. Every wait is on a frame, an ack, a close or a process
// exit, bounded by a deadline that turns a missing event into a failure.
import { SQL } from "bun";
import { CHEAP, spawnRim, type RimProcess } from "./cli.kit";
import { wakeOrDeadline, type TestUser } from "./helpers";
import { freshDatabase, startRedis, tcpProxy, type TcpProxy } from "./services";

export type Node = { rim: RimProcess; url: string; wsUrl: string; alive: boolean };

export type Cluster = {
  nodes: Node[];
  proxy: TcpProxy;
  /** The database itself (not through the proxy), for the checks. */
  sql: SQL;
  api(node: number, path: string, token: string | null, body?: unknown): Promise<{ status: number; body: any }>;
  register(node: number, account: string): Promise<TestUser>;
  /** SIGKILL, resolving once the process is gone. */
  kill(node: number): Promise<void>;
  close(): Promise<void>;
};

let clusters = 0;

export type ClusterOptions = {
  /** The PostgreSQL server's maintenance URL (a test that stops its server); default the tests' shared one. */
  pg?: string;
  /**
   * The nodes connect to it without the proxy (Bun's client notices a connection that the proxy closes before
   * the handshake, nothing listening behind it, only at its connection timeout: 10 s a query).
   */
  direct?: boolean;
  /** --bus-prefix; default one of this cluster's own. */
  busPrefix?: string;
  /** More flags for every node. */
  args?: string[];
};

/**
 * count nodes serving one fresh database through a proxy, on the bus at `bus`, or on a Redis of their own, under a
 * --bus-prefix of their own (so clusters on one Redis never hear each other).
 */
export async function startCluster(count: number, bus?: string, opts: ClusterOptions = {}): Promise<Cluster> {
  const busPrefix = opts.busPrefix ?? `rim-${process.pid}-${++clusters}:`;
  const fresh = await freshDatabase(opts.pg);
  const pg = new URL(fresh.url);
  const proxy = await tcpProxy(Number(pg.port));
  if (!opts.direct) pg.port = String(proxy.port);
  const own = bus ? null : await startRedis();
  const busUrl = bus ?? own!.url;
  const nodes: Node[] = [];
  const sql = new SQL(fresh.url, { max: 2 });
  const cluster: Cluster = {
    nodes,
    proxy,
    sql,
    async api(node, path, token, body) {
      const headers: Record<string, string> = {};
      if (token) headers.Authorization = `Bearer ${token}`;
      if (body !== undefined) headers["Content-Type"] = "application/json";
      const res = await fetch(nodes[node]!.url + path, { method: body === undefined ? "GET" : "POST", headers, body: body === undefined ? undefined : JSON.stringify(body) });
      return { status: res.status, body: await res.json() };
    },
    async register(node, account) {
      const created = await cluster.api(node, "/api/user/create", null, { account, password: "password1" });
      if (created.status !== 200) throw new Error("register: " + JSON.stringify(created));
      const login = await cluster.api(node, "/api/user/login", null, { account, password: "password1" });
      if (login.status !== 200) throw new Error("login: " + JSON.stringify(login));
      return { uid: created.body.data, token: login.body.data, account };
    },
    async kill(node) {
      const n = nodes[node]!;
      n.alive = false;
      n.rim.proc.kill("SIGKILL");
      await n.rim.exited;
    },
    async close() {
      proxy.restore();
      await Promise.all(nodes.filter((n) => n.alive).map((n) => ((n.alive = false), n.rim.stop())));
      await sql.close();
      await fresh.drop();
      await own?.stop();
    },
  };
  // One at a time: the first migrates the database, the others find it done.
  for (let i = 0; i < count; i++) {
    const rim = spawnRim(["serve", "--db", pg.toString(), "--bus", busUrl, "--bus-prefix", busPrefix, "--host", "127.0.0.1", "--port", "0", "--register-max-per-ip", "0", ...CHEAP, ...(opts.args ?? [])]);
    const url = await rim.listening;
    if (!url) {
      await cluster.close();
      throw new Error("node did not start:\n" + rim.lines.join("\n"));
    }
    nodes.push({ rim, url, wsUrl: url.replace("http", "ws") + "/ws", alive: true });
  }
  return cluster;
}

/** Wakes every `until` when any client's state changes (also the tests' own state that `until` waits on). */
const watchers = new Set<() => void>();
export const changed = () => {
  for (const w of [...watchers]) w();
};

/** Resolves once cond() holds, re-checked on every frame any client gets; fails with describe() after ms. */
export async function until(cond: () => boolean, describe: () => string, ms = 15_000): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    const left = end - performance.now();
    if (left <= 0) throw new Error("gave up waiting: " + describe());
    const { woken, wake } = wakeOrDeadline(left);
    watchers.add(wake);
    await woken;
    watchers.delete(wake);
  }
}

export type Seen = { id: number; gid: number; seq: number; uid: number; content: string };
type Outcome = { ok: true; msgId: number; seq: number } | { ok: false; code: number | null };

/** A chat client as rim's protocol asks clients to be (see the header). */
export class ChatClient {
  ws: WebSocket | null = null;
  node = -1;
  /** The highest msgId/eventId seen, across all groups. */
  cursor = 0;
  /** Every message seen, by id. */
  readonly messages = new Map<number, Seen>();
  /** Messages seen again (a Sync and a live push may both carry one): harmless, counted. */
  repeats = 0;
  /** Ids of the live pushes and replays in the order this client got them, one list per connection. */
  readonly arrivals: number[][] = [];
  /** Each Sync: the cursor it started from and the message ids it replayed. */
  readonly syncs: { from: number; ids: number[] }[] = [];
  resyncs = 0;
  closes: number[] = [];
  /** clientMsgId → the msgId it was acked with. */
  readonly acked = new Map<string, number>();
  private replies = new Map<string, (f: any) => void>();
  /**
   * Where the next Resync's Sync starts: the cursor at the previous Resync (or when the connection's own
   * Sync finished), since pushes with greater ids may have moved the cursor past a lost one (protocol.md).
   */
  private resyncFrom = 0;
  private replaying: { from: number; ids: number[] } | null = null;
  private syncing: Promise<void> | null = null;
  private n = 0;

  constructor(readonly user: TestUser, private readonly cluster: Cluster) {}

  /** Opens a socket on node, logs in and Syncs from the cursor. */
  async connect(node: number): Promise<void> {
    this.node = node;
    const ws = await new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(this.cluster.nodes[node]!.wsUrl);
      ws.onopen = () => resolve(ws);
      ws.onerror = () => reject(new Error(`socket error on node ${node}`));
    });
    this.ws = ws;
    const arrivals: number[] = [];
    this.arrivals.push(arrivals);
    ws.onmessage = (ev) => this.frame(JSON.parse(String(ev.data)), arrivals);
    ws.onclose = (ev) => {
      if (this.ws === ws) this.ws = null;
      this.closes.push(ev.code);
      // Nothing more will answer on this socket.
      for (const r of this.replies.values()) r(null);
      this.replies.clear();
      changed();
    };
    const login = await this.request({ event: "Login", body: { kind: "Text", uid: this.user.uid, content: this.user.token } });
    if (login?.content !== "Ok") throw new Error(`login on node ${node}: ${JSON.stringify(login)}`);
    await this.sync();
  }

  get connected(): boolean {
    return this.ws !== null;
  }

  /** Syncs from the cursor until the server says there is no more; one Sync at a time. */
  sync(start?: number): Promise<void> {
    const run = async () => {
      for (let page = 0; page < 100; page++) {
        const from = page === 0 && start !== undefined ? start : this.cursor;
        this.replaying = { from, ids: [] };
        this.syncs.push(this.replaying);
        const ack = await this.request({ event: "Sync", body: { kind: "Text", uid: this.user.uid, msgId: from, content: "" } });
        this.replaying = null;
        if (ack === null) return; // the socket went: the next connection Syncs
        if (ack.content !== "Ok") throw new Error("Sync refused: " + JSON.stringify(ack));
        if (ack.serverMsgId > this.cursor) this.cursor = ack.serverMsgId;
        if (!ack.more) {
          if (start === undefined) this.resyncFrom = this.cursor;
          return;
        }
      }
      throw new Error("Sync never ended");
    };
    const chained = (this.syncing ?? Promise.resolve()).then(run);
    this.syncing = chained;
    return chained;
  }

  /** Sends a Msg and resolves with its outcome: acked, refused (the code), or the socket went (code null). */
  async send(gid: number, content: string): Promise<Outcome> {
    const reply = await this.request({ event: "Msg", body: { kind: "Text", gid, uid: this.user.uid, content, clientMsgId: content } });
    if (reply === null) return { ok: false, code: null };
    if (reply.content === "Ok") {
      this.acked.set(content, reply.serverMsgId);
      // Its own message is not pushed back to the sender's socket: the ack is how it has it. The
      // cursor stays: a push with a lower id may still be on its way from another node.
      if (!this.messages.has(reply.serverMsgId)) this.messages.set(reply.serverMsgId, { id: reply.serverMsgId, gid, seq: reply.seq, uid: this.user.uid, content });
      return { ok: true, msgId: reply.serverMsgId, seq: reply.seq };
    }
    return { ok: false, code: reply.code ?? -1 };
  }

  close(): void {
    this.ws?.close();
  }

  private request(frame: { event: string; body: Record<string, unknown> }): Promise<any> {
    const ws = this.ws;
    if (!ws) return Promise.resolve(null);
    const clientMsgId = (frame.body.clientMsgId as string) ?? `${frame.event}-${++this.n}`;
    return new Promise((resolve) => {
      this.replies.set(clientMsgId, resolve);
      ws.send(JSON.stringify({ event: frame.event, body: { ...frame.body, clientMsgId } }));
    });
  }

  private frame(f: any, arrivals: number[]): void {
    if (f.kind === "Ack") {
      const r = this.replies.get(f.clientMsgId);
      if (r) {
        this.replies.delete(f.clientMsgId);
        r(f);
      }
    } else if (f.event === "Msg") {
      const b = f.body;
      arrivals.push(b.msgId);
      this.replaying?.ids.push(b.msgId);
      if (this.messages.has(b.msgId)) this.repeats++;
      else this.messages.set(b.msgId, { id: b.msgId, gid: b.gid, seq: b.seq, uid: b.uid, content: b.content });
      if (b.msgId > this.cursor) this.cursor = b.msgId;
    } else if (f.event === "Notify" && f.body?.content === "Resync") {
      this.resyncs++;
      const from = this.resyncFrom;
      this.resyncFrom = this.cursor;
      void this.sync(from).catch(() => {});
    } else if (f.event === "Notify" && typeof f.body?.msgId === "number" && f.body.msgId > this.cursor) {
      this.cursor = f.body.msgId;
    }
    changed();
  }
}

/**
 * Sends count messages to the groups in turn, one at a time, each resent with its clientMsgId until
 * acked: an error ack is retried on the same socket once something changed (what onRefused returns,
 * or else a Heart round trip); a lost socket is reconnected to the next live node (Login, Sync), then
 * the unacked one resent.
 */
export async function sendAll(
  c: ChatClient,
  gids: number[],
  count: number,
  onAck: () => void = () => {},
  onRefused: (code: number) => Promise<void> | undefined = () => undefined,
): Promise<void> {
  for (let i = 0; i < count; i++) {
    const content = `${c.user.account}-${i}`;
    const gid = gids[i % gids.length]!;
    for (let attempt = 0; ; attempt++) {
      if (attempt > 200) throw new Error(`${content}: never acked`);
      if (!c.connected) await reconnect(c);
      const r = await c.send(gid, content);
      if (r.ok) break;
      if (r.code !== null) await (onRefused(r.code) ?? retryPause(c));
    }
    onAck();
  }
}

/** Reconnects to the next live node after the client's own, retrying while nodes come and go. */
export async function reconnect(c: ChatClient): Promise<void> {
  const nodes = c["cluster"].nodes as Node[];
  for (let attempt = 0; attempt < 20; attempt++) {
    for (let k = 1; k <= nodes.length; k++) {
      const next = (c.node + k) % nodes.length;
      if (!nodes[next]!.alive) continue;
      try {
        await c.connect(next);
        return;
      } catch {
        // that node went too (or refused): the next one
      }
    }
  }
  throw new Error(`${c.user.account}: no node took it back`);
}

/** After an error ack (the database away): a Heart round trip, so retries follow the server's pace, not a clock. */
async function retryPause(c: ChatClient): Promise<void> {
  await c["request"]({ event: "Heart", body: { kind: "Text", content: "" } });
}

/** Every stored message, in id order. */
export async function storedMessages(sql: SQL): Promise<{ id: number; gid: number; seq: number; uid: number; content: string; clientMsgId: string }[]> {
  const rows = await sql`SELECT id, group_id, seq, sender_uid, content, client_msg_id FROM messages ORDER BY id`;
  return rows.map((r: any) => ({ id: Number(r.id), gid: Number(r.group_id), seq: Number(r.seq), uid: Number(r.sender_uid), content: r.content, clientMsgId: r.client_msg_id }));
}
