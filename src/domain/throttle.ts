// Counts failed logins per key (account or address) in a fixed window. Lives
// in memory: a restart forgives everyone, which is fine for a throttle.
import { AppError } from "../errors";
import type { Clock } from "../time";

export type LoginThrottle = ReturnType<typeof createLoginThrottle>;

export function createLoginThrottle(opts: { windowMs: number; maxPerAccount: number; maxPerIp: number; clock: Clock }) {
  const windows = new Map<string, { count: number; resetAt: number }>();

  const live = (key: string) => {
    const w = windows.get(key);
    if (w && w.resetAt <= opts.clock()) {
      windows.delete(key);
      return undefined;
    }
    return w;
  };

  const sweep = () => {
    const now = opts.clock();
    for (const [k, w] of windows) if (w.resetAt <= now) windows.delete(k);
  };

  const bump = (key: string) => {
    const w = live(key);
    if (w) w.count++;
    else {
      if (windows.size > 100_000) sweep();
      windows.set(key, { count: 1, resetAt: opts.clock() + opts.windowMs });
    }
  };

  const check = (key: string, max: number) => {
    const w = live(key);
    if (w && w.count >= max) {
      const seconds = Math.max(1, Math.ceil((w.resetAt - opts.clock()) / 1000));
      throw new AppError("rate_limited", "too many failed logins, try again later", seconds);
    }
  };

  // Accounts are case-insensitive: "BOB" and "bob" are one account, and one count.
  // ASCII only, as SQLite's lower() in the account lookup: a look-alike such as the Kelvin sign is another account.
  const acct = (account: string) => "a:" + account.replace(/[A-Z]/g, (c) => c.toLowerCase());

  return {
    /** Throws 429 when the account or the address has failed too often. */
    assertAllowed(account: string, ip: string) {
      check(acct(account), opts.maxPerAccount);
      check("i:" + ip, opts.maxPerIp);
    },
    recordFailure(account: string, ip: string) {
      bump(acct(account));
      bump("i:" + ip);
    },
    /** Forgives the account; with ip, takes back the failure login() counted for it in advance. */
    recordSuccess(account: string, ip?: string) {
      windows.delete(acct(account));
      const w = ip === undefined ? undefined : live("i:" + ip);
      if (w && w.count > 0) w.count--;
    },
  };
}

export type RegistrationThrottle = ReturnType<typeof createRegistrationThrottle>;

/**
 * At most `max` registrations per address within any `windowMs` (a sliding
 * window: the times of the last registrations are kept). A slot is taken before
 * the slow hashing, so parallel requests cannot all pass; a registration that
 * fails gives its slot back. max 0: no limit.
 */
export function createRegistrationThrottle(opts: { windowMs: number; max: number; clock: Clock }) {
  const times = new Map<string, number[]>();

  const recent = (ip: string, now: number) => {
    const kept = (times.get(ip) ?? []).filter((t) => t > now - opts.windowMs);
    if (kept.length) times.set(ip, kept);
    else times.delete(ip);
    return kept;
  };

  const sweep = (now: number) => {
    for (const ip of [...times.keys()]) recent(ip, now);
  };

  return {
    /** Takes a slot for ip or throws 429 with Retry-After; returns the function that gives it back. */
    reserve(ip: string): () => void {
      if (opts.max === 0) return () => {};
      const now = opts.clock();
      const kept = recent(ip, now);
      if (kept.length >= opts.max) {
        const seconds = Math.max(1, Math.ceil((kept[0]! + opts.windowMs - now) / 1000));
        throw new AppError("rate_limited", "too many registrations from this address, try again later", seconds);
      }
      if (times.size > 100_000) sweep(now);
      kept.push(now);
      times.set(ip, kept);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const list = times.get(ip);
        const i = list?.lastIndexOf(now) ?? -1;
        if (list && i >= 0) list.splice(i, 1);
      };
    },
  };
}
