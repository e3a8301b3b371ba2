// Crash safety and graceful shutdown, against a real server process.
//
// A cycle: senders on several sockets pipeline Msg frames (group commit on,
// synchronous=FULL) and record every ack; the server is SIGKILLed at a random
// moment under load (its WAL restarted every 64 pages, so kills also land in
// checkpoints and in commits held for them), restarted on the same file, and then:
//   - PRAGMA integrity_check is "ok";
//   - every acked message is stored with its group, sender, content, seq and clientMsgId;
//   - each group's seq runs 1..max without gaps or repeats (and groups.last_seq/last_msg_id agree);
//   - every stored message is one a sender sent (nothing invented, nothing mangled);
//   - resending every unacked clientMsgId (Login again, Msg with the same clientMsgId)
//     stores it at most once: if it had committed, the ack returns the stored id and seq;
//   - every account created over REST meanwhile (answered 200) is there.
// The graceful run sends SIGTERM (or SIGINT) under load instead and checks: exit code 0,
// every socket closed with 1001, every acked message and account stored, integrity ok.
// On a failure the database file is kept and its path printed.
//
//   bun tests/crash-run.ts            3 kills + a graceful shutdown (what CI runs)
//   bun tests/crash-run.ts --long     50 kills + graceful shutdowns by SIGTERM and SIGINT
//   bun tests/crash-run.ts --kills N  N kills; --seed S replays the senders' choices (not the timing)
import { Database } from "bun:sqlite";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "./helpers";

const ROOT = join(import.meta.dir, "..");

export type Log = (line: string) => void;

// ---------------------------------------------------------------- the server process

export class ServerProcess {
  readonly exited: Promise<number>;
  private constructor(
    readonly proc: Bun.Subprocess<"ignore", "ignore", "pipe">,
    readonly url: string,
    /** The last 200 lines of its stderr. */
    readonly tail: string[],
    /** Every stderr line that reports a server-side error. */
    private readonly errorLines: string[],
    drained: Promise<void>,
  ) {
    this.exited = drained.then(() => proc.exited);
  }

  get wsUrl() {
    return this.url.replace(/^http/, "ws") + "/ws";
  }

