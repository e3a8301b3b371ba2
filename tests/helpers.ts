// A fresh App on a real, migrated database; users, groups and sockets in one line.
import { closeApp, createApp, type App } from "../src/app";
import { defaultConfig, type Config } from "../src/config";
import * as groups from "../src/domain/groups";
import { sendMessage as sendMessageFlow, type OutgoingMessage, type Sent } from "../src/domain/messages";
import { runSync, type Flow } from "../src/domain/store";
import { resolveToken as resolveTokenFlow, revokeSession as revokeSessionFlow, type Session } from "../src/domain/sessions";
import * as users from "../src/domain/users";
import * as invites from "../src/domain/invites";
import * as friends from "../src/domain/friends";
import * as settings from "../src/domain/settings";
import * as admin from "../src/domain/admin";
import * as people from "../src/domain/people";
import type { Ctx } from "../src/domain/context";
import { login, registerUser } from "../src/domain/users";
import { createHttpApp } from "../src/http/app";
import { startServer, type Running } from "../src/server";
import { manualClock } from "../src/time";
import { applyEffect } from "../src/write/apply";
import type { Effect } from "../src/write/effects";
import type { WriteCtx } from "../src/write/writer";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cluster, clusterApp, clusterServe, databaseClient } from "./cluster";

export { cluster };

/**
 * A fixture's answer: the value itself on SQLite (one synchronous line, as fast as ever),
 * its promise on the cluster (RIM_TEST_BACKEND=cluster: the PostgreSQL store is asynchronous).
 * Call sites `await` it either way: awaiting a plain value costs a microtask, nothing more.
 */
export type Maybe<T> = T | Promise<T>;

/** f applied to a Maybe, keeping it synchronous when it was. */
export const then = <T, U>(v: Maybe<T>, f: (t: T) => U): Maybe<U> => (v instanceof Promise ? v.then(f) : f(v));

/** A fixture's write: run at once on SQLite; on the cluster, a job of the node's write path (the effects reach the bus after commit). */
function fixtureWrite<T>(w: WriteCtx, flow: (w: WriteCtx) => Flow<T>): Maybe<T> {
  return cluster ? w.write(flow) : runSync(flow(w));
}

/** A fixture's read: at once on SQLite, awaited query by query on the cluster. */
function fixtureRead<T>(ctx: Ctx, flow: Flow<T>): Maybe<T> {
  return cluster ? ctx.read(flow) : runSync(flow);
}

/** Cheap argon2 and silent logs; everything else as in production. */
export function testConfig(overrides: Partial<Config> = {}): Config {
  return defaultConfig({ db: ":memory:", argon2Memory: 256, argon2Time: 1, logLevel: "silent", host: "127.0.0.1", port: 0, ...overrides });
}

export function tempDir(prefix = "rim-test-"): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export type TestApp = App & { http: ReturnType<typeof createHttpApp>; close(): void };

/** A fresh App (SQLite in memory); on the cluster, the REST node of a fresh 3-node cluster (tests/cluster.ts). */
export function makeApp(overrides: Partial<Config> = {}, opts: { clock?: ReturnType<typeof manualClock> } = {}): Maybe<TestApp> {
  if (cluster) return clusterApp(testConfig(overrides), opts);
  const app = createApp(testConfig(overrides), { clock: opts.clock });
  return Object.assign(app, { http: createHttpApp(app), close: () => closeApp(app) });
}

export type Reply = { status: number; body: any; headers: Headers };

/** One REST call through Hono's app.request. */
export async function call(
  app: TestApp,
  method: "GET" | "POST",
  path: string,
  opts: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string>; ip?: string } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.raw !== undefined) body = opts.raw;
  else if (opts.body !== undefined) body = JSON.stringify(opts.body);
  if (body !== undefined) headers["Content-Type"] ??= "application/json";
  const res = await app.http.request(path, { method, headers, body }, { ip: opts.ip ?? "127.0.0.1" });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: res.status, body: parsed, headers: res.headers };
}

export type TestUser = { uid: number; token: string; account: string };

