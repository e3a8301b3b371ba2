// Shared fixtures of the tests/ws.*.test.ts suite: servers and sockets that
// are cleaned up after each test, REST calls over real HTTP, and direct
// looks into the database to check what was (not) stored.
import { expect } from "bun:test";
import { Client, group, isPresence, serve, sqlAll, sqlGet, then, user, type Frame, type Maybe, type Served, type TestUser } from "./helpers";
import type { Config } from "../src/config";

export type { Served };

const servers: Served[] = [];
const clients: Client[] = [];

/** A real server on a free port, stopped by `cleanup`. */
export function start(overrides: Partial<Config> = {}, opts: Parameters<typeof serve>[1] = {}): Maybe<Served> {
  return then(serve(overrides, opts), (s) => (servers.push(s), s));
}

/** Closes every socket and server this test opened. */
export async function cleanup() {
  for (const c of clients.splice(0)) if (!c.closed) c.close();
  for (const s of servers.splice(0)) await s.stop();
}

/** Opens a socket (to a server's /ws or a url) and, given a user, logs it in. */
export async function connect(target: Served | string, u?: TestUser, headers?: Record<string, string>): Promise<Client> {
  const c = await Client.open(typeof target === "string" ? target : target.wsUrl, headers);
  clients.push(c);
  if (u) {
    const r = await c.login(u);
    if (r.content !== "Ok") throw new Error("login failed: " + JSON.stringify(r));
  }
  return c;
}

/** Every frame a socket receives but Presence, in arrival order (independent of what `next` consumes). */
export function record(c: Client): Frame[] {
  const log: Frame[] = [];
  c.ws.addEventListener("message", (ev) => {
    const f = JSON.parse(String((ev as MessageEvent).data));
    if (!isPresence(f)) log.push(f);
  });
  return log;
}

/** One REST call over real HTTP with a Bearer token; GET when there is no body. */
export async function api(s: Served, path: string, token: string | null, body?: unknown): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(s.url + path, { method: body === undefined ? "GET" : "POST", headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let parsed: any = text;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: res.status, body: parsed };
}

/** The error Ack of the protocol, exactly: no other keys. */
export const errorAck = (code: number, clientMsgId: string | null) => ({
  clientMsgId,
  serverMsgId: null,
  kind: "Ack",
  content: "Error",
  code,
  msg: expect.any(String),
});

/** Asserts an error ack exactly (its keys too) with a non-empty reason. */
export function expectError(f: Frame, code: number, clientMsgId: string | null) {
  expect(f).toEqual(errorAck(code, clientMsgId));
  expect(f.msg.length).toBeGreaterThan(0);
}

export type Row = { id: number; group_id: number; seq: number; sender_uid: number; kind: string; content: string; client_msg_id: string };

const MESSAGE_COLUMNS = "id, group_id, seq, sender_uid, kind, content, client_msg_id";

/** The messages stored (in one group, or all), from the database under test (helpers' sqlAll: SQLite, or the cluster's PostgreSQL). */
export function storedMessages(s: Served, gid?: number): Maybe<Row[]> {
  return gid === undefined
    ? sqlAll<Row>(s.app, `SELECT ${MESSAGE_COLUMNS} FROM messages ORDER BY id`)
    : sqlAll<Row>(s.app, `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE group_id = ? ORDER BY id`, gid);
}

export function cursors(s: Served, gid: number, uid: number): Maybe<{ read: number; delivered: number }> {
  const row = sqlGet<{ read: number; delivered: number }>(s.app, "SELECT read_msg_id AS read, delivered_msg_id AS delivered FROM group_members WHERE group_id = ? AND user_id = ?", gid, uid);
  return then(row, (r) => {
    if (!r) throw new Error(`user ${uid} is not in group ${gid}`);
    return r;
  });
}

/** Waits for n frames matching pred, in order. */
export async function collect(c: Client, pred: (f: Frame) => boolean, n: number, timeoutMs = 5000): Promise<Frame[]> {
  const out: Frame[] = [];
  for (let i = 0; i < n; i++) out.push(await c.next(pred, timeoutMs));
  return out;
}

export const isMsg = (f: Frame) => f.event === "Msg";
export const isNotify = (content?: string) => (f: Frame) => f.event === "Notify" && (content === undefined || f.body?.content === content);
export const isAck = (f: Frame) => f.kind === "Ack" && f.event === undefined;

/** Sends a Msg and returns its Ack (whatever it says). */
export function say(c: Client, gid: number, content: string, extra: Record<string, unknown> = {}) {
  return c.request("Msg", { gid, content, ...extra });
}

/** A port that was free a moment ago. */
export function freePort(): number {
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  return port;
}

export const TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;

/** Two users, a and b, in a group of their own (a owns it). */
export async function twoInGroup(s: Served): Promise<{ a: TestUser; b: TestUser; gid: number }> {
  const a = await user(s.app);
  const b = await user(s.app);
  return { a, b, gid: await group(s.app, a, [b]) };
}
