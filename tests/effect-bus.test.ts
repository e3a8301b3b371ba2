// Effects crossing nodes on the bus (src/bus/effects.ts), end to end on a
// real Redis (tests/services.ts): App instances each on its own in-memory
// SQLite (the same users and groups created in the same order, so the same
// ids), sharing one Redis under a prefix of their own, as
// tests/shared-state.test.ts builds them. What a node commits reaches the
// other nodes' sockets through the bus alone (their databases never see it).
// Every wait is for a frame, an ack or a close.
import { describe, expect, test } from "bun:test";
import { RedisClient } from "bun";
import { encodeEnvelope } from "../src/bus/bus";
import { createEffectBus, crossNodeEffects, effectsChannel, readWireEffect, type EffectBatch } from "../src/bus/effects";
import type { Bus } from "../src/bus/bus";
import { createHub } from "../src/ws/hub";
import type { Config } from "../src/config";
import { resyncFrame } from "../src/push";
import type { Effect } from "../src/write/effects";
import { Client, group, user, type Frame, type TestUser } from "./helpers";
import { nodesKit, type Node } from "./nodes.kit";
import { redisUrl, startRedis } from "./services";

type People = { alice: TestUser; bob: TestUser; carol: TestUser; gid: number; solo: number };

const kit = nodesKit();
const { clients, servers } = kit;

/** count nodes on the Redis at url; on each: alice, bob, carol, a group of alice and bob (gid), and one of alice alone (solo). */
async function cluster(url: string, count = 2, overrides: Partial<Config> = {}) {
  const prefix = kit.prefix("effects");
  const made: Node[] = [];
  for (let i = 0; i < count; i++) made.push(kit.start(url, prefix, overrides));
  await Promise.all(made.map((n) => Promise.all([n.app.shared.ready(), n.app.effects!.ready()])));
  const people: People[] = [];
  for (const n of made) {
    const alice = await user(n.app, "alice");
    const bob = await user(n.app, "bob");
    const carol = await user(n.app, "carol");
    people.push({ alice, bob, carol, gid: await group(n.app, alice, [bob]), solo: await group(n.app, alice, [], { name: "solo" }) });
  }
  return { nodes: made, people, prefix };
}

async function connect(n: Node, u: TestUser): Promise<Client> {
  const c = await Client.open(n.wsUrl);
  clients.push(c);
  const r = await c.login(u);
  if (r.content !== "Ok") throw new Error("login failed: " + JSON.stringify(r));
  return c;
}

