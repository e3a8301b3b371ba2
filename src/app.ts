// The explicit context every layer receives: config, database, clock, ids,
// the socket hub, the write path and the logger. Built once by main (for
// serving and for operator commands alike), or per test.
import { nanoid } from "nanoid";
import type { Config } from "./config";
import { closeDatabase, openDatabase } from "./db/open";
import { migrate } from "./db/migrate";
import { createDurability, type Durability, type DurabilityOptions } from "./db/durability";
import type { Ctx } from "./domain/context";
import { createLoginThrottle } from "./domain/throttle";
import { createTypingThrottle, type TypingThrottle } from "./domain/typing";
import { markLastSeen } from "./domain/users";
import { presenceFrame } from "./push";
import { createLogger, type Logger } from "./log";
import { createMetrics, type Metrics } from "./metrics";
import { systemClock, type Clock } from "./time";
import { createHub, type Hub } from "./ws/hub";
import { applyEffect } from "./write/apply";
import { createWriter, type Writer } from "./write/writer";

export type App = Ctx & { config: Config; hub: Hub; log: Logger; metrics: Metrics; durability: Durability; writer: Writer; typing: TypingThrottle };

export function createApp(config: Config, opts: { clock?: Clock; log?: Logger; fsync?: DurabilityOptions["sync"] } = {}): App {
  const clock = opts.clock ?? systemClock;
  // --sync full is kept by fsyncing the WAL off the event loop (db/durability.ts), so SQLite itself runs at NORMAL.
  const db = openDatabase(config.db, { sync: "normal" });
  migrate(db.$client);
  const log = opts.log ?? createLogger({ level: config.logLevel, format: config.logFormat });
  const durability = createDurability(db.$client, config.db, {
    mode: config.sync,
    sync: opts.fsync,
    onError: (err) => log.error("db.fsync_failed", { error: String(err) }),
  });
  const metrics = createMetrics();
  const hub = createHub(metrics);
  const app: App = {
    config,
    metrics,
    durability,
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
    hub,
    typing: createTypingThrottle(clock),
    writer: undefined as unknown as Writer,
    write: (fn) => app.writer.run(fn),
  };
  app.writer = createWriter({ ctx: app, sqlite: db.$client, durability, apply: (e) => applyEffect(hub, e), log, metrics });
  // Presence: a user's first socket is announced as it is bound; their last one's going is
  // announced once lastSeen is stored (and only if no socket of theirs came back meanwhile).
  hub.onPresence({
    online(uid, gids, socket) {
      for (const gid of gids) hub.publish(gid, presenceFrame(uid, gid, true), socket);
    },
    offline(uid, gids) {
      // Shutting down: every socket is closing, the database with them.
      if (app.writer.closed) return;
      app.writer.submit({
        db: true,
        run: (w) => {
          markLastSeen(w, uid);
          w.effects.push({ type: "offline", uid, gids });
        },
        settle: (o) => {
          if (!o.ok && o.error.status === 500) log.warn("presence.last_seen_failed", { uid, error: o.error.message });
        },
      });
    },
  });
  return app;
}

export function closeApp(app: App): void {
  app.writer.close();
  app.durability.close();
  closeDatabase(app.db);
}
