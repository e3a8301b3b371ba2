// The explicit context every layer receives: config, database, clock, ids,
// the socket hub, the write path and the logger. Built once by main (for
// serving and for operator commands alike), or per test.
import { nanoid } from "nanoid";
import { createBlobStore, filesDir } from "./blobs";
import type { Config } from "./config";
import { closeDatabase, openDatabase, type Db } from "./db/open";
import { accountRenames, migrate } from "./db/migrate";
import { sqliteStore } from "./db/sqlite-store";
import { closePostgres, openPostgres, type PgDb } from "./db/pg/open";
import { migratePostgres } from "./db/pg/migrate";
import { pgStore } from "./db/pg/store";
import { createPgWriter, type OnCommitted, type PgWriter } from "./db/pg/writer";
import { runAsync, runSync, type Flow } from "./domain/store";
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
import { createWriter, type WriteCtx, type Writer } from "./write/writer";
import { connectEffectBus, type EffectBus } from "./bus/effects";
import { backfillSearchIndex } from "./db/search-backfill";

/** The write path as serving uses it, on either engine (write/writer.ts on SQLite, db/pg/writer.ts on PostgreSQL). */
export type WritePath = Pick<Writer, "submit" | "run" | "settled" | "drained" | "flush" | "close" | "closed" | "pending" | "onCommit">;

/** What serving needs (the HTTP routes, the sockets, the server's timers), on either engine. */
export type ServingApp = Ctx & { engine: "sqlite" | "postgres"; config: Config; hub: Hub; log: Logger; metrics: Metrics; writer: WritePath; shared: SharedState;
  /** In a cluster (a bus configured): where committed effects cross to the other nodes; null on a single node. */
  effects: EffectBus | null;
};

/** The App on SQLite: its database, the WAL's durability and the SQLite writer besides. */
export type App = ServingApp & { engine: "sqlite"; db: Db; durability: Durability; writer: Writer };

/** The App on PostgreSQL (a node of a cluster): its pool and the PostgreSQL writer. */
export type PgApp = ServingApp & { engine: "postgres"; db: PgDb; writer: PgWriter };

/** How often the shared limits talk to Redis; tests shorten the heartbeat. */
export type SharedTiming = Pick<RedisSharedOptions, "heartbeatMs" | "nodeTtlMs" | "timeoutMs">;

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
  const app = servingParts(config, { clock, log, shared: opts.shared, files: createBlobStore(filesDir(config)) }) as App;
  const store = sqliteStore(db.$client);
  Object.assign(app, {
    engine: "sqlite",
    durability,
    db,
    store,
    read(flow: Flow<unknown>) {
      try {
        return Promise.resolve(runSync(flow));
      } catch (err) {
        return Promise.reject(err);
      }
    },
  });
  const { effects } = app;
  app.writer = createWriter({
    ctx: app,
    sqlite: db.$client,
    durability,
    apply: (e) => applyEffect(app.hub, e),
    onCommitted: effects ? (batch) => effects.publishCommitted(batch) : undefined,
    lastMessages: store.lastMessages,
    log,
    metrics: app.metrics,
  });
  // The one migration step that needs the server's own code: messages stored before search existed get indexed.
  backfillSearchIndex(db.$client, (n) => log.info("search.backfilled", { messages: n }));
  wirePresence(app);
  return app;
}

/**
 * A node of a cluster on PostgreSQL (the bus in Redis is required by config): the same App but for its
 * storage: the pool, reads awaited query by query, the PostgreSQL writer (no WAL, no checkpoints).
 * `onCommitted` receives each committed batch's effects in commit order while the ids lock is held
 * (db/pg/writer.ts); the bus publishes them there. `commitReply` is the tests' hold on a batch after its COMMIT
 * (the PostgreSQL twin of createApp's `fsync`).
 */
export async function createPostgresApp(
  config: Config,
  opts: { clock?: Clock; log?: Logger; shared?: SharedTiming; poolSize?: number; onCommitted?: OnCommitted; commitReply?: () => Promise<void> } = {},
): Promise<PgApp> {
  const clock = opts.clock ?? systemClock;
  const log = opts.log ?? createLogger({ level: config.logLevel, format: config.logFormat });
  const db = openPostgres(config.db, { max: opts.poolSize ?? 10 });
  try {
    const applied = await migratePostgres(db.$client);
    if (applied.length) log.info("db.migrated", { applied: applied.join(",") });
  } catch (err) {
    await closePostgres(db).catch(() => {});
    throw err;
  }
  // Every node must see every node's uploads: --files names a shared folder (without it, this node's own temporary one).
  if (!config.files) log.warn("files.not_shared", { reason: "no --files folder: uploads are kept in a temporary folder of this node only" });
  const app = servingParts(config, { clock, log, shared: opts.shared, files: createBlobStore(config.files || null) }) as PgApp;
  Object.assign(app, { engine: "postgres", db, store: pgStore(db.$client), read: (flow: Flow<unknown>) => runAsync(flow) });
  // The bus publishes each committed batch while the ids lock is held, so its order is the id order (docs/deploy.md).
  const { effects } = app;
  const onCommitted: OnCommitted | undefined = opts.onCommitted ?? (effects ? (batch) => effects.publishCommitted(batch) : undefined);
  app.writer = createPgWriter({ ctx: app, sql: db.$client, apply: (e) => applyEffect(app.hub, e), log, metrics: app.metrics, onCommitted, commitReply: opts.commitReply });
  wirePresence(app);
  return app;
}

