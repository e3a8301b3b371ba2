// The write path on PostgreSQL, with the SQLite writer's contract
// (write/writer.ts): the jobs of one event-loop turn run in order inside one
// transaction (group commit), each in a savepoint so one failure rolls back
// only itself (but jobs that promise to fail before writing, which skip it);
// once COMMIT returns (durable: synchronous_commit is on), each job's effects
// are carried out and the job is settled, in submission order, consecutive
// replies of one socket corked. A job is a flow over the store (domain/store.ts)
// run by runAsync over the batch's connection. Jobs submitted while a batch is
// in flight wait for the next one.
//
// Id order. Messages and group events take their ids from the rim_ids
// sequence; nextval hands them out at once, but transactions on different
// nodes commit in any order, so a client reading "everything after id N"
// could see id N+2 before N+1 commits, move its cursor past it and never
// Sync it. Every batch that writes therefore takes the session lock
// pg_advisory_lock(RIM_IDS_LOCK) before its BEGIN and holds it past its
// COMMIT: batches commit in the order they took ids. It is held further,
// while the batch's effects are handed to `onCommitted` (the bus publishes
// them there, so the order on the bus is the order of the ids); then it is
// let go, and in the same turn the effects are carried out on this node (no
// later batch of another node can reach this node's sockets before: that
// comes over the bus, on a later turn). A session lock and not a
// transaction's, since the hand-over follows the commit.
//
// A failed batch (PostgreSQL gone, the connection cut, a job without a
// savepoint failing after writing) is answered with an error for each job and
// nothing of it is announced; the next batch takes a connection of the pool
// afresh, so the node recovers by itself once PostgreSQL is back.
import { createSettlement } from "../../write/settlement";
import type { ReservedSQL, SQL } from "bun";
import type { Ctx } from "../../domain/context";
import { isFlow, runAsync } from "../../domain/store";
import { AppError, toAppError } from "../../errors";
import type { Logger } from "../../log";
import type { Metrics } from "../../metrics";
import type { Effect } from "../../write/effects";
import type { Job, Outcome, WriteCtx } from "../../write/writer";
import { pgStore, RIM_IDS_LOCK } from "./store";

/**
 * Called once per committed batch that has effects, with its jobs' effects in
 * commit order, before any of them is carried out on this node; for a batch
 * that wrote, while the ids lock is still held (the next batch of any node
 * commits only after it returns). Awaited. A batch that stores nothing
 * (Typing, presence) holds no lock and is handed over all the same. A throw is
 * logged; the batch stays committed and its effects are still carried out
 * locally.
 */
export type OnCommitted = (effects: readonly Effect[]) => Promise<void> | void;

/** A job of the prototype's shape (no socket, always a transaction) is still accepted. */
export type PgJob = Pick<Job, "run" | "settle"> & Partial<Pick<Job, "db" | "socket" | "savepoint">>;

export type PgWriter = ReturnType<typeof createPgWriter>;

const MAX_BATCH = 2000;

type Ran = { outcome: Outcome; effects: Effect[]; undo: (() => void)[] };

const noop = () => {};

const OK_UNDEFINED: Outcome = Object.freeze({ ok: true, value: undefined });

