// The bus over Redis pub/sub, through Bun's built-in client: one connection
// publishes, one subscribes (a subscribed Redis connection can do nothing
// else). Each is a fresh RedisClient per connection attempt, reconnected by
// us with a capped backoff: Bun's own reconnection gives up after a number
// of tries and would keep a dropped subscription's listeners without
// resubscribing them.
//
// A silent Redis (frozen, or the path to it dropping packets without a reset)
// answers nothing and closes nothing: every wait on it has a deadline. A
// publish without an answer within it counts as failed (the PostgreSQL writer
// awaits it holding the cluster-wide ids lock, so without one every node's
// writes would wait on this node's socket: src/bus/effects.ts), and its
// connection is dropped, so the publishes that follow fail at once instead of
// each waiting out the deadline; a connection attempt (the handshake, the
// subscriptions, the markers) has the same deadline, or a frozen Redis would
// hold the reconnection forever. What a silent Redis took before it froze it
// may still deliver when it wakes, late: the sequence number of the batch that
// timed out is skipped (the next envelope always shows a gap), and subscribers
// drop an envelope older than one they have seen (SequenceTracker's "stale").
//
// A subscription can go silent too, and nothing would tell: no close, no gap
// (gaps show only when something arrives). So every HEALTH_MS a node
// publishes a ping to itself, on a channel only it listens to; a ping not
// heard back within the deadline drops the subscribing connection, which
// calls onResync("lost") and reconnects ("reconnected").
import { RedisClient } from "bun";
import type { Logger } from "../log";
import { decodeEnvelope, encodeEnvelope, SequenceTracker, withDeadline, type Bus, type BusOptions } from "./bus";

const FIRST_RETRY_MS = 50;
const MAX_RETRY_MS = 2000;
/** How long Redis may take to answer a publish or a connection attempt before it counts as silent. */
export const BUS_DEADLINE_MS = 2000;
/** How often a node checks that its subscription still hears it (the header). */
export const HEALTH_MS = 1000;

class Silent extends Error {}

/** p, or a Silent rejection once ms have passed without it settling. */
const answeredWithin = <T>(p: Promise<T>, ms: number, what: string): Promise<T> => withDeadline(p, ms, () => new Silent(`${what}: no answer within ${ms} ms`));

type Link = {
  readonly client: RedisClient | null;
  up(): Promise<void>;
  close(): void;
};

/**
 * Keeps one connection to Redis: connects, runs onUp on every (re)connection,
 * onDown when it drops, and retries until closed. The first connection must
 * succeed: its failure rejects (a node should not start on a wrong --bus).
 */
async function keepConnected(
  url: string,
  deadlineMs: number,
  hooks: { onUp(client: RedisClient, again: boolean): Promise<void>; onDown(err: Error): void },
  log?: Logger,
): Promise<Link> {
  let client: RedisClient | null = null;
  let closed = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let waiters: (() => void)[] = [];

  const attempt = async (again: boolean): Promise<void> => {
    const c = new RedisClient(url, { autoReconnect: false, enableOfflineQueue: false, connectionTimeout: deadlineMs });
    c.onclose = (err) => {
      if (c !== client) return;
      client = null;
      if (closed) return;
      log?.warn("bus.down", { error: err?.message });
      hooks.onDown(err);
      retry(0);
    };
    try {
      await answeredWithin(
        c.connect().then(() => hooks.onUp(c, again)),
        deadlineMs,
        "connecting",
      );
      // Dropped while being set up: its onclose was ignored (not yet the current one), so retry from here.
      if (!c.connected) throw new Error("connection closed while subscribing");
    } catch (err) {
      c.onclose = null;
      c.close();
      throw err;
    }
    if (closed) return c.close();
    client = c;
    if (again) log?.info("bus.up", {});
    for (const w of waiters.splice(0)) w();
  };

  const retry = (tries: number) => {
    const delay = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** tries);
    timer = setTimeout(() => {
      if (closed) return;
      attempt(true).catch(() => retry(tries + 1));
    }, delay);
  };

  await attempt(false);
  return {
    get client() {
      return client;
    },
    up: () => (client ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve))),
    close() {
      closed = true;
      clearTimeout(timer);
      client?.close();
      client = null;
    },
  };
}

