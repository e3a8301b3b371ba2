// The write path on PostgreSQL (a prototype: no server uses it yet; see
// docs/storage.md). The same contract as the SQLite writer (write/writer.ts):
// the jobs of one event-loop turn run in order inside one transaction (group
// commit), each in a savepoint so one failure rolls back only itself; once
// the commit is durable (PostgreSQL committed with synchronous_commit on),
// each job's effects are carried out and the job is settled, in submission
// order. A job is a flow over the store (domain/store.ts), run by runAsync
// over this transaction's store. Jobs submitted while a batch is in flight
// wait for the next one.
//
// Id order. Messages and group events take their ids from the rim_ids
// sequence; nextval hands them out at once, but transactions on different
// nodes commit in any order, so a client reading "everything after id N"
// could see id N+2 before N+1 commits, move its cursor past it and never
// Sync it. Every batch therefore takes pg_advisory_xact_lock(RIM_IDS_LOCK)
// first, before its first nextval, and holds it to its commit: batches
// commit in the order they took ids, so ids become visible in order. The
// price: batches of all nodes commit one at a time (one lock, held for a
// batch's statements and its commit). Taking it only in batches that take
// ids is the obvious refinement (a batch of read cursors needs none); taken
// inside a job's savepoint it would be let go again if that job failed, so
// it would have to be taken on the transaction before the job runs.
import type { SQL, TransactionSQL } from "bun";
import type { Ctx } from "../../domain/context";
import { isFlow, runAsync } from "../../domain/store";
import { AppError, toAppError } from "../../errors";
import type { Logger } from "../../log";
import type { Effect } from "../../write/effects";
import type { Outcome, WriteCtx } from "../../write/writer";
import { pgStore, RIM_IDS_LOCK } from "./store";

export type PgJob = {
  /** The job: a flow (or a plain function) over the WriteCtx it is handed. */
  run: (w: WriteCtx) => unknown;
  /** Called once the batch is committed and the job's effects were carried out (or with its failure, and none). */
  settle: (outcome: Outcome) => void;
};

export type PgWriter = ReturnType<typeof createPgWriter>;

const MAX_BATCH = 2000;

export function createPgWriter(deps: { ctx: Ctx; sql: SQL; apply: (e: Effect) => void; log: Logger }) {
  let pending: PgJob[] = [];
  let scheduled = false;
  let inFlight: Promise<void> | null = null;

  function newRun(tx: TransactionSQL | SQL) {
    const effects: Effect[] = [];
    const undo: (() => void)[] = [];
    const w = Object.create(deps.ctx, {
      store: { value: pgStore(tx) },
      effects: { value: effects },
      onRollback: { value: (fn: () => void) => undo.push(fn) },
    }) as WriteCtx;
    return { w, effects, undo };
  }

  async function runBatch(jobs: PgJob[]) {
    type Ran = { outcome: Outcome; effects: Effect[]; undo: (() => void)[] };
    let results: Ran[] = [];
    try {
      await deps.sql.begin(async (tx) => {
        await tx.unsafe(`SELECT pg_advisory_xact_lock(${RIM_IDS_LOCK})`);
        for (const job of jobs) {
          let ran: Ran;
          try {
            ran = await tx.savepoint(async (sp) => {
              const r = newRun(sp);
              const value = job.run(r.w);
              const outcome: Outcome = { ok: true, value: isFlow(value) ? await runAsync(value) : value };
              return { outcome, effects: r.effects, undo: r.undo };
            });
          } catch (err) {
            const error = toAppError(err);
            if (error.status === 500) deps.log.error("write.error", { error: String((err as Error)?.stack ?? err) });
            ran = { outcome: { ok: false, error }, effects: [], undo: [] };
          }
          results.push(ran);
        }
      });
    } catch (err) {
      // The commit (or the lock, or the connection) failed: nothing of the batch is stored, nothing is announced.
      for (const r of results.reverse()) for (const fn of r.undo.reverse()) fn();
      deps.log.error("write.commit_failed", { jobs: jobs.length, error: String(err) });
      results = jobs.map(() => ({ outcome: { ok: false, error: new AppError("internal", "could not store, try again") }, effects: [], undo: [] }));
    }
    for (const [i, job] of jobs.entries()) {
      const r = results[i]!;
      try {
        for (const e of r.effects) deps.apply(e);
      } catch (err) {
        deps.log.error("write.effect_failed", { error: String((err as Error)?.stack ?? err) });
      }
      job.settle(r.outcome);
    }
  }

  function flush() {
    scheduled = false;
    if (inFlight || pending.length === 0) return;
    const jobs = pending.splice(0, MAX_BATCH);
    inFlight = runBatch(jobs).finally(() => {
      inFlight = null;
      if (pending.length && !scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });
  }

  const writer = {
    submit(job: PgJob) {
      pending.push(job);
      if (!scheduled && !inFlight) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    /** Runs fn on the write path; resolves with its value once committed and its effects carried out. */
    run<T>(fn: (w: WriteCtx) => T | Generator<unknown, T, unknown>): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        writer.submit({ run: fn, settle: (o) => (o.ok ? resolve(o.value as T) : reject(o.error)) });
      });
    },
    /** Resolves once every batch submitted so far is committed and announced. */
    async settled(): Promise<void> {
      while (inFlight || pending.length) await (inFlight ?? new Promise((r) => setImmediate(r)));
    },
  };
  return writer;
}
