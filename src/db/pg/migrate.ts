// Applies the embedded PostgreSQL migrations (drizzle-pg/), in one
// transaction holding an advisory lock: nodes starting together queue on the
// lock, the first applies, the others then find nothing to do. The
// bookkeeping table is drizzle's own (drizzle.__drizzle_migrations), so
// drizzle-kit sees the same history.
import type { SQL } from "bun";
import { hasNameFold, NAMES, staleFolds } from "../name-folds";
import { MIGRATIONS } from "./migrations.gen";

type Migration = { tag: string; when: number; sql: string };

/** pg_advisory_xact_lock's key for "rim is migrating this database" (an arbitrary constant: "rimmigr" in ASCII). */
export const MIGRATION_LOCK = 0x72696d6d696772n;

const TABLE = "drizzle.__drizzle_migrations";

/** Applies every migration newer than the last applied one, then refolds the names whose fold is stale (db/name-folds.ts); returns the tags applied (none if another node did). */
export async function migratePostgres(sql: SQL, migrations: Migration[] = MIGRATIONS): Promise<string[]> {
  return await sql.begin(async (tx) => {
    // Taken first: even creating the bookkeeping table races between two nodes without it.
    await tx.unsafe(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`);
    await tx.unsafe("CREATE SCHEMA IF NOT EXISTS drizzle");
    await tx.unsafe(`CREATE TABLE IF NOT EXISTS ${TABLE} (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint)`);
    const [row] = await tx.unsafe(`SELECT max(created_at) AS at FROM ${TABLE}`);
    const last = Number(row?.at ?? 0);
    const pending = migrations.filter((m) => m.when > last);
    for (const m of pending) {
      for (const stmt of m.sql.split("--> statement-breakpoint")) {
        if (stmt.trim()) await tx.unsafe(stmt);
      }
      const hash = new Bun.CryptoHasher("sha256").update(m.sql).digest("hex");
      await tx`INSERT INTO drizzle.__drizzle_migrations (hash, created_at) VALUES (${hash}, ${m.when})`;
    }
    // Under the lock, in the same transaction: no node serves a migrated database whose names are not folded.
    if (hasNameFold(migrations)) {
      const stale = staleFolds((await tx.unsafe(NAMES)) as { id: number; name: string; fold: string }[]);
      if (stale.length) {
        // Sent as text and cast: Bun's client would send the string as a JSON string, not the array it holds.
        // "AND u.name = f.name": a name another node changed meanwhile was folded by its writer.
        await tx.unsafe(
          "UPDATE users u SET name_fold = f.fold FROM jsonb_to_recordset($1::text::jsonb) AS f(id bigint, name text, fold text) WHERE u.id = f.id AND u.name = f.name",
          [JSON.stringify(stale)],
        );
      }
    }
    return pending.map((m) => m.tag);
  });
}
