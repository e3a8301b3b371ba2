// The shared limits of a cluster in Redis (the interface: domain/shared-state.ts),
// each one atomic in Redis: a Lua script or a single command. The throttles'
// windows (failed logins, registrations, Typing) are measured on the node's
// Clock, as on a single node (and its fallback while Redis is down): each script
// gets the node's `now` and stores times, not TTLs, so an injected clock (a
// test's manual one) moves them too. Every node's clock must therefore agree
// within a second or so (NTP; docs/deploy.md). The keys' TTLs only collect the
// garbage: generous, never shorter than the window. Presence and sockets per
// user are kept per node: a node's entries count only while its heartbeat (a
// score in one sorted set, on Redis's clock) is in the future, so a killed node
// stops counting within nodeTtlMs, and the next heartbeat of a live node reaps
// it and reports its users who went offline.
//
// While Redis is down (or slow: every call has a deadline) nothing fails and
// nothing waits: each limit falls back to this node's own count, which every
// node keeps anyway (LocalLimits), with one warning per outage. On the way
// back this node writes its whole share again (its sockets and online users).
import { RedisClient } from "bun";
import { AppError } from "../errors";
import type { Logger } from "../log";
import { TYPING_MS } from "../domain/typing";
import type { LimitSettings, LocalLimits, SharedState } from "../domain/shared-state";
import type { Clock } from "../time";
import { withDeadline } from "./bus";

export type RedisSharedOptions = {
  url: string;
  settings: LimitSettings;
  local: LocalLimits;
  /** The clock the throttles' windows are measured on: the node's (the same as LocalLimits'). */
  clock: Clock;
  /** Users with a logged-in socket on this node (the hub). */
  localOnline(): Iterable<number>;
  /** Whether uid has a logged-in socket on this node, for presence while Redis is down. */
  isLocallyOnline(uid: number): boolean;
  /** Users whose last socket was on a node that died: they are offline now. */
  onDeadNodeUsers(uids: number[]): void;
  /**
   * Some node died (this node reaped it; one node reaps each): it may have committed a batch it
   * never published, so nobody's sockets got that push.
   */
  onDeadNodes?(count: number): void;
  log?: Logger;
  /** Keys start with this (tests give each cluster its own). */
  prefix?: string;
  heartbeatMs?: number;
  /** A node whose heartbeat is older than this no longer counts. */
  nodeTtlMs?: number;
  /** The longest any call waits for Redis before falling back. */
  timeoutMs?: number;
};

const FIRST_RETRY_MS = 50;
const MAX_RETRY_MS = 2000;

// Redis's clock in ms, and whether a node's heartbeat is live; prepended to the scripts that need them.
// Liveness is on Redis's clock, one for every node: a node whose own clock is off still beats in time.
const LIB = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function alive(nodes, node)
  local s = redis.call('ZSCORE', nodes, node)
  return s and tonumber(s) > now
end
`;

// A throttle's key outlives its window by this much at least (real time), so that clocks a little apart
// still find it; past that, the stored times decide and the TTL only collects the garbage.
const GARBAGE_AFTER_MS = 60_000;

/**
 * A key's failed logins: a hash { n: count, reset: when its window ends (node clock) }.
 * KEYS: account, address. ARGV: now, window, max per account, max per address, TTL.
 * 0: counted; else ms until allowed.
 */
const LOGIN_ATTEMPT = `
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local maxes = { tonumber(ARGV[3]), tonumber(ARGV[4]) }
local function live(key)
  local v = redis.call('HMGET', key, 'n', 'reset')
  local reset = tonumber(v[2])
  if reset and reset > now then return tonumber(v[1]) or 0, reset end
  return nil, nil
end
for i = 1, 2 do
  local n, reset = live(KEYS[i])
  if n and n >= maxes[i] then return math.max(1, reset - now) end
end
for i = 1, 2 do
  if live(KEYS[i]) then redis.call('HINCRBY', KEYS[i], 'n', 1)
  else redis.call('HSET', KEYS[i], 'n', 1, 'reset', ARGV[1] + window) end
  redis.call('PEXPIRE', KEYS[i], ARGV[5])
