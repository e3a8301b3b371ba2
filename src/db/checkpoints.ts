// SQLite's checkpoints, off the event loop.
//
// In WAL mode SQLite copies the WAL back into the database file every 1,000
// frames, inside the COMMIT that crosses the mark: on the event loop, two
// fsyncs long (≈ 2.5 ms, ≈ 25 times a second at 5k msg/s: the largest source
// of tail latency, BENCHMARKS.md run 5). Instead the serving connection runs
// with wal_autocheckpoint = 0 and a worker thread with a connection of its
// own checkpoints:
//
// - every POLL_MS, a PASSIVE checkpoint copies what was committed since the
//   last one (it takes no lock a writer needs; readers and writers go on);
// - once the WAL holds RESTART_FRAMES frames, the worker asks the write path
//   to hold its next commit (the event loop goes on reading, queueing jobs
//   and sending replies), copies the few frames committed since its last
//   PASSIVE and waits for readers with RESTART, then lets the writer go: its
//   next commit starts the WAL from the beginning again, so the file stays
//   bounded under a steady stream of writes. A reader holding an old snapshot
//   (a backup) makes RESTART give up at once; it is tried again ten polls later.
//
// Durability is SQLite's: a checkpoint fsyncs the WAL before it copies and
// the database file after, and the write path still fsyncs the WAL itself
// before anything is acked (durability.ts); which of the two files holds an
// acked write does not matter. The worker's file descriptor and SQLite's
// locks are per connection, so the serving connection sees nothing but a WAL
// that restarts, as it would after its own checkpoint.
import type { Database } from "bun:sqlite";

export type Checkpoints = {
  /** Stops the worker after its current checkpoint and closes its connection. */
  stop(): Promise<void>;
};

export type CheckpointOptions = {
  /** Holds the write path's next commit; the worker is told once nothing is being written. */
  hold(): void;
  /** Lets the write path commit again. */
  release(): void;
  onError(err: Error): void;
  /** After each RESTART: whether it restarted the WAL (false: a reader held it), and how long the writes were held. */
  onRestart?(restarted: boolean, heldMs: number): void;
  /** RESTART once the WAL holds this many frames (of a page each, 4 KiB by default). */
  restartFrames?: number;
  pollMs?: number;
};

const RESTART_FRAMES = 4096;
const POLL_MS = 50;
// A worker that asked for a hold and never answered must not stop the writes for good.
const HOLD_LIMIT_MS = 2000;

// The worker's code, as text: a Blob URL works alike from source and in the compiled executable.
const WORKER = `
import { Database } from "bun:sqlite";
let db = null, timer = null, opts = null;
const tick = () => {
  timer = null;
  try {
    const r = db.query("PRAGMA wal_checkpoint(PASSIVE)").get();
    if (r.log >= opts.restartFrames) return postMessage({ type: "hold" });
  } catch (err) {
    postMessage({ type: "error", error: String(err) });
  }
  timer = setTimeout(tick, opts.pollMs);
};
onmessage = ({ data: m }) => {
  if (m.type === "start") {
    opts = m;
    db = new Database(m.file);
    // A moment's lock (the schema read, a WAL recovery) is waited out, as the server's own connection does.
    db.run("PRAGMA busy_timeout = 100");
    timer = setTimeout(tick, opts.pollMs);
  } else if (m.type === "held") {
    let r = null;
    try {
      // RESTART must not wait on a reader while the writes are held: it gives up, and is tried again later.
      db.run("PRAGMA busy_timeout = 0");
      r = db.query("PRAGMA wal_checkpoint(RESTART)").get();
    } catch (err) {
      postMessage({ type: "error", error: String(err) });
    } finally {
      db.run("PRAGMA busy_timeout = 100");
    }
    postMessage({ type: "release", busy: r ? r.busy : 1 });
    // A reader in the way (a backup) is likely still there: the writes are not held again for a while.
    timer = setTimeout(tick, r && r.busy === 0 ? opts.pollMs : opts.pollMs * 10);
  } else if (m.type === "stop") {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    try { db?.close(); } catch {}
    db = null;
    postMessage({ type: "stopped" });
  }
};
`;

let workerUrl: string | null = null;

/** Starts checkpointing file off the event loop; sqlite (the serving connection) stops checkpointing itself. */
export function startCheckpoints(sqlite: Database, file: string, opts: CheckpointOptions): Checkpoints {
  if (file === ":memory:") return { stop: async () => {} };
  workerUrl ??= URL.createObjectURL(new Blob([WORKER], { type: "application/javascript" }));
  const worker = new Worker(workerUrl);
  sqlite.run("PRAGMA wal_autocheckpoint = 0");
  let holding: ReturnType<typeof setTimeout> | null = null;
  let heldSince = 0;
  let stopped: (() => void) | null = null;
  let gone = false;

  const release = () => {
    if (holding === null) return;
    clearTimeout(holding);
    holding = null;
    opts.release();
  };
  // Should the worker fail, SQLite checkpoints on the event loop again, as before: slower, never unbounded.
  const fallBack = (err: Error) => {
    opts.onError(err);
    release();
    if (!gone) sqlite.run("PRAGMA wal_autocheckpoint = 1000");
    gone = true;
    stopped?.();
  };

  worker.onmessage = ({ data: m }) => {
    if (m.type === "hold") {
      if (gone || stopped) return;
      opts.hold();
      heldSince = performance.now();
      holding = setTimeout(() => fallBack(new Error("checkpoint worker did not answer a hold")), HOLD_LIMIT_MS);
      worker.postMessage({ type: "held" });
    } else if (m.type === "release") {
      release();
      opts.onRestart?.(m.busy === 0, performance.now() - heldSince);
    }
    else if (m.type === "error") opts.onError(new Error(m.error));
    else if (m.type === "stopped") stopped?.();
  };
  worker.onerror = (ev) => fallBack(new Error(`checkpoint worker: ${ev.message}`));
  worker.postMessage({ type: "start", file, restartFrames: opts.restartFrames ?? RESTART_FRAMES, pollMs: opts.pollMs ?? POLL_MS });

  return {
    stop() {
      if (gone) return Promise.resolve();
      return new Promise<void>((resolve) => {
        stopped = () => {
          release();
          gone = true;
          worker.terminate();
          resolve();
        };
        worker.postMessage({ type: "stop" });
      });
    },
  };
}
