// Faults of a cluster, with real processes (tests/cluster.kit.ts): three `rim serve`
// nodes on one PostgreSQL and one Redis, clients on every node. A node SIGKILLed
// under load; Redis stopped and started under load; PostgreSQL stopped and
// started under load (a server of the test's own), and cut away (the TCP proxy
// in front of it) and back; and the cross-node basics (a push from node 2 at
// node 3, one order under concurrent senders on every node, membership and
// revocation across nodes). What is checked at the end is the database and every
// client's own view: nothing acked lost or doubled, no seq gap, every client with
// every message of its groups.
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { RedisClient } from "bun";
import { ChatClient, changed, sendAll, startCluster, storedMessages, until, type Cluster, type ClusterOptions } from "./cluster.kit";
import { Client, type TestUser } from "./helpers";
import { startPostgres, startRedis, type PostgresServer, type RedisServer } from "./services";

const clusters: Cluster[] = [];
const chats: ChatClient[] = [];
const sockets: Client[] = [];
const redises: RedisServer[] = [];
const postgreses: PostgresServer[] = [];

afterEach(async () => {
  for (const c of chats.splice(0)) c.close();
  for (const s of sockets.splice(0)) if (!s.closed) s.close();
  for (const c of clusters.splice(0)) await c.close();
  for (const p of postgreses.splice(0)) await p.close();
});
afterAll(async () => {
  for (const r of redises) await r.stop();
});

async function cluster(count = 3, bus?: string, opts: ClusterOptions = {}): Promise<Cluster> {
  const c = await startCluster(count, bus, opts);
  clusters.push(c);
  return c;
}

/** Users u0..u(n-1) registered on node 0, all in `groups` groups created by u0. */
async function team(c: Cluster, n: number, groups: number): Promise<{ users: TestUser[]; gids: number[] }> {
  const users: TestUser[] = [];
  for (let i = 0; i < n; i++) users.push(await c.register(i % c.nodes.length, `user${i}`));
  const gids: number[] = [];
  for (let g = 0; g < groups; g++) {
    const made = await c.api(0, "/api/group/create", users[0]!.token, { group: { name: `g${g}`, mode: 2 }, users: users.slice(1).map((u) => ({ uid: u.uid })) });
    expect(made.status).toBe(200);
    gids.push(made.body.data);
  }
  return { users, gids };
}

/** ChatClients for users, user i on node i % nodes, connected (Login, Sync). */
async function connectAll(c: Cluster, users: TestUser[]): Promise<ChatClient[]> {
  const made: ChatClient[] = [];
  for (let i = 0; i < users.length; i++) {
    const chat = new ChatClient(users[i]!, c);
    chats.push(chat);
    await chat.connect(i % c.nodes.length);
    made.push(chat);
  }
  return made;
}

async function socket(c: Cluster, node: number, u: TestUser): Promise<Client> {
  const s = await Client.open(c.nodes[node]!.wsUrl);
  sockets.push(s);
  expect(await s.login(u)).toMatchObject({ kind: "Ack", content: "Ok" });
  return s;
}

/**
 * The end state every fault must leave: each client's messages acked once with
 * the id the database holds, each group's seqs 1..n, count messages per client
 * stored (no double), and every client holding exactly the stored messages.
 */
async function expectEveryoneHasEverything(c: Cluster, clients: ChatClient[], perClient: number): Promise<void> {
  const stored = await storedMessages(c.sql);
  expect(stored).toHaveLength(clients.length * perClient);
  const byClientMsgId = new Map(stored.map((m) => [`${m.uid}/${m.clientMsgId}`, m]));
  expect(byClientMsgId.size).toBe(stored.length);
  for (const chat of clients) {
    expect(chat.acked.size).toBe(perClient);
    for (const [clientMsgId, msgId] of chat.acked) expect(byClientMsgId.get(`${chat.user.uid}/${clientMsgId}`)?.id).toBe(msgId);
  }
  const seqs = new Map<number, number[]>();
  for (const m of stored) seqs.set(m.gid, [...(seqs.get(m.gid) ?? []), m.seq]);
  for (const list of seqs.values()) expect(list).toEqual(list.map((_, i) => i + 1));
  const all = stored.map((m) => m.id);
  await until(
    () => clients.every((chat) => all.every((id) => chat.messages.has(id))),
    () => clients.map((chat) => `${chat.user.account}: missing ${all.filter((id) => !chat.messages.has(id)).join(",")}`).join("; "),
  );
  for (const chat of clients) {
    expect([...chat.messages.keys()].sort((a, b) => a - b)).toEqual(all);
    for (const m of stored) expect(chat.messages.get(m.id)).toMatchObject({ gid: m.gid, seq: m.seq, content: m.content });
  }
}

