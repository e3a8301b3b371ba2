// The one write path. Every write, from a REST route, a socket frame, an
// operator command or a timer, is a job here. The jobs of one event-loop turn
// run in order inside one BEGIN IMMEDIATE … COMMIT (group commit), each in a
// savepoint so one failure rolls back only itself. Once the commit is durable
// (db/durability.ts: one fsync, off the event loop, for every commit before
// it), each job's effects are carried out and then the job is settled, in
// submission order. Nothing is heard of before it is durable, and effects
// happen in commit order, so a socket's Login and a membership change or a
// revocation can never be applied the wrong way round.
import { createSettlement } from "./settlement";
import type { Database } from "bun:sqlite";
import type { Durability } from "../db/durability";
import type { HeldBack } from "../db/sqlite-store";
import type { Ctx } from "../domain/context";
import { isFlow, runSync } from "../domain/store";
import { AppError, toAppError } from "../errors";
import type { Logger } from "../log";
import type { Metrics } from "../metrics";
import type { Sock } from "../ws/hub";
import type { Effect } from "./effects";

/** What a job sees: the context, plus where to describe its effects. */
export type WriteCtx = Ctx & {
  readonly effects: Effect[];
  /** Undoes in-memory state the job changed, should its write not become durable. */
  onRollback(fn: () => void): void;
};

export type Outcome = { ok: true; value: unknown } | { ok: false; error: AppError };

export type Job = {
  run: (w: WriteCtx) => unknown;
  /** Whether the job touches the database (pure replies skip the transaction). */
  db: boolean;
  /** The socket the job answers: consecutive jobs of one socket reply corked. */
  socket?: Sock;
  /** Called after the job's effects were carried out (or on failure, with none carried out). */
  settle: (outcome: Outcome) => void;
  /**
   * false: the job fails, if at all, before its first write (its checks come
   * first), so it runs without a savepoint of its own, which would copy every
   * page it touches into the statement journal (≈ 2 µs of a message's ≈ 14).
   * The writer holds the job to it: one that fails after writing anyway fails
   * its whole batch, rolled back and answered as a failed commit is.
   */
  savepoint?: boolean;
};

export type Writer = ReturnType<typeof createWriter>;

// A flood of jobs in one turn is still committed in bounded batches.
const MAX_BATCH = 2000;

/**
 * One job's run: what the job sees as its WriteCtx (the context through the
 * prototype, its own effects and undo list), then its outcome. One object per
 * job, always of one shape, so the hot path allocates little.
 */
type Ran = WriteCtx & { effects: Effect[]; undo: (() => void)[] | null; outcome: Outcome };

// Settled with nothing to hand back (every socket frame): one shared, frozen outcome.
const OK_UNDEFINED: Outcome = Object.freeze({ ok: true, value: undefined });

