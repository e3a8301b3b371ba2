// Operator tools on the database file: backup while serving, restore when
// not, and the lock that tells the two apart. A backup is one file: the
// database, and the bytes of every uploaded file it names in a table of its
// own (rim_backup_files), which restore writes back to the files folder.
import { Database } from "bun:sqlite";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { dirname } from "node:path";
import { createBlobStore } from "../blobs";

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

const BACKUP_FILES = "rim_backup_files";
const CHUNK = 1024 * 1024;

/**
 * Adds the bytes of every file the backup's rows name to the backup, in 1 MiB
 * chunks (memory stays flat). The database was copied first: every row in it
 * has its bytes on disk, as rows are written only after their bytes. A file
 * collected in between (unshared for a day) loses its row in the backup too.
 * Returns the number of files and bytes carried.
 */
export async function backupFiles(target: string, filesDir: string | null): Promise<{ files: number; bytes: number; missing: number }> {
  const sqlite = new Database(target);
  try {
    const hasFiles = sqlite.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'files'").get() !== null;
    if (!hasFiles) return { files: 0, bytes: 0, missing: 0 };
    sqlite.run(`CREATE TABLE ${BACKUP_FILES} (sha256 TEXT NOT NULL, part INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (sha256, part))`);
    const shas = sqlite.query<{ sha256: string }, []>("SELECT DISTINCT sha256 FROM files ORDER BY sha256").all().map((r) => r.sha256);
    const store = createBlobStore(filesDir);
    const insert = sqlite.query("INSERT INTO " + BACKUP_FILES + " (sha256, part, data) VALUES (?, ?, ?)");
    let bytes = 0;
    let missing = 0;
    const buf = Buffer.allocUnsafe(CHUNK);
    for (const sha of shas) {
      let fh;
      try {
        fh = await open(store.path(sha), "r");
      } catch {
        missing++;
        sqlite.query("DELETE FROM files WHERE sha256 = ?").run(sha);
        continue;
      }
      try {
        sqlite.run("BEGIN");
        for (let part = 0; ; part++) {
          const { bytesRead } = await fh.read(buf, 0, CHUNK, null);
          if (bytesRead === 0) break;
          insert.run(sha, part, buf.subarray(0, bytesRead));
          bytes += bytesRead;
        }
        sqlite.run("COMMIT");
      } finally {
        await fh.close();
      }
    }
    return { files: shas.length - missing, bytes, missing };
  } finally {
    sqlite.close();
  }
}

/** Writes the files a restored backup carries to the files folder (each verified against its sha256), then drops them from the database. */
export async function restoreFiles(db: string, filesDir: string | null): Promise<{ files: number }> {
  const sqlite = new Database(db);
  try {
    const carried = sqlite.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(BACKUP_FILES) !== null;
    if (!carried) return { files: 0 };
    const store = createBlobStore(filesDir);
    const shas = sqlite.query<{ sha256: string }, []>(`SELECT DISTINCT sha256 FROM ${BACKUP_FILES} ORDER BY sha256`).all().map((r) => r.sha256);
    const parts = sqlite.query<{ data: Uint8Array }, [string]>(`SELECT data FROM ${BACKUP_FILES} WHERE sha256 = ? ORDER BY part`);
    for (const sha of shas) {
      await store.put(sha, (function* () {
        for (const row of parts.iterate(sha)) yield row.data;
      })());
    }
    sqlite.run(`DROP TABLE ${BACKUP_FILES}`);
    sqlite.run("VACUUM");
    return { files: shas.length };
  } finally {
    sqlite.close();
  }
}
