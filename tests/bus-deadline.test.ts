// A silent Redis (frozen with SIGSTOP: connections open, nothing answered)
// under a cluster of PostgreSQL nodes (in-process, one fresh database, a
// Redis of the test's own, a short bus deadline): the writer awaits its
// publish holding the cluster-wide ids lock, so without the deadline
// (src/bus/redis.ts) the first write hangs every node's writes and this test
// waits forever. With it: writes on both nodes are acked while Redis is still
// frozen (each node's health check may call its subscription lost meanwhile,
// and Resync); once it wakes, every socket gets Resync and its client, Syncing from
// its cursor at the previous Resync, ends with every acked message once, in
// id order. Every wait is for an ack, a frame or a log line.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { closePostgresApp, createPostgresApp, type PgApp } from "../src/app";
import { migratePostgres } from "../src/db/pg/migrate";
import { openPostgres, closePostgres } from "../src/db/pg/open";
import { createLogger } from "../src/log";
import { startServer, type Running } from "../src/server";
import { ChatClient, storedMessages, until, changed, type Cluster } from "./cluster.kit";
import { testConfig, type TestUser } from "./helpers";
import { SHARED_TIMING } from "./nodes.kit";
import { freshDatabase, startRedis, type RedisServer } from "./services";
import { SQL } from "bun";

const DEADLINE_MS = 1000;

type Node = { app: PgApp; running: Running; url: string; wsUrl: string; logs: string[] };

let redis: RedisServer;
let fresh: Awaited<ReturnType<typeof freshDatabase>>;
let sql: SQL;
const nodes: Node[] = [];
const clients: ChatClient[] = [];

beforeAll(async () => {
  redis = await startRedis();
  fresh = await freshDatabase();
  const db = openPostgres(fresh.url, { max: 1 });
  try {
    await migratePostgres(db.$client);
  } finally {
    await closePostgres(db);
  }
  sql = new SQL(fresh.url, { max: 1 });
  for (let i = 0; i < 2; i++) {
    const logs: string[] = [];
    const log = createLogger({ level: "warn", format: "json", write: (l) => (logs.push(l), changed()) });
    const app = await createPostgresApp(testConfig({ db: fresh.url, bus: redis.url, busPrefix: `rim-deadline-${process.pid}:`, busDeadlineMs: DEADLINE_MS, registerMaxPerIp: 0 }), {
      log,
      shared: SHARED_TIMING,
      poolSize: 3,
    });
    await Promise.all([app.shared.ready(), app.effects!.ready()]);
    const running = startServer(app);
    const url = `http://127.0.0.1:${running.server.port}`;
    nodes.push({ app, running, url, wsUrl: url.replace("http", "ws") + "/ws", logs });
  }
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.close();
  redis?.resume();
  for (const n of nodes) {
    await n.running.stop();
    await closePostgresApp(n.app);
  }
  await sql?.close();
  await fresh?.drop();
  await redis?.stop();
});

async function api(node: number, path: string, token: string | null, body: unknown) {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(nodes[node]!.url + path, { method: "POST", headers, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as any };
}

async function register(account: string): Promise<TestUser> {
  const created = await api(0, "/api/user/create", null, { account, password: "password1" });
  if (created.status !== 200) throw new Error("register: " + JSON.stringify(created));
  const login = await api(0, "/api/user/login", null, { account, password: "password1" });
  return { uid: created.body.data, token: login.body.data, account };
}

async function sendAcked(c: ChatClient, gid: number, content: string) {
  const out = await c.send(gid, content);
  if (!out.ok) throw new Error(`${content} not acked: ${JSON.stringify(out)}`);
}

test("Redis frozen: writes on every node are acked meanwhile; once it wakes every client gets Resync and, by Sync, every acked message once, in order", async () => {
  const [ann, bob, cat, dan] = await Promise.all(["ann", "bob", "cat", "dan"].map(register)) as [TestUser, TestUser, TestUser, TestUser];
  const made = await api(0, "/api/group/create", ann.token, { group: { name: "g", mode: 2 }, users: [bob, cat, dan].map((u) => ({ uid: u.uid })) });
  expect(made.status).toBe(200);
  const gid = made.body.data as number;
  // The ChatClient needs only the nodes' socket URLs.
  const cluster = { nodes } as unknown as Cluster;
  // ann and cat on node A (0), bob and dan on node B (1).
  const [annA, catA, bobB, danB] = [ann, cat, bob, dan].map((u) => {
    const c = new ChatClient(u, cluster);
    clients.push(c);
    return c;
  }) as [ChatClient, ChatClient, ChatClient, ChatClient];
  await Promise.all([annA.connect(0), catA.connect(0), bobB.connect(1), danB.connect(1)]);

  // The bus works: A's message reaches B's sockets live.
  await sendAcked(annA, gid, "before");
  await until(() => danB.messages.size === 1 && bobB.messages.size === 1, () => "'before' never reached node B");

  await redis.pause();
  try {
    // Each node's first publish waits out the deadline, the next ones fail at once: all acked while Redis is frozen.
    for (let i = 0; i < 3; i++) await sendAcked(annA, gid, `A${i}`);
    for (let i = 0; i < 3; i++) await sendAcked(bobB, gid, `B${i}`);
    await sendAcked(annA, gid, "A3");
    // (A node's health check may already call its subscription lost meanwhile and Resync its sockets: their Sync reads
    // PostgreSQL, which is up. Once Redis wakes, every node Resyncs again, below.)
  } finally {
    redis.resume();
  }

  const stored = await storedMessages(sql);
  expect(stored.map((m) => m.content)).toEqual(["before", "A0", "A1", "A2", "B0", "B1", "B2", "A3"]);
  const ids = stored.map((m) => m.id);
  const everyClient = [annA, catA, bobB, danB];
  await until(
    () => everyClient.every((c) => c.resyncs > 0 && ids.every((id) => c.messages.has(id))),
    () => everyClient.map((c) => `${c.user.account}: resyncs ${c.resyncs}, has ${[...c.messages.keys()].join(",")}`).join("; "),
  );
  for (const c of everyClient) {
    // Exactly the stored messages, each once (by id), in the order they were stored.
    expect([...c.messages.values()].sort((x, y) => x.id - y.id).map((m) => m.content)).toEqual(stored.map((m) => m.content));
    expect([...c.messages.keys()].sort((x, y) => x - y)).toEqual(ids);
  }
  // Seqs dense: nothing stored twice or skipped.
  expect(stored.map((m) => m.seq)).toEqual(stored.map((_, i) => i + 1));
  // Logged once per node for the outage, not once per batch.
  for (const n of nodes) expect(n.logs.filter((l) => l.includes("bus.publish_failed")).length).toBe(1);
}, 60_000);