let seq = 0;
/** Registers a user and logs in, through the domain (fast, no HTTP). */
export async function user(app: App, account = `user${++seq}`, password = "password1"): Promise<TestUser> {
  const uid = await registerUser(app, { account, password, name: account.toUpperCase(), avatar: "", email: "" });
  const { token } = await login(app, account, password, "127.0.0.1");
  return { uid, token, account };
}

/**
 * Test fixtures write directly, outside the write path's queue, so that
 * setting up a case stays one synchronous line; their effects are carried
 * out at once. Behaviour under test always goes through REST or a socket.
 */
export function fixture(app: App): WriteCtx {
  const effects = { push: (...es: Effect[]) => (es.forEach((e) => applyEffect(app.hub, e)), es.length) } as unknown as Effect[];
  return Object.assign(Object.create(app) as App, { effects, onRollback() {} });
}

/** The domain's sendMessage as a fixture (see fixtureWrite). */
export function sendMessage(ctx: Ctx | WriteCtx, senderId: number, input: OutgoingMessage): Maybe<Sent> {
  return cluster ? ctx.write((w) => sendMessageFlow(w, senderId, input)) : runSync(sendMessageFlow(ctx, senderId, input));
}

/** The domain's resolveToken as a fixture's read. */
export function resolveToken(ctx: Ctx, token: string): Maybe<Session> {
  return fixtureRead(ctx, resolveTokenFlow(ctx, token));
}

/** The domain's createGroup and removeMembers as fixtures. */
export const createGroup = (w: WriteCtx, callerId: number, input: groups.NewGroup) => fixtureWrite(w, (w) => groups.createGroup(w, callerId, input));
export const removeMembers = (w: WriteCtx, callerId: number, gid: number, uids: number[]) => fixtureWrite(w, (w) => groups.removeMembers(w, callerId, gid, uids));

/** The same for the users, sessions and invites the fixtures touch. */
export const searchUser = (ctx: Ctx, account: string) => fixtureRead(ctx, users.searchUser(ctx, account));
export const setDisabled = (w: WriteCtx, account: string, disabled: boolean) => fixtureWrite(w, (w) => users.setDisabled(w, account, disabled));
export const createInvite = (w: WriteCtx, createdBy: number | null, ttlDays: number) => fixtureWrite(w, (w) => invites.createInvite(w, createdBy, ttlDays));
export const revokeSession = (w: WriteCtx, session: Session, reason?: string) => fixtureWrite(w, (w) => revokeSessionFlow(w, session, reason));

export const requestFriend = (w: WriteCtx, callerId: number, fid: number) => fixtureWrite(w, (w) => friends.requestFriend(w, callerId, fid));
export const respondToFriend = (w: WriteCtx, callerId: number, fid: number, status: 1 | 2) => fixtureWrite(w, (w) => friends.respondToFriend(w, callerId, fid, status));
export const saveSettings = (w: WriteCtx, change: Partial<settings.Settings>) => fixtureWrite(w, (w) => settings.saveSettings(w, change));

export const setUserAdmin = (w: WriteCtx, uid: number, isAdmin: boolean) => fixtureWrite(w, (w) => admin.setUserAdmin(w, uid, isAdmin));
/** A new display name, written with its fold as the profile writes it (a name set in SQL is not found by the directory). */
export const setName = (w: WriteCtx, uid: number, name: string) => fixtureWrite(w, (w) => people.updateProfile(w, uid, { name }));

export function group(app: App, owner: TestUser, members: TestUser[], opts: { mode?: 1 | 2; admins?: TestUser[]; name?: string } = {}): Maybe<number> {
  const admins = new Set((opts.admins ?? []).map((a) => a.uid));
  const created = createGroup(fixture(app), owner.uid, {
    name: opts.name ?? "team",
    avatar: "",
    mode: opts.mode ?? 2,
    members: members.map((m) => ({ uid: m.uid, role: admins.has(m.uid) ? 2 : 1 })),
  });
  return then(created, (g) => g.gid);
}

export type Served = {
  app: App;
  running: Running;
  /** The REST node's URL (on the cluster, node 1). */
  url: string;
  /** A socket URL: on SQLite always the one server; on the cluster, the next node's at each read (round-robin over the others). */
  readonly wsUrl: string;
  stop(): Promise<void>;
};

