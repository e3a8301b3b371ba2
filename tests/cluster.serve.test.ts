// `rim serve` on PostgreSQL and Redis as real processes: two nodes on one database (reached through a
// TCP proxy the test can cut, standing for PostgreSQL going away) and one Redis. REST and sockets of
// one node end to end; an idempotent resend on the other node; PostgreSQL gone: writes answered with
// errors; back: the same nodes work again, not restarted. Every wait is on a reply, a frame or a log line.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { CHEAP, spawnRim, type RimProcess } from "./cli.kit";
import { Client, type TestUser } from "./helpers";
import { freshDatabase, redisUrl, tcpProxy, type TcpProxy } from "./services";

let fresh: Awaited<ReturnType<typeof freshDatabase>>;
let proxy: TcpProxy;
let nodes: { rim: RimProcess; url: string; wsUrl: string }[] = [];
const clients: Client[] = [];

beforeAll(async () => {
  fresh = await freshDatabase();
  const pg = new URL(fresh.url);
  proxy = await tcpProxy(Number(pg.port));
  pg.port = String(proxy.port);
  const bus = await redisUrl();
  for (let i = 0; i < 2; i++) {
    const rim = spawnRim(["serve", "--db", pg.toString(), "--bus", bus, "--host", "127.0.0.1", "--port", "0", ...CHEAP]);
    const url = await rim.listening;
    if (!url) throw new Error("node did not start:\n" + rim.lines.join("\n"));
    nodes.push({ rim, url, wsUrl: url.replace("http", "ws") + "/ws" });
  }
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.close();
  proxy?.restore();
  await Promise.all(nodes.map((n) => n.rim.stop()));
  await fresh?.drop();
});

async function api(node: number, path: string, token: string | null, body?: unknown): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(nodes[node]!.url + path, { method: body === undefined ? "GET" : "POST", headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

async function register(node: number, account: string): Promise<TestUser> {
  const created = await api(node, "/api/user/create", null, { account, password: "password1" });
  expect(created.status).toBe(200);
  const login = await api(node, "/api/user/login", null, { account, password: "password1" });
  expect(login.status).toBe(200);
  return { uid: created.body.data, token: login.body.data, account };
}

async function socket(node: number, u: TestUser): Promise<Client> {
  const c = await Client.open(nodes[node]!.wsUrl);
  clients.push(c);
  expect(await c.login(u)).toMatchObject({ kind: "Ack", content: "Ok" });
  return c;
}

describe("rim serve on PostgreSQL + Redis, real processes", () => {
  let ann: TestUser;
  let bob: TestUser;
  let gid: number;
  let annOn0: Client;
  let bobOn0: Client;

  test("REST and sockets on one node: register, login, group, Msg acked and pushed, history, Sync", async () => {
    ann = await register(0, "ann");
    bob = await register(0, "bob");
    const group = await api(0, "/api/group/create", ann.token, { group: { name: "team", mode: 2 }, users: [{ uid: bob.uid }] });
    expect(group.status).toBe(200);
    gid = group.body.data;
    annOn0 = await socket(0, ann);
    bobOn0 = await socket(0, bob);
    const ack = await annOn0.request("Msg", { gid, uid: ann.uid, content: "hello", clientMsgId: "m1" });
    expect(ack).toMatchObject({ kind: "Ack", content: "Ok", clientMsgId: "m1", seq: 1 });
    const push = await bobOn0.next((f) => f.event === "Msg");
    expect(push.body).toMatchObject({ gid, uid: ann.uid, content: "hello", msgId: ack.serverMsgId, seq: 1 });
    const history = await api(0, "/api/message/history", bob.token, { gid, page: 1, size: 20 });
    expect(history.status).toBe(200);
    expect(history.body.data.map((m: { msg: { content: string; id: number } }) => [m.msg.id, m.msg.content])).toEqual([[ack.serverMsgId, "hello"]]);
    // Sync from 0: the group's creation events and the message, then the Ack at the last id.
    const sync = await bobOn0.request("Sync", { uid: bob.uid, msgId: 0 });
    expect(sync).toMatchObject({ content: "Ok", serverMsgId: ack.serverMsgId });
    expect(bobOn0.frames.filter((f) => f.event === "Msg").map((f) => f.body.msgId)).toEqual([ack.serverMsgId]);
  });

  test("a resend on the other node is answered with the original, stored once", async () => {
    const annOn1 = await socket(1, ann);
    const first = await api(0, "/api/message/history", ann.token, { gid, page: 1, size: 20 });
    const again = await annOn1.request("Msg", { gid, uid: ann.uid, content: "hello", clientMsgId: "m1" });
    const original = first.body.data[0].msg;
    expect(again).toMatchObject({ kind: "Ack", content: "Ok", serverMsgId: original.id, seq: 1 });
    const after = await api(1, "/api/message/history", ann.token, { gid, page: 1, size: 20 });
    expect(after.body.data).toHaveLength(1);
  });

  test("PostgreSQL gone: writes fail with 500 and error acks; back: the same nodes work again", async () => {
    proxy.cut();
    const failedAck = await annOn0.request("Msg", { gid, uid: ann.uid, content: "lost?", clientMsgId: "m2" });
    expect(failedAck).toMatchObject({ kind: "Ack", code: 500 });
    const failedRest = await api(0, "/api/group/create", ann.token, { group: { name: "later", mode: 2 }, users: [] });
    expect(failedRest.status).toBe(500);
    expect(failedRest.body).toMatchObject({ ok: false, code: 500 });
    proxy.restore();
    // The same clientMsgId again: it was never stored, so this is its first storing.
    const ack = await annOn0.request("Msg", { gid, uid: ann.uid, content: "lost?", clientMsgId: "m2" });
    expect(ack).toMatchObject({ kind: "Ack", content: "Ok", seq: 2 });
    const push = await bobOn0.next((f) => f.event === "Msg" && f.body.msgId === ack.serverMsgId);
    expect(push.body).toMatchObject({ content: "lost?", seq: 2 });
    const rest = await api(1, "/api/group/create", ann.token, { group: { name: "later", mode: 2 }, users: [] });
    expect(rest.status).toBe(200);
  });
});
