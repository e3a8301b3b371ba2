// The limits a cluster shares in Redis (src/bus/shared-state.ts), on a real
// Redis (tests/services.ts): two or three App instances, each on its own
// in-memory SQLite (the same users and groups created in the same order, so
// the same ids), sharing one Redis under a key prefix of their own. Every wait
// is for an event: an ack, a frame, a log line, a recorded result of the
// shared state; node death is seen through the short heartbeat TTL.
import { describe, expect, test } from "bun:test";
import { RedisClient } from "bun";
import { closeApp, type App } from "../src/app";
import type { Config } from "../src/config";
import type { Logger } from "../src/log";
import { manualClock, type Clock } from "../src/time";
import { Client, group, user, type Frame, type TestUser } from "./helpers";
import { nodesKit, type Node as BaseNode } from "./nodes.kit";
import { redisUrl, startRedis } from "./services";
import { recorder } from "./recorder";

type Event = { what: string; uid?: number; gid?: number; result?: boolean };

/**
 * Marks where each node's log stands now; `logged(event)` then waits for that event after the mark
 * (a node may have logged it before, e.g. when its first heartbeat came before its connection).
 */
function logMark(ns: Node[]) {
  const at = ns.map((n) => n.logs.items.length);
  return (event: string) => Promise.all(ns.map((n, i) => n.logs.until((l) => l.indexOf(event, at[i]) >= 0)));
}

type Node = BaseNode & {
  name: string;
  /** What the shared state answered on this node (arrive, depart, typing), and its log events. */
  events: ReturnType<typeof recorder<Event>>;
  logs: ReturnType<typeof recorder<string>>;
  stopped: boolean;
};

const kit = nodesKit();
const { clients, servers, stop } = kit;

function capturingLog(logs: ReturnType<typeof recorder<string>>): Logger {
  const at = (event: string) => logs.push(event);
  return { debug: at, info: at, warn: at, error: at };
}

/** Spies on what the shared state answers, for the results that have no frame of their own. */
function spyOnShared(app: App, events: ReturnType<typeof recorder<Event>>) {
  const { presence, typing } = app.shared;
  const spy = <A extends unknown[]>(what: string, fn: (...a: A) => unknown, describe: (...a: A) => Partial<Event>) => (...a: A) => {
    const r = fn(...a);
    void Promise.resolve(r).then((v) => events.push({ what, ...describe(...a), result: typeof v === "boolean" ? v : v !== null }));
    return r as never;
  };
  presence.arrive = spy("arrive", presence.arrive.bind(presence), (uid: number) => ({ uid }));
  presence.depart = spy("depart", presence.depart.bind(presence), (uid: number) => ({ uid }));
  typing.take = spy("typing", typing.take.bind(typing), (uid: number, gid: number) => ({ uid, gid }));
  const sockets = app.shared.sockets!;
  const release = sockets.release.bind(sockets);
  sockets.release = (ws) => {
    const r = release(ws);
    void Promise.resolve(r).then(() => events.push({ what: "release" }));
    return r;
  };
}

/** n nodes sharing the Redis at url, with the same users (alice, bob) and one group of both on each. */
async function cluster(url: string, overrides: Partial<Config> = {}, count = 2, clock?: Clock) {
  const prefix = kit.prefix("test");
  const made: Node[] = [];
  for (let i = 0; i < count; i++) {
    const events = recorder<Event>();
    const logs = recorder<string>();
    const n: Node = Object.assign(kit.start(url, prefix, overrides, { log: capturingLog(logs), clock, prepare: (app) => spyOnShared(app, events) }), { name: "ABC"[i]!, events, logs });
    made.push(n);
  }
  await Promise.all(made.map((n) => n.app.shared.ready()));
  // The same users and group on every node's database: same ids everywhere, a token per node.
  const people: { alice: TestUser; bob: TestUser; gid: number }[] = [];
  for (const n of made) {
    const alice = await user(n.app, "alice");
    const bob = await user(n.app, "bob");
    people.push({ alice, bob, gid: await group(n.app, alice, [bob]) });
  }
  return { nodes: made, people, prefix };
}

