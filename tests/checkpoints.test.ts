// Checkpoints off the event loop (src/db/checkpoints.ts): under a steady
// stream of writes the WAL restarts and stays bounded, nothing written is
// lost, the writes a restart holds go on afterwards, and a reader holding an
// old snapshot makes the restart give up instead of stalling the writes.
import { Database } from "bun:sqlite";
import { afterEach, expect, test } from "bun:test";
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { join } from "node:path";
import { closeApp, createApp, type App } from "../src/app";
import { startCheckpoints, type Checkpoints } from "../src/db/checkpoints";
import { tempDir, testConfig } from "./helpers";

const RESTART_FRAMES = 64;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

/** The frames in use in the WAL, from the wal-index header in the -shm file (mxFrame, at byte 16). */
function walFrames(file: string): number {
  const fd = openSync(file + "-shm", "r");
  try {
    const header = Buffer.alloc(20);
    readSync(fd, header, 0, 20, 0);
    return header.readUInt32LE(16);
  } finally {
    closeSync(fd);
  }
}

type Restart = { restarted: boolean; heldMs: number };

function setup(pollMs = 1) {
  const tmp = tempDir("rim-ckpt-");
  const file = join(tmp.dir, "rim.db");
  const app: App = createApp(testConfig({ db: file, sync: "normal" }));
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
  const write = () => app.writer.run(() => app.db.$client.query("INSERT INTO t (body) VALUES (?)").run(`${++n} `.padEnd(4000, "x")));
  /** Writes until `until()` holds, one commit after another. */
  async function writeUntil(until: () => boolean, limit = 20_000) {
    for (let i = 0; !until(); i++) {
      if (i >= limit) throw new Error(`still waiting after ${limit} writes; restarts: ${JSON.stringify(restarts)}, errors: ${errors}`);
      await write();
    }
  }
  /** The next restart the worker reports (writes or not meanwhile). */
  const nextRestart = () => new Promise<Restart>((resolve) => (wake = () => ((wake = null), resolve(restarts[restarts.length - 1]!))));
  return { app, file, restarts, errors, checkpoints, write, writeUntil, nextRestart, written: () => n, holds: () => holds };
}

test("under a steady stream of writes the WAL restarts, stays bounded, and keeps every write", async () => {
  const s = setup();
  const walBytes = () => statSync(s.file + "-wal").size;
  // Past 4 × RESTART_FRAMES frames in the WAL, the next write waits for a restart, so the file stays under the bound
  // only if each restart starts the WAL over.
  const bound = 8 * RESTART_FRAMES * 4120;
  let restarts = 0;
  while (s.written() * 4000 < 16 * bound) {
    if (walFrames(s.file) >= 4 * RESTART_FRAMES) while (!(await s.nextRestart()).restarted);
    await s.write();
    restarts = s.restarts.filter((r) => r.restarted).length;
  }
  expect(restarts).toBeGreaterThanOrEqual(4);
  expect(walBytes()).toBeLessThan(bound);
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
    if (during.length > 0) return;
    // Submitted from inside the hold: they wait for the release.
    for (let i = 0; i < 3; i++) during.push(s.app.writer.run(() => s.app.db.$client.query("INSERT INTO t (body) VALUES ('held')").run()));
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
  const s = setup(20);
  await s.writeUntil(() => walFrames(s.file) >= 2 * RESTART_FRAMES);
  // Its snapshot needs WAL frames not yet copied back (the worker looks only every 20 ms).
  await s.write();
  const reader = new Database(s.file, { readonly: true });
  reader.run("BEGIN");
  reader.query("SELECT count(*) FROM t").get();
  // No writes are needed for the worker to try: the WAL is past RESTART_FRAMES already.
  expect((await s.nextRestart()).restarted).toBe(false);
  expect((await s.nextRestart()).restarted).toBe(false);
  reader.run("COMMIT");
  reader.close();
  expect((await s.nextRestart()).restarted).toBe(true);
  // The next commit writes the WAL from its beginning.
  await s.write();
  expect(walFrames(s.file)).toBeLessThan(RESTART_FRAMES / 4);
  await s.writeUntil(() => s.written() >= 200);
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
