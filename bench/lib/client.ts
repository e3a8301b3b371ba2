// The common frame of a load generator process: read the config file named
// on the command line, print RESULT {json} at the end.
import { readFileSync } from "node:fs";

export function readConfig<T>(): T {
  const file = process.argv[2];
  if (!file) throw new Error("usage: bun bench/clients/<name>.ts <config.json>");
  return JSON.parse(readFileSync(file, "utf8")) as T;
}

export function emit(prefix: string, value: unknown) {
  process.stdout.write(`${prefix} ${JSON.stringify(value)}\n`);
}

/** Runs main, prints its RESULT and exits; any error is fatal and loud. */
export function runMain<T>(main: () => Promise<T>) {
  main().then(
    (r) => {
      emit("RESULT", r);
      process.exit(0);
    },
    (err) => {
      console.error("bench client failed:", err?.stack ?? err);
      process.exit(1);
    },
  );
}

/** Resolves when the parent closes our stdin (or after maxMs). */
export async function untilReleased(maxMs: number): Promise<void> {
  const closed = (async () => {
    for await (const _ of Bun.stdin.stream()) {
    }
  })();
  await Promise.race([closed, Bun.sleep(maxMs)]);
}