async function rest(n: Node, path: string, body: unknown, token: string): Promise<{ status: number; body: any }> {
  const res = await fetch(n.url + path, { method: "POST", headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

async function say(c: Client, gid: number, content: string) {
  const ack = await c.request("Msg", { gid, content });
  if (ack.content !== "Ok") throw new Error("send failed: " + JSON.stringify(ack));
  return ack;
}

const msg = (content: string) => (f: Frame) => f.event === "Msg" && f.body.content === content;
const notify = (content: string) => (f: Frame) => f.event === "Notify" && f.body.content === content;
const isResync = notify("Resync");

describe("what crosses the bus", () => {
  test("socket-bound effects stay; the rest cross as data, `except` dropped; an offline user back here stays online", () => {
    const sock = { fake: true } as never;
    const effects: Effect[] = [
      { type: "send", socket: sock, data: "ack" },
      { type: "publish", gid: 3, data: "push", except: sock },
      { type: "join", gid: 3, uids: [1] },
      { type: "bind", socket: sock, uid: 1, gids: [3] },
      { type: "leave", gid: 3, uids: [2] },
      { type: "unbind", socket: sock },
      { type: "close", socket: sock, code: 4001, reason: "x" },
      { type: "offline", uid: 7, gids: [3] },
      { type: "offline", uid: 8, gids: [3] },
      { type: "revoke", tokenHashes: ["h"], reason: "logged out" },
    ];
    const wire = crossNodeEffects(effects, (uid) => uid === 8);
    expect(wire).toEqual([
      { type: "publish", gid: 3, data: "push" },
      { type: "join", gid: 3, uids: [1] },
      { type: "leave", gid: 3, uids: [2] },
      { type: "offline", uid: 7, gids: [3] },
      { type: "revoke", tokenHashes: ["h"], reason: "logged out" },
    ]);
    // What arrives is read back as it left, and nothing else is taken for an effect.
    expect(JSON.parse(JSON.stringify(wire)).map(readWireEffect)).toEqual(wire);
    for (const bad of [null, 3, { type: "send", data: "x" }, { type: "publish", gid: "3", data: "x" }, { type: "join", gid: 3, uids: ["1"] }, { type: "revoke", tokenHashes: [1], reason: "" }])
      expect(readWireEffect(bad)).toBeNull();
  });

  test("the Resync frame is a Notify with rim's field set", () => {
    expect(JSON.parse(resyncFrame)).toEqual({ event: "Notify", body: { kind: "Text", uid: 0, gid: 0, content: "Resync", clientMsgId: "", msgId: null } });
  });
});

describe("publishCommitted, over a bus whose replies the test holds", () => {
  /** A Bus that records each publish and answers only when the test says so. */
  function heldBus() {
    const published: { batch: EffectBatch; answer: () => void }[] = [];
    let resolveConnected!: () => void;
    const connected = new Promise<void>((r) => (resolveConnected = r));
    const bus: Bus<EffectBatch> = {
      id: "held",
      publish: (_channel, batch) => new Promise<boolean>((resolve) => published.push({ batch, answer: () => resolve(true) })),
      subscribe: async () => {},
      unsubscribe: async () => {},
      connected: () => connected,
      close: async () => {},
    };
    return { bus, published, connect: () => resolveConnected() };
  }
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  const batch = (n: number): Effect[] => Array.from({ length: n }, (_, i) => ({ type: "publish", gid: 1, data: `m${i}` }) as Effect);

  test("a batch is one bus publish; the promise settles only once the bus answered; nothing to send sends nothing", async () => {
    const held = heldBus();
    held.connect();
    const eb = createEffectBus({ bus: Promise.resolve(held.bus), channel: "c", hub: createHub(), log: quiet });
    await eb.ready();
    let settled = false;
    const p = eb.publishCommitted(batch(3)).then(() => (settled = true));
    expect(held.published.map((x) => x.batch.length)).toEqual([3]);
    await Promise.resolve();
    await Promise.resolve();
    expect(settled).toBe(false);
    held.published[0]!.answer();
    await p;
    expect(settled).toBe(true);
    const sock = {} as never;
    await eb.publishCommitted([{ type: "send", socket: sock, data: "ack" }, { type: "bind", socket: sock, uid: 1, gids: [] }]);
    expect(held.published.length).toBe(1);
  });

  test("batches committed before the bus is connected go out after it, in commit order", async () => {
    const held = heldBus();
    let give!: (b: Bus<EffectBatch>) => void;
    const eb = createEffectBus({ bus: new Promise((r) => (give = r)), channel: "c", hub: createHub(), log: quiet });
    const done = [eb.publishCommitted(batch(1)), eb.publishCommitted(batch(2)), eb.publishCommitted(batch(3))];
    held.connect();
    give(held.bus);
    await eb.ready();
    while (held.published.length < 3) await Promise.resolve();
    expect(held.published.map((x) => x.batch.length)).toEqual([1, 2, 3]);
    for (const x of held.published) x.answer();
    await Promise.all(done);
  });
});

describe("two nodes on one Redis", () => {
  test("a message committed on A reaches a socket on B; the sender's own node applies its batch once", async () => {
    const { nodes: [a, b], people } = await cluster(await redisUrl());
    const [pa, pb] = people as [People, People];
    const aliceA = await connect(a!, pa.alice);
    const bobA = await connect(a!, pa.bob);
    const bobB = await connect(b!, pb.bob);
    await say(aliceA, pa.gid, "hello from A");
    expect((await bobB.next(msg("hello from A"))).body).toMatchObject({ uid: pa.alice.uid, gid: pa.gid });
    await bobA.next(msg("hello from A"));
    // B answers once it got A's batch, so on Redis A's batch (coming back to A) is before B's: when B's
    // reaches A, A's own has come back too, and was not applied again.
    await say(bobB, pb.gid, "reply from B");
    await bobA.next(msg("reply from B"));
    expect(bobA.frames.filter(msg("hello from A"))).toEqual([]);
    expect((await aliceA.next(msg("reply from B"))).body).toMatchObject({ uid: pb.bob.uid });
  });

  test("join and leave on A subscribe and unsubscribe the users' sockets on B", async () => {
    const { nodes: [a, b], people } = await cluster(await redisUrl());
    const [pa, pb] = people as [People, People];
    const aliceA = await connect(a!, pa.alice);
    const carolB = await connect(b!, pb.carol);
    await say(aliceA, pa.solo, "before");
    expect((await rest(a!, "/api/group/user/change", { gid: pa.solo, uids: [pa.carol.uid], opType: 1 }, pa.alice.token)).status).toBe(200);
    const added = await carolB.next(notify("MemberAdded"));
    expect(added.body).toMatchObject({ gid: pa.solo, uids: [pa.carol.uid] });
    await say(aliceA, pa.solo, "while a member");
    await carolB.next(msg("while a member"));
    expect((await rest(a!, "/api/group/user/change", { gid: pa.solo, uids: [pa.carol.uid], opType: 2 }, pa.alice.token)).status).toBe(200);
    await carolB.next(notify("MemberRemoved"));
    await say(aliceA, pa.solo, "after");
    // A later batch of A that reaches carol (added to the other group) follows "after" on the bus.
    expect((await rest(a!, "/api/group/user/change", { gid: pa.gid, uids: [pa.carol.uid], opType: 1 }, pa.alice.token)).status).toBe(200);
    await carolB.next((f) => notify("MemberAdded")(f) && f.body.gid === pa.gid);
    expect(carolB.frames.filter((f) => f.event === "Msg").map((f) => f.body.content)).toEqual([]);
  });

  test("a token revoked on A (logout) closes its socket on B with 4001", async () => {
    const { nodes: [a, b], people } = await cluster(await redisUrl());
    const [pa, pb] = people as [People, People];
    // B's session of alice, known to A's database too (one database, in a real cluster).
    const row = b!.app.db.$client.query("SELECT token_hash, user_id, created_at, expires_at, last_used_at FROM sessions WHERE user_id = ? ORDER BY id DESC LIMIT 1").get(pb.alice.uid) as Record<string, unknown>;
    a!.app.db.$client.query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at, last_used_at) VALUES (?, ?, ?, ?, ?)").run(row.token_hash as string, row.user_id as number, row.created_at as number, row.expires_at as number, row.last_used_at as number);
    const aliceB = await connect(b!, pb.alice);
    const bobB = await connect(b!, pb.bob);
    expect((await rest(a!, "/api/user/logout", {}, pb.alice.token)).status).toBe(200);
    expect((await aliceB.waitClose()).code).toBe(4001);
    // Only that token's sockets: bob's stays.
    expect((await bobB.request("Heart")).content).toBe("Ok");
  });

  test("many batches from two publishers arrive at a third node in each publisher's order", async () => {
    const { nodes: [a, b, c], people } = await cluster(await redisUrl(), 3);
    const [pa, pb, pc] = people as [People, People, People];
    const aliceA = await connect(a!, pa.alice);
    const aliceB = await connect(b!, pb.alice);
    const bobC = await connect(c!, pc.bob);
    const N = 60;
    const sends = (cl: Client, gid: number, tag: string) =>
      Promise.all(Array.from({ length: N }, (_, i) => cl.request("Msg", { gid, content: `${tag}${i}` })));
    const acks = await Promise.all([sends(aliceA, pa.gid, "A"), sends(aliceB, pb.gid, "B")]);
    expect(acks.flat().every((ack) => ack.content === "Ok")).toBe(true);
    await bobC.next(msg(`A${N - 1}`));
    await bobC.next(msg(`B${N - 1}`));
    const seen = bobC.frames.filter((f) => f.event === "Msg").map((f) => f.body.content as string);
    const order = (tag: string) => seen.filter((s) => s.startsWith(tag)).map((s) => Number(s.slice(1)));
    expect(order("A")).toEqual(Array.from({ length: N - 1 }, (_, i) => i));
    expect(order("B")).toEqual(Array.from({ length: N - 1 }, (_, i) => i));
    // And each in the id order of its node's commits.
    const ids = (tag: string) => bobC.frames.filter((f) => f.event === "Msg" && String(f.body.content).startsWith(tag)).map((f) => f.body.msgId as number);
    for (const tag of ["A", "B"]) expect(ids(tag)).toEqual([...ids(tag)].sort((x, y) => x - y));
  });

  test("a gap in a publisher's sequence: every logged-in socket of the node gets Resync, a socket not logged in none", async () => {
    const { nodes: [a], people, prefix } = await cluster(await redisUrl(), 1);
    const [pa] = people as [People];
    const aliceA = await connect(a!, pa.alice);
    const bobA = await connect(a!, pa.bob);
    const anon = await Client.open(a!.wsUrl);
    clients.push(anon);
    const raw = new RedisClient(await redisUrl());
    try {
      const channel = effectsChannel(prefix);
      const push = (s: number, content: string) =>
        raw.publish(channel, encodeEnvelope({ p: "other-node", s, b: [{ type: "publish", gid: pa.gid, data: JSON.stringify({ event: "Msg", body: { content } }) }] }));
      await push(1, "one");
      await push(3, "three"); // 2 never came
      // The Resync comes before the batch that revealed the gap.
      for (const c of [aliceA, bobA]) {
        const r = await c.next((f) => isResync(f) || msg("three")(f));
        expect(r).toMatchObject({ event: "Notify", body: { content: "Resync", uid: 0, gid: 0 } });
        await c.next(msg("three"));
      }
      expect(await anon.expectNone(isResync)).toBe(true);
    } finally {
      raw.close();
    }
  });
});

test("a node reaped as dead (it may have committed what it never published): the sockets of every live node get Resync", async () => {
  const { nodes: [a, b], people, prefix } = await cluster(await redisUrl());
  const [pa, pb] = people as [People, People];
  const aliceA = await connect(a!, pa.alice);
  const bobB = await connect(b!, pb.bob);
  const raw = new RedisClient(await redisUrl());
  try {
    // A node whose heartbeat ran out long ago, with no user online: only the node itself is lost.
    await raw.send("ZADD", [prefix + "nodes", "1", "dead-node"]);
    for (const c of [aliceA, bobB]) expect((await c.next(isResync)).body).toMatchObject({ content: "Resync", uid: 0, gid: 0 });
    // Reaped once (ZREM says by whom): no second Resync for it.
    expect(await aliceA.expectNone(isResync)).toBe(true);
  } finally {
    raw.close();
  }
});

test("Redis restarted: B's sockets get Resync, then A's commits reach them again", async () => {
  const redis = await startRedis();
  servers.push(redis);
  const { nodes: [a, b], people } = await cluster(redis.url);
  const [pa, pb] = people as [People, People];
  const aliceA = await connect(a!, pa.alice);
  const bobB = await connect(b!, pb.bob);
  await say(aliceA, pa.gid, "before");
  await bobB.next(msg("before"));
  await redis.stop();
  // Lost: Sync now (the database has it all) and again once back.
  await bobB.next(isResync, 5000);
  // Written while the bus is down: durable, acked, told by Sync (not by the bus).
  await say(aliceA, pa.gid, "while down");
  await redis.start();
  await bobB.next(isResync, 5000);
  // B is subscribed again (its Resync said so); A publishes again once its own connection is back.
  await a!.app.effects!.connected();
  await say(aliceA, pa.gid, "after");
  await bobB.next(msg("after"));
  expect(bobB.frames.filter(msg("while down"))).toEqual([]);
});
