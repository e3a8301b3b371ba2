#!/usr/bin/env bun
// The command line: serve (default), migrate, user, invite, backup, restore, stats.
import type { Logger } from "./log";
import { existsSync } from "node:fs";
import pkg from "../package.json";
import { closeApp, closePostgresApp, createApp, createPostgresApp, createPostgresContext } from "./app";
import type { Ctx } from "./domain/context";
import { ConfigError, helpText, isPostgresUrl, readProcessConfig, type Parsed } from "./config";
import { filesDir } from "./blobs";
import { backupDatabase, backupFiles, holdServingLock, restoreDatabase, restoreFiles } from "./db/ops";
import { closeDatabase, openDatabase } from "./db/open";
import { accountRenames, migrate } from "./db/migrate";
import { closePostgres, openPostgres, redactUrl } from "./db/pg/open";
import { migratePostgres } from "./db/pg/migrate";
import { createInvite } from "./domain/invites";
import { databaseStats } from "./domain/stats";
import { findUserByAccount, registerUser, resetPassword, setDisabled } from "./domain/users";
import { setUserAdmin } from "./domain/admin";
import { ZodError } from "zod";
import { describeZodError } from "./errors";
import { createUserBody } from "./http/schemas";
import { startServer } from "./server";

class UsageError extends Error {}

/** An operator's command on a database that is not there is a typo, not a request for an empty one. */
function assertDatabase(db: string): void {
  if (db !== ":memory:" && !existsSync(db)) throw new Error(`no database at ${db}`);
}

/** Runs fn on the domain's context of the database, SQLite or PostgreSQL, without serving; then closes it. */
async function withApp<T>(p: Parsed, fn: (app: Ctx) => T | Promise<T>): Promise<T> {
  if (isPostgresUrl(p.config.db)) {
    const { ctx, close } = await createPostgresContext({ ...p.config, logLevel: "warn" }).catch((err) => {
      throw new Error(`PostgreSQL at ${redactUrl(p.config.db)}: ${err instanceof Error ? err.message : String(err)}`);
    });
    try {
      return await fn(ctx);
    } finally {
      await close();
    }
  }
  assertDatabase(p.config.db);
  const app = createApp({ ...p.config, logLevel: "warn" });
  try {
    return await fn(app);
  } finally {
    closeApp(app);
  }
}

function need(p: Parsed, flag: string): string {
  const v = p.flags[flag];
  if (!v) throw new UsageError(`--${flag} is required`);
  return v;
}

const USER_COMMANDS = [
  "  create --account A --password P [--name N] [--email E] [--admin]",
  "  reset-password --account A --password P   (revokes the user's tokens)",
  "  disable --account A                       (revokes tokens; logins refused)",
  "  enable --account A",
  "  promote --account A                       (makes a server admin)",
  "  demote --account A",
];
const userUsage = () => ["usage: rim user COMMAND [--db DB]; commands:", ...USER_COMMANDS, "(RIM_PASSWORD may replace --password)"].join("\n");

async function userCommand(p: Parsed): Promise<number> {
  const action = p.args[0];
  // `rim user` alone asks what it can do.
  if (action === undefined) {
    console.log(userUsage());
    return 0;
  }
  if (!["create", "reset-password", "disable", "enable", "promote", "demote"].includes(action)) throw new UsageError(`unknown user command ${action}\n${userUsage()}`);
  const account = need(p, "account");
  await withApp(p, async (app) => {
    switch (action) {
      case "create": {
        const input = createUserBody.parse({ account, password: need(p, "password"), name: p.flags.name, email: p.flags.email });
        const uid = await registerUser(app, { ...input, name: input.name || input.account });
        const admin = p.flags.admin === "true";
        if (admin) await app.write((w) => setUserAdmin(w, uid, true));
        console.log(`created ${admin ? "server admin" : "user"} ${account} (uid ${uid})`);
        return;
      }
      case "promote":
      case "demote": {
        const user = await app.read(findUserByAccount(app, account));
        if (!user) throw new Error(`no user ${account}`);
        await app.write((w) => setUserAdmin(w, user.id, action === "promote"));
        console.log(`${account} is ${action === "promote" ? "now" : "no longer"} a server admin`);
        return;
      }
      case "reset-password": {
        const password = createUserBody.shape.password.parse(need(p, "password"));
        const revoked = await resetPassword(app, account, password);
        console.log(`password of ${account} reset; ${revoked.length} token(s) revoked`);
        return;
      }
      case "disable":
      case "enable": {
        const revoked = await app.write((w) => setDisabled(w, account, action === "disable"));
        console.log(`${account} ${action}d${action === "disable" ? `; ${revoked.length} token(s) revoked` : ""}`);
        return;
      }
    }
  });
  return 0;
}

function serve(p: Parsed): void {
  const releaseLock = holdServingLock(p.config.db);
  const app = createApp(p.config);
  let running: ReturnType<typeof startServer>;
  try {
    running = startServer(app);
  } catch (err) {
    // A busy port (ListenError): close the database and release its lock before exiting 1.
    closeApp(app);
    releaseLock();
    throw err;
  }
  stopOnSignals(app.log, running, async () => {
    closeApp(app);
    releaseLock();
  });
}

