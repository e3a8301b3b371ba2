// Tools to force each interleaving of the write path, without sleeping: a disk
// whose fsyncs wait until released (with a hook saying one is waiting), a hook
// on commits, and a round-trip barrier that proves a socket was sent nothing.
// On the cluster (RIM_TEST_BACKEND=cluster) the held disk holds each node's
// batches after their COMMIT instead (createPostgresApp's commitReply).
import { join } from "node:path";
import { closeApp, createApp, type App } from "../src/app";
import { startServer, type Running } from "../src/server";
import { Client, tempDir, testConfig, type Maybe, type TestUser } from "./helpers";
import { cluster, clusterServe } from "./cluster";
import type { Config } from "../src/config";
import type { Clock } from "../src/time";

/** An fsync that passes straight through until hold(), then completes only when released. */
export function heldDisk() {
  const pending: ((err: Error | null) => void)[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  let holding = false;
  let calls = 0;
  const wake = () => {
    for (const w of [...waiters]) if (pending.length >= w.n) waiters.splice(waiters.indexOf(w), 1), w.resolve();
  };
  return {
    sync: (_fd: number, cb: (err: Error | null) => void) => {
      calls++;
      if (!holding) return cb(null);
      pending.push(cb);
      wake();
    },
    get calls() {
      return calls;
    },
    get waiting() {
      return pending.length;
    },
    hold() {
      holding = true;
    },
    /** Resolves once n fsyncs are waiting. */
    held(n = 1): Promise<void> {
      return new Promise((resolve) => {
        waiters.push({ n, resolve });
        wake();
      });
    },
    release(err: Error | null = null) {
      for (const cb of pending.splice(0)) cb(err);
    },
    /** Stops holding and releases what waits. */
    pass() {
      holding = false;
      this.release();
    },
  };
}

/** Resolves after the writer's next `n` commits. */
export function commits(app: App, n = 1): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0;
    const off = app.writer.onCommit(() => {
      if (++seen >= n) off(), resolve();
    });
  });
}

/**
 * A WebSocket ping answered by the server's pong: whatever the server sent
 * this socket before answering it has arrived by the time this resolves.
 */
export function roundTrip(c: Client): Promise<void> {
  return new Promise((resolve) => {
    const onPong = () => (c.ws.removeEventListener("pong" as any, onPong), resolve());
    c.ws.addEventListener("pong" as any, onPong);
    (c.ws as any).ping();
  });
}

export type HeldServer = { app: App; running: Running; disk: ReturnType<typeof heldDisk>; wsUrl: string; url: string; file: string; stop(): Promise<void> };

/**
 * A server on a real database file with --sync full and a held disk (passing through until hold()).
 * On the cluster, three nodes (tests/cluster.ts) whose every batch is held after its COMMIT while the disk holds;
 * `file` is then the database's URL.
 */
export function heldServer(overrides: Partial<Config> = {}, opts: { clock?: Clock } = {}): Maybe<HeldServer> {
  if (cluster) return heldCluster(overrides, opts);
  const tmp = tempDir("rim-write-");
  const disk = heldDisk();
  const file = join(tmp.dir, "rim.db");
  const app = createApp(testConfig({ db: file, sync: "full", ...overrides }), { fsync: disk.sync, clock: opts.clock });
  const running = startServer(app);
  return {
    app,
    running,
    disk,
    file,
    url: `http://127.0.0.1:${running.server.port}`,
    wsUrl: `ws://127.0.0.1:${running.server.port}/ws`,
    async stop() {
      disk.pass();
      await running.stop();
      closeApp(app);
      tmp.cleanup();
    },
  };
}

async function heldCluster(overrides: Partial<Config>, opts: { clock?: Clock }): Promise<HeldServer> {
  const disk = heldDisk();
  const commitReply = () => new Promise<void>((resolve, reject) => disk.sync(-1, (err) => (err ? reject(err) : resolve())));
  const s = await clusterServe(testConfig(overrides), { clock: opts.clock, commitReply });
  return {
    app: s.app,
    running: s.running,
    disk,
    file: s.app.config.db,
    url: s.url,
    get wsUrl() {
      return s.wsUrl;
    },
    async stop() {
      disk.pass();
      await s.stop();
    },
  };
}

export async function connect(s: HeldServer, u?: TestUser): Promise<Client> {
  const c = await Client.open(s.wsUrl);
  if (u) await c.login(u);
  return c;
}

/** A REST call to a running server. */
export async function rest(s: HeldServer, path: string, token: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(s.url + path, {
    method: body === undefined ? "GET" : "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}
