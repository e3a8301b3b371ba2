// The bus between nodes (src/bus/), on a real Redis (tests/services.ts): it
// delivers each publisher's batches in order to every subscriber, never back
// to their publisher, and calls onResync on a sequence gap, on losing Redis
// and on getting it back. Every wait is for an event (a batch, a resync).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { RedisClient } from "bun";
import { decodeEnvelope, encodeEnvelope, SequenceTracker, type Bus, type ResyncReason } from "../src/bus/bus";
import { connectRedisBus } from "../src/bus/redis";
import { createLogger, type Logger } from "../src/log";
import { freePort, redisUrl, startRedis, tcpProxy } from "./services";
import { recorder } from "./recorder";

type Node = { bus: Bus<string>; batches: ReturnType<typeof recorder<string>>; resyncs: ReturnType<typeof recorder<string>> };

const opened: Bus<string>[] = [];
// The subscription's health check (src/bus/redis.ts) is off but where a test turns it on: each test expects its own resyncs.
async function node(url: string, opts: { deadlineMs?: number; log?: Logger; healthMs?: number } = {}): Promise<Node> {
  const resyncs = recorder<string>();
  const bus = await connectRedisBus<string>(url, { healthMs: 3_600_000, ...opts, onResync: (reason: ResyncReason, channel?: string) => resyncs.push(channel ? `${reason} ${channel}` : reason) });
  opened.push(bus);
  return { bus, batches: recorder<string>(), resyncs };
}
const listen = (n: Node, channel: string) => n.bus.subscribe(channel, (batch) => n.batches.push(batch));

let url: string;
let raw: RedisClient;
beforeAll(async () => {
  url = await redisUrl();
  raw = new RedisClient(url);
});
afterAll(async () => {
  await Promise.all(opened.map((b) => b.close()));
  raw?.close();
});

let channels = 0;
const channel = () => `rim-test-${process.pid}-${++channels}`;

describe("SequenceTracker", () => {
  test.each<[string, [string, string, number][], string[]]>([
    ["in order from 1", [["c", "p", 1], ["c", "p", 2], ["c", "p", 3]], ["first", "next", "next"]],
    ["joined late: the first number seen is where it starts", [["c", "p", 41], ["c", "p", 42]], ["first", "next"]],
    ["one skipped", [["c", "p", 1], ["c", "p", 3], ["c", "p", 4]], ["first", "gap", "next"]],
    ["repeated: stale", [["c", "p", 1], ["c", "p", 1]], ["first", "stale"]],
    ["backwards: stale", [["c", "p", 5], ["c", "p", 4]], ["first", "stale"]],
    // A batch delivered late (its publish timed out on a silent Redis): the last seen stays, what follows it is next.
    ["late, after a later one: stale, and the count goes on from the later", [["c", "p", 1], ["c", "p", 3], ["c", "p", 2], ["c", "p", 4]], ["first", "gap", "stale", "next"]],
    ["two publishers counted apart", [["c", "p", 1], ["c", "q", 7], ["c", "p", 2], ["c", "q", 8]], ["first", "first", "next", "next"]],
    ["two channels counted apart", [["c", "p", 1], ["d", "p", 1], ["c", "p", 2], ["d", "p", 3]], ["first", "first", "next", "gap"]],
  ])("%s", (_label, seen, want) => {
    const t = new SequenceTracker();
    expect(seen.map(([c, p, s]) => t.observe(c, p, s) as string)).toEqual(want);
  });

  test("after reset every publisher starts afresh", () => {
    const t = new SequenceTracker();
    t.observe("c", "p", 1);
    t.reset();
    expect(t.observe("c", "p", 9)).toBe("first");
  });
});

describe("envelopes", () => {
  test.each([
    ["a batch", encodeEnvelope({ p: "a", s: 1, b: { x: 1 } }), { p: "a", s: 1, b: { x: 1 } }],
    ["a marker", encodeEnvelope({ p: "a", s: 2 }), { p: "a", s: 2 }],
    ["not JSON", "hello", null],
    ["no publisher", JSON.stringify({ s: 1, b: 1 }), null],
    ["a fractional number", JSON.stringify({ p: "a", s: 1.5 }), null],
    ["null", "null", null],
  ])("%s", (_label, text, want) => expect(decodeEnvelope(text)).toEqual(want as never));
});