/** SIGTERM and SIGINT stop the server (sockets closed with 1001), then close what it served, once. */
function stopOnSignals(log: Logger, running: ReturnType<typeof startServer>, close: () => Promise<void>): void {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info("server.stopping", { signal });
    await running.stop();
    await close();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

/** A node of a cluster on PostgreSQL (the bus required by config): no serving lock, any number of nodes share the database. */
async function servePostgres(p: Parsed): Promise<void> {
  const app = await createPostgresApp(p.config).catch((err) => {
    throw new Error(`PostgreSQL at ${redactUrl(p.config.db)}: ${err instanceof Error ? err.message : String(err)}`);
  });
  let running: ReturnType<typeof startServer>;
  try {
    // Subscribed to the other nodes' effects before the first socket can miss one.
    await app.effects?.ready().catch((err) => {
      throw new Error(`the bus at ${redactUrl(p.config.bus)}: ${err instanceof Error ? err.message : String(err)}`);
    });
    running = startServer(app);
  } catch (err) {
    await closePostgresApp(app);
    throw err;
  }
  stopOnSignals(app.log, running, () => closePostgresApp(app));
}

/**
 * The commands on a PostgreSQL database other than the operator's (user, invite, stats: the same
 * code as on SQLite, through the storage seam) and serving: migrating; backups are PostgreSQL's own tools'.
 */
async function postgresCommand(p: Parsed): Promise<number | undefined> {
  const { command, config } = p;
  const where = redactUrl(config.db);
  switch (command) {
    case "serve":
      await servePostgres(p);
      return undefined;
    case "migrate": {
      const db = openPostgres(config.db, { max: 1 });
      let applied: string[];
      try {
        applied = await migratePostgres(db.$client);
      } catch (err) {
        throw new Error(`PostgreSQL at ${where}: ${err instanceof Error ? err.message : String(err)}`);
      } finally {
        await closePostgres(db);
      }
      console.log(applied.length ? `applied ${applied.join(", ")}` : "database is up to date");
      return 0;
    }
    case "backup":
      throw new Error("rim backup copies a SQLite file; back up a PostgreSQL database with pg_dump (pg_dump -Fc -f FILE URL), and the --files folder beside it");
    case "restore":
      throw new Error("rim restore puts back a SQLite file; restore a PostgreSQL database with pg_restore (pg_restore -d URL FILE), and the --files folder beside it");
    default:
      throw new Error(`rim ${command} on PostgreSQL is not built yet`);
  }
}

async function run(p: Parsed): Promise<number | undefined> {
  const { command, config } = p;
  if (isPostgresUrl(config.db) && !["help", "version", "user", "invite", "stats"].includes(command)) return await postgresCommand(p);
  switch (command) {
    case "help":
      console.log(helpText(pkg.version));
      return 0;
    case "version":
      console.log(pkg.version);
      return 0;
    case "serve":
      serve(p);
      return undefined;
    case "migrate": {
      const db = openDatabase(config.db, { sync: config.sync });
      const applied = migrate(db.$client);
      const renamed = accountRenames(db.$client, applied);
      closeDatabase(db);
      console.log(applied.length ? `applied ${applied.join(", ")}` : "database is up to date");
      for (const r of renamed) console.log(`renamed account ${r.from} (uid ${r.uid}) to ${r.to}: accounts are now case-insensitive`);
      return 0;
    }
    case "user":
      return await userCommand(p);
    case "invite":
      console.log(await withApp(p, (app) => app.write((w) => createInvite(w, null, config.inviteTtlDays))));
      return 0;
    case "backup": {
      const target = p.args[0];
      if (!target) throw new UsageError("usage: rim backup FILE [--db DB]");
      assertDatabase(config.db);
      backupDatabase(config.db, target);
      const carried = await backupFiles(target, filesDir(config));
      console.log(`backed up ${config.db} and ${carried.files} file(s) (${carried.bytes} bytes) to ${target}`);
      return 0;
    }
    case "restore": {
      const source = p.args[0];
      if (!source) throw new UsageError("usage: rim restore FILE [--db DB]");
      restoreDatabase(config.db, source);
      const restored = await restoreFiles(config.db, filesDir(config));
      const db = openDatabase(config.db, { sync: config.sync });
      const renamed = accountRenames(db.$client, migrate(db.$client));
      closeDatabase(db);
      console.log(`restored ${config.db} and ${restored.files} file(s) from ${source}`);
      for (const r of renamed) console.log(`renamed account ${r.from} (uid ${r.uid}) to ${r.to}: accounts are now case-insensitive`);
      return 0;
    }
    case "stats":
      console.log(JSON.stringify(await withApp(p, (app) => app.read(databaseStats(app))), null, 2));
      return 0;
  }
}

async function main(): Promise<number | undefined> {
  try {
    return await run(readProcessConfig());
  } catch (err) {
    if (err instanceof ConfigError || err instanceof UsageError) {
      console.error(`rim: ${err.message}\nTry 'rim --help'.`);
      return 2;
    }
    const msg = err instanceof ZodError ? describeZodError(err) : err instanceof Error ? err.message : String(err);
    console.error(`rim: ${msg}`);
    return 1;
  }
}

const code = await main();
if (code !== undefined) process.exit(code);