/** Every Sync brought only what came after the cursor it started from (live pushes may interleave with its replay). */
function expectSyncsExact(clients: ChatClient[]): void {
  for (const chat of clients) for (const s of chat.syncs) expect(s.ids.filter((id) => id <= s.from)).toEqual([]);
}

describe("cluster faults, real processes", () => {
  test("SIGKILL one of three nodes under load: nothing acked lost or doubled, no seq gap, its clients resume on another node by Sync", async () => {
    const c = await cluster(3);
    const { users, gids } = await team(c, 6, 2);
    const clients = await connectAll(c, users);
    const perClient = 40;
    let acks = 0;
    let killed: Promise<void> | null = null;
    const onAck = () => {
      // A third of the way in, node 2 goes: its clients are mid-send.
      if (++acks === Math.floor((clients.length * perClient) / 3)) killed = c.kill(2);
    };
    await Promise.all(clients.map((chat) => sendAll(chat, gids, perClient, onAck)));
    expect(killed).not.toBeNull();
    await killed;
    expect(c.nodes[2]!.rim.proc.signalCode).toBe("SIGKILL");
    // Node 2's clients (u2, u5) lost their socket and went on from another node.
    for (const chat of [clients[2]!, clients[5]!]) {
      expect(chat.closes.length).toBeGreaterThanOrEqual(1);
      expect(chat.node).not.toBe(2);
    }
    // The clients that were never cut off still need every message pushed to them; the moved
    // ones got what they missed through their Sync. Nobody reconnects to catch up here.
    await expectEveryoneHasEverything(c, clients, perClient);
    expectSyncsExact(clients);
  }, 60_000);

  test("a node killed after its commit but before its publish: the other nodes' sockets still get that message (Resync)", async () => {
    const redis = await startRedis();
    redises.push(redis);
    // The publish held by the pause must outlast the kill: past its deadline the node would ack the message itself.
    const c = await cluster(3, redis.url, { args: ["--bus-deadline-ms", "600000"] });
    const { users, gids } = await team(c, 3, 1);
    const clients = await connectAll(c, users);
    const gid = gids[0]!;
    const admin = new RedisClient(redis.url);
    try {
      // Redis holds every write (PUBLISH too): node 2 commits the message, then waits on its publish.
      await admin.send("CLIENT", ["PAUSE", "20000", "WRITE"]);
      const victim = clients[2]!;
      const sent = victim.send(gid, "orphan");
      // Nothing on any socket tells when it is committed: ask the database, a bounded number of times.
      for (let tries = 0; (await storedMessages(c.sql)).length === 0; tries++) if (tries > 5000) throw new Error("never committed");
      await c.kill(2);
      expect(await sent).toEqual({ ok: false, code: null });
      await admin.send("CLIENT", ["UNPAUSE"]);
    } finally {
      admin.close();
    }
    const [orphan] = await storedMessages(c.sql);
    expect(orphan).toMatchObject({ content: "orphan" });
    // Nobody reconnects or resends: the nodes alone must make the survivors' clients catch up.
    await until(
      () => clients.slice(0, 2).every((chat) => chat.messages.has(orphan!.id)),
      () => clients.map((chat) => `${chat.user.account}: ${chat.resyncs} resyncs, ${chat.messages.size} messages`).join(", "),
    );
  }, 60_000);

  test("Redis stopped and started under load: every socket gets Resync, nothing acked lost, every client ends with every message", async () => {
    const redis = await startRedis();
    redises.push(redis);
    const c = await cluster(3, redis.url);
    const { users, gids } = await team(c, 6, 2);
    const clients = await connectAll(c, users);
    const perClient = 40;
    let acks = 0;
    let outage: Promise<void> | null = null;
    const onAck = () => {
      if (++acks === Math.floor((clients.length * perClient) / 4)) outage = redis.stop();
    };
    const load = Promise.all(clients.map((chat) => sendAll(chat, gids, perClient, onAck)));
    // Writes go on while Redis is down (they are durable in PostgreSQL); then it comes back.
    await until(() => outage !== null, () => `${acks} acks`);
    await outage;
    const ackedWhileDown = acks;
    await until(() => acks >= ackedWhileDown + clients.length * 2, () => `${acks} acks, Redis down`);
    await redis.start();
    await load;
    await until(
      () => clients.every((chat) => chat.resyncs >= 1),
      () => clients.map((chat) => `${chat.user.account}: ${chat.resyncs} resyncs`).join(", "),
    );
    await expectEveryoneHasEverything(c, clients, perClient);
    expectSyncsExact(clients);
    // The sockets stayed: the bus going away closes no client's connection.
    for (const chat of clients) expect(chat.closes).toEqual([]);
  }, 60_000);

  // A restart of the server itself, on a PostgreSQL of the test's own: its sessions end (fast: told to;
  // immediate: as in a crash, recovered from the WAL at start), the ids lock with them, and new ones
  // are refused until it is back.
  for (const mode of ["fast", "immediate"] as const) {
    test(`PostgreSQL stopped (pg_ctl stop -m ${mode}) and started under load on every node: error acks and 500s meanwhile, then served again unrestarted; nothing acked lost or doubled, no seq gap`, async () => {
      const pg = await startPostgres();
      postgreses.push(pg);
      // The nodes reach it directly, as a node reaches a server that restarts: refused at once while it is down.
      const c = await cluster(3, undefined, { pg: pg.url, direct: true });
      const { users, gids } = await team(c, 6, 2);
      const clients = await connectAll(c, users);
      const perClient = 30;
      let acks = 0;
      let outage: Promise<void> | null = null;
      const onAck = () => {
        if (++acks === Math.floor((clients.length * perClient) / 4)) outage = pg.stop(mode);
      };
      // A refused write waits for PostgreSQL to be back before its resend; after that, a Heart round trip.
      let started: Promise<void> | null = null;
      let letThrough!: () => void;
      const back = new Promise<void>((resolve) => (letThrough = resolve));
      const refusals = new Map<ChatClient, number[]>(clients.map((chat) => [chat, []]));
      const load = Promise.all(
        clients.map((chat) =>
          sendAll(chat, gids, perClient, onAck, (code) => {
            refusals.get(chat)!.push(code);
            changed();
            return started ? undefined : back;
          }),
        ),
      );
      await until(() => outage !== null, () => `${acks} acks`);
      await outage;
      // Down: every client still sending has its write refused (500), and REST answers 500 on every node.
      await until(
        () => clients.every((chat) => refusals.get(chat)!.length > 0 || chat.acked.size === perClient),
        () => clients.map((chat) => `${chat.user.account}: ${chat.acked.size} acked, refused ${refusals.get(chat)!.join(",")}`).join("; "),
      );
      expect(clients.some((chat) => refusals.get(chat)!.length > 0)).toBe(true);
      for (const codes of refusals.values()) for (const code of codes) expect(code).toBe(500);
      for (let node = 0; node < 3; node++) {
        const rest = await c.api(node, "/api/group/create", users[0]!.token, { group: { name: "later", mode: 2 }, users: [] });
        expect(rest).toMatchObject({ status: 500, body: { ok: false, code: 500 } });
      }
      const ackedWhileDown = acks;
      started = pg.start();
      await started;
      letThrough();
      // Back: the refused ones resent with their clientMsgIds, the rest sent; the same processes serve.
      await load;
      expect(acks).toBe(clients.length * perClient);
      expect(ackedWhileDown).toBeLessThan(acks);
      for (const n of c.nodes) expect(n.rim.proc.exitCode).toBeNull();
      await expectEveryoneHasEverything(c, clients, perClient);
      expectSyncsExact(clients);
      for (const chat of clients) expect(chat.closes).toEqual([]);
    }, 90_000);
  }

  test("PostgreSQL cut away (its proxy) and back, with clients on every node: error acks and 500s meanwhile, nothing acked lost, the nodes serve again unrestarted", async () => {
    const c = await cluster(3);
    const { users, gids } = await team(c, 3, 1);
    const clients = await connectAll(c, users);
    const gid = gids[0]!;
    // Before: one message each.
    for (const chat of clients) expect((await chat.send(gid, `${chat.user.account}-0`)).ok).toBe(true);
    c.proxy.cut();
    // Down: every node answers writes with errors, and stores nothing.
    for (const chat of clients) expect(await chat.send(gid, `${chat.user.account}-1`)).toEqual({ ok: false, code: 500 });
    for (let node = 0; node < 3; node++) {
      const rest = await c.api(node, "/api/group/create", users[0]!.token, { group: { name: "later", mode: 2 }, users: [] });
      expect(rest).toMatchObject({ status: 500, body: { ok: false, code: 500 } });
    }
    c.proxy.restore();
    // Back: the unacked ones resent with their clientMsgIds, then more; nodes were not restarted.
    await Promise.all(clients.map((chat) => sendAll(chat, gids, 10)));
    for (const n of c.nodes) expect(n.rim.proc.exitCode).toBeNull();
    await expectEveryoneHasEverything(c, clients, 10);
  }, 60_000);
});

