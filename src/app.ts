// The explicit context every layer receives: config, database, clock, ids,
// the socket hub, the write path and the logger. Built once by main (for
// serving and for operator commands alike), or per test.
import { nanoid } from "nanoid";
import { createBlobStore, filesDir } from "./blobs";
import type { Config } from "./config";
import { closeDatabase, openDatabase } from "./db/open";
import { accountRenames, migrate } from "./db/migrate";
import { createDurability, type Durability, type DurabilityOptions } from "./db/durability";
import type { Ctx } from "./domain/context";
import { availableParallelism } from "node:os";
import { createHashGate } from "./domain/hashing";
import { createLocalLimits, createLocalSharedState, type LimitSettings, type SharedState } from "./domain/shared-state";
import { createRedisSharedState, type RedisSharedOptions } from "./bus/shared-state";
import { groupIdsOf } from "./domain/groups";
import { markLastSeen } from "./domain/users";
import { presenceFrame } from "./push";
import { createLogger, type Logger } from "./log";
import { createMetrics, type Metrics } from "./metrics";
import { systemClock, type Clock } from "./time";
import { createHub, type Hub } from "./ws/hub";
import { applyEffect } from "./write/apply";
import { createWriter, type Writer } from "./write/writer";
import { backfillSearchIndex } from "./domain/search";

export type App = Ctx & { config: Config; hub: Hub; log: Logger; metrics: Metrics; durability: Durability; writer: Writer; shared: SharedState };

/** How the shared limits talk to Redis; tests shorten the heartbeat and give each cluster its own keys. */
export type SharedTiming = Pick<RedisSharedOptions, "prefix" | "heartbeatMs" | "nodeTtlMs" | "timeoutMs">;

export function createApp(config: Config, opts: { clock?: Clock; log?: Logger; fsync?: DurabilityOptions["sync"]; shared?: SharedTiming } = {}): App {
  const clock = opts.clock ?? systemClock;
  // --sync full is kept by fsyncing the WAL off the event loop (db/durability.ts), so SQLite itself runs at NORMAL.
  const db = openDatabase(config.db, { sync: "normal" });
  const log = opts.log ?? createLogger({ level: config.logLevel, format: config.logFormat });
  const applied = migrate(db.$client);
  if (applied.length) log.info("db.migrated", { applied: applied.join(",") });
  const renamed = accountRenames(db.$client, applied);
  // Accounts became case-insensitive: the later of "Bob" and "bob" now logs in as "bob~2". Tell the operator who.
  for (const r of renamed) log.warn("user.account_renamed", { uid: r.uid, from: r.from, to: r.to, reason: "accounts are now case-insensitive" });
  const durability = createDurability(db.$client, config.db, {
    mode: config.sync,
    sync: opts.fsync,
    onError: (err) => log.error("db.fsync_failed", { error: String(err) }),
  });
  const metrics = createMetrics();
  const hub = createHub(metrics);
  const limits: LimitSettings = {
    login: { windowMs: config.loginWindowMinutes * 60_000, maxPerAccount: config.loginMaxPerAccount, maxPerIp: config.loginMaxPerIp },
    registrations: { windowMs: 3_600_000, max: config.registerMaxPerIp },
  };
  const local = createLocalLimits(limits, clock);
  // A cluster (a bus configured) shares its limits in that Redis; one node keeps them in memory.
  const shared = config.bus
    ? createRedisSharedState({
        url: config.bus,
        settings: limits,
        local,
        localOnline: () => hub.onlineUids(),
        isLocallyOnline: (uid) => hub.isOnline(uid),
        onDeadNodeUsers: (uids) => announceOffline(app, uids, null),
        log,
        ...opts.shared,
      })
    : createLocalSharedState(local, (uid) => hub.isOnline(uid));
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
      throttle: shared.login,
      registrations: shared.registrations,
      hashing: createHashGate(config.argon2Concurrency || availableParallelism()),
    },
    limits: { maxContent: config.maxContent },
    files: createBlobStore(filesDir(config)),
    hub,
    shared,
    writer: undefined as unknown as Writer,
    write: (fn) => app.writer.run(fn),
  };
  app.writer = createWriter({ ctx: app, sqlite: db.$client, durability, apply: (e) => applyEffect(hub, e), log, metrics });
  // The one migration step that needs the server's own code: messages stored before search existed get indexed.
  backfillSearchIndex(app, (n) => log.info("search.backfilled", { messages: n }));
  // Presence: a user's first socket is announced as it is bound; their last one's going is
  // announced once lastSeen is stored (and only if no socket of theirs came back meanwhile).
  // In a cluster, "first" and "last" are cluster-wide: the shared state answers, and the
  // announcement follows as a job of its own (pushed through the write path like any other).
  hub.onPresence({
    online(uid, gids, socket) {
      const first = shared.presence.arrive(uid);
      if (first === true) for (const gid of gids) hub.publish(gid, presenceFrame(uid, gid, true), socket);
      else if (first !== false)
        void first.then((yes) => {
          if (!yes || app.writer.closed) return;
          app.writer.submit({
            db: false,
            run: (w) => void w.effects.push(...gids.map((gid) => ({ type: "publish" as const, gid, data: presenceFrame(uid, gid, true), except: socket }))),
            settle: () => {},
          });
        });
    },
    offline(uid, gids) {
      const last = shared.presence.depart(uid);
      if (last === true) announceOffline(app, [uid], gids);
      else if (last !== false) void last.then((yes) => yes && announceOffline(app, [uid], gids));
    },
  });
  return app;
}

/** Stores lastSeen and tells the users' groups they went offline (gids null: their groups as stored). */
function announceOffline(app: App, uids: number[], gids: number[] | null): void {
  // Shutting down: every socket is closing, the database with them.
  if (app.writer.closed) return;
  for (const uid of uids)
    app.writer.submit({
      db: true,
      run: (w) => {
        markLastSeen(w, uid);
        w.effects.push({ type: "offline", uid, gids: gids ?? groupIdsOf(w, uid) });
      },
      settle: (o) => {
        if (!o.ok && o.error.status === 500) app.log.warn("presence.last_seen_failed", { uid, error: o.error.message });
      },
    });
}

export function closeApp(app: App): void {
  app.shared.close();
  app.writer.close();
  app.durability.close();
  closeDatabase(app.db);
  app.files.close();
}