end
return 0
`;

/** KEYS: account, address. Forgives the account; takes back the address's failure counted in advance (its window stays). */
const LOGIN_SUCCESS = `
redis.call('DEL', KEYS[1])
if tonumber(redis.call('HGET', KEYS[2], 'n') or '0') > 0 then redis.call('HINCRBY', KEYS[2], 'n', -1) end
return 0
`;

/** KEYS: the address's sorted set of registration times (node clock). ARGV: now, window, max, member, TTL. 0: taken; else ms until a slot frees. */
const REGISTRATION_RESERVE = `
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + window - now)
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 0
`;

/** KEYS: the user and group's last forwarded Typing (node clock). ARGV: now, window, TTL. 1: forward it (and it is the last now). */
const TYPING_TAKE = `
local now = tonumber(ARGV[1])
local last = tonumber(redis.call('GET', KEYS[1]))
if last and now - last < tonumber(ARGV[2]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1
`;

/** KEYS: nodes, the user's node set, this node's user set. ARGV: node, uid. 1: the user's first live node. */
const PRESENCE_ARRIVE = `${LIB}
local first = 1
for _, n in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if n ~= ARGV[1] and alive(KEYS[1], n) then first = 0 end
end
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[2])
return first
`;

/** KEYS: nodes, the user's node set. ARGV: node. 1: no live node left holds the user. */
const PRESENCE_DEPART = `${LIB}
redis.call('SREM', KEYS[2], ARGV[1])
for _, n in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if alive(KEYS[1], n) then return 0 end
end
return 1
`;

/** KEYS: nodes. ARGV: prefix, uids... For each: 1 when a live node holds them. */
const PRESENCE_ONLINE = `${LIB}
local out = {}
for i = 2, #ARGV do
  out[i - 1] = 0
  for _, n in ipairs(redis.call('SMEMBERS', ARGV[1] .. 'p:' .. ARGV[i])) do
    if alive(KEYS[1], n) then out[i - 1] = 1 break end
  end
end
return out
`;

/** KEYS: nodes, the user's count per node, this node's user set. ARGV: node, uid, max. 1: counted; 0: refused. */
const SOCKET_RESERVE = `${LIB}
local total = 0
local counts = redis.call('HGETALL', KEYS[2])
for i = 1, #counts, 2 do
  if alive(KEYS[1], counts[i]) then total = total + tonumber(counts[i + 1]) else redis.call('HDEL', KEYS[2], counts[i]) end
end
if total >= tonumber(ARGV[3]) then return 0 end
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
redis.call('SADD', KEYS[3], ARGV[2])
return 1
`;

/** KEYS: the user's count per node. ARGV: node. */
const SOCKET_RELEASE = `
if redis.call('HINCRBY', KEYS[1], ARGV[1], -1) <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0
`;

/**
 * KEYS: nodes. ARGV: prefix, node, ttl. Renews the node's heartbeat and reaps
 * dead nodes: their entries go, and the users no live node holds any more are
 * returned (each dead node is reaped by one node only: ZREM says who).
 * Returns { 1 if this node was unknown (Redis lost it: write its share again), the number of nodes
 * reaped, uids... }.
 */
const HEARTBEAT = `${LIB}
local p = ARGV[1]
local added = redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
local gone = { added, 0 }
for _, dead in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)) do
  if redis.call('ZREM', KEYS[1], dead) == 1 then
    gone[2] = gone[2] + 1
    for _, uid in ipairs(redis.call('SMEMBERS', p .. 'n:' .. dead)) do
      redis.call('HDEL', p .. 'c:' .. uid, dead)
      if redis.call('SREM', p .. 'p:' .. uid, dead) == 1 then
        local still = false
        for _, n in ipairs(redis.call('SMEMBERS', p .. 'p:' .. uid)) do
          if alive(KEYS[1], n) then still = true break end
        end
        if not still then gone[#gone + 1] = tonumber(uid) end
      end
    end
    redis.call('DEL', p .. 'n:' .. dead)
  end
end
return gone
`;

/** KEYS: nodes. ARGV: prefix, node, ttl, JSON { online: uids, counts: [uid, n]... }. Replaces this node's share. */
const RESYNC = `${LIB}
local p, node = ARGV[1], ARGV[2]
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), node)
for _, uid in ipairs(redis.call('SMEMBERS', p .. 'n:' .. node)) do
  redis.call('SREM', p .. 'p:' .. uid, node)
  redis.call('HDEL', p .. 'c:' .. uid, node)