describe("cluster basics across real nodes", () => {
  test("a message sent on node 1 reaches node 2; one order under concurrent senders on every node", async () => {
    const c = await cluster(3);
    const { users, gids } = await team(c, 6, 2);
    const clients = await connectAll(c, users);
    const first = await clients[1]!.send(gids[0]!, "from node 1");
    expect(first.ok).toBe(true);
    await until(() => clients[2]!.messages.size === 1, () => "node 2's client has nothing");
    expect([...clients[2]!.messages.values()]).toMatchObject([{ content: "from node 1", gid: gids[0] }]);
    // Everyone sends at once, across both groups: every socket gets every push in increasing ids.
    await Promise.all(clients.map((chat) => sendAll(chat, gids, 20)));
    const total = 1 + clients.length * 20;
    await until(() => clients.every((chat) => chat.messages.size === total), () => clients.map((chat) => chat.messages.size).join(","));
    for (const chat of clients) {
      expect(chat.arrivals).toHaveLength(1);
      const ids = chat.arrivals[0]!;
      expect(ids).toEqual([...ids].sort((a, b) => a - b));
      expect(new Set(ids).size).toBe(ids.length);
      expect(chat.closes).toEqual([]);
    }
  }, 60_000);

  test("membership across nodes: added on node 0, the socket on node 2 gets the group; removed, nothing more", async () => {
    const c = await cluster(3);
    const owner = await c.register(0, "owner");
    const late = await c.register(0, "late");
    const made = await c.api(0, "/api/group/create", owner.token, { group: { name: "g", mode: 2 }, users: [] });
    const gid = made.body.data as number;
    // A group they share throughout: its next push is the barrier (one order on the bus).
    const both = (await c.api(0, "/api/group/create", owner.token, { group: { name: "both", mode: 2 }, users: [{ uid: late.uid }] })).body.data as number;
    const ownerOn1 = await socket(c, 1, owner);
    const lateOn2 = await socket(c, 2, late);
    expect((await c.api(0, "/api/group/user/change", owner.token, { gid, opType: 1, uids: [late.uid] })).status).toBe(200);
    const ack = await ownerOn1.request("Msg", { gid, uid: owner.uid, content: "welcome" });
    expect(ack).toMatchObject({ content: "Ok" });
    expect((await lateOn2.next((f) => f.event === "Msg")).body).toMatchObject({ gid, content: "welcome", msgId: ack.serverMsgId });
    expect((await c.api(0, "/api/group/user/change", owner.token, { gid, opType: 2, uids: [late.uid] })).status).toBe(200);
    const after = await ownerOn1.request("Msg", { gid, uid: owner.uid, content: "after" });
    expect(after).toMatchObject({ content: "Ok" });
    // A later id in the group they still share reaches node 2 after "after" would have: then it is not there.
    const barrier = await ownerOn1.request("Msg", { gid: both, uid: owner.uid, content: "barrier" });
    expect(barrier.serverMsgId).toBeGreaterThan(after.serverMsgId);
    await lateOn2.next((f) => f.event === "Msg" && f.body.msgId === barrier.serverMsgId);
    expect(lateOn2.frames.some((f) => f.event === "Msg" && f.body.content === "after")).toBe(false);
  }, 60_000);

  test("two clusters on one Redis, each under its own --bus-prefix, never hear each other: pushes and the per-user socket cap stay apart", async () => {
    const redis = await startRedis();
    redises.push(redis);
    const oneSocket = ["--max-sockets-per-user", "1"];
    const [a, b] = [await cluster(2, redis.url, { busPrefix: "rim:a:", args: oneSocket }), await cluster(2, redis.url, { busPrefix: "rim:b:", args: oneSocket })];
    // The same users and group in each: the same uids and gid, so shared keys or a shared channel would mix them.
    const setUp = async (c: Cluster) => {
      const owner = await c.register(0, "owner");
      const member = await c.register(0, "member");
      const made = await c.api(0, "/api/group/create", owner.token, { group: { name: "g", mode: 2 }, users: [{ uid: member.uid }] });
      return { owner, member, gid: made.body.data as number };
    };
    const [inA, inB] = [await setUp(a), await setUp(b)];
    expect([inB.owner.uid, inB.member.uid, inB.gid]).toEqual([inA.owner.uid, inA.member.uid, inA.gid]);
    // One socket per user, counted cluster-wide: the member's socket in A does not count in B, a second one in B does.
    const memberOnA1 = await socket(a, 1, inA.member);
    const memberOnB1 = await socket(b, 1, inB.member);
    const second = await Client.open(b.nodes[0]!.wsUrl);
    sockets.push(second);
    expect(await second.login(inB.member)).toMatchObject({ kind: "Ack", code: 429 });
    // A message in A reaches A's other node, and never B's; then the same the other way. Each cluster's own
    // later push is the barrier: had a node heard the other cluster's channel, that message would be ahead of it.
    const ownerOnA0 = await socket(a, 0, inA.owner);
    const ownerOnB0 = await socket(b, 0, inB.owner);
    const say = async (from: Client, to: Client, owner: TestUser, gid: number, content: string) => {
      const ack = await from.request("Msg", { gid, uid: owner.uid, content });
      expect(ack).toMatchObject({ content: "Ok" });
      expect((await to.next((f) => f.event === "Msg" && f.body.content === content)).body).toMatchObject({ gid, msgId: ack.serverMsgId });
    };
    await say(ownerOnA0, memberOnA1, inA.owner, inA.gid, "in a");
    await say(ownerOnB0, memberOnB1, inB.owner, inB.gid, "in b");
    await say(ownerOnA0, memberOnA1, inA.owner, inA.gid, "in a again");
    expect(memberOnB1.frames.some((f) => f.event === "Msg" && String(f.body.content).startsWith("in a"))).toBe(false);
    expect(memberOnA1.frames.some((f) => f.event === "Msg" && f.body.content === "in b")).toBe(false);
  }, 60_000);

  test("a token revoked on node 0 closes its socket on node 2 with 4001, and only that token's", async () => {
    const c = await cluster(3);
    const ann = await c.register(0, "ann");
    const other = await c.api(0, "/api/user/login", null, { account: "ann", password: "password1" });
    const annOther: TestUser = { ...ann, token: other.body.data };
    const revoked = await socket(c, 2, ann);
    const kept = await socket(c, 2, annOther);
    expect((await c.api(0, "/api/user/logout", ann.token, {})).status).toBe(200);
    expect((await revoked.waitClose(5000)).code).toBe(4001);
    expect(await kept.expectNone()).toBe(true);
    expect(kept.closed).toBeNull();
  }, 60_000);
});