export function createPgWriter(deps: {
  ctx: Ctx;
  sql: SQL;
  apply: (e: Effect) => void;
  log: Logger;
  metrics?: Metrics;
  onCommitted?: OnCommitted;
  /**
   * Awaited once COMMIT has returned, before anything of the batch is answered or handed over: tests hold a batch
   * there (as a held fsync on SQLite). A rejection is a COMMIT whose reply never came: stored, yet answered as failed.
   */
  commitReply?: () => Promise<void>;
}) {
  const { log, metrics } = deps;
  let pending: PgJob[] = [];
  let scheduled = false;
  let inFlight: Promise<void> | null = null;
  // Effects carried out, jobs settled and settled() waiters, in commit order (write/settlement.ts).
  const settlement = createSettlement({ apply: deps.apply, log });
  let closed = false;
  let onCommitted = deps.onCommitted;
  const commitListeners = new Set<(jobs: number) => void>();

  /** The batch's connection, seen through a store that notes whether a statement changed rows. */
  function batchStore(conn: ReservedSQL | SQL, wrote: { rows: boolean }) {
    const counting = {
      unsafe(text: string, params?: never[]) {
        return conn.unsafe(text, params).then((rows: { command?: string; count?: number }) => {
          if (rows.command !== "SELECT" && (rows.count ?? 0) > 0) wrote.rows = true;
          return rows;
        });
      },
    } as unknown as SQL;
    return pgStore(counting);
  }

  function newRun(store: ReturnType<typeof pgStore> | null): Ran & { w: WriteCtx } {
    const r = { outcome: OK_UNDEFINED, effects: [] as Effect[], undo: [] as (() => void)[] } as Ran & { w: WriteCtx };
    r.w = Object.create(deps.ctx, {
      ...(store ? { store: { value: store } } : {}),
      effects: { value: r.effects },
      onRollback: { value: (fn: () => void) => r.undo.push(fn) },
    }) as WriteCtx;
    return r;
  }

  async function body(job: PgJob, w: WriteCtx): Promise<unknown> {
    const value = job.run(w);
    return isFlow(value) ? await runAsync(value) : value;
  }

  function undo(r: Ran) {
    const fns = r.undo.splice(0);
    for (let i = fns.length - 1; i >= 0; i--) fns[i]!();
  }

  function failure(r: Ran, err: unknown) {
    undo(r);
    r.effects.length = 0;
    const error = toAppError(err);
    if (error.status === 500) log.error("write.error", { error: String((err as Error)?.stack ?? err) });
    r.outcome = { ok: false, error };
  }

  async function runJob(job: PgJob, conn: ReservedSQL | null, wrote: { rows: boolean }): Promise<Ran> {
    const r = newRun(conn && job.db !== false ? batchStore(conn, wrote) : null);
    if (!conn || job.db === false) {
      try {
        const value = await body(job, r.w);
        if (value !== undefined) r.outcome = { ok: true, value };
      } catch (err) {
        failure(r, err);
      }
      return r;
    }
    if (job.savepoint === false) {
      const before = wrote.rows;
      wrote.rows = false;
      try {
        const value = await body(job, r.w);
        if (value !== undefined) r.outcome = { ok: true, value };
      } catch (err) {
        // Its writes cannot be taken back alone, and a statement that failed has aborted the transaction: the batch fails.
        if (wrote.rows || isPostgresError(err)) {
          undo(r);
          throw new FailedAfterWriting(err);
        }
        failure(r, err);
      }
      wrote.rows ||= before;
      return r;
    }
    await conn.unsafe("SAVEPOINT job");
    try {
      const value = await body(job, r.w);
      await conn.unsafe("RELEASE SAVEPOINT job");
      if (value !== undefined) r.outcome = { ok: true, value };
    } catch (err) {
      // Undone in memory first: should the connection be gone, the batch fails without this job among its results.
      failure(r, err);
      await conn.unsafe("ROLLBACK TO SAVEPOINT job; RELEASE SAVEPOINT job");
    }
    return r;
  }

  const failed = (msg: string): Ran => ({ outcome: { ok: false, error: new AppError("internal", msg) }, effects: [], undo: [] });

  async function runBatch(jobs: PgJob[]) {
    settlement.ran(jobs.length);
    let results: Ran[] = [];
    const wrote = { rows: false };
    if (!jobs.some((j) => j.db !== false)) {
      // Nothing to store (Typing, presence): no transaction, no lock; handed over all the same.
      for (const job of jobs) results.push(await runJob(job, null, wrote));
      await handOver(results);
      return settlement.deliver(jobs, results);
    }
    const started = performance.now();
    let conn: ReservedSQL | null = null;
    let locked = false;
    let committed = false;
    try {
      conn = await deps.sql.reserve();
      // Set first: should this fail, the lock may be held all the same, and the unlock below is harmless if not.
      locked = true;
      // One round trip for both: a session's lock is not the transaction's, so the BEGIN after it leaves it held.
      await conn.unsafe(`SELECT pg_advisory_lock(${RIM_IDS_LOCK}); BEGIN`);
      for (const job of jobs) results.push(await runJob(job, conn, wrote));
      await conn.unsafe("COMMIT");
      if (deps.commitReply) await deps.commitReply();
      committed = true;
    } catch (err) {
      // Nothing of the batch is stored (PostgreSQL gone, the commit refused, or a job without a savepoint failed after writing): nothing is announced.
      if (conn && locked) await conn.unsafe("ROLLBACK").catch(() => {});
      for (let i = results.length - 1; i >= 0; i--) undo(results[i]!);
      if (err instanceof FailedAfterWriting) log.error("write.failed_after_writing", { jobs: jobs.length, error: String((err.cause as Error)?.stack ?? err.cause) });
      else log.error("write.commit_failed", { jobs: jobs.length, error: String(err) });
      results = jobs.map(() => failed("could not store, try again"));
    }
    metrics?.observeCommit(performance.now() - started, jobs.length);
    for (const fn of commitListeners) fn(jobs.length);
    let unlocked: Promise<void> = Promise.resolve();
    try {
      if (committed) await handOver(results);
    } finally {
      if (conn) {
        const c = conn;
        // PostgreSQL lets the lock go as it reads this; its answer is awaited below, after the effects are carried out.
        unlocked = (locked ? c.unsafe(`SELECT pg_advisory_unlock(${RIM_IDS_LOCK})`).then(noop, noop) : Promise.resolve()).finally(() => c.release());
      }
    }
    // Carried out in the turn that sent the unlock, so outside the lock's hold and still first here: another node's
    // later batch reaches this node only through the bus, whose messages are handled on a later turn.
    settlement.deliver(jobs, results);
    // The next batch asks for the lock only once this node has got through the sends just queued (the answer comes
    // after them): granted to a node whose event loop is still busy, the lock would sit unused while every other
    // node waits. (Asking at once measured no better: BENCHMARKS.md, "Round trips under the ids lock".)
    await unlocked;
  }

  /** The batch's effects, in commit order, to onCommitted (if any, and if there are any). */
  async function handOver(results: Ran[]) {
    if (!onCommitted) return;
    const effects: Effect[] = [];
    for (const r of results) for (const e of r.effects) effects.push(e);
    if (effects.length === 0) return;
    try {
      await onCommitted(effects);
    } catch (err) {
      log.error("write.committed_hook_failed", { error: String((err as Error)?.stack ?? err) });
    }
  }



  function flush() {
    scheduled = false;
    if (inFlight || pending.length === 0) return;
    const jobs = pending.splice(0, MAX_BATCH);
    inFlight = runBatch(jobs)
      .catch((err) => log.error("write.batch_failed", { error: String((err as Error)?.stack ?? err) }))
      .finally(() => {
        inFlight = null;
        if (pending.length && !scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
  }

  const writer = {
    submit(job: PgJob) {
      if (closed) return job.settle({ ok: false, error: new AppError("internal", "shutting down, try again") });
      pending.push(job);
      if (!scheduled && !inFlight) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    /** Runs fn on the write path; resolves with its value once committed and its effects carried out. */
    run<T>(fn: (w: WriteCtx) => T | Generator<unknown, T, unknown>, opts: { db?: boolean } = {}): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        writer.submit({ run: fn, db: opts.db ?? true, settle: (o) => (o.ok ? resolve(o.value as T) : reject(o.error)) });
      });
    },
    /**
     * Resolves once every job that has started running (and so may show in a read) is committed and announced;
     * jobs still queued are not waited for.
     */
    settled(): Promise<void> {
      return settlement.settled();
    },
    /** Resolves once nothing is queued or in flight (every job submitted so far is settled). */
    async drained(): Promise<void> {
      while (inFlight || pending.length) {
        if (!inFlight) flush();
        await inFlight;
      }
    },
    /** Calls fn after each batch's commit (or failure), before its effects are carried out: a hook for tests. */
    onCommit(fn: (jobs: number) => void): () => void {
      commitListeners.add(fn);
      return () => commitListeners.delete(fn);
    },
    /** Where committed effects are handed over in commit order, while the ids lock is held (see OnCommitted). */
    setOnCommitted(fn: OnCommitted | undefined) {
      onCommitted = fn;
    },
    /** Starts the queued jobs now rather than on the next turn (they still commit asynchronously). */
    flush,
    // The SQLite writer holds jobs while its WAL restarts; PostgreSQL has nothing of the kind.
    hold() {},
    release() {},
    /** Starts what is queued, then refuses new jobs; await drained() for them to finish. */
    close() {
      flush();
      closed = true;
    },
    get pending() {
      return pending.length;
    },
    get closed() {
      return closed;
    },
  };
  return writer;
}

/** An error PostgreSQL reported (the statement failed, so its transaction is aborted), not one of the domain's. */
function isPostgresError(err: unknown): boolean {
  return !(err instanceof AppError) && typeof (err as { code?: unknown } | null)?.code === "string" && (err as Error).name !== "AppError";
}

class FailedAfterWriting extends Error {
  constructor(cause: unknown) {
    super("a job without a savepoint failed after writing", { cause });
  }
}