export function createWriter(deps: {
  ctx: Ctx;
  sqlite: Database;
  durability: Durability;
  apply: (e: Effect) => void;
  /**
   * In a cluster: each durable batch's effects, in commit order, once applied
   * here (bus/effects.ts publishes the ones other nodes need). Absent on a
   * single node: no work at all.
   */
  onCommitted?: (effects: Effect[]) => unknown;
  /** The store's writes held back to the end of a batch (db/sqlite-store.ts lastMessages): written before COMMIT and each savepoint, dropped on a rollback. */
  lastMessages?: HeldBack;
  log: Logger;
  metrics: Metrics;
}) {
  const { sqlite, durability, log, metrics } = deps;
  const heldBack: HeldBack = deps.lastMessages ?? { flush() {}, discard() {}, written: 0 };
  // Prepared once (the query cache finalizes them on close), not parsed again for every job.
  const sql = {
    begin: sqlite.query("BEGIN IMMEDIATE"),
    commit: sqlite.query("COMMIT"),
    savepoint: sqlite.query("SAVEPOINT job"),
    release: sqlite.query("RELEASE job"),
    rollbackTo: sqlite.query("ROLLBACK TO job"),
    totalChanges: sqlite.query<{ n: number }, []>("SELECT total_changes() AS n"),
  };
  const JobRun = function (this: Ran) {
    this.effects = [];
    this.undo = null;
    this.outcome = OK_UNDEFINED;
  } as unknown as { new (): Ran };
  JobRun.prototype = Object.create(deps.ctx, {
    onRollback: {
      value(this: Ran, fn: () => void) {
        (this.undo ??= []).push(fn);
      },
    },
  });
  let pending: Job[] = [];
  let scheduled = false;
  let running = false;
  // Effects carried out, jobs settled and settled() waiters, in commit order (write/settlement.ts).
  const settlement = createSettlement({ apply: deps.apply, log });
  let closed = false;
  // Held (db/checkpoints.ts): the WAL is being restarted by another connection; jobs queue meanwhile.
  let held = false;
  const commitListeners = new Set<(jobs: number) => void>();

  function runJob(job: Job): Ran {
    const w = new JobRun();
    try {
      const value = !job.db ? runBody(job, w) : job.savepoint === false ? withoutSavepoint(job, w) : withSavepoint(job, w);
      if (value !== undefined) w.outcome = { ok: true, value };
    } catch (err) {
      undo(w);
      if (err instanceof FailedAfterWriting) throw err;
      w.effects.length = 0;
      const error = toAppError(err);
      if (error.status === 500) log.error("write.error", { error: String((err as Error)?.stack ?? err) });
      w.outcome = { ok: false, error };
    }
    return w;
  }

  function withSavepoint(job: Job, w: Ran): unknown {
    // What earlier jobs held back is theirs: written before the savepoint, so rolling back to it drops only this job's.
    heldBack.flush();
    sql.savepoint.run();
    try {
      const value = runBody(job, w);
      heldBack.flush();
      sql.release.run();
      return value;
    } catch (err) {
      heldBack.discard();
      sql.rollbackTo.run();
      sql.release.run();
      throw err;
    }
  }

  function withoutSavepoint(job: Job, w: Ran): unknown {
    // Rows the store writes for earlier jobs meanwhile (held back to now) are not this job's writes.
    const before = sql.totalChanges.get()!.n - heldBack.written;
    try {
      return runBody(job, w);
    } catch (err) {
      // Its writes cannot be taken back alone: the batch is rolled back (flush).
      if (sql.totalChanges.get()!.n - heldBack.written !== before) throw new FailedAfterWriting(err);
      throw err;
    }
  }

  /** Undoes a run's in-memory changes, newest first, once. */
  function undo(r: Ran) {
    const fns = r.undo;
    r.undo = null;
    if (fns) for (let i = fns.length - 1; i >= 0; i--) fns[i]!();
  }

  /** Undoes a batch, newest job first: two changes to one socket in one batch end as before both. */
  function undoAll(runs: Ran[]) {
    for (let i = runs.length - 1; i >= 0; i--) undo(runs[i]!);
  }

  function failed(msg: string): Ran {
    const r = new JobRun();
    r.outcome = { ok: false, error: new AppError("internal", msg) };
    return r;
  }

  function flush() {
    scheduled = false;
    if (held) return;
    const jobs = pending;
    pending = [];
    if (jobs.length === 0) return;
    // From here on their writes may be read (committed or not): settled() called later waits for them.
    settlement.ran(jobs.length);
    let results: Ran[] = [];
    running = true;
    try {
      if (!jobs.some((j) => j.db)) for (const job of jobs) results.push(runJob(job));
      else {
        const started = performance.now();
        try {
          sql.begin.run();
          for (const job of jobs) results.push(runJob(job));
          heldBack.flush();
          sql.commit.run();
        } catch (err) {
          // The commit itself failed (disk full, I/O error), or a job without a savepoint failed after
          // writing: nothing of the batch is stored, so nothing is announced.
          heldBack.discard();
          try {
            if (sqlite.inTransaction) sqlite.run("ROLLBACK");
          } catch {}
          undoAll(results);
          if (err instanceof FailedAfterWriting) log.error("write.failed_after_writing", { jobs: jobs.length, error: String((err.cause as Error)?.stack ?? err.cause) });
          else log.error("write.commit_failed", { jobs: jobs.length, error: String(err) });
          results = jobs.map(() => failed("could not store, try again"));
        }
        metrics.observeCommit(performance.now() - started, jobs.length);
        for (const fn of commitListeners) fn(jobs.length);
      }
    } finally {
      running = false;
    }
    let done = results;
    // Even a batch that wrote nothing waits its turn, so each socket's replies stay in the order of its frames.
    durability.afterCommit((durable) => {
      if (!durable) {
        // Stored but maybe not on disk: nobody hears of it; a resend with the same clientMsgId is answered from what was stored.
        undoAll(done);
        done = done.map((r) => (r.outcome.ok ? failed("could not confirm the write, send again") : r));
      }
      settlement.deliver(jobs, done);
      if (deps.onCommitted) handOver(done);
    });
  }

  function handOver(results: Ran[]) {
    const effects: Effect[] = [];
    for (const r of results) for (const e of r.effects) effects.push(e);
    // SQLite is one node's database: no ids lock to hold across the publish, so it is not awaited.
    if (effects.length > 0) void deps.onCommitted!(effects);
  }

  const writer = {
    submit(job: Job) {
      // A job that submits another would see it land in a later commit: a bug, not a feature.
      if (running) throw new Error("writer: a job may not submit another job");
      if (closed) return job.settle({ ok: false, error: new AppError("internal", "shutting down, try again") });
      pending.push(job);
      if (pending.length >= MAX_BATCH) flush();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    /** Runs fn on the write path; resolves with its value once durable and its effects carried out. */
    run<T>(fn: (w: WriteCtx) => T, opts: { db?: boolean } = {}): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        writer.submit({ run: fn, db: opts.db ?? true, settle: (o) => (o.ok ? resolve(o.value as T) : reject(o.error)) });
      });
    },
    /**
     * Resolves once every write that has run so far (and so may show in a read) is durable and announced, so a
     * reply never shows what is not; writes still queued are not waited for, and no job is added to wait.
     */
    settled(): Promise<void> {
      return settlement.settled();
    },
    /** Commits what is queued now and resolves once it is durable and announced (every job submitted so far). */
    drained(): Promise<void> {
      flush();
      return writer.settled();
    },
    /** Calls fn after each commit (before it is durable): a hook for tests that force interleavings. */
    onCommit(fn: (jobs: number) => void): () => void {
      commitListeners.add(fn);
      return () => commitListeners.delete(fn);
    },
    flush,
    /** Commits nothing until release(); jobs submitted meanwhile queue up. */
    hold() {
      held = true;
    },
    release() {
      held = false;
      if (pending.length > 0 && !scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    /** Commits what is queued, then refuses new jobs (the database is about to close). */
    close() {
      held = false;
      flush();
      closed = true;
    },
    get pending() {
      return pending.length;
    },
    /** Whether close() was called: new jobs are refused. */
    get closed() {
      return closed;
    },
  };
  return writer;
}

/** A job's body; one that is a flow over the store (domain/store.ts) is run to its end at once, on SQLite's store. */
function runBody(job: Job, w: WriteCtx): unknown {
  const value = job.run(w);
  return isFlow(value) ? runSync(value) : value;
}

/** A job that promised to fail only before writing (savepoint: false) failed after it. */
class FailedAfterWriting extends Error {
  constructor(cause: unknown) {
    super("a job without a savepoint failed after writing", { cause });
  }
}