/** A real server on a free port; on the cluster, three (tests/cluster.ts). */
export function serve(overrides: Partial<Config> = {}, opts: { clock?: ReturnType<typeof manualClock> } = {}): Maybe<Served> {
  if (cluster) return clusterServe(testConfig(overrides), opts);
  const app = createApp(testConfig(overrides), { clock: opts.clock });
  const running = startServer(app);
  const url = `http://127.0.0.1:${running.server.port}`;
  return {
    app,
    running,
    url,
    wsUrl: `ws://127.0.0.1:${running.server.port}/ws`,
    async stop() {
      await running.stop();
      closeApp(app);
    },
  };
}

/**
 * The Apps a Served runs: the one server on SQLite; on the cluster every node, since a
 * socket lives on whichever node it was opened to (node 1 only takes REST).
 */
const appsOf = (s: Served): App[] => ("nodes" in s ? (s as Served & { nodes: { app: App }[] }).nodes.map((n) => n.app) : [s.app]);

/** A user's logged-in sockets, on every node of s. */
export const socketsOfUser = (s: Served, uid: number): number => appsOf(s).reduce((n, app) => n + app.hub.socketsOf(uid).size, 0);

/** Every open socket, logged in or not, on every node of s. */
export const openSockets = (s: Served): number => appsOf(s).reduce((n, app) => n + app.hub.socketCount(), 0);

/** The Origin a browser would send from the server a socket URL (e.g. a read of `wsUrl`) names: on the cluster, that node's own. */
export const originOf = (wsUrl: string): string => new URL(wsUrl.replace(/^ws/, "http")).origin;

export type Frame = Record<string, any>;

/**
 * What a message (MessageInfo, a Msg push body) gained after rim, at their values for a
 * plain new message: rim's own fields keep their shape, these come as additions.
 */
export const MSG_ADDITIONS = { replyTo: null, mentions: [], editedAt: null, deleted: false, reactions: [] } as const;

/** A WebSocket client that queues every frame it receives, for `next` to take in order. */
/** A Presence Notify: sent to co-members whenever someone's first socket logs in or last one goes. */
export const isPresence = (f: Frame) => f.event === "Notify" && f.body?.content === "Presence";

/**
 * A WebSocket client that queues every frame it receives, for `next` to take in order.
 * Presence Notifies (which any other member's login causes) are queued apart, in
 * `presence`, so that tests about other frames see only those; `next` finds them too.
 */
export class Client {
  readonly frames: Frame[] = [];
  readonly presence: Frame[] = [];
  private waiters: { pred: (f: Frame) => boolean; resolve: (f: Frame) => void; presence: boolean }[] = [];
  closed: { code: number; reason: string } | null = null;
  private closeWaiters: ((c: { code: number; reason: string }) => void)[] = [];
  private n = 0;

  private constructor(readonly ws: WebSocket) {
    ws.onmessage = (ev) => {
      const f = JSON.parse(String(ev.data)) as Frame;
      const presence = isPresence(f);
      const i = this.waiters.findIndex((w) => w.presence === presence && w.pred(f));
      if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(f);
      else if (presence) this.presence.push(f);
      else this.frames.push(f);
    };
    ws.onclose = (ev) => {
      this.closed = { code: ev.code, reason: ev.reason };
      for (const w of this.closeWaiters) w(this.closed);
    };
  }

