import { join } from "node:path";

/** What every scenario gets from the runner. */
export type RunCtx = {
  /** A temp folder for databases and client configs, removed after the run. */
  dir: string;
  /** The command that runs rim (compiled binary by default). */
  rimCmd: string[];
  quick: boolean;
  log(msg: string): void;
};

export const dbPath = (ctx: RunCtx, name: string) => join(ctx.dir, `${name}.db`);
