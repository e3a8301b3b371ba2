// Runs the fuzz tests with more cases than CI does.
//
//   bun tests/fuzz-run.ts                 200 cases per target (what CI runs)
//   bun tests/fuzz-run.ts --long          20000 cases per target
//   bun tests/fuzz-run.ts --runs N        N cases per target
//   FUZZ_SEED=S bun tests/fuzz-run.ts ... replays the run of a failure report's seed
//
// Each target (a REST route, a WebSocket event, ...) is one test; the totals of
// cases are printed at the end ("REST fuzz: N cases", "WebSocket fuzz: N cases").
import { join } from "node:path";

const argv = process.argv.slice(2);
const at = argv.indexOf("--runs");
const runs = at >= 0 ? Number(argv[at + 1]) : argv.includes("--long") ? 20_000 : Number(process.env.FUZZ_RUNS ?? 200);
if (!Number.isInteger(runs) || runs < 1) {
  console.error("usage: bun tests/fuzz-run.ts [--long | --runs N]");
  process.exit(2);
}
const root = join(import.meta.dir, "..");
const started = performance.now();
const proc = Bun.spawn([process.execPath, "test", "--timeout", String(60_000 + runs * 60), "tests/fuzz.http.test.ts", "tests/fuzz.ws.test.ts"], {
  cwd: root,
  env: { ...process.env, FUZZ_RUNS: String(runs) },
  stdout: "inherit",
  stderr: "inherit",
});
const code = await proc.exited;
console.log(`fuzz: ${runs} cases per target, ${((performance.now() - started) / 1000).toFixed(0)} s, exit ${code}`);
process.exit(code);
