// The one write path. Every write, from a REST route, a socket frame, an
// operator command or a timer, is a job here. The jobs of one event-loop turn
// run in order inside one BEGIN IMMEDIATE … COMMIT (group commit), each in a
// savepoint so one failure rolls back only itself. Once the commit is durable
// (db/durability.ts: one fsync, off the event loop, for every commit before
// it), each job's effects are carried out and then the job is settled, in
// submission order. Nothing is heard of before it is durable, and effects
// happen in commit order, so a socket's Login and a membership change or a
// revocation can never be applied the wrong way round.
import type { Database } from "bun:sqlite";
import type { Durability } from "../db/durability";
import type { Ctx } from "../domain/context";
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
};

export type Writer = ReturnType<typeof createWriter>;

// A flood of jobs in one turn is still committed in bounded batches.
const MAX_BATCH = 2000;

type Ran = { outcome: Outcome; effects: Effect[]; undo: (() => void)[] };

export function createWriter(deps: {
  ctx: Ctx;
  sqlite: Database;
  durability: Durability;
  apply: (e: Effect) => void;
  log: Logger;
  metrics: Metrics;
}) {
  const { sqlite, durability, log, metrics } = deps;
  let pending: Job[] = [];
  let scheduled = false;
  let running = false;
  // Jobs submitted and not yet settled: settled() waits only when there are some.
  let inFlight = 0;
  let closed = false;
  const commitListeners = new Set<(jobs: number) => void>();

  function runJob(job: Job): Ran {
    const effects: Effect[] = [];
    const undo: (() => void)[] = [];
    const w: WriteCtx = Object.assign(Object.create(deps.ctx) as Ctx, { effects, onRollback: (fn: () => void) => void undo.push(fn) });
    try {
      const value = job.db ? withSavepoint(sqlite, () => job.run(w)) : job.run(w);
      return { outcome: { ok: true, value }, effects, undo };
    } catch (err) {
      for (const fn of undo.reverse()) fn();
      const error = toAppError(err);
      if (error.status === 500) log.error("write.error", { error: String((err as Error)?.stack ?? err) });
      return { outcome: { ok: false, error }, effects: [], undo: [] };
    }
  }

  function flush() {
    scheduled = false;
    const jobs = pending;
    pending = [];
    if (jobs.length === 0) return;
    let results: Ran[] | undefined;
    running = true;
    try {
      if (!jobs.some((j) => j.db)) results = jobs.map(runJob);
      else {
        const started = performance.now();
        try {
          sqlite.run("BEGIN IMMEDIATE");
          results = jobs.map(runJob);
          sqlite.run("COMMIT");
        } catch (err) {
          // The commit itself failed (disk full, I/O error): nothing was stored, so nothing is announced.
          try {
            if (sqlite.inTransaction) sqlite.run("ROLLBACK");
          } catch {}
          for (const r of results ?? []) for (const fn of r.undo.reverse()) fn();
          log.error("write.commit_failed", { jobs: jobs.length, error: String(err) });
          results = jobs.map(() => failed("could not store, try again"));
        }
        metrics.observeCommit(performance.now() - started, jobs.length);
        for (const fn of commitListeners) fn(jobs.length);
      }
    } finally {
      running = false;
    }
    let done = results!;
    // Even a batch that wrote nothing waits its turn, so each socket's replies stay in the order of its frames.
    durability.afterCommit((durable) => {
      if (!durable) {
        // Stored but maybe not on disk: nobody hears of it; a resend with the same clientMsgId is answered from what was stored.
        for (const r of done) for (const fn of r.undo.reverse()) fn();
        done = done.map((r) => (r.outcome.ok ? failed("could not confirm the write, send again") : r));
      }
      deliver(jobs, done);
    });
  }

  // Consecutive jobs of one socket go out corked: their replies leave in one write, not one syscall each.
  function deliver(jobs: Job[], results: Ran[]) {
    for (let i = 0; i < jobs.length; ) {
      const socket = jobs[i]!.socket;
      let end = i + 1;
      while (socket && end < jobs.length && jobs[end]!.socket === socket) end++;
      const from = i;
      const carryOut = () => {
        for (let k = from; k < end; k++) settleJob(jobs[k]!, results[k]!);
      };
      if (socket && typeof socket.cork === "function" && socket.readyState === 1) socket.cork(carryOut);
      else carryOut();
      i = end;
    }
  }

  function settleJob(job: Job, r: Ran) {
    inFlight--;
    try {
      for (const e of r.effects) deps.apply(e);
    } catch (err) {
      log.error("write.effect_failed", { error: String((err as Error)?.stack ?? err) });
    }
    job.settle(r.outcome);
  }

  const writer = {
    submit(job: Job) {
      // A job that submits another would see it land in a later commit: a bug, not a feature.
      if (running) throw new Error("writer: a job may not submit another job");
      if (closed) return job.settle({ ok: false, error: new AppError("internal", "shutting down, try again") });
      inFlight++;
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
    /** Resolves once every write submitted so far is durable and announced, so a read never shows what is not. */
    settled(): Promise<void> {
      if (inFlight === 0) return Promise.resolve();
      return writer.run(() => undefined, { db: false });
    },
    /** Calls fn after each commit (before it is durable): a hook for tests that force interleavings. */
    onCommit(fn: (jobs: number) => void): () => void {
      commitListeners.add(fn);
      return () => commitListeners.delete(fn);
    },
    flush,
    /** Commits what is queued, then refuses new jobs (the database is about to close). */
    close() {
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

function failed(msg: string): Ran {
  return { outcome: { ok: false, error: new AppError("internal", msg) }, effects: [], undo: [] };
}

function withSavepoint<T>(sqlite: Database, fn: () => T): T {
  sqlite.run("SAVEPOINT job");
  try {
    const value = fn();
    sqlite.run("RELEASE job");
    return value;
  } catch (err) {
    sqlite.run("ROLLBACK TO job");
    sqlite.run("RELEASE job");
    throw err;
  }
}