end
redis.call('DEL', p .. 'n:' .. node)
local share = cjson.decode(ARGV[4])
for _, uid in ipairs(share.online) do
  redis.call('SADD', p .. 'p:' .. uid, node)
  redis.call('SADD', p .. 'n:' .. node, uid)
end
for _, c in ipairs(share.counts) do
  redis.call('HSET', p .. 'c:' .. c[1], node, c[2])
  redis.call('SADD', p .. 'n:' .. node, c[1])
end
return 0
`;

class Unavailable extends Error {}

/** The shared limits in the Redis at url. Connects in the background: until then (and whenever Redis is down) each limit counts locally. */
export function createRedisSharedState(opts: RedisSharedOptions): SharedState & { readonly node: string; heartbeat(): Promise<void>; halt(): void } {
  const node = crypto.randomUUID();
  const log = opts.log;
  const p = opts.prefix ?? "rim:";
  const nodesKey = p + "nodes";
  const heartbeatMs = opts.heartbeatMs ?? 1000;
  const nodeTtlMs = opts.nodeTtlMs ?? 5000;
  const timeoutMs = opts.timeoutMs ?? 1000;
  const { settings, local, clock } = opts;
  /** A throttle key's TTL: the window and then some; the window itself is the stored times'. */
  const garbageAfter = (windowMs: number) => 2 * windowMs + GARBAGE_AFTER_MS;

  let client: RedisClient | null = null;
  let closed = false;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let readyWaiters: (() => void)[] = [];
  // One warning per outage; "redis.up" when it ends.
  let degraded = false;
  // This node's sockets counted in Redis, and those refused there (the Login job reads the verdict).
  const held = new Map<object, number>();
  // Reservations on their way to Redis; a socket released meanwhile (closed) loses its entry, and the count is given back as it lands.
  const pending = new Map<object, object>();

  const fellBack = (what: string, err: unknown) => {
    if (degraded) return;
    degraded = true;
    log?.warn("redis.limits_local", { what, error: err instanceof Error ? err.message : String(err), note: "limits count on this node only until Redis answers" });
  };

  /** p, or Unavailable once the deadline passed without it settling. */
  const answered = <T>(p: Promise<T>): Promise<T> => withDeadline(p, timeoutMs, () => new Unavailable(`no answer within ${timeoutMs} ms`));

  /** One call to Redis within the deadline; Unavailable when it is down or late. */
  const call = async <T>(command: string, args: string[]): Promise<T> => {
    const c = client;
    if (!c) throw new Unavailable("not connected");
    try {
      return (await answered(c.send(command, args))) as T;
    } catch (err) {
      if (err instanceof Unavailable && client === c) {
        // Not answering: dropped and reconnected, so the next calls fall back at once instead of each waiting.
        client = null;
        c.close();
        fellBack("timeout", err);
        retry(0);
      }
      throw err instanceof Unavailable ? err : new Unavailable(err instanceof Error ? err.message : String(err));
    }
  };
  const script = <T>(lua: string, keys: string[], args: (string | number)[]) => call<T>("EVAL", [lua, String(keys.length), ...keys, ...args.map(String)]);
  // The answers callers act on later (presence); settled() waits for them, after the callers' own reactions.
  const inFlight = new Set<Promise<unknown>>();
  const tracked = <T>(r: Promise<T>): Promise<T> => {
    inFlight.add(r);
    const done = () => void inFlight.delete(r);
    r.then(done, done);
    return r;
  };

  const share = () => {
    const counts = new Map<number, number>();
    for (const uid of held.values()) counts.set(uid, (counts.get(uid) ?? 0) + 1);
    return JSON.stringify({ online: [...opts.localOnline()], counts: [...counts] });
  };
  // cjson turns an empty array into {}, which ipairs reads as empty too.
  const resync = () => script(RESYNC, [nodesKey], [p, node, nodeTtlMs, share()]);

  const heartbeat = async () => {
    const [added, reaped, ...dead] = await script<number[]>(HEARTBEAT, [nodesKey], [p, node, nodeTtlMs]);
    if (added === 1) await resync();
    if (reaped) opts.onDeadNodes?.(reaped);
    if (dead.length) opts.onDeadNodeUsers(dead);
  };

  let beating: ReturnType<typeof setInterval> | undefined;
  // Without a connection there is nothing to beat against: connecting, or the loss already fell back (and said so).
  const beat = () =>
    client === null
      ? undefined
      : heartbeat().then(
          () => {
            if (degraded) log?.info("redis.limits_shared", {});
            degraded = false;
          },
          (err) => fellBack("heartbeat", err),
        );

  const connect = async (tries: number) => {
    const c = new RedisClient(opts.url, { autoReconnect: false, enableOfflineQueue: false, connectionTimeout: timeoutMs });
    c.onclose = (err) => {
      if (c !== client) return;
      client = null;
      if (closed) return;
      fellBack("connection", err ?? new Error("closed"));
      retry(0);
    };
    try {
      await c.connect();
      if (closed) return c.close();
      // This node's share goes in before anything else may use the connection.
      await answered(c.send("EVAL", [RESYNC, "1", nodesKey, p, node, String(nodeTtlMs), share()]));
      if (closed) return c.close();
      client = c;
    } catch (err) {
      if (client === c) client = null;
      c.onclose = null;
      c.close();
      fellBack("connect", err);
      return retry(tries + 1);
    }
    if (degraded) log?.info("redis.limits_shared", {});
    degraded = false;
    for (const w of readyWaiters.splice(0)) w();
  };
  const retry = (tries: number) => {
    if (closed) return;
    retryTimer = setTimeout(() => void connect(tries), Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** tries));
  };
  void connect(0);
  beating = setInterval(beat, heartbeatMs);

  /** Whether this node's first (last) socket of a user made them online (offline) cluster-wide; while Redis is down, this node decides alone. */
  const presenceCall = async (lua: string, keys: string[], args: (string | number)[]): Promise<boolean> => {
    try {
      return (await script<number>(lua, keys, args)) === 1;
    } catch (err) {
      fellBack("presence", err);
      return true;
    }
  };

  // The login and Typing keys hold times since they follow the node's clock (they were counters and flags
  // with TTLs, under "la:", "li:", "t:"): new names, so that nodes of both versions during a rolling upgrade
  // count apart instead of failing on each other's keys.
  const acct = (account: string) => p + "lwa:" + account.replace(/[A-Z]/g, (c) => c.toLowerCase());
  const addr = (ip: string) => p + "lwi:" + ip;

  return {
    kind: "redis",
    node,
    heartbeat,
    login: {
      async attempt(account, ip) {
        // Counted here too, so that an outage falls back on this node's own counts.
        let localVerdict: AppError | null = null;
        try {
          local.login.assertAllowed(account, ip);
        } catch (err) {
          localVerdict = err as AppError;
        }
        let waitMs: number;
        try {
          const { windowMs, maxPerAccount, maxPerIp } = settings.login;
          waitMs = await script<number>(LOGIN_ATTEMPT, [acct(account), addr(ip)], [clock(), windowMs, maxPerAccount, maxPerIp, garbageAfter(windowMs)]);
        } catch (err) {
          fellBack("login", err);
          if (localVerdict) throw localVerdict;
          local.login.recordFailure(account, ip);
          return;
        }
        if (waitMs > 0) throw new AppError("rate_limited", "too many failed logins, try again later", Math.max(1, Math.ceil(waitMs / 1000)));
        local.login.recordFailure(account, ip);
      },
      succeeded(account, ip) {
        local.login.recordSuccess(account, ip);
        script(LOGIN_SUCCESS, [acct(account), addr(ip)], []).catch((err) => fellBack("login", err));
      },
    },
    registrations: {
      async reserve(ip) {
        if (settings.registrations.max === 0) return () => {};
        const member = crypto.randomUUID();
        let waitMs: number;
        try {
          const { windowMs, max } = settings.registrations;
          waitMs = await script<number>(REGISTRATION_RESERVE, [p + "r:" + ip], [clock(), windowMs, max, member, garbageAfter(windowMs)]);
        } catch (err) {
          fellBack("registrations", err);
          return local.registrations.reserve(ip);
        }
        if (waitMs > 0) throw new AppError("rate_limited", "too many registrations from this address, try again later", Math.max(1, Math.ceil(waitMs / 1000)));
        let released = false;
        return () => {
          if (released) return;
          released = true;
          call("ZREM", [p + "r:" + ip, member]).catch((err) => fellBack("registrations", err));
        };
      },
    },
    typing: {
      async take(uid, gid) {
        try {
          return (await script<number>(TYPING_TAKE, [`${p}tw:${uid}:${gid}`], [clock(), TYPING_MS, garbageAfter(TYPING_MS)])) === 1;
        } catch (err) {
          fellBack("typing", err);
          return local.typing.take(uid, gid) !== null;
        }
      },
    },
    sockets: {
      async reserve(ws, uid, max, localCount) {
        const before = held.get(ws);
        if (before === uid) return true;
        if (before !== undefined) this.release(ws);
        const ticket = {};
        pending.set(ws, ticket);
        let counted: boolean;
        try {
          counted = (await script<number>(SOCKET_RESERVE, [nodesKey, `${p}c:${uid}`, `${p}n:${node}`], [node, uid, max])) === 1;
        } catch (err) {
          pending.delete(ws);
          fellBack("sockets", err);
          // Counted on this node only; written to Redis with the rest of this node's share when it is back.
          const ok = localCount() < max;
          if (ok) held.set(ws, uid);
          return ok;
        }
        const stillWanted = pending.get(ws) === ticket;
        pending.delete(ws);
        if (counted && stillWanted) held.set(ws, uid);
        else if (counted) script(SOCKET_RELEASE, [`${p}c:${uid}`], [node]).catch((err) => fellBack("sockets", err));
        return counted;
      },
      release(ws) {
        pending.delete(ws);
        const uid = held.get(ws);
        if (uid === undefined) return;
        held.delete(ws);
        // Lost while Redis is down: the resync on its return writes the counts as they are then.
        return script(SOCKET_RELEASE, [`${p}c:${uid}`], [node]).then(
          () => {},
          (err) => fellBack("sockets", err),
        );
      },
    },
    presence: {
      arrive: (uid) => tracked(presenceCall(PRESENCE_ARRIVE, [nodesKey, `${p}p:${uid}`, `${p}n:${node}`], [node, uid])),
      depart: (uid) => tracked(presenceCall(PRESENCE_DEPART, [nodesKey, `${p}p:${uid}`], [node])),
      async online(uids) {
        if (uids.length === 0) return [];
        try {
          const flags = await script<number[]>(PRESENCE_ONLINE, [nodesKey], [p, ...uids]);
          return flags.map((f) => f === 1);
        } catch (err) {
          fellBack("presence", err);
          return uids.map(opts.isLocallyOnline);
        }
      },
    },
    /** Stops heartbeating and drops the connection, leaving this node's share behind as a SIGKILLed node would (tests). */
    halt() {
      closed = true;
      clearTimeout(retryTimer);
      clearInterval(beating);
      const c = client;
      client = null;
      c?.close();
    },
    settled: async () => {
      await Promise.allSettled([...inFlight]);
    },
    ready: () => (client ? Promise.resolve() : new Promise<void>((resolve) => readyWaiters.push(resolve))),
    close() {
      closed = true;
      clearTimeout(retryTimer);
      clearInterval(beating);
      const c = client;
      client = null;
      if (!c) return;
      // This node's share goes with it, so its sockets stop counting now rather than when its heartbeat expires.
      return c
        .send("EVAL", [RESYNC, "1", nodesKey, p, node, "0", JSON.stringify({ online: [], counts: [] })])
        .then(() => c.send("ZREM", [nodesKey, node]))
        .then(
          () => {},
          () => {},
        )
        .finally(() => c.close());
    },
  };
}
