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
  /** The least time between the starts of two fsyncs (ms); see MIN_GAP_MS. */
  minGapMs?: number;
};

// An fdatasync costs about the same CPU whatever it carries (≈ 75 µs here:
// BENCHMARKS.md), so under a steady load fsyncs started back to back, each
// as soon as the last one ended (every ≈ 0.4 ms), would burn CPU in
// proportion to the disk's speed, not to the load: at 5k msg/s that was half
// of the server's CPU per message. An fsync therefore starts no sooner than
// this long after the previous one started; commits made meanwhile share
// it. After a quiet spell the first commit's fsync still starts at once.
const MIN_GAP_MS = 1;

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
  const minGap = opts.minGapMs ?? MIN_GAP_MS;
  let lastStart = -Infinity;
  let timer: ReturnType<typeof setTimeout> | null = null;

  const run = (batch: ((durable: boolean) => void)[], durable: boolean) => {
    for (const done of batch) done(durable);
  };

  function pump() {
    if (syncing || waiting.length === 0) return;
    const now = changes.get()!.n;
    if (now === durableAt) {
      // Nothing written since the last fsync: nothing to wait for.
      const batch = waiting;
      waiting = [];
      return run(batch, true);
    }
    if (timer !== null) return;
    const early = lastStart + minGap - performance.now();
    if (early > 0) {
      timer = setTimeout(() => {
        timer = null;
        pump();
      }, early);
      return;
    }
    const batch = waiting;
    waiting = [];
    // The -wal file exists once the first write happened; SQLite keeps it (and its inode) until close.
    fd ??= openSync(file + "-wal", "r");
    syncing = true;
    lastStart = performance.now();
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
      if (timer !== null) {
        // Closing: what waits for the gap is synced now.
        clearTimeout(timer);
        timer = null;
        lastStart = -Infinity;
        pump();
      }
      if (fd !== null) closeSync(fd);
      fd = null;
    },
  };
}
