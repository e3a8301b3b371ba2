// Capacity: opens and logs in one socket per user, reports READY, holds the
// sockets idle until released (stdin closed), then closes them.
import { emit, readConfig, runMain, untilReleased } from "../lib/client";
import { openLoggedIn, parseTarget, pool, type Conn } from "../lib/ws";
import { round } from "../lib/stats";

// gids ride along in the Login frame for the ceiling server (rim ignores them and reads memberships from its database).
export type CapacityConfig = { wsUrl: string; users: { uid: number; token: string; gids: number[] }[]; concurrency: number; holdMaxMs: number };

runMain(async () => {
  const cfg = readConfig<CapacityConfig>();
  const t = parseTarget(cfg.wsUrl);
  let failed = 0;
  let firstError: string | null = null;
  let dropped = 0;
  const t0 = performance.now();
  const conns = await pool(cfg.users, cfg.concurrency, async (u) => {
    try {
      const c = await openLoggedIn(t, u.uid, u.token, { gids: u.gids });
      c.onClose = () => dropped++;
      return c;
    } catch (err) {
      failed++;
      firstError ??= String(err);
      return null;
    }
  });
  const ms = performance.now() - t0;
  const open = conns.filter((c): c is Conn => c !== null);
  emit("READY", { opened: open.length, failed, firstError, ms: round(ms, 0), per_s: round(open.length / (ms / 1000), 0) });
  await untilReleased(cfg.holdMaxMs);
  const alive = open.filter((c) => !c.closed).length;
  for (const c of open) {
    c.onClose = null;
    c.close();
  }
  await Bun.sleep(200);
  return { opened: open.length, failed, firstError, alive_at_release: alive, dropped };
});