describe("the Redis bus", () => {
  test("delivers every batch in order to two subscribers, and none back to its publisher", async () => {
    const c = channel();
    const [a, b, d] = await Promise.all([node(url), node(url), node(url)]);
    await Promise.all([listen(a, c), listen(b, c), listen(d, c)]);
    const sent = Array.from({ length: 200 }, (_, i) => `batch ${i}`);
    expect(await Promise.all(sent.map((x) => a.bus.publish(c, x)))).toEqual(sent.map(() => true));
    await Promise.all([b.batches.until((x) => x.length >= sent.length), d.batches.until((x) => x.length >= sent.length)]);
    expect(b.batches.items).toEqual(sent);
    expect(d.batches.items).toEqual(sent);
    // A batch of another publisher reaches a after all of a's own echoes (one connection keeps order): none got through.
    await raw.publish(c, encodeEnvelope({ p: "someone-else", s: 1, b: "theirs" }));
    await a.batches.until((x) => x.includes("theirs"));
    expect(a.batches.items).toEqual(["theirs"]);
    expect([a.resyncs.items, b.resyncs.items, d.resyncs.items]).toEqual([[], [], []]);
  });

  test("a skipped sequence number is a gap: onResync('gap', channel), and the batches still arrive", async () => {
    const c = channel();
    const b = await node(url);
    await listen(b, c);
    for (const s of [1, 2, 4, 5]) await raw.publish(c, encodeEnvelope({ p: "other-node", s, b: `n${s}` }));
    await b.batches.until((x) => x.includes("n5"));
    expect(b.batches.items).toEqual(["n1", "n2", "n4", "n5"]);
    expect(b.resyncs.items).toEqual([`gap ${c}`]);
  });

  test("a stale batch (a number not above the last, as a silent Redis delivers late) is not delivered, and is a gap", async () => {
    const c = channel();
    const b = await node(url);
    await listen(b, c);
    for (const s of [1, 2, 4, 3, 5]) await raw.publish(c, encodeEnvelope({ p: "other-node", s, b: `n${s}` }));
    await raw.publish(c, encodeEnvelope({ p: "other-node", s: 5, b: "n5 again" }));
    await raw.publish(c, encodeEnvelope({ p: "other-node", s: 6, b: "n6" }));
    await b.batches.until((x) => x.includes("n6"));
    expect(b.batches.items).toEqual(["n1", "n2", "n4", "n5", "n6"]);
    expect(b.resyncs.items).toEqual([`gap ${c}`, `gap ${c}`, `gap ${c}`]);
  });

  test("a marker (no batch) is not delivered but still counts", async () => {
    const c = channel();
    const b = await node(url);
    await listen(b, c);
    await raw.publish(c, encodeEnvelope({ p: "other-node", s: 1, b: "one" }));
    await raw.publish(c, encodeEnvelope({ p: "other-node", s: 3 }));
    await raw.publish(c, encodeEnvelope({ p: "other-node", s: 4, b: "four" }));
    await b.batches.until((x) => x.includes("four"));
    expect(b.batches.items).toEqual(["one", "four"]);
    expect(b.resyncs.items).toEqual([`gap ${c}`]);
  });

  test("unsubscribed, a channel delivers nothing more", async () => {
    const [c, other] = [channel(), channel()];
    const b = await node(url);
    await Promise.all([listen(b, c), listen(b, other)]);
    await b.bus.unsubscribe(c);
    await raw.publish(c, encodeEnvelope({ p: "x", s: 1, b: "dropped" }));
    await raw.publish(other, encodeEnvelope({ p: "x", s: 1, b: "kept" }));
    await b.batches.until((x) => x.includes("kept"));
    expect(b.batches.items).toEqual(["kept"]);
  });

  test("Redis stopped and started again: 'lost', publishing fails, then 'reconnected' and batches flow again", async () => {
    const redis = await startRedis();
    try {
      const c = channel();
      const [a, b] = await Promise.all([node(redis.url), node(redis.url)]);
      await listen(b, c);
      expect(await a.bus.publish(c, "before")).toBe(true);
      await b.batches.until((x) => x.includes("before"));

      await redis.stop();
      await b.resyncs.until((x) => x.includes("lost"));
      expect(await a.bus.publish(c, "while down")).toBe(false);

      await redis.start();
      await b.resyncs.until((x) => x.includes("reconnected"));
      await Promise.all([a.bus.connected(), b.bus.connected()]);
      expect(await a.bus.publish(c, "after")).toBe(true);
      await b.batches.until((x) => x.includes("after"));
      expect(b.batches.items).toEqual(["before", "after"]);
      expect(b.resyncs.items).toEqual(["lost", "reconnected"]);
      expect(a.resyncs.items).toEqual(["lost", "reconnected"]);
    } finally {
      await redis.stop();
    }
  });

  test("Redis frozen (SIGSTOP): a publish fails at its deadline, the next at once, logged once; awake, the gap shows and batches flow", async () => {
    const redis = await startRedis();
    try {
      const c = channel();
      const lines: string[] = [];
      const log = createLogger({ level: "warn", format: "json", write: (l) => lines.push(l) });
      const [a, b] = await Promise.all([node(redis.url, { deadlineMs: 1000, log }), node(redis.url, { deadlineMs: 1000 })]);
      await listen(b, c);
      expect(await a.bus.publish(c, "before")).toBe(true);
      await b.batches.until((x) => x.includes("before"));

      await redis.pause();
      try {
        expect(await a.bus.publish(c, "taken, unanswered")).toBe(false);
        // Its connection was dropped at the deadline: not sent at all.
        expect(await a.bus.publish(c, "never sent")).toBe(false);
      } finally {
        redis.resume();
      }
      expect(lines.filter((l) => l.includes("bus.publish_failed")).length).toBe(1);
      // Reconnected, a marker shows the gap (the unanswered batch, delivered late or not, leaves one).
      await b.resyncs.until((x) => x.includes(`gap ${c}`));
      await a.bus.connected();
      expect(await a.bus.publish(c, "after")).toBe(true);
      await b.batches.until((x) => x.includes("after"));
      // What Redis had taken may come late, in its publisher's order or not at all; nothing else came.
      expect(b.batches.items.filter((x) => x !== "taken, unanswered")).toEqual(["before", "after"]);
      expect(b.resyncs.items.every((r) => r === `gap ${c}`)).toBe(true);
    } finally {
      await redis.stop();
    }
  });

  test("a subscription gone silent (the path holds every byte, closes nothing), the node publishing nothing: 'lost' at the health check, 'reconnected' once the path answers, and batches flow", async () => {
    const proxy = await tcpProxy(Number(new URL(url).port));
    const c = channel();
    const a = await node(`redis://127.0.0.1:${proxy.port}`, { deadlineMs: 300, healthMs: 100 });
    const b = await node(url);
    await listen(a, c);
    expect(await b.bus.publish(c, "before")).toBe(true);
    await a.batches.until((x) => x.includes("before"));
    proxy.mute();
    try {
      // Nothing was closed and a publishes nothing: only its own ping, unheard, can tell.
      await a.resyncs.until((x) => x.includes("lost"));
      expect(await b.bus.publish(c, "while silent")).toBe(true);
    } finally {
      proxy.unmute();
    }
    await a.resyncs.until((x) => x.includes("reconnected"));
    await a.bus.connected();
    expect(await b.bus.publish(c, "after")).toBe(true);
    await a.batches.until((x) => x.includes("after"));
    // What was published while it was silent is for Sync (the Resync); what follows arrives.
    expect(a.batches.items.filter((x) => x !== "while silent")).toEqual(["before", "after"]);
  });

  test("a Redis that cannot be reached at start is an error", async () => {
    const port = await freePort();
    await expect(connectRedisBus(`redis://127.0.0.1:${port}`, { onResync() {} })).rejects.toThrow();
  });
});
