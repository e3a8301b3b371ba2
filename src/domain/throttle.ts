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

  return {
    /** Throws 429 when the account or the address has failed too often. */
    assertAllowed(account: string, ip: string) {
      check("a:" + account, opts.maxPerAccount);
      check("i:" + ip, opts.maxPerIp);
    },
    recordFailure(account: string, ip: string) {
      bump("a:" + account);
      bump("i:" + ip);
    },
    /** Forgives the account; with ip, takes back the failure login() counted for it in advance. */
    recordSuccess(account: string, ip?: string) {
      windows.delete("a:" + account);
      const w = ip === undefined ? undefined : live("i:" + ip);
      if (w && w.count > 0) w.count--;
    },
  };
}