  /** Starts `rim serve` on dbFile and resolves once it logs the address it listens on. */
  static start(dbFile: string, extra: string[] = []): Promise<ServerProcess> {
    const args = ["src/main.ts", "serve", "--host", "127.0.0.1", "--port", "0", "--db", dbFile, "--sync", "full", "--wal-restart-frames", "64", "--ws-rate", "0", "--register-max-per-ip", "0", "--argon2-memory", "256", "--argon2-time", "1", ...extra];
    const proc = Bun.spawn([process.execPath, ...args], { cwd: ROOT, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
    const tail: string[] = [];
    const errorLines: string[] = [];
    let found!: (url: string) => void;
    let failed!: (err: Error) => void;
    const listening = new Promise<string>((res, rej) => ((found = res), (failed = rej)));
    // Keep reading stderr for the whole life of the process, so it never blocks on a full pipe.
    const drained = (async () => {
      const decoder = new TextDecoder();
      let buf = "";
      for await (const chunk of proc.stderr) {
        buf += decoder.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          tail.push(line);
          if (tail.length > 200) tail.shift();
          if (/\bERROR\b|"level":"error"/.test(line)) errorLines.push(line);
          // Text (url="…") or JSON ("url":"…") log lines.
          const m = /server\.listening.*?\burl"?[=:]"([^"]+)"/.exec(line);
          if (m) found(m[1]!);
        }
      }
      failed(new Error("server exited before listening:\n" + tail.join("\n")));
    })();
    const timer = setTimeout(() => failed(new Error("server did not start within 20 s:\n" + tail.join("\n"))), 20_000);
    return listening.then(
      (url) => {
        clearTimeout(timer);
        return new ServerProcess(proc, url, tail, errorLines, drained);
      },
      (err) => {
        clearTimeout(timer);
        proc.kill("SIGKILL");
        throw err;
      },
    );
  }

  signal(sig: "SIGKILL" | "SIGTERM" | "SIGINT") {
    this.proc.kill(sig);
  }

  /** Stderr lines that report a server-side error. */
  errors(): string[] {
    return this.errorLines;
  }
}

// ---------------------------------------------------------------- REST and sockets

async function post(base: string, path: string, body: unknown, token?: string): Promise<any> {
  const res = await fetch(base + path, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as any;
  if (!json.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(json)}`);
  return json.data;
}

type Member = { uid: number; token: string; gids: number[] };
type World = { users: Member[]; gids: number[] };

/** Four users and three conversations (a group of all, a group of two, a direct chat), made over REST. */
async function makeWorld(base: string, tag: string): Promise<World> {
  const users: Member[] = [];
  for (let i = 0; i < 4; i++) {
    const account = `crash_${tag}_${i}`;
    const uid = await post(base, "/api/user/create", { account, password: "password1" });
    const token = await post(base, "/api/user/login", { account, password: "password1" });
    users.push({ uid, token, gids: [] });
  }
  const [a, b, c, d] = users as [Member, Member, Member, Member];
  const all = await post(base, "/api/group/create", { group: { name: "all", avatar: "", mode: 2 }, users: [b, c, d].map((u) => ({ uid: u.uid, role: 1 })) }, a.token);
  const pair = await post(base, "/api/group/create", { group: { name: "pair", avatar: "", mode: 2 }, users: [{ uid: a.uid, role: 1 }] }, b.token);
  const direct = await post(base, "/api/group/create", { group: { name: "", avatar: "", mode: 1 }, users: [{ uid: d.uid, role: 1 }] }, c.token);
  a.gids = [all, pair];
  b.gids = [all, pair];
  c.gids = [all, direct];
  d.gids = [all, direct];
  return { users, gids: [all, pair, direct] };
}

export type Sent = { uid: number; gid: number; content: string; clientMsgId: string };
type Acked = Sent & { id: number; seq: number };

/** What the senders have sent and what the server acknowledged, across all cycles. */
class Ledger {
  readonly sent = new Map<string, Sent>(); // by uid|clientMsgId
  readonly acked = new Map<string, Acked>(); // by uid|clientMsgId
  readonly errors: string[] = [];
  static key = (uid: number, clientMsgId: string) => `${uid}|${clientMsgId}`;
  unacked(): Sent[] {
    return [...this.sent.entries()].filter(([k]) => !this.acked.has(k)).map(([, s]) => s);
  }
  ack(s: Sent, frame: any) {
    const k = Ledger.key(s.uid, s.clientMsgId);
    const prev = this.acked.get(k);
    if (prev && (prev.id !== frame.serverMsgId || prev.seq !== frame.seq)) {
      this.errors.push(`${k}: acked twice with different ids ${prev.id}/${prev.seq} and ${frame.serverMsgId}/${frame.seq}`);
    }
    this.acked.set(k, { ...s, id: frame.serverMsgId, seq: frame.seq });
  }
}

const CHARS = ["a", "b", " ", "é", "ß", "中", "文", "😀", "🚀", "\n", "\"", "\\", "'", "<", "0"];
function randomContent(rand: () => number, tag: string): string {
  const n = rand() < 0.05 ? 2000 + Math.floor(rand() * 6000) : Math.floor(rand() * 80);
  let s = tag + " ";
  for (let i = 0; i < n; i++) s += CHARS[Math.floor(rand() * CHARS.length)];
  return s;
}

/** A socket that keeps `window` Msg frames in flight and records every ack in the ledger. */
class Sender {
  readonly ws: WebSocket;
  readonly inflight = new Map<string, Sent>();
  closeCode: number | null = null;
  readonly closed: Promise<number>;
  private n = 0;
  private stopped = false;
  acks = 0;
  /** Called after each Ok ack (untilAcks counts with it). */
  onAck: (() => void) | null = null;
  private loginWaiter: ((f: any) => void) | null = null;

  constructor(
    url: string,
    readonly user: Member,
    readonly ledger: Ledger,
    readonly tag: string,
    readonly rand: () => number,
    readonly window: number,
  ) {
    this.ws = new WebSocket(url);
    this.closed = new Promise((res) => {
      this.ws.onclose = (ev) => {
        this.closeCode = ev.code;
        res(ev.code);
      };
    });
    this.ws.onmessage = (ev) => this.onFrame(JSON.parse(String(ev.data)));
  }

  async start(): Promise<void> {
    await new Promise<void>((res, rej) => {
      this.ws.onopen = () => res();
      this.ws.onerror = () => rej(new Error("socket error on open"));
    });
    const ack = await new Promise<any>((res) => {
      this.loginWaiter = res;
      this.ws.send(JSON.stringify({ event: "Login", body: { kind: "Text", uid: this.user.uid, content: this.user.token, clientMsgId: `login-${this.tag}` } }));
    });
    if (ack.content !== "Ok") throw new Error("login failed: " + JSON.stringify(ack));
    this.pump();
  }

  stop() {
    this.stopped = true;
  }

  private pump() {
    while (!this.stopped && this.inflight.size < this.window && this.ws.readyState === WebSocket.OPEN) {
      const clientMsgId = `${this.tag}-${++this.n}`;
      const gid = this.user.gids[Math.floor(this.rand() * this.user.gids.length)]!;
      const s: Sent = { uid: this.user.uid, gid, content: randomContent(this.rand, clientMsgId), clientMsgId };
      this.ledger.sent.set(Ledger.key(s.uid, clientMsgId), s);
      this.inflight.set(clientMsgId, s);
      this.ws.send(JSON.stringify({ event: "Msg", body: { kind: "Text", uid: s.uid, gid, content: s.content, clientMsgId } }));
    }
  }

  private onFrame(f: any) {
    if (f.kind !== "Ack" || f.event !== undefined) return; // pushes of the other senders
    if (this.loginWaiter && f.clientMsgId === `login-${this.tag}`) {
      const w = this.loginWaiter;
      this.loginWaiter = null;
      return w(f);
    }
    const s = this.inflight.get(f.clientMsgId);
    if (!s) return void this.ledger.errors.push(`reply to an unknown frame: ${JSON.stringify(f)}`);
    this.inflight.delete(f.clientMsgId);
    if (f.content === "Ok" && typeof f.serverMsgId === "number" && typeof f.seq === "number") {
      this.ledger.ack(s, f);
      this.acks++;
      this.onAck?.();
    } else this.ledger.errors.push(`error ack for ${f.clientMsgId}: ${JSON.stringify(f)}`);
    this.pump();
  }
}

/** One request/reply on a fresh logged-in socket, for the resend phase. */
class OneSocket {
  private waiters = new Map<string, (f: any) => void>();
  private constructor(readonly ws: WebSocket) {
    ws.onmessage = (ev) => {
      const f = JSON.parse(String(ev.data));
      if (f.kind === "Ack" && f.event === undefined) {
        const w = this.waiters.get(f.clientMsgId);
        if (w) {
          this.waiters.delete(f.clientMsgId);
          w(f);
        }
      }
    };
  }
  static async open(url: string, u: Member): Promise<OneSocket> {
    const ws = new WebSocket(url);
    await new Promise<void>((res, rej) => ((ws.onopen = () => res()), (ws.onerror = () => rej(new Error("socket error")))));
    const s = new OneSocket(ws);
    const ack = await s.request("Login", { uid: u.uid, content: u.token, clientMsgId: "relogin" });
    if (ack.content !== "Ok") throw new Error("login after restart failed: " + JSON.stringify(ack));
    return s;
  }
  request(event: string, body: Record<string, unknown>): Promise<any> {
    const id = body.clientMsgId as string;
    return new Promise((res, rej) => {
      const t = setTimeout(() => rej(new Error(`no reply to ${event} ${id}`)), 10_000);
      this.waiters.set(id, (f) => (clearTimeout(t), res(f)));
      this.ws.send(JSON.stringify({ event, body: { kind: "Text", ...body } }));
    });
  }
  close() {
    this.ws.close();
  }
}

// ---------------------------------------------------------------- checks on the file

type Row = { id: number; group_id: number; seq: number; sender_uid: number; content: string; client_msg_id: string; kind: string };

function fail(msg: string): never {
  throw new Error(msg);
}

/** The invariants of the file; returns which unacked messages had in fact committed. */
function checkFile(dbFile: string, ledger: Ledger, gids: number[]): { committedUnacked: Map<string, Row>; rows: number } {
  const db = new Database(dbFile);
  try {
    const integrity = db.query("PRAGMA integrity_check").all() as { integrity_check: string }[];
    if (integrity.length !== 1 || integrity[0]!.integrity_check !== "ok") fail("integrity_check: " + JSON.stringify(integrity));
    const fk = db.query("PRAGMA foreign_key_check").all();
    if (fk.length) fail("foreign_key_check: " + JSON.stringify(fk.slice(0, 5)));

    const rows = db.query("SELECT id, group_id, seq, sender_uid, content, client_msg_id, kind FROM messages").all() as Row[];
    const byId = new Map(rows.map((r) => [r.id, r]));
    const byKey = new Map(rows.map((r) => [Ledger.key(r.sender_uid, r.client_msg_id), r]));
    if (byKey.size !== rows.length) fail("two stored messages share a sender and clientMsgId");

    for (const a of ledger.acked.values()) {
      const r = byId.get(a.id);
      if (!r) fail(`acked message ${a.id} (${a.clientMsgId}) is missing`);
      if (r.group_id !== a.gid || r.seq !== a.seq || r.sender_uid !== a.uid || r.content !== a.content || r.client_msg_id !== a.clientMsgId || r.kind !== "Text") {
        fail(`acked message ${a.id} differs from what was acked: stored ${JSON.stringify({ ...r, content: r.content.slice(0, 40) })}, acked ${JSON.stringify({ ...a, content: a.content.slice(0, 40) })}`);
      }
    }
    for (const r of rows) {
      const s = ledger.sent.get(Ledger.key(r.sender_uid, r.client_msg_id));
      if (!s) fail(`stored message ${r.id} was never sent`);
      if (s.gid !== r.group_id || s.content !== r.content) fail(`stored message ${r.id} differs from what was sent`);
    }
    for (const gid of gids) {
      const seqs = rows.filter((r) => r.group_id === gid).map((r) => r.seq).sort((x, y) => x - y);
      seqs.forEach((s, i) => {
        if (s !== i + 1) fail(`group ${gid}: seq ${i + 1} missing or repeated (found ${s})`);
      });
      const g = db.query("SELECT last_seq, last_msg_id FROM groups WHERE id = ?").get(gid) as { last_seq: number; last_msg_id: number | null };
      const maxId = rows.filter((r) => r.group_id === gid).reduce((m, r) => Math.max(m, r.id), 0);
      if (g.last_seq !== seqs.length) fail(`group ${gid}: last_seq ${g.last_seq} but ${seqs.length} messages`);
      if ((g.last_msg_id ?? 0) !== maxId) fail(`group ${gid}: last_msg_id ${g.last_msg_id} but newest is ${maxId}`);
    }
    const committedUnacked = new Map<string, Row>();
    for (const s of ledger.unacked()) {
      const r = byKey.get(Ledger.key(s.uid, s.clientMsgId));
      if (r) committedUnacked.set(Ledger.key(s.uid, s.clientMsgId), r);
    }
    return { committedUnacked, rows: rows.length };
  } finally {
    db.close();
  }
}

/** Resends every unacked message; each must end up stored exactly once, with its original id if it had committed. */
async function resendUnacked(server: ServerProcess, world: World, ledger: Ledger, committed: Map<string, Row>, dbFile: string): Promise<{ resent: number; hadCommitted: number }> {
  const unacked = ledger.unacked();
  const sockets = new Map<number, OneSocket>();
  for (const u of world.users) sockets.set(u.uid, await OneSocket.open(server.wsUrl, u));
  try {
    await Promise.all(
      unacked.map(async (s) => {
        const ack = await sockets.get(s.uid)!.request("Msg", { uid: s.uid, gid: s.gid, content: s.content, clientMsgId: s.clientMsgId });
        if (ack.content !== "Ok") fail(`resend of ${s.clientMsgId} refused: ${JSON.stringify(ack)}`);
        const before = committed.get(Ledger.key(s.uid, s.clientMsgId));
        if (before && (ack.serverMsgId !== before.id || ack.seq !== before.seq)) {
          fail(`resend of committed ${s.clientMsgId} returned ${ack.serverMsgId}/${ack.seq}, stored ${before.id}/${before.seq}`);
        }
        ledger.ack(s, ack);
      }),
    );
    // A few already-acked messages too: the same id comes back, nothing new is stored.
    const some = [...ledger.acked.values()].slice(0, 5);
    for (const a of some) {
      const ack = await sockets.get(a.uid)!.request("Msg", { uid: a.uid, gid: a.gid, content: a.content, clientMsgId: a.clientMsgId });
      if (ack.serverMsgId !== a.id || ack.seq !== a.seq) fail(`resend of acked ${a.clientMsgId} returned ${ack.serverMsgId}, acked ${a.id}`);
    }
  } finally {
    for (const s of sockets.values()) s.close();
  }
  const db = new Database(dbFile, { readonly: true });
  try {
    for (const s of unacked) {
      const n = (db.query("SELECT count(*) AS n FROM messages WHERE sender_uid = ? AND client_msg_id = ?").get(s.uid, s.clientMsgId) as { n: number }).n;
      if (n !== 1) fail(`resent ${s.clientMsgId} is stored ${n} times`);
    }
  } finally {
    db.close();
  }
  return { resent: unacked.length, hadCommitted: committed.size };
}

// ---------------------------------------------------------------- load

/** Four loops creating accounts over REST (argon2 runs between the request's read and its insert). */
function restLoad(server: ServerProcess, tag: string) {
  const created: string[] = [];
  const errors: string[] = [];
  let running = true;
  const loops = Array.from({ length: 4 }, async (_, i) => {
    for (let n = 0; running; n++) {
      const account = `rest_${tag}_${i}_${n}`;
      const res = await fetch(server.url + "/api/user/create", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ account, password: "password1" }) }).catch(() => null);
      if (!res) return; // refused or cut: the server is going away
      const body = (await res.json().catch(() => null)) as any;
      if (res.status === 200 && body?.ok) created.push(account);
      else if (body !== null) errors.push(`user/create ${account}: ${res.status} ${JSON.stringify(body)}`);
      else return; // the reply was cut off
    }
  });
  return {
    created,
    errors,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** Every account whose creation was answered 200 is in the file. */
function checkAccounts(dbFile: string, created: string[]) {
  const db = new Database(dbFile, { readonly: true });
  try {
    const accounts = new Set((db.query("SELECT account FROM users").all() as { account: string }[]).map((r) => r.account));
    const lost = created.filter((a) => !accounts.has(a));
    if (lost.length) fail(`accounts created (200) but not stored: ${lost.join(", ")}`);
  } finally {
    db.close();
  }
}

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

/** Two sockets per user, each with `window` Msg frames in flight. */
async function startLoad(server: ServerProcess, world: World, ledger: Ledger, tag: string, rand: () => number): Promise<Sender[]> {
  const senders: Sender[] = [];
  for (const u of world.users) for (let k = 0; k < 2; k++) senders.push(new Sender(server.wsUrl, u, ledger, `${tag}s${u.uid}.${k}`, rand, 8));
  await Promise.all(senders.map((s) => s.start()));
  return senders;
}

/** Resolves once the senders have had n more Ok acks between them; fails if the server exits first. */
async function untilAcks(senders: Sender[], n: number, server: ServerProcess) {
  let left = n;
  let reached!: () => void;
  const enough = new Promise<"acked">((res) => (reached = () => res("acked")));
  for (const s of senders) s.onAck = () => --left === 0 && reached();
  try {
    const r = await Promise.race([enough, server.exited.then(() => "exited" as const)]);
    if (r === "exited") fail("server exited under load:\n" + server.tail.join("\n"));
  } finally {
    for (const s of senders) s.onAck = null;
  }
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([p, new Promise<T>((_, rej) => (t = setTimeout(() => rej(new Error(`${what}: nothing after ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(t);
  }
}

// ---------------------------------------------------------------- the runs

export type CrashReport = { kills: number; acked: number; resent: number; committedButUnacked: number; stored: number; accounts: number; seed: number };

/** `kills` SIGKILL cycles on one database file, then a clean SIGTERM. Throws on the first broken invariant. */
export async function runKills(opts: { kills: number; seed?: number; log?: Log }): Promise<CrashReport> {
  const log = opts.log ?? (() => {});
  const seed = opts.seed ?? (Date.now() ^ (Math.random() * 2 ** 31)) >>> 0;
  const rand = rng(seed);
  const tmp = tempDir("rim-crash-");
  const dbFile = join(tmp.dir, "rim.db");
  const ledger = new Ledger();
  const report: CrashReport = { kills: 0, acked: 0, resent: 0, committedButUnacked: 0, stored: 0, accounts: 0, seed };
  let accounts = 0;
  log(`crash: seed ${seed}, db ${dbFile}`);
  let server = await ServerProcess.start(dbFile);
  let passed = false;
  try {
    const world = await makeWorld(server.url, seed.toString(36));
    for (let cycle = 1; cycle <= opts.kills; cycle++) {
      const ackedBefore = ledger.acked.size;
      const senders = await startLoad(server, world, ledger, `k${cycle}`, rand);
      const rest = restLoad(server, `k${cycle}`);
      // Let a random amount of load through, then kill at a random moment.
      await untilAcks(senders, 20 + Math.floor(rand() * 200), server);
      // Not a wait for anything: a random moment for the kill, as a crash picks its own (the load goes on meanwhile).
      await Bun.sleep(Math.floor(rand() * 40));
      server.signal("SIGKILL");
      const code = await withTimeout(server.exited, 10_000, "exit after SIGKILL");
      await withTimeout(Promise.all(senders.map((s) => s.closed)), 10_000, "sockets closing after SIGKILL");
      for (const s of senders) s.stop();
      await withTimeout(rest.stop(), 10_000, "REST requests ending");
      if (ledger.errors.length) fail("unexpected replies:\n" + ledger.errors.slice(0, 10).join("\n"));
      if (rest.errors.length) fail("REST errors under load:\n" + rest.errors.slice(0, 5).join("\n"));
      if (server.errors().length) fail("the server logged errors:\n" + server.errors().join("\n"));

      server = await ServerProcess.start(dbFile);
      const { committedUnacked, rows } = checkFile(dbFile, ledger, world.gids);
      checkAccounts(dbFile, rest.created);
      accounts += rest.created.length;
      const { resent, hadCommitted } = await resendUnacked(server, world, ledger, committedUnacked, dbFile);
      checkFile(dbFile, ledger, world.gids);
      if (ledger.unacked().length) fail("messages still unacked after the resend");
      report.kills++;
      report.resent += resent;
      report.committedButUnacked += hadCommitted;
      log(`crash: kill ${cycle}/${opts.kills} (exit ${code}): ${ledger.acked.size - ackedBefore - resent} acked in this cycle, ${resent} unacked resent of which ${hadCommitted} had committed; ${rows} stored before the resend`);
    }
    server.signal("SIGTERM");
    const code = await withTimeout(server.exited, 10_000, "exit after SIGTERM");
    if (code !== 0) fail(`exit code ${code} after SIGTERM:\n${server.tail.join("\n")}`);
    const { rows } = checkFile(dbFile, ledger, world.gids);
    report.acked = ledger.acked.size;
    report.stored = rows;
    report.accounts = accounts;
    if (rows !== ledger.acked.size) fail(`${rows} stored but ${ledger.acked.size} acked after resending everything`);
    passed = true;
    return report;
  } finally {
    server.signal("SIGKILL");
    await server.exited.catch(() => {});
    if (passed) tmp.cleanup();
    else console.error(`crash: seed ${seed}; database kept at ${dbFile}`);
  }
}

export type GracefulReport = { signal: string; acked: number; stored: number; closeCodes: Record<number, number>; walLeft: number; storedUnacked: number; accountsCreated: number };

/** SIGTERM (or SIGINT) under load: exit 0, every socket closed with 1001, every acked message stored, integrity ok. */
export async function runGraceful(opts: { signal?: "SIGTERM" | "SIGINT"; seed?: number; log?: Log } = {}): Promise<GracefulReport> {
  const signal = opts.signal ?? "SIGTERM";
  const log = opts.log ?? (() => {});
  const seed = opts.seed ?? (Date.now() ^ (Math.random() * 2 ** 31)) >>> 0;
  const rand = rng(seed);
  const tmp = tempDir("rim-graceful-");
  const dbFile = join(tmp.dir, "rim.db");
  const ledger = new Ledger();
  const server = await ServerProcess.start(dbFile);
  let passed = false;
  try {
    const world = await makeWorld(server.url, seed.toString(36));
    const senders = await startLoad(server, world, ledger, "g", rand);
    const rest = restLoad(server, "g");
    // A socket that never logged in is told goodbye the same way.
    const idle = new WebSocket(server.wsUrl);
    await new Promise<void>((res, rej) => ((idle.onopen = () => res()), (idle.onerror = () => rej(new Error("socket error")))));
    const idleClosed = new Promise<number>((res) => (idle.onclose = (ev) => res(ev.code)));
    await untilAcks(senders, 20 + Math.floor(rand() * 200), server);
    // Not a wait for anything: a random moment for the signal, as an operator picks their own (the load goes on meanwhile).
    await Bun.sleep(Math.floor(rand() * 40));
    server.signal(signal);
    const code = await withTimeout(server.exited, 15_000, `exit after ${signal}`);
    await withTimeout(Promise.all(senders.map((s) => s.closed)), 10_000, `sockets closing after ${signal}`);
    for (const s of senders) s.stop();
    await withTimeout(rest.stop(), 10_000, "REST requests ending");
    if (rest.errors.length) fail(`REST errors during ${signal}:\n` + rest.errors.slice(0, 5).join("\n"));
    if (code !== 0) fail(`exit code ${code} after ${signal}:\n${server.tail.join("\n")}`);
    const closeCodes: Record<number, number> = {};
    for (const s of senders) closeCodes[s.closeCode!] = (closeCodes[s.closeCode!] ?? 0) + 1;
    const idleCode = await withTimeout(idleClosed, 10_000, "the idle socket closing");
    closeCodes[idleCode] = (closeCodes[idleCode] ?? 0) + 1;
    if (Object.keys(closeCodes).join() !== "1001") fail(`close codes after ${signal}: ${JSON.stringify(closeCodes)}`);
    if (ledger.errors.length) fail("unexpected replies:\n" + ledger.errors.slice(0, 10).join("\n"));
    if (server.errors().length) fail("the server logged errors:\n" + server.errors().join("\n"));
    const wal = dbFile + "-wal";
    const walLeft = existsSync(wal) ? statSync(wal).size : 0;
    const { rows, committedUnacked } = checkFile(dbFile, ledger, world.gids);
    checkAccounts(dbFile, rest.created);
    const report = { signal, acked: ledger.acked.size, stored: rows, closeCodes, walLeft, storedUnacked: committedUnacked.size, accountsCreated: rest.created.length };
    log(`graceful: ${JSON.stringify(report)}`);
    passed = true;
    return report;
  } finally {
    server.signal("SIGKILL");
    await server.exited.catch(() => {});
    if (passed) tmp.cleanup();
    else console.error(`graceful: seed ${seed}; database kept at ${dbFile}`);
  }
}

if (import.meta.main) {
  const argv = process.argv.slice(2);
  const long = argv.includes("--long");
  const k = argv.indexOf("--kills");
  const kills = k >= 0 ? Number(argv[k + 1]) : long ? 50 : 3;
  const sd = argv.indexOf("--seed");
  const seed = sd >= 0 ? Number(argv[sd + 1]) : undefined;
  const log: Log = (l) => console.log(l);
  const started = performance.now();
  const crash = await runKills({ kills, seed, log });
  log(`crash: ${crash.kills} kills survived, seed ${crash.seed}: ${crash.acked} messages acked and stored, ${crash.resent} unacked resent (${crash.committedButUnacked} had committed before the kill), ${crash.accounts} accounts created over REST under load and kept`);
  const runs = long ? 10 : 1;
  for (let i = 0; i < runs; i++) await runGraceful({ signal: i % 2 ? "SIGINT" : "SIGTERM", log });
  log(`graceful: ${runs} shutdown(s) under load clean`);
  log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