async function connect(n: Node, u?: TestUser): Promise<Client> {
  const c = await Client.open(n.wsUrl);
  clients.push(c);
  if (u) {
    const r = await c.login(u);
    if (r.content !== "Ok") throw new Error("login failed: " + JSON.stringify(r));
  }
  return c;
}

async function rest(n: Node, method: "GET" | "POST", path: string, body?: unknown, token?: string): Promise<{ status: number; body: any; retryAfter: string | null }> {
  const headers: Record<string, string> = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(n.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: res.status, body: parsed, retryAfter: res.headers.get("Retry-After") };
}

const failLogin = (n: Node, account: string) => rest(n, "POST", "/api/user/login", { account, password: "wrong-password" });
const register = (n: Node, account: string) => rest(n, "POST", "/api/user/create", { account, password: "secret12" });
const isTyping = (f: Frame) => f.event === "Notify" && f.body?.content === "Typing";
const presenceOf = (uid: number, online: boolean) => (f: Frame) => f.body?.uid === uid && f.body?.online === online;
const countOf = (events: Event[], what: string) => events.filter((e) => e.what === what).length;

describe("two nodes sharing one Redis", () => {
  test.each<[string, [number, number][]]>([
    // [node index, expected status]: the limit is 3 failures per account, whichever node they hit.
    ["alternating", [[0, 401], [1, 401], [0, 401], [1, 429], [0, 429]]],
    ["all on one, then the other refuses", [[0, 401], [0, 401], [0, 401], [1, 429]]],
  ])("failed logins count across nodes (%s)", async (_label, steps) => {
    const { nodes: ns } = await cluster(await redisUrl(), { loginMaxPerAccount: 3 });
    const statuses: number[] = [];
    for (const [i] of steps) statuses.push((await failLogin(ns[i]!, "mallory")).status);
    expect(statuses).toEqual(steps.map(([, s]) => s));
  });

  test("a success forgives the account on every node", async () => {
    const { nodes: [a, b] } = await cluster(await redisUrl(), { loginMaxPerAccount: 2 });
    const statuses = [
      (await failLogin(a!, "alice")).status,
      (await rest(b!, "POST", "/api/user/login", { account: "alice", password: "password1" })).status,
      // Forgiven on A too: two more failures there before the third is refused.
      (await failLogin(a!, "alice")).status,
      (await failLogin(a!, "alice")).status,
      (await failLogin(a!, "alice")).status,
    ];
    expect(statuses).toEqual([401, 200, 401, 401, 429]);
  });

  test("registrations per address count across nodes", async () => {
    const { nodes: [a, b] } = await cluster(await redisUrl(), { registerMaxPerIp: 2 });
    const statuses = [(await register(a!, "reg1")).status, (await register(b!, "reg2")).status, (await register(a!, "reg3")).status, (await register(b!, "reg4")).status];
    expect(statuses).toEqual([200, 200, 429, 429]);
  });

  test("sockets per user are capped across nodes, and a closed one frees its place", async () => {
    const { nodes: [a, b], people } = await cluster(await redisUrl(), { maxSocketsPerUser: 2 });
    const first = await connect(a!, people[0]!.alice);
    // A Login refused for naming someone else's uid takes no place.
    const wrong = await (await connect(b!)).request("Login", { content: people[1]!.alice.token, uid: people[1]!.bob.uid });
    expect(wrong).toMatchObject({ content: "Error", code: 403 });
    await connect(b!, people[1]!.alice);
    for (const [n, p] of [[a!, people[0]!], [b!, people[1]!]] as const) {
      const extra = await connect(n);
      const r = await extra.login(p.alice);
      expect(r).toMatchObject({ kind: "Ack", content: "Error", code: 429 });
    }
    const released = countOf(a!.events.items, "release");
    first.close();
    await a!.events.until((es) => countOf(es, "release") > released);
    expect((await (await connect(b!)).login(people[1]!.alice)).content).toBe("Ok");
  });

  test("Typing is forwarded once per user and group per 2 s window across nodes", async () => {
    const { nodes: [a, b], people, prefix } = await cluster(await redisUrl());
    const [pa, pb] = people as [(typeof people)[0], (typeof people)[0]];
    const aliceA = await connect(a!, pa.alice);
    const aliceB = await connect(b!, pb.alice);
    const bobA = await connect(a!, pa.bob);
    expect((await aliceA.request("Typing", { gid: pa.gid })).content).toBe("Ok");
    await bobA.next(isTyping);
    expect((await aliceB.request("Typing", { gid: pb.gid })).content).toBe("Ok");
    const typed = (es: Event[]) => es.filter((e) => e.what === "typing");
    await b!.events.until((es) => typed(es).length === 1);
    expect([...typed(a!.events.items), ...typed(b!.events.items)].map((e) => e.result)).toEqual([true, false]);
  });

  test("presence is computed cluster-wide: online at the first socket anywhere, offline at the last", async () => {
    const { nodes: [a, b], people } = await cluster(await redisUrl());
    const [pa, pb] = people as [(typeof people)[0], (typeof people)[0]];
    const bobA = await connect(a!, pa.bob);
    const bobB = await connect(b!, pb.bob);
    const presence = (es: Event[]) => es.filter((e) => (e.what === "arrive" || e.what === "depart") && e.uid === pa.alice.uid).map((e) => `${e.what} ${e.result}`);
    const both = () => [...presence(a!.events.items).map((s) => "A " + s), ...presence(b!.events.items).map((s) => "B " + s)];
    const steps: [string, () => Promise<unknown>, Node, string[]][] = [];
    let aliceA!: Client;
    let aliceB!: Client;
    steps.push(["first login on A", async () => (aliceA = await connect(a!, pa.alice)), a!, ["A arrive true"]]);
    steps.push(["second socket on B", async () => (aliceB = await connect(b!, pb.alice)), b!, ["A arrive true", "B arrive false"]]);
    steps.push(["close A", async () => aliceA.close(), a!, ["A arrive true", "A depart false", "B arrive false"]]);
    steps.push(["close B", async () => aliceB.close(), b!, ["A arrive true", "A depart false", "B arrive false", "B depart true"]]);
    for (const [label, act, on, want] of steps) {
      const before = presence(on.events.items).length;
      await act();
      await on.events.until((es) => presence(es).length > before);
      expect({ label, seen: both().sort() }).toEqual({ label, seen: want.sort() });
      if (label === "second socket on B") {
        // Online on both nodes' REST, while the Notify went out once (on A, where she came online).
        for (const [n, p] of [[a!, pa], [b!, pb]] as const) expect((await rest(n, "GET", `/api/user/presence?uids=${p.alice.uid}`, undefined, p.bob.token)).body.data).toMatchObject([{ online: true }]);
      }
    }
    await bobA.nextPresence(presenceOf(pa.alice.uid, true));
    await bobB.nextPresence(presenceOf(pb.alice.uid, false));
    // lastSeen stored where she went offline cluster-wide; no node says online any more.
    const seen = await rest(b!, "GET", `/api/user/presence?uids=${pb.alice.uid}`, undefined, pb.bob.token);
    expect(seen.body.data).toMatchObject([{ online: false, lastSeen: expect.any(String) }]);
    expect((await rest(a!, "GET", `/api/user/presence?uids=${pa.alice.uid}`, undefined, pa.bob.token)).body.data).toMatchObject([{ online: false }]);
  });

  test("a node whose heartbeat stops (killed) stops counting: its sockets free their places and its users go offline", async () => {
    const { nodes: [a, b, c], people } = await cluster(await redisUrl(), { maxSocketsPerUser: 2 }, 3);
    const bobA = await connect(a!, people[0]!.bob);
    const bobB = await connect(b!, people[1]!.bob);
    await connect(c!, people[2]!.alice);
    await connect(c!, people[2]!.alice);
    expect((await (await connect(a!)).login(people[0]!.alice)).code).toBe(429);
    (c!.app.shared as unknown as { halt(): void }).halt();
    // One of the live nodes reaps it and announces alice offline to her groups.
    const uid = people[0]!.alice.uid;
    await Promise.race([bobA.nextPresence(presenceOf(uid, false), 5000), bobB.nextPresence(presenceOf(uid, false), 5000)]);
    expect((await (await connect(a!)).login(people[0]!.alice)).content).toBe("Ok");
    await stop(c!);
  });
});

