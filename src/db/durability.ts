// `--sync full` without blocking the event loop on the disk.
//
// SQLite's synchronous=FULL fsyncs the WAL inside COMMIT, and bun:sqlite runs
// COMMIT on the event loop: every batch stalled all sockets for the length
// of an fsync. Instead the connection runs at synchronous=NORMAL (COMMIT only
// writes the WAL) and this module fdatasyncs the WAL file on a worker thread
// after commits; replies wait for it. What is acked is on disk exactly as
// with FULL, while the loop goes on reading and committing the next batch,
// and one fsync covers every commit made before it started.
//
// NORMAL keeps the WAL's own checkpoint ordering safe: SQLite syncs the WAL
// before a checkpoint and the database after it.
import type { Database } from "bun:sqlite";
import { closeSync, fdatasync, openSync } from "node:fs";

export type Durability = {
  /** Calls done(true) once every commit made so far is on disk (false: the fsync failed). In call order. */
  afterCommit(done: (durable: boolean) => void): void;
  /** The same as a promise; rejects if the fsync failed. */
  whenDurable(): Promise<void>;
  close(): void;
};

type Sync = (fd: number, cb: (err: Error | null) => void) => void;

export type DurabilityOptions = {
  mode: "full" | "normal";
  /** fdatasync by default; tests hand in one they control. */
  sync?: Sync;
  onError?: (err: Error) => void;
};

export function createDurability(sqlite: Database, file: string, opts: DurabilityOptions): Durability {
  if (opts.mode === "normal" || file === ":memory:") {
    // Nothing to wait for; callbacks still run in order, at once.
    return {
      afterCommit: (done) => done(true),
      whenDurable: () => Promise.resolve(),
      close() {},
    };
  }
  const sync: Sync = opts.sync ?? ((fd, cb) => fdatasync(fd, cb));
  const changes = sqlite.query<{ n: number }, []>("SELECT total_changes() AS n");
  let fd: number | null = null;
  let durableAt = changes.get()!.n; // writes counted when the last fsync started
  let syncing = false;
  let waiting: ((durable: boolean) => void)[] = [];

  const run = (batch: ((durable: boolean) => void)[], durable: boolean) => {
    for (const done of batch) done(durable);
  };

  function pump() {
    if (syncing || waiting.length === 0) return;
    const batch = waiting;
    waiting = [];
    const now = changes.get()!.n;
    if (now === durableAt) return run(batch, true); // nothing written since the last fsync
    // The -wal file exists once the first write happened; SQLite keeps it (and its inode) until close.
    fd ??= openSync(file + "-wal", "r");
    syncing = true;
    sync(fd, (err) => {
      syncing = false;
      if (err) opts.onError?.(err);
      else durableAt = now;
      run(batch, !err);
      pump();
    });
  }

  return {
    afterCommit(done) {
      waiting.push(done);
      pump();
    },
    whenDurable() {
      return new Promise((resolve, reject) => this.afterCommit((ok) => (ok ? resolve() : reject(new Error("fsync failed")))));
    },
    close() {
      if (fd !== null) closeSync(fd);
      fd = null;
    },
  };
}