  static open(url: string, headers?: Record<string, string>): Promise<Client> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, headers ? ({ headers } as any) : undefined);
      const c = new Client(ws);
      ws.onopen = () => resolve(c);
      ws.onerror = () => reject(new Error("socket error"));
    });
  }

  send(frame: unknown) {
    this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /** Sends a frame with a fresh clientMsgId and waits for its reply. */
  async request(event: string, body: Record<string, unknown> = {}): Promise<Frame> {
    const clientMsgId = (body.clientMsgId as string) ?? `c${++this.n}-${Math.random().toString(36).slice(2)}`;
    this.send({ event, body: { kind: "Text", content: "", ...body, clientMsgId } });
    return this.next((f) => f.kind === "Ack" && f.clientMsgId === clientMsgId);
  }

  login(u: TestUser) {
    return this.request("Login", { content: u.token, uid: u.uid });
  }

  /** The first queued or future frame matching pred (Presence Notifies aside: see nextPresence). */
  next(pred: (f: Frame) => boolean = () => true, timeoutMs = 3000, presence = false): Promise<Frame> {
    const queue = presence ? this.presence : this.frames;
    const i = queue.findIndex(pred);
    if (i >= 0) return Promise.resolve(queue.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const w = { pred, presence, resolve: (f: Frame) => (clearTimeout(t), resolve(f)) };
      const t = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error("no matching frame within " + timeoutMs + " ms"));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  /** The first queued or future Presence Notify matching pred. */
  nextPresence(pred: (f: Frame) => boolean = () => true, timeoutMs = 3000): Promise<Frame> {
    return this.next(pred, timeoutMs, true);
  }

  /**
   * Whether no matching frame is queued once everything already owed to this
   * socket has arrived: a round trip (a Heart and its Ack) is the barrier.
   * The server answers every frame exactly once, in order, and writes the
   * pushes of whatever it has already answered (on any socket, or over REST)
   * before it reads this Heart; so by its Ack, anything that was going to
   * arrive is here. A closed socket gets nothing more: no round trip needed.
   */
  async expectNone(pred: (f: Frame) => boolean = () => true): Promise<boolean> {
    if (!this.closed) {
      const ack = await this.request("Heart");
      if (ack.content !== "Ok") throw new Error("barrier Heart refused: " + JSON.stringify(ack));
    }
    return !this.frames.some(pred);
  }

  waitClose(timeoutMs = 3000): Promise<{ code: number; reason: string }> {
    if (this.closed) return Promise.resolve(this.closed);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error("socket did not close")), timeoutMs);
      this.closeWaiters.push((c) => (clearTimeout(t), resolve(c)));
    });
  }

  close() {
    this.ws.close();
  }
}

export const isPush = (event: string) => (f: Frame) => f.event === event;

/**
 * Resolves when `wake` is called (the event a test waits for) or, at the
 * latest, after `ms` (the deadline that turns a missing event into a failure
 * instead of a hang). Never a way to let time pass: callers re-check their
 * condition on each wake and fail on the deadline.
 */
export function wakeOrDeadline(ms: number): { woken: Promise<void>; wake: () => void } {
  let wake!: () => void;
  const woken = new Promise<void>((res) => {
    wake = res;
    AbortSignal.timeout(Math.max(0, ms)).addEventListener("abort", () => res(), { once: true });
  });
  return { woken, wake };
}

// ------------------------------------------------------------ the database under test

// PostgreSQL's int8 (ids, times, count(*)) comes as BigInt (databaseClient): a number again, as SQLite gives it.
const asSqlite = (v: unknown) => (typeof v === "bigint" ? Number(v) : v);

/** `?` placeholders as PostgreSQL's $1, $2, … (the tests' SQL has no `?` in its literals). */
const numbered = (query: string) => {
  let i = 0;
  return query.replace(/\?/g, () => `$${++i}`);
};

async function onPostgres<T>(app: App, query: string, params: unknown[]): Promise<T[]> {
  const rows = (await databaseClient(app.config.db).unsafe(numbered(query), params as any[])) as Record<string, unknown>[];
  return rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, asSqlite(v)])) as T);
}

/**
 * A look into the database under test, for assertions and for setting up what no route
 * does: SQLite's own connection at once; on the cluster, the nodes' shared PostgreSQL
 * database. `?` placeholders. SQL that only SQLite speaks (pragma_table_info, rowid)
 * stays in tests that are skipped on the cluster.
 */
export function sqlAll<T = any>(app: App, query: string, ...params: unknown[]): Maybe<T[]> {
  return cluster ? onPostgres<T>(app, query, params) : (app.db.$client.query(query).all(...(params as any[])) as T[]);
}

export function sqlGet<T = any>(app: App, query: string, ...params: unknown[]): Maybe<T | null> {
  return cluster ? onPostgres<T>(app, query, params).then((rows) => rows[0] ?? null) : ((app.db.$client.query(query).get(...(params as any[])) as T | null) ?? null);
}

export function sqlRun(app: App, query: string, ...params: unknown[]): Maybe<void> {
  if (cluster) return onPostgres(app, query, params).then(() => {});
  app.db.$client.query(query).run(...(params as any[]));
}
