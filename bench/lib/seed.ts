// Fast seeding straight into SQLite with the real migrations: users share one
// password hash made at production argon2 cost, and sessions are inserted as
// src/domain/sessions.ts stores them (sha256 of the token), so thousands of
// users cost no argon2 work and no REST round trips.
import { Database } from "bun:sqlite";
import { randomBytes } from "node:crypto";
import { defaultConfig } from "../../src/config";
import { migrate } from "../../src/db/migrate";
import { MIGRATIONS } from "../../src/db/migrations.gen";
import { hashToken } from "../../src/domain/sessions";

export type SeedUser = { uid: number; token: string; account: string };

export const BENCH_PASSWORD = "bench-password-1";

let hashOnce: Promise<string> | null = null;
/** One argon2id hash at the server's default (production) cost, made once per process. */
export function productionHash(): Promise<string> {
  const c = defaultConfig();
  hashOnce ??= Bun.password.hash(BENCH_PASSWORD, { algorithm: "argon2id", memoryCost: c.argon2Memory, timeCost: c.argon2Time });
  return hashOnce;
}

let migrations = MIGRATIONS;
/** Seeds with another checkout's migrations (run.ts --rim-src), so the schema is the one its server expects. */
export function useMigrations(m: typeof MIGRATIONS) {
  migrations = m;
}

/** Creates (or opens) a database file and applies the server's migrations. */
export function openSeedDb(file: string): Database {
  const db = new Database(file, { create: true, strict: true });
  db.run("PRAGMA journal_mode = WAL");
  db.run("PRAGMA synchronous = OFF");
  db.run("PRAGMA foreign_keys = ON");
  db.run("PRAGMA cache_size = -262144");
  migrate(db, migrations);
  return db;
}

export function closeSeedDb(db: Database) {
  // No ANALYZE: the server sees the planner statistics a fresh deployment has (none).
  db.run("PRAGMA wal_checkpoint(TRUNCATE)");
  // true: finalize every statement now, so no lock outlives the seeding.
  db.close(true);
}

/** Inserts n users, each with one live session; returns them with their tokens. */
export function seedUsers(db: Database, n: number, passwordHash: string, prefix = "u"): SeedUser[] {
  const now = Date.now();
  const addUser = db.prepare("INSERT INTO users (account, name, avatar, email, password_hash, created_at) VALUES (?, ?, '', '', ?, ?) RETURNING id");
  const addSession = db.prepare("INSERT INTO sessions (token_hash, user_id, created_at, expires_at, last_used_at) VALUES (?, ?, ?, ?, ?)");
  const out: SeedUser[] = [];
  db.transaction(() => {
    for (let i = 0; i < n; i++) {
      const account = `${prefix}${i + 1}`;
      const { id } = addUser.get(account, account.toUpperCase(), passwordHash, now) as { id: number };
      const token = randomBytes(24).toString("base64url");
      addSession.run(hashToken(token), id, now, now + 7 * 86_400_000, now);
      out.push({ uid: id, token, account });
    }
  })();
  return out;
}

/** A group (mode 2) or direct chat (mode 1) with its members; the first uid owns it. */
export function seedGroup(db: Database, uids: number[], opts: { mode?: 1 | 2; name?: string } = {}): number {
  const mode = opts.mode ?? 2;
  const now = Date.now();
  const directKey = mode === 1 ? [...uids].sort((a, b) => a - b).join(":") : null;
  const { id } = db
    .prepare("INSERT INTO groups (name, avatar, mode, creator_uid, direct_key, created_at) VALUES (?, '', ?, ?, ?, ?) RETURNING id")
    .get(opts.name ?? `g${uids.length}`, mode, uids[0]!, directKey, now) as { id: number };
  const add = db.prepare("INSERT INTO group_members (group_id, user_id, role, joined_at) VALUES (?, ?, ?, ?)");
  uids.forEach((uid, i) => add.run(id, uid, i === 0 ? 3 : 1, now));
  return id;
}

export function seedGroups(db: Database, groups: { uids: number[]; mode?: 1 | 2 }[]): number[] {
  return db.transaction(() => groups.map((g) => seedGroup(db, g.uids, { mode: g.mode })))();
}