/** Connects to the Redis at `url` (redis://HOST:PORT); rejects if it cannot be reached now. deadlineMs: see the header (BUS_DEADLINE_MS). */
export async function connectRedisBus<T>(url: string, opts: BusOptions & { log?: Logger; deadlineMs?: number; healthMs?: number }): Promise<Bus<T>> {
  const id = crypto.randomUUID();
  const log = opts.log;
  const deadlineMs = opts.deadlineMs ?? BUS_DEADLINE_MS;
  // This node's own channel for its health pings (the header).
  const loopback = `rim-bus-loopback:${id}`;
  let ping: { n: number; at: number; client: RedisClient } | null = null;
  let pings = 0;
  const heard = (message: string) => {
    if (ping && Number(message) >= ping.n) ping = null;
  };
  const tracker = new SequenceTracker();
  const handlers = new Map<string, (batch: T, publisher: string) => void>();
  const seqs = new Map<string, number>();
  // Channels whose last publish failed: on reconnection a marker with the next number shows subscribers the gap at once.
  // Logged as it joins, so once per outage, not once per batch while Redis is away.
  const failed = new Set<string>();

  const receive = (message: string, channel: string) => {
    const e = decodeEnvelope<T>(message);
    if (!e) return log?.warn("bus.bad_message", { channel });
    if (e.p === id) return;
    const seen = tracker.observe(channel, e.p, e.s);
    if (seen === "gap" || seen === "stale") opts.onResync("gap", channel);
    // Stale: a batch a silent Redis delivered late, after a later one of its publisher: applying it now would put it out of order.
    if (seen !== "stale" && e.b !== undefined) handlers.get(channel)?.(e.b, e.p);
  };

  const nextSeq = (channel: string) => {
    const s = (seqs.get(channel) ?? 0) + 1;
    seqs.set(channel, s);
    return s;
  };

  const pub = await keepConnected(
    url,
    deadlineMs,
    {
      async onUp(client, again) {
        if (!again) return;
        for (const channel of [...failed]) {
          await client.publish(channel, encodeEnvelope({ p: id, s: nextSeq(channel) }));
          // Only once sent: an attempt abandoned at its deadline leaves the marker to the next one.
          failed.delete(channel);
        }
      },
      onDown() {},
    },
    log,
  );
  let sub: Link;
  try {
    sub = await keepConnected(
      url,
      deadlineMs,
      {
        async onUp(client, again) {
          await client.subscribe(loopback, heard);
          for (const channel of handlers.keys()) await client.subscribe(channel, receive);
          if (again) opts.onResync("reconnected");
        },
        onDown() {
          tracker.reset();
          opts.onResync("lost");
        },
      },
      log,
    );
  } catch (err) {
    pub.close();
    throw err;
  }

  const checkHealth = () => {
    const listening = sub.client;
    if (!listening) return void (ping = null); // down already: reconnecting
    if (ping && ping.client !== listening) ping = null; // subscribed again since
    if (ping) {
      if (performance.now() - ping.at < deadlineMs) return;
      log?.warn("bus.subscription_silent", { waitedMs: Math.round(performance.now() - ping.at) });
      ping = null;
      // Its onclose reports "lost" and reconnects.
      return listening.close();
    }
    const publisher = pub.client;
    // The publishing connection is down (it reconnects): no ping, no verdict on the subscription.
    if (!publisher) return;
    ping = { n: ++pings, at: performance.now(), client: listening };
    publisher.publish(loopback, String(ping.n)).catch(() => {});
  };
  const health = setInterval(checkHealth, opts.healthMs ?? HEALTH_MS);
  health.unref();

  const publishFailed = (channel: string, err: unknown) => {
    if (!failed.has(channel)) log?.warn("bus.publish_failed", { channel, error: err instanceof Error ? err.message : String(err) });
    failed.add(channel);
  };

  return {
    id,
    async publish(channel, batch) {
      const envelope = encodeEnvelope({ p: id, s: nextSeq(channel), b: batch });
      const client = pub.client;
      try {
        if (!client) throw new Error("not connected");
        await answeredWithin(client.publish(channel, envelope), deadlineMs, "publish");
        return true;
      } catch (err) {
        if (err instanceof Silent) {
          // Redis may still deliver it when it wakes: skipped, its number leaves a gap before the next envelope even then.
          nextSeq(channel);
          publishFailed(channel, err);
          // Dropped (its onclose reconnects): the publishes that follow fail at once while Redis stays silent.
          if (client && pub.client === client) client.close();
        } else publishFailed(channel, err);
        return false;
      }
    },
    async subscribe(channel, onBatch) {
      const known = handlers.has(channel);
      handlers.set(channel, onBatch);
      // While down, the reconnection subscribes every channel in `handlers`.
      if (!known) await sub.client?.subscribe(channel, receive);
    },
    async unsubscribe(channel) {
      if (!handlers.delete(channel)) return;
      await sub.client?.unsubscribe(channel);
    },
    async connected() {
      await Promise.all([pub.up(), sub.up()]);
    },
    async close() {
      clearInterval(health);
      pub.close();
      sub.close();
    },
  };
}