/** The parts of an App that do not depend on the engine: hub, metrics, shared limits, the domain's context but its store. */
function servingParts(config: Config, opts: { clock: Clock; log: Logger; shared?: SharedTiming; files: ReturnType<typeof createBlobStore> }): ServingApp {
  const { clock, log } = opts;
  const metrics = createMetrics();
  const hub = createHub(metrics);
  const limits = limitSettings(config);
  const local = createLocalLimits(limits, clock);
  // A cluster (a bus configured) shares its limits in that Redis; one node keeps them in memory.
  const shared = config.bus
    ? createRedisSharedState({
        url: config.bus,
        settings: limits,
        local,
        clock,
        localOnline: () => hub.onlineUids(),
        isLocallyOnline: (uid) => hub.isOnline(uid),
        onDeadNodeUsers: (uids) => announceOffline(app, uids, null),
        // A node that died between its COMMIT and its publish left pushes nobody got: everyone Syncs.
        onDeadNodes: () => app.effects?.nodeGone(),
        log,
        // Keys and channel apart from any other cluster on that Redis (--bus-prefix).
        prefix: config.busPrefix,
        ...opts.shared,
      })
    : createLocalSharedState(local, (uid) => hub.isOnline(uid));
  // In a cluster, what a commit changes for other nodes' sockets crosses on the bus (bus/effects.ts).
  const effects = config.bus ? connectEffectBus(config.bus, { prefix: config.busPrefix, hub, log, metrics, deadlineMs: config.busDeadlineMs }) : null;
  const app: ServingApp = {
    engine: "sqlite",
    config,
    metrics,
    store: undefined as unknown as ServingApp["store"],
    clock,
    log,
    newId: (size = 21) => nanoid(size),
    auth: authSettings(config, shared),
    limits: { maxContent: config.maxContent },
    files: opts.files,
    hub,
    shared,
    effects,
    writer: undefined as unknown as WritePath,
    read: undefined as unknown as ServingApp["read"],
    // A job may be a flow over the store: the writer runs it.
    write: <T>(fn: (w: WriteCtx) => T | Flow<T>) => app.writer.run(fn) as Promise<T>,
  };
  return app;
}

function wirePresence(app: ServingApp): void {
  const { hub, shared } = app;
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
}

function authSettings(config: Config, limits: Pick<SharedState, "login" | "registrations">): Ctx["auth"] {
  return {
    tokenTtlMs: config.tokenTtlDays * 86_400_000,
    argon2: { memoryCost: config.argon2Memory, timeCost: config.argon2Time },
    throttle: limits.login,
    registrations: limits.registrations,
    hashing: createHashGate(config.argon2Concurrency || availableParallelism()),
  };
}

function limitSettings(config: Config): LimitSettings {
  return {
    login: { windowMs: config.loginWindowMinutes * 60_000, maxPerAccount: config.loginMaxPerAccount, maxPerIp: config.loginMaxPerIp },
    registrations: { windowMs: 3_600_000, max: config.registerMaxPerIp },
  };
}

/** Stores lastSeen and tells the users' groups they went offline (gids null: their groups as stored). */
function announceOffline(app: ServingApp, uids: number[], gids: number[] | null): void {
  // Shutting down: every socket is closing, the database with them.
  if (app.writer.closed) return;
  for (const uid of uids)
    app.writer.submit({
      db: true,
      run: function* (w) {
        yield* markLastSeen(w, uid);
        w.effects.push({ type: "offline", uid, gids: gids ?? (yield* groupIdsOf(w, uid)) });
      },
      settle: (o) => {
        if (!o.ok && o.error.status === 500) app.log.warn("presence.last_seen_failed", { uid, error: o.error.message });
      },
    });
}

/**
 * The domain's context on a PostgreSQL database, for the operator's commands
 * (rim user, invite, stats): its reads awaited query by query, its writes on
 * the PostgreSQL write path (db/pg/writer.ts). No server runs on it yet.
 */
export async function createPostgresContext(config: Config, opts: { log?: Logger } = {}): Promise<{ ctx: Ctx; close(): Promise<void> }> {
  const clock = systemClock;
  const log = opts.log ?? createLogger({ level: config.logLevel, format: config.logFormat });
  const db = openPostgres(config.db, { max: 2 });
  await migratePostgres(db.$client);
  const files = createBlobStore(config.files || null);
  const limits = createLocalSharedState(createLocalLimits(limitSettings(config), clock), () => false);
  const ctx: Ctx = {
    store: pgStore(db.$client),
    clock,
    newId: (size = 21) => nanoid(size),
    // An operator's commands count no logins or registrations of the network: this process's own limits.
    auth: authSettings(config, limits),
    limits: { maxContent: config.maxContent },
    files,
    read: (flow) => runAsync(flow),
    write: <T>(fn: (w: WriteCtx) => T | Flow<T>) => writer.run(fn),
  };
  // Operator commands announce nothing to sockets: no node's hub is here (the bus will carry them).
  const writer = createPgWriter({ ctx, sql: db.$client, apply: () => {}, log });
  return {
    ctx,
    async close() {
      await writer.settled();
      await closePostgres(db);
      files.close();
    },
  };
}

/** Closes a PostgreSQL App once its queued writes are done (stop the server first). */
export async function closePostgresApp(app: PgApp): Promise<void> {
  app.shared.close();
  await app.effects?.close();
  app.writer.close();
  await app.writer.drained();
  await closePostgres(app.db);
  app.files.close();
}

export function closeApp(app: App): void {
  app.shared.close();
  void app.effects?.close();
  app.writer.close();
  app.durability.close();
  closeDatabase(app.db);
  app.files.close();
}
