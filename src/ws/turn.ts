// Group commit: every frame received in one turn of the event loop is run,
// in order, inside one BEGIN IMMEDIATE … COMMIT (each in its own savepoint,
// so one failure rolls back only itself). Only once the commit is on disk
// (db/durability.ts: one fsync, off the event loop, for every commit made
// before it) are the replies sent and the pushes published, in order.
import type { Database } from "bun:sqlite";
import type { App } from "../app";
import { AppError, toAppError, toErrorAck } from "../errors";
import type { Sock } from "./hub";
import { Outbox, send, type Action } from "./outbox";

export type Job = {
  ws: Sock;
  clientMsgId: string | null;
  /** Whether the job touches the database (pure replies skip the transaction). */
  db: boolean;
  run: (out: Outbox) => void;
};

export type TurnQueue = ReturnType<typeof createTurnQueue>;

// A flood of frames in one turn is still committed in bounded batches.
const MAX_BATCH = 2000;

export function createTurnQueue(app: App) {
  let pending: Job[] = [];
  let scheduled = false;
  const sqlite = app.db.$client;

  function runJob(job: Job): Action[] {
    const out = new Outbox(app.hub);
    try {
      if (job.db) withSavepoint(sqlite, () => job.run(out));
      else job.run(out);
      return out.actions;
    } catch (err) {
      const e = toAppError(err);
      if (e.status === 500) app.log.error("ws.error", { error: String((err as Error)?.stack ?? err) });
      return [errorReply(job.ws, e, job.clientMsgId, app)];
    }
  }

  function flush() {
    scheduled = false;
    const jobs = pending;
    pending = [];
    if (jobs.length === 0) return;
    let outcomes: Action[][];
    if (!jobs.some((j) => j.db)) outcomes = jobs.map(runJob);
    else {
      const started = performance.now();
      try {
        sqlite.run("BEGIN IMMEDIATE");
        outcomes = jobs.map(runJob);
        sqlite.run("COMMIT");
      } catch (err) {
        // The commit itself failed (disk full, I/O error): nothing was stored, so nothing is acked.
        if (sqlite.inTransaction) sqlite.run("ROLLBACK");
        app.log.error("ws.commit_failed", { jobs: jobs.length, error: String(err) });
        const failure = new AppError("internal", "could not store, try again");
        outcomes = jobs.map((j) => [errorReply(j.ws, failure, j.clientMsgId, app)]);
      }
      app.metrics.observeCommit(performance.now() - started, jobs.length);
    }
    // Even a batch that wrote nothing waits its turn, so each socket's replies stay in the order of its frames.
    app.durability.afterCommit((durable) => {
      if (durable) deliver(jobs, outcomes);
      else {
        // Stored but maybe not on disk: say so; a resend with the same clientMsgId is answered from what was stored.
        const failure = new AppError("internal", "could not confirm the write, send again");
        deliver(jobs, jobs.map((j) => [errorReply(j.ws, failure, j.clientMsgId, app)]));
      }
    });
  }

  // Consecutive jobs of one socket send corked: their replies leave in one write, not one syscall each.
  function deliver(jobs: Job[], outcomes: Action[][]) {
    for (let i = 0; i < jobs.length; ) {
      const ws = jobs[i]!.ws;
      let end = i + 1;
      while (end < jobs.length && jobs[end]!.ws === ws) end++;
      const from = i;
      const run = () => {
        for (let k = from; k < end; k++) for (const act of outcomes[k]!) act();
      };
      if (typeof ws.cork === "function") ws.cork(run);
      else run();
      i = end;
    }
  }

  return {
    enqueue(job: Job) {
      pending.push(job);
      if (pending.length >= MAX_BATCH) flush();
      else if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    /** Replies with an error in the socket's reply order. */
    reject(ws: Sock, err: AppError, clientMsgId: string | null) {
      this.enqueue({ ws, clientMsgId, db: false, run: () => { throw err; } });
    },
    flush,
    get pending() {
      return pending.length;
    },
  };
}

function errorReply(ws: Sock, err: AppError, clientMsgId: string | null, app?: App): Action {
  app?.metrics.inc("rim_errors_total", { transport: "ws", code: err.status });
  const data = JSON.stringify(toErrorAck(err, clientMsgId));
  return () => send(ws, data);
}

function withSavepoint(sqlite: Database, fn: () => void) {
  sqlite.run("SAVEPOINT job");
  try {
    fn();
    sqlite.run("RELEASE job");
  } catch (err) {
    sqlite.run("ROLLBACK TO job");
    sqlite.run("RELEASE job");
    throw err;
  }
}
