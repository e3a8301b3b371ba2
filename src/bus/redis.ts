// The bus over Redis pub/sub, through Bun's built-in client: one connection
// publishes, one subscribes (a subscribed Redis connection can do nothing
// else). Each is a fresh RedisClient per connection attempt, reconnected by
// us with a capped backoff: Bun's own reconnection gives up after a number
// of tries and would keep a dropped subscription's listeners without
// resubscribing them.
import { RedisClient } from "bun";
import type { Logger } from "../log";
import { decodeEnvelope, encodeEnvelope, SequenceTracker, type Bus, type BusOptions } from "./bus";

const FIRST_RETRY_MS = 50;
const MAX_RETRY_MS = 2000;

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
async function keepConnected(url: string, hooks: { onUp(client: RedisClient, again: boolean): Promise<void>; onDown(err: Error): void }, log?: Logger): Promise<Link> {
  let client: RedisClient | null = null;
  let closed = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let waiters: (() => void)[] = [];

  const attempt = async (again: boolean): Promise<void> => {
    const c = new RedisClient(url, { autoReconnect: false, enableOfflineQueue: false, connectionTimeout: 5000 });
    c.onclose = (err) => {
      if (c !== client) return;
      client = null;
      if (closed) return;
      log?.warn("bus.down", { error: err?.message });
      hooks.onDown(err);
      retry(0);
    };
    try {
      await c.connect();
      await hooks.onUp(c, again);
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

/** Connects to the Redis at `url` (redis://HOST:PORT); rejects if it cannot be reached now. */
export async function connectRedisBus<T>(url: string, opts: BusOptions & { log?: Logger }): Promise<Bus<T>> {
  const id = crypto.randomUUID();
  const log = opts.log;
  const tracker = new SequenceTracker();
  const handlers = new Map<string, (batch: T, publisher: string) => void>();
  const seqs = new Map<string, number>();
  // Channels whose last publish failed: on reconnection a marker with the next number shows subscribers the gap at once.
  const failed = new Set<string>();

  const receive = (message: string, channel: string) => {
    const e = decodeEnvelope<T>(message);
    if (!e) return log?.warn("bus.bad_message", { channel });
    if (e.p === id) return;
    if (tracker.observe(channel, e.p, e.s) === "gap") opts.onResync("gap", channel);
    if (e.b !== undefined) handlers.get(channel)?.(e.b, e.p);
  };

  const nextSeq = (channel: string) => {
    const s = (seqs.get(channel) ?? 0) + 1;
    seqs.set(channel, s);
    return s;
  };

  const pub = await keepConnected(
    url,
    {
      async onUp(client, again) {
        if (!again) return;
        for (const channel of [...failed]) {
          failed.delete(channel);
          await client.publish(channel, encodeEnvelope({ p: id, s: nextSeq(channel) }));
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
      {
        async onUp(client, again) {
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

  return {
    id,
    async publish(channel, batch) {
      const envelope = encodeEnvelope({ p: id, s: nextSeq(channel), b: batch });
      const client = pub.client;
      try {
        if (!client) throw new Error("not connected");
        await client.publish(channel, envelope);
        return true;
      } catch (err) {
        failed.add(channel);
        log?.warn("bus.publish_failed", { channel, error: err instanceof Error ? err.message : String(err) });
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
      pub.close();
      sub.close();
    },
  };
}