describe("the throttles' windows are the nodes' clock (a manual one here, far from Redis's), not Redis's", () => {
  const MIN = 60_000;
  // [node, action, name, status, Retry-After], or a move of the nodes' clock.
  type Step = [0 | 1, typeof failLogin, string, number, string | null] | { advance: number };
  const fail = (on: 0 | 1, account: string, status: number, retryAfter: string | null = null): Step => [on, failLogin, account, status, retryAfter];
  const reg = (on: 0 | 1, account: string, status: number, retryAfter: string | null = null): Step => [on, register, account, status, retryAfter];
  test.each<[string, Partial<Config>, Step[]]>([
    [
      "failed logins per account: Retry-After counts down on the clock, and the window ends on it",
      { loginMaxPerAccount: 2 },
      [fail(0, "mallory", 401), fail(1, "mallory", 401), fail(0, "mallory", 429, "900"), { advance: 10 * MIN }, fail(1, "mallory", 429, "300"), { advance: 5 * MIN - 1 }, fail(0, "mallory", 429, "1"), { advance: 1 }, fail(1, "mallory", 401)],
    ],
    [
      "failed logins per address",
      { loginMaxPerIp: 2 },
      [fail(0, "mal1", 401), fail(1, "mal2", 401), fail(0, "mal3", 429, "900"), { advance: 15 * MIN - 1 }, fail(1, "mal4", 429, "1"), { advance: 1 }, fail(0, "mal5", 401)],
    ],
    [
      "registrations per address: an hour, sliding",
      { registerMaxPerIp: 2 },
      [reg(0, "reg1", 200), { advance: 30 * MIN }, reg(1, "reg2", 200), reg(0, "reg3", 429, "1800"), { advance: 30 * MIN }, reg(1, "reg4", 200), reg(0, "reg5", 429, "1800")],
    ],
  ])("%s", async (_label, overrides, steps) => {
    const clock = manualClock(Date.UTC(2020, 0, 1));
    const { nodes: ns } = await cluster(await redisUrl(), overrides, 2, clock);
    for (const step of steps) {
      if ("advance" in step) {
        clock.advance(step.advance);
        continue;
      }
      const [on, act, name, status, retryAfter] = step;
      const r = await act(ns[on]!, name);
      expect({ name, status: r.status, retryAfter: r.retryAfter }).toEqual({ name, status, retryAfter });
    }
  });

  test("Typing: one forwarded per user and group until 2 s have passed on the clock, whichever node; the key outlives the window", async () => {
    const clock = manualClock(Date.UTC(2020, 0, 1));
    const { nodes: [a, b], people, prefix } = await cluster(await redisUrl(), {}, 2, clock);
    const [pa, pb] = people as [(typeof people)[0], (typeof people)[0]];
    const onA = await connect(a!, pa.alice);
    const onB = await connect(b!, pb.alice);
    const typed = (n: Node) => n.events.items.filter((e) => e.what === "typing").map((e) => e.result);
    const steps: [Node, Client, number, boolean][] = [
      [a!, onA, 0, true],
      [b!, onB, 1999, false],
      [a!, onA, 0, false],
      [b!, onB, 1, true],
      [a!, onA, 0, false],
    ];
    for (const [i, [n, sock, advance, forwarded]] of steps.entries()) {
      clock.advance(advance);
      const before = typed(n).length;
      expect((await sock.request("Typing", { gid: pa.gid })).content).toBe("Ok");
      await n.events.until(() => typed(n).length > before);
      expect({ step: i, forwarded: typed(n).at(-1) }).toEqual({ step: i, forwarded });
    }
    // Redis's TTL only collects the garbage: never shorter than the window, whatever the nodes' clock says.
    const raw = new RedisClient(await redisUrl());
    try {
      expect(Number(await raw.send("PTTL", [`${prefix}tw:${pa.alice.uid}:${pa.gid}`]))).toBeGreaterThan(2000);
    } finally {
      raw.close();
    }
  });
});

