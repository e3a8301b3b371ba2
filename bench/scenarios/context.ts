import { join } from "node:path";

/** What every scenario gets from the runner. */
export type RunCtx = {
  /** A temp folder for databases and client configs, removed after the run. */
  dir: string;
  /** The command that runs rim (compiled binary by default). */
  rimCmd: string[];
  quick: boolean;
  /** Where rim keeps its data: the seeded SQLite file, or a PostgreSQL copy of it (with Redis as the bus). */
  backend: "sqlite" | "postgres";
  /** Nodes of rim (postgres only): the load spreads its sockets over them round-robin. */
  nodes: number;
  /** rim pinned to core 0 and the load to core 1 (the default); off for the backend/cluster comparisons. */
  pinServer: boolean;
  log(msg: string): void;
};

export const dbPath = (ctx: RunCtx, name: string) => join(ctx.dir, `${name}.db`);
