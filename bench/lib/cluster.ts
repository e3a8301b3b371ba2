// The cluster side of a run: --backend postgres serves the seeded company from
// PostgreSQL (with Redis as the bus) instead of SQLite, and --cluster N runs N
// nodes on it. PostgreSQL and Redis are started by the bench itself, as the
// tests start them (tests/services.ts: temp folders, free ports, gone when the
// bench exits). The scenarios still seed SQLite (fast, one transaction); the
// seeded rows are then copied into a fresh PostgreSQL database migrated with
// rim's own PostgreSQL migrations, ids kept, sequences moved past them.
import { Database } from "bun:sqlite";
import { SQL } from "bun";
import { migratePostgres } from "../../src/db/pg/migrate";
import { freshDatabase, startRedis, type RedisServer } from "../../tests/services";
import { startServer, type ServerProc } from "./spawn";
import type { RunCtx } from "../scenarios/context";

const TABLES: { name: string; columns: string[]; sequence?: string }[] = [
  { name: "users", columns: ["id", "account", "name", "avatar", "email", "password_hash", "created_at"], sequence: "users_id_seq" },
  { name: "sessions", columns: ["id", "token_hash", "user_id", "created_at", "expires_at", "last_used_at"], sequence: "sessions_id_seq" },
  { name: "groups", columns: ["id", "name", "avatar", "mode", "creator_uid", "direct_key", "created_at"], sequence: "groups_id_seq" },
  { name: "group_members", columns: ["group_id", "user_id", "role", "joined_at"] },
];

/** Copies a closed seed database's users, sessions, groups and members into a migrated PostgreSQL database. */
export async function copySeedToPostgres(file: string, url: string) {
  const lite = new Database(file, { readonly: true });
  const pg = new SQL(url, { max: 1 });
  try {
    await migratePostgres(pg);
    for (const t of TABLES) {
      const rows = lite.query(`SELECT ${t.columns.join(", ")} FROM ${t.name}`).all() as Record<string, unknown>[];
      for (let i = 0; i < rows.length; i += 2000) {
        const chunk = rows.slice(i, i + 2000);
        await pg`INSERT INTO ${pg(t.name)} ${pg(chunk, ...t.columns)}`;
      }
      if (t.sequence && rows.length) await pg.unsafe(`SELECT setval('${t.sequence}', (SELECT max(id) FROM ${t.name}))`);
    }
    await pg.unsafe("ANALYZE");
  } finally {
    lite.close();
    await pg.close();
  }
}

let redis: Promise<RedisServer> | undefined;
/** The database and bus of the nodes started last. */
let current: { db: string; bus: string } | null = null;

/** Starts rim on a seeded SQLite file: one node on it, or ctx.nodes nodes on a PostgreSQL copy of it sharing one Redis. */
export async function startNodes(ctx: RunCtx, file: string): Promise<ServerProc[]> {
  if (ctx.backend === "sqlite") return [await startServer({ kind: "rim", rimCmd: ctx.rimCmd, db: file, pin: ctx.pinServer })];
  const db = await freshDatabase();
  await copySeedToPostgres(file, db.url);
  const bus = (await (redis ??= startRedis())).url;
  current = { db: db.url, bus };
  const nodes: ServerProc[] = [];
  // One at a time: the first migrates (a no-op here), the others find the schema in place.
  for (let i = 0; i < ctx.nodes; i++) nodes.push(await startServer({ kind: "rim", rimCmd: ctx.rimCmd, db: db.url, args: ["--bus", bus], pin: ctx.pinServer }));
  return nodes;
}

/** Stops every node; with BENCH_NODE_LOGS=DIR, each node's last log lines (warnings included) go to DIR/node-PID.log first. */
export async function stopNodes(nodes: ServerProc[]) {
  const dir = process.env.BENCH_NODE_LOGS;
  if (dir) for (const n of nodes) await Bun.write(`${dir}/node-${n.pid}.log`, n.tail().join("\n") + "\n");
  await Promise.all(nodes.map((n) => n.stop()));
}

export type ServiceCounters = { pgCommits: number; pgRowsWritten: number; redisCommands: number; redisOutBytes: number };

/** The cluster's PostgreSQL and Redis work so far (null on SQLite): commits and rows written in the database, commands Redis processed and bytes it sent. */
export async function serviceCounters(ctx: RunCtx): Promise<ServiceCounters | null> {
  if (ctx.backend === "sqlite" || !current) return null;
  const pg = new SQL(current.db, { max: 1 });
  try {
    // Backends flush their statistics when idle, at most once a second: wait that out, then read a fresh snapshot.
    await Bun.sleep(1100);
    const [row] = await pg`SELECT xact_commit::bigint AS c, (tup_inserted + tup_updated + tup_deleted)::bigint AS w FROM pg_stat_database WHERE datname = current_database()`;
    const info = Bun.spawnSync(["redis-cli", "-u", current.bus, "INFO", "stats"]).stdout.toString();
    const stat = (k: string) => Number(new RegExp(`^${k}:(\\d+)`, "m").exec(info)?.[1] ?? NaN);
    return { pgCommits: Number(row.c), pgRowsWritten: Number(row.w), redisCommands: stat("total_commands_processed"), redisOutBytes: stat("total_net_output_bytes") };
  } finally {
    await pg.close();
  }
}

/** Counters per message between two readings. */
export function perMessage(a: ServiceCounters | null, b: ServiceCounters | null, messages: number) {
  if (!a || !b || !(messages > 0)) return null;
  const q = (x: number, y: number) => Math.round(((y - x) / messages) * 100) / 100;
  return {
    pg_commits: q(a.pgCommits, b.pgCommits),
    pg_rows_written: q(a.pgRowsWritten, b.pgRowsWritten),
    redis_commands: q(a.redisCommands, b.redisCommands),
    redis_out_bytes: q(a.redisOutBytes, b.redisOutBytes),
  };
}
