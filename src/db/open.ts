import { Database } from "bun:sqlite";
import { drizzle, type BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { schema } from "./schema";

export type Db = BunSQLiteDatabase<typeof schema> & { $client: Database };

export type OpenOptions = { sync: "full" | "normal" };

/** Opens (creating if needed) the database file with the pragmas a chat server wants. */
export function openDatabase(file: string, { sync }: OpenOptions): Db {
  if (file !== ":memory:") mkdirSync(dirname(file), { recursive: true });
  const sqlite = new Database(file, { create: true, strict: true });
  sqlite.run("PRAGMA journal_mode = WAL");
  // FULL fsyncs the WAL on every commit, so an acked message survives power loss.
  sqlite.run(`PRAGMA synchronous = ${sync === "full" ? "FULL" : "NORMAL"}`);
  sqlite.run("PRAGMA foreign_keys = ON");
  sqlite.run("PRAGMA busy_timeout = 5000");
  sqlite.run("PRAGMA cache_size = -65536");
  sqlite.run("PRAGMA temp_store = MEMORY");
  return drizzle({ client: sqlite, schema }) as Db;
}

export function closeDatabase(db: Db): void {
  try {
    db.$client.run("PRAGMA optimize");
  } catch {}
  // true: finalize drizzle's prepared statements and release the file now, not at GC.
  db.$client.close(true);
}
