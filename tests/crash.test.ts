// Crash safety and graceful shutdown of a real server process (the fast slice:
// 3 SIGKILLs). The long run is `bun tests/crash-run.ts --long` (50 kills).
// What each run checks is described at the top of tests/crash-run.ts.
import { expect, test } from "bun:test";
import { runGraceful, runKills } from "./crash-run";

const KILLS = Number(process.env.CRASH_KILLS ?? 3);

test(`survives ${KILLS} SIGKILLs under load: acked messages kept, seq gap-free, resends stored at most once`, async () => {
  const report = await runKills({ kills: KILLS, log: (l) => console.log(l) });
  expect(report.kills).toBe(KILLS);
  // Everything sent was in the end acked once and stored once.
  expect(report.stored).toBe(report.acked);
  expect(report.acked).toBeGreaterThan(0);
}, 120_000);

test("SIGTERM under load: exit 0, sockets closed with 1001, every acked message and account stored", async () => {
  const report = await runGraceful({ signal: "SIGTERM" });
  // 8 senders and one socket that never logged in.
  expect(report.closeCodes).toEqual({ 1001: 9 });
  expect(report.stored).toBeGreaterThanOrEqual(report.acked);
  expect(report.acked).toBeGreaterThan(0);
}, 60_000);

test("SIGINT shuts down the same way", async () => {
  const report = await runGraceful({ signal: "SIGINT" });
  expect(report.closeCodes).toEqual({ 1001: 9 });
  expect(report.acked).toBeGreaterThan(0);
}, 60_000);
