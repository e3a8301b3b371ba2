// The explicit context every layer receives: config, database, clock, ids,
// the socket hub and the logger. Built once by main, or per test.
import { nanoid } from "nanoid";
import type { Config } from "./config";
import { closeDatabase, openDatabase } from "./db/open";
import { migrate } from "./db/migrate";
import type { Ctx } from "./domain/context";
import { createLoginThrottle } from "./domain/throttle";
import { createLogger, type Logger } from "./log";
import { createMetrics, type Metrics } from "./metrics";
import { systemClock, type Clock } from "./time";
import { createHub, type Hub } from "./ws/hub";

export type App = Ctx & { config: Config; hub: Hub; log: Logger; metrics: Metrics };

export function createApp(config: Config, opts: { clock?: Clock; log?: Logger } = {}): App {
  const clock = opts.clock ?? systemClock;
  const db = openDatabase(config.db, { sync: config.sync });
  migrate(db.$client);
  const log = opts.log ?? createLogger({ level: config.logLevel, format: config.logFormat });
  const metrics = createMetrics();
  return {
    config,
    metrics,
    db,
    clock,
    log,
    newId: (size = 21) => nanoid(size),
    auth: {
      tokenTtlMs: config.tokenTtlDays * 86_400_000,
      argon2: { memoryCost: config.argon2Memory, timeCost: config.argon2Time },
      throttle: createLoginThrottle({
        windowMs: config.loginWindowMinutes * 60_000,
        maxPerAccount: config.loginMaxPerAccount,
        maxPerIp: config.loginMaxPerIp,
        clock,
      }),
    },
    limits: { maxContent: config.maxContent },
    hub: createHub(metrics),
  };
}

export function closeApp(app: App): void {
  closeDatabase(app.db);
}