test("a node stopping takes its share out at once: its sockets stop counting and its users are offline", async () => {
  const { nodes: [a, b], people } = await cluster(await redisUrl(), { maxSocketsPerUser: 1 });
  const [pa, pb] = people as [(typeof people)[0], (typeof people)[0]];
  await connect(b!, pb.alice);
  const presenceOnA = async () => (await rest(a!, "GET", `/api/user/presence?uids=${pa.alice.uid}`, undefined, pa.bob.token)).body.data[0].online;
  expect(await presenceOnA()).toBe(true);
  expect((await (await connect(a!)).login(pa.alice)).code).toBe(429);
  b!.stopped = true;
  await b!.running.stop();
  await b!.app.shared.close();
  closeApp(b!.app);
  expect(await presenceOnA()).toBe(false);
  expect((await (await connect(a!)).login(pa.alice)).content).toBe("Ok");
});

describe("Redis down: each limit counts on its own node, nothing fails or waits; back to shared when it returns", () => {
  test("throttles, typing, sockets and presence while down and after a restart", async () => {
    const redis = await startRedis();
    servers.push(redis);
    const { nodes: [a, b], people } = await cluster(redis.url, { loginMaxPerAccount: 2, registerMaxPerIp: 1, maxSocketsPerUser: 2 });
    const [pa, pb] = people as [(typeof people)[0], (typeof people)[0]];
    const bobA = await connect(a!, pa.bob);
    const bobB = await connect(b!, pb.bob);

    const down = logMark([a!, b!]);
    await redis.stop();
    // Each node notices (the heartbeat fails at the latest) and says so once.
    await down("redis.limits_local");

    const table: [string, () => Promise<unknown>, unknown][] = [
      // Failed logins: counted per node (two on A refuse the third there; B has seen none).
      ["login A", () => failLogin(a!, "eve").then((r) => r.status), 401],
      ["login A", () => failLogin(a!, "eve").then((r) => r.status), 401],
      ["login A", () => failLogin(a!, "eve").then((r) => r.status), 429],
      ["login B", () => failLogin(b!, "eve").then((r) => r.status), 401],
      // Registrations: per node.
      ["register A", () => register(a!, "down1").then((r) => r.status), 200],
      ["register A", () => register(a!, "down2").then((r) => r.status), 429],
      ["register B", () => register(b!, "down3").then((r) => r.status), 200],
      // Sockets: capped per node (2 on A, then 1 on B, which has seen none).
      ["alice on A", () => connect(a!).then((c) => c.login(pa.alice)).then((r) => r.content), "Ok"],
      ["alice on A", () => connect(a!).then((c) => c.login(pa.alice)).then((r) => r.content), "Ok"],
      ["alice on A, over the cap", () => connect(a!).then((c) => c.login(pa.alice)).then((r) => r.code), 429],
      ["alice on B", () => connect(b!).then((c) => c.login(pb.alice)).then((r) => r.content), "Ok"],
      // Presence: each node answers from its own sockets, and announced her on each.
      ["presence on B", () => rest(b!, "GET", `/api/user/presence?uids=${pb.alice.uid}`, undefined, pb.bob.token).then((r) => r.body.data[0].online), true],
      ["online Notify on A", () => bobA.nextPresence(presenceOf(pa.alice.uid, true)).then(() => true), true],
      ["online Notify on B", () => bobB.nextPresence(presenceOf(pb.alice.uid, true)).then(() => true), true],
    ];
    for (const [label, act, want] of table) expect({ label, got: await act() }).toEqual({ label, got: want });
    // Typing: each node's own window, so both forward (bob, on both nodes).
    expect((await bobA.request("Typing", { gid: pa.gid })).content).toBe("Ok");
    expect((await bobB.request("Typing", { gid: pb.gid })).content).toBe("Ok");
    const typed = (n: Node) => n.events.until((es) => es.some((e) => e.what === "typing"));
    await Promise.all([typed(a!), typed(b!)]);
    expect([a!, b!].map((n) => n.events.items.find((e) => e.what === "typing")!.result)).toEqual([true, true]);

    const up = logMark([a!, b!]);
    await redis.start();
    await up("redis.limits_shared");
    // Shared again, with each node's share written back: alice's two sockets now count together.
    const after: [string, () => Promise<unknown>, unknown][] = [
      ["alice on B, over the cap cluster-wide (3 held)", () => connect(b!).then((c) => c.login(pb.alice)).then((r) => r.code), 429],
      ["presence on A", () => rest(a!, "GET", `/api/user/presence?uids=${pa.alice.uid}`, undefined, pa.bob.token).then((r) => r.body.data[0].online), true],
      ["login A", () => failLogin(a!, "trudy").then((r) => r.status), 401],
      ["login B", () => failLogin(b!, "trudy").then((r) => r.status), 401],
      ["login A", () => failLogin(a!, "trudy").then((r) => r.status), 429],
      // Redis restarted empty: one registration per address again, across both.
      ["register A", () => register(a!, "up1").then((r) => r.status), 200],
      ["register B", () => register(b!, "up2").then((r) => r.status), 429],
    ];
    for (const [label, act, want] of after) expect({ label, got: await act() }).toEqual({ label, got: want });
    // Typing: one window again, in another group so that no local window of the outage is in the way.
    const gid2 = [await group(a!.app, people[0]!.bob, [people[0]!.alice], { name: "second" }), await group(b!.app, people[1]!.bob, [people[1]!.alice], { name: "second" })];
    expect(gid2[0]).toBe(gid2[1]!);
    const typings = (n: Node) => n.events.items.filter((e) => e.what === "typing" && e.gid === gid2[0]);
    expect((await bobA.request("Typing", { gid: gid2[0] })).content).toBe("Ok");
    await a!.events.until(() => typings(a!).length === 1);
    expect((await bobB.request("Typing", { gid: gid2[0] })).content).toBe("Ok");
    await b!.events.until(() => typings(b!).length === 1);
    expect([typings(a!)[0]!.result, typings(b!)[0]!.result]).toEqual([true, false]);
  }, 20_000);

  test("Redis not answering (paused): a call gives up at its deadline and counts locally; shared again once Redis answers", async () => {
    const redis = await startRedis();
    servers.push(redis);
    const { nodes: [a, b] } = await cluster(redis.url, { loginMaxPerAccount: 1 });
    // Frozen (SIGSTOP) until the test lets it go: however slow the machine, nothing answers meanwhile.
    const down = logMark([a!, b!]);
    await redis.pause();
    let up: ReturnType<typeof logMark>;
    try {
      // The deadline (1.5 s here) ends the wait: local counts, one on each node.
      expect([(await failLogin(a!, "oscar")).status, (await failLogin(b!, "oscar")).status, (await failLogin(a!, "oscar")).status]).toEqual([401, 401, 429]);
      await down("redis.limits_local");
    } finally {
      up = logMark([a!, b!]);
      redis.resume();
    }
    await up("redis.limits_shared");
    expect([(await failLogin(a!, "victor")).status, (await failLogin(b!, "victor")).status]).toEqual([401, 429]);
  }, 20_000);
});
