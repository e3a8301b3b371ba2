// Several in-process nodes sharing one real Redis (each on its own in-memory
// SQLite), for the tests of what crosses nodes: the shared limits and the
// effect bus. Nodes, their sockets and the Redis servers a test started are
// stopped after it.
import { afterAll, afterEach } from "bun:test";
import { closeApp, createApp, type App } from "../src/app";
import type { Config } from "../src/config";
import type { Logger } from "../src/log";
import type { Clock } from "../src/time";
import { startServer, type Running } from "../src/server";
import { Client, testConfig } from "./helpers";
import type { RedisServer } from "./services";

// A node is reaped once its heartbeat is this late: loose enough that a loaded machine's pauses kill no live node.
export const SHARED_TIMING = { heartbeatMs: 50, nodeTtlMs: 1500, timeoutMs: 1500 } as const;

export type Node = { app: App; running: Running; url: string; wsUrl: string; stopped: boolean };

export function nodesKit() {
  const nodes: Node[] = [];
  const clients: Client[] = [];
  const servers: RedisServer[] = [];
  let clusters = 0;

  async function stop(n: Node) {
    if (n.stopped) return;
    n.stopped = true;
    await n.running.stop();
    closeApp(n.app);
  }
  afterEach(async () => {
    for (const c of clients.splice(0)) if (!c.closed) c.close();
    for (const n of nodes.splice(0)) await stop(n);
  });
  afterAll(async () => {
    for (const s of servers) await s.stop();
  });

  return {
    clients,
    /** Redis servers of a test's own, stopped after the file. */
    servers,
    stop,
    /** A key prefix of its own for each cluster: clusters on one Redis would otherwise count together. */
    prefix: (name: string) => `rim-${name}-${process.pid}-${++clusters}:`,
    /** A node on the Redis at url, serving on a free port. */
    start(url: string, prefix: string, overrides: Partial<Config> = {}, opts: { log?: Logger; clock?: Clock; prepare?: (app: App) => void } = {}): Node {
      const app = createApp(testConfig({ bus: url, busPrefix: prefix, ...overrides }), { log: opts.log, clock: opts.clock, shared: SHARED_TIMING });
      opts.prepare?.(app);
      const running = startServer(app);
      const port = running.server.port;
      const n: Node = { app, running, url: `http://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${port}/ws`, stopped: false };
      nodes.push(n);
      return n;
    },
  };
}
