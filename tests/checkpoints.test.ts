// Checkpoints off the event loop (src/db/checkpoints.ts): under a steady
// stream of writes the WAL restarts and stays bounded, nothing written is
// lost, the writes a restart holds go on afterwards, and a reader holding an
// old snapshot makes the restart give up instead of stalling the writes.
import { Database } from "bun:sqlite";
import { afterEach, expect, test } from "bun:test";
import { statSync } from "node:fs";
import { join } from "node:path";
import { closeApp, createApp, type App } from "../src/app";
import { startCheckpoints, type Checkpoints } from "../src/db/checkpoints";
import { tempDir, testConfig } from "./helpers";

const RESTART_FRAMES = 64;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

type Restart = { restarted: boolean; heldMs: number };

function setup(pollMs = 1) {
  const tmp = tempDir("rim-ckpt-");
  const file = join(tmp.dir, "rim.db");
  const app: App = createApp(testConfig({ db: file, sync: "full" }));
  app.db.$client.run("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)");
  const restarts: Restart[] = [];
  let wake: (() => void) | null = null;
  const errors: Error[] = [];
  let holds = 0;
  const checkpoints: Checkpoints = startCheckpoints(app.db.$client, file, {
    hold: () => (holds++, app.writer.hold()),
    release: () => app.writer.release(),
    onError: (err) => errors.push(err),
    onRestart: (restarted, heldMs) => (restarts.push({ restarted, heldMs }), wake?.()),
    restartFrames: RESTART_FRAMES,
    pollMs,
  });
  cleanups.push(() => tmp.cleanup(), () => closeApp(app), () => checkpoints.stop());
  let n = 0;
  // Each write dirties a few pages of its own (≈ 4 KB of text), so the WAL grows by several frames a commit.
  const write = () => app.writer.run((w) => w.db.$client.query("INSERT INTO t (body) VALUES (?)").run(`${++n} `.padEnd(4000, "x")));
  /** Writes until `until()` holds, one commit after another. */
  async function writeUntil(until: () => boolean, limit = 20_000) {
    for (let i = 0; !until(); i++) {
      if (i >= limit) throw new Error(`still waiting after ${limit} writes; restarts: ${JSON.stringify(restarts)}, errors: ${errors}`);
      await write();
    }
  }
  return { app, file, restarts, errors, checkpoints, writeUntil, written: () => n, holds: () => holds, onRestart: (fn: (() => void) | null) => (wake = fn) };
}

test("under a steady stream of writes the WAL restarts, stays bounded, and keeps every write", async () => {
  const s = setup();
  await s.writeUntil(() => s.restarts.filter((r) => r.restarted).length >= 20);
  // A restart is asked for at RESTART_FRAMES (of 4 KiB + 24 bytes); the WAL grows only by what is written while the worker catches up.
  const bound = 8 * RESTART_FRAMES * 4120;
  expect(statSync(s.file + "-wal").size).toBeLessThan(bound);
  // … while far more than that was written through it.
  expect(s.written() * 4000).toBeGreaterThan(2 * bound);
  expect(s.errors).toEqual([]);
  const rows = s.app.db.$client.query<{ n: number; top: number }, []>("SELECT count(*) AS n, max(id) AS top FROM t").get()!;
  expect(rows).toEqual({ n: s.written(), top: s.written() });
  // The database file itself has what the restarts copied: another connection sees it all.
  const other = new Database(s.file, { readonly: true });
  expect(other.query<{ n: number }, []>("SELECT count(*) AS n FROM t").get()!.n).toBe(s.written());
  other.close();
});

test("nothing commits while a restart holds the write path; writes submitted meanwhile commit after it, in order", async () => {
  const s = setup();
  let holding = false;
  let commitsWhileHeld = 0;
  s.app.writer.onCommit(() => void (holding && commitsWhileHeld++));
  const during: Promise<unknown>[] = [];
  const { hold, release } = s.app.writer;
  s.app.writer.hold = () => {
    hold();
    holding = true;
    // Submitted from inside the hold: they wait for the release.
    for (let i = 0; i < 3; i++) during.push(s.app.writer.run((w) => w.db.$client.query("INSERT INTO t (body) VALUES ('held')").run()));
  };
  s.app.writer.release = () => {
    holding = false;
    release();
  };
  await s.writeUntil(() => during.length > 0);
  await Promise.all(during);
  expect(commitsWhileHeld).toBe(0);
  const ids = s.app.db.$client.query<{ id: number }, []>("SELECT id FROM t WHERE body = 'held' ORDER BY id").all().map((r) => r.id);
  expect(ids).toHaveLength(3);
  expect([ids[1]! - ids[0]!, ids[2]! - ids[1]!]).toEqual([1, 1]);
  Object.assign(s.app.writer, { hold, release });
});

test("a reader holding an old snapshot makes the restart give up at once; the next one, after it, restarts the WAL", async () => {
  // The worker's first look comes after the reader took its snapshot of a WAL not yet copied back.
  const s = setup(300);
  await s.writeUntil(() => s.written() >= 8);
  expect(s.restarts).toEqual([]);
  const reader = new Database(s.file, { readonly: true });
  reader.run("BEGIN");
  reader.query("SELECT count(*) FROM t").get();
  await s.writeUntil(() => s.restarts.some((r) => !r.restarted));
  expect(s.restarts.every((r) => !r.restarted)).toBe(true);
  reader.run("COMMIT");
  reader.close();
  await s.writeUntil(() => s.restarts.some((r) => r.restarted));
  expect(s.errors).toEqual([]);
  expect(s.app.db.$client.query<{ n: number }, []>("SELECT count(*) AS n FROM t").get()!.n).toBe(s.written());
});

test("stop() lets held writes go and leaves the serving connection to checkpoint as SQLite does by itself", async () => {
  const s = setup();
  await s.writeUntil(() => s.holds() >= 1);
  await s.checkpoints.stop();
  await s.writeUntil(() => s.written() >= 20);
  expect(s.app.writer.pending).toBe(0);
  expect(s.errors).toEqual([]);
});
