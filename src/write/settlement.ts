// What both write paths (write/writer.ts on SQLite, db/pg/writer.ts on
// PostgreSQL) do once a batch is durable: each job's effects carried out and
// the job settled in commit order, a socket's consecutive replies corked into
// one write, and settled() waiters released. Counting runs and settlements in
// submission order lets settled() wait for exactly the jobs that ran before it.
import type { Logger } from "../log";
import type { Outcome } from "./writer";
import type { Effect } from "./effects";
import type { Sock } from "../ws/hub";

type Settleable = { socket?: Sock; settle: (outcome: Outcome) => void };
type Result = { effects: Effect[]; outcome: Outcome };

export function createSettlement(deps: { apply: (e: Effect) => void; log: Logger }) {
  const { log } = deps;
  let ranJobs = 0;
  let settledJobs = 0;
  let waiters: { target: number; resolve: () => void }[] = [];

  function settleJob(job: Settleable, r: Result) {
    settledJobs++;
    try {
      for (const e of r.effects) deps.apply(e);
    } catch (err) {
      log.error("write.effect_failed", { error: String((err as Error)?.stack ?? err) });
    }
    // Before the job's own settle: a waiter resolves whatever that does.
    if (waiters.length && waiters[0]!.target <= settledJobs) {
      const ready = waiters.filter((x) => x.target <= settledJobs);
      waiters = waiters.filter((x) => x.target > settledJobs);
      for (const x of ready) x.resolve();
    }
    try {
      job.settle(r.outcome);
    } catch (err) {
      log.error("write.settle_failed", { error: String((err as Error)?.stack ?? err) });
    }
  }

  return {
    /** These jobs start running: from here their writes may be read, so settled() called later waits for them. */
    ran(jobs: number) {
      ranJobs += jobs;
    },
    /** Carries out and settles a committed batch in order; consecutive jobs of one socket reply corked, in one write. */
    deliver(jobs: readonly Settleable[], results: readonly Result[]) {
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
    },
    /** Resolves once every job that has run so far is settled (durable and announced); queued ones are not waited for. */
    settled(): Promise<void> {
      const target = ranJobs;
      if (settledJobs >= target) return Promise.resolve();
      return new Promise<void>((resolve) => waiters.push({ target, resolve }));
    },
  };
}
