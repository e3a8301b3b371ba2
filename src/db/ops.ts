// Operator tools on the database file: backup while serving, restore when
// not, and the lock that tells the two apart.
import { Database } from "bun:sqlite";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

const lockFile = (db: string) => db + ".serving";

/** Marks the database as served by this process; returns the release function. */
export function holdServingLock(db: string): () => void {
  if (db === ":memory:") return () => {};
  const holder = servingPid(db);
  if (holder !== null && holder !== process.pid) throw new Error(`${db} is already served by process ${holder}`);
  mkdirSync(dirname(db), { recursive: true });
  writeFileSync(lockFile(db), String(process.pid));
  return () => rmSync(lockFile(db), { force: true });
}

/** The pid of a live process serving db, or null (a stale lock of a killed server counts as none). */
export function servingPid(db: string): number | null {
  if (!existsSync(lockFile(db))) return null;
  const pid = Number(readFileSync(lockFile(db), "utf8").trim());
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return null;
  }
}

/** A consistent copy through SQLite itself, safe while the server writes (WAL readers see one snapshot). */
export function backupDatabase(db: string, target: string): void {
  if (!existsSync(db)) throw new Error(`no database at ${db}`);
  if (existsSync(target)) throw new Error(`${target} exists; choose a new file`);
  const sqlite = new Database(db, { readonly: true });
  try {
    sqlite.query("VACUUM INTO ?").run(target);
  } finally {
    sqlite.close();
  }
}

export function checkIntegrity(file: string): string {
  const sqlite = new Database(file, { readonly: true });
  try {
    return sqlite.query<{ integrity_check: string }, []>("PRAGMA integrity_check").get()?.integrity_check ?? "unknown";
  } finally {
    sqlite.close();
  }
}

/** Replaces db with a backup, refusing while a server holds it. */
export function restoreDatabase(db: string, source: string): void {
  const pid = servingPid(db);
  if (pid !== null) throw new Error(`refusing to restore: ${db} is being served by process ${pid}; stop it first`);
  if (!existsSync(source)) throw new Error(`no backup at ${source}`);
  const verdict = checkIntegrity(source);
  if (verdict !== "ok") throw new Error(`${source} failed its integrity check: ${verdict}`);
  for (const suffix of ["-wal", "-shm"]) rmSync(db + suffix, { force: true });
  mkdirSync(dirname(db), { recursive: true });
  copyFileSync(source, db);
}
