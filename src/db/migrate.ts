// Applies the migrations embedded in the program. Compatible with drizzle's
// own bookkeeping table, so drizzle-kit sees the same history.
import type { Database } from "bun:sqlite";
import { MIGRATIONS } from "./migrations.gen";
import { hasNameFold, refoldNames } from "./name-folds";

type Migration = { tag: string; when: number; sql: string };

const TABLE = "__drizzle_migrations";

/** Applies every migration newer than the last applied one, then refolds the names whose fold is stale (db/name-folds.ts); returns the tags applied. */
export function migrate(sqlite: Database, migrations: Migration[] = MIGRATIONS): string[] {
  sqlite.run(`CREATE TABLE IF NOT EXISTS ${TABLE} (id INTEGER PRIMARY KEY AUTOINCREMENT, hash TEXT NOT NULL, created_at NUMERIC)`);
  const last = sqlite.query<{ at: number | null }, []>(`SELECT max(created_at) AS at FROM ${TABLE}`).get()?.at ?? 0;
  const pending = migrations.filter((m) => m.when > last);
  if (pending.length) apply(sqlite, pending);
  if (hasNameFold(migrations)) refoldNames(sqlite);
  return pending.map((m) => m.tag);
}

function apply(sqlite: Database, pending: Migration[]): void {
  sqlite.transaction(() => {
    for (const m of pending) {
      for (const stmt of m.sql.split("--> statement-breakpoint")) {
        if (stmt.trim()) sqlite.run(stmt);
      }
      const hash = new Bun.CryptoHasher("sha256").update(m.sql).digest("hex");
      sqlite.run(`INSERT INTO ${TABLE} (hash, created_at) VALUES (?, ?)`, [hash, m.when]);
    }
  }).immediate();
}

export type AccountRename = { uid: number; from: string; to: string };

/**
 * The accounts that the case-insensitivity migration (…_accounts_nocase, whatever its number) renamed,
 * when it is among `applied`: for the start-up log and `rim migrate`. Empty otherwise.
 */
export function accountRenames(sqlite: Database, applied: string[]): AccountRename[] {
  if (!applied.some((tag) => tag.endsWith("_accounts_nocase"))) return [];
  return sqlite
    .query<AccountRename, []>("SELECT user_id AS uid, old_account AS \"from\", new_account AS \"to\" FROM account_renames ORDER BY id")
    .all();
}
