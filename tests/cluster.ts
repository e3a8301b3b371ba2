// The cluster backend of the suite (issue 13): with RIM_TEST_BACKEND=cluster,
// makeApp and serve (tests/helpers.ts) build three nodes instead of one SQLite
// App: in-process Apps over PostgreSQL, each its own server on a free port,
// sharing one fresh database (a copy of a migrated template: CREATE DATABASE
// … TEMPLATE takes milliseconds, migrating takes a second) and one Redis
// (tests/services.ts). REST goes to node 1; each new socket goes to the next
// of nodes 2 and 3 (`wsUrl` is read once per connect), so a test's clients
// are spread over the nodes. Fixtures write through node 1's write path.
//
// A node is the App over PostgreSQL (createPostgresApp and closePostgresApp in
// src/app.ts). The cluster run is opt-in (RIM_TEST_BACKEND=cluster or both)
// until it passes: see README, "Development".
import { SQL } from "bun";
import type { App } from "../src/app";
import type { Config } from "../src/config";
import { closePostgres, openPostgres } from "../src/db/pg/open";
import { migratePostgres } from "../src/db/pg/migrate";
import { createHttpApp } from "../src/http/app";
import { startServer, type Running } from "../src/server";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Clock } from "../src/time";
import type { Served, TestApp } from "./helpers";
import { postgresServer, redisUrl } from "./services";

export const cluster = process.env.RIM_TEST_BACKEND === "cluster";

/** How many nodes a test's cluster has: node 1 takes REST, the others the sockets. */
export const NODES = 3;

/** Connections per node's pool: three nodes, a few clusters alive at once in one file, all under the test server's limit. */
const POOL_SIZE = 3;


const admin = async <T>(server: string, fn: (sql: SQL) => Promise<T>): Promise<T> => {
  const sql = new SQL(server, { max: 1 });
  try {
    return await fn(sql);
  } finally {
    await sql.close();
  }
};

const withDatabase = (server: string, name: string) => {
  const url = new URL(server);
  url.pathname = "/" + name;
  return url.toString();
};

let template: Promise<string> | undefined;

/** A database migrated once per test process, the template of every cluster's own. */
function templateDatabase(): Promise<string> {
  return (template ??= (async () => {
    const server = await postgresServer();
    const name = `rim_template_${process.pid}`;
    await admin(server, (sql) => sql.unsafe(`CREATE DATABASE ${name}`));
    const db = openPostgres(withDatabase(server, name), { max: 1 });
    try {
      await migratePostgres(db.$client);
    } finally {
      await closePostgres(db);
    }
    return name;
  })());
}

let clusters = 0;

// One connection per cluster database for the tests' own looks into it (helpers' sqlAll): opening one per query would cost more than the query.
const clients = new Map<string, SQL>();

/** The tests' connection to a cluster's database, opened on first use and closed when the cluster stops. */
export function databaseClient(url: string): SQL {
  let sql = clients.get(url);
  // bigint: int8 columns as BigInt (not strings), so sqlAll can tell them from text by their type, whatever a query names them.
  if (!sql) clients.set(url, (sql = new SQL(url, { max: 1, bigint: true })));
  return sql;
}

/** A fresh database, a copy of the migrated template: its URL and its drop. */
async function clusterDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const server = await postgresServer();
  const tpl = await templateDatabase();
  const name = `rim_cluster_${process.pid}_${++clusters}`;
  await admin(server, (sql) => sql.unsafe(`CREATE DATABASE ${name} TEMPLATE ${tpl}`));
  return {
    url: withDatabase(server, name),
    drop: () => admin(server, (sql) => sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => {}),
  };
}

/** What a test hands every node: its clock, and the hold on each batch after its COMMIT (write.kit's heldServer). */
export type NodeOptions = { clock?: Clock; commitReply?: () => Promise<void> };

/** How a node is built and closed: the App over PostgreSQL by default; the harness's own test puts in another. */
export type NodeBuilder = {
  create(config: Config, opts: NodeOptions): Promise<App>;
  close(app: App): Promise<void>;
};

/** The App over PostgreSQL (createPostgresApp, closePostgresApp: serving on PostgreSQL), or a clear failure while main has none. */
const postgresNodes: NodeBuilder = {
  async create(config, opts) {
    const mod = (await import("../src/app")) as Record<string, unknown>;
    const create = mod.createPostgresApp as ((config: Config, opts: NodeOptions & { poolSize?: number }) => Promise<App>) | undefined;
    if (typeof create !== "function")
      throw new Error("cluster backend: src/app.ts has no createPostgresApp yet (serving on PostgreSQL, issue 13's serve branch, is not in main)");
    // A small pool per node: a test file may hold several clusters at once, and the test server allows 200 connections.
    return create(config, { ...opts, poolSize: POOL_SIZE });
  },
  async close(app) {
    const mod = (await import("../src/app")) as Record<string, unknown>;
    await (mod.closePostgresApp as (app: App) => Promise<void>)(app);
  },
};

let builder: NodeBuilder = postgresNodes;

/** Builds the nodes with another builder until the returned restore is called (tests/cluster.harness.test.ts). */
export function useNodeBuilder(b: NodeBuilder): () => void {
  builder = b;
  return () => void (builder = postgresNodes);
}

export type Node = { app: App; running: Running | null };

/** Three nodes on one fresh database, one shared files folder and the shared Redis, keyed apart from other clusters in that Redis. */
export async function startNodes(
  config: Config,
  opts: NodeOptions,
  listen: boolean,
): Promise<{ nodes: Node[]; databaseUrl: string; stop(): Promise<void>; restart(i?: number): Promise<void> }> {
  const db = await clusterDatabase();
  const nodes: Node[] = [];
  // Every node must see every node's uploads: one --files folder for the cluster.
  const files = mkdtempSync(join(tmpdir(), "rim-cluster-files-"));
  const stopNode = async (n: Node) => {
    await n.running?.stop();
    await builder.close(n.app);
  };
  // Every cluster keys its shared state and its bus channels apart in the one Redis.
  const busPrefix = `rim:${process.pid}:${clusters}:`;
  const start = async (nodeConfig: Config): Promise<Node> => {
    const app = await builder.create(nodeConfig, { clock: opts.clock, commitReply: opts.commitReply });
    return { app, running: listen ? startServer(app) : null };
  };
  let bus = "";
  const startAll = async () => {
    for (let i = 0; i < NODES; i++) {
      // One port is one listener: a --legacy-ws-port asked for is node 1's; the other nodes listen on /ws only.
      const own = i === 0 ? {} : { legacyWsPort: 0 };
      nodes.push(await start({ ...config, db: db.url, bus, busPrefix, files, ...own }));
    }
  };
  const stop = async () => {
    for (const n of nodes.splice(0).reverse()) await stopNode(n);
    await clients.get(db.url)?.close();
    clients.delete(db.url);
    await db.drop();
    rmSync(files, { recursive: true, force: true });
  };
  try {
    bus = await redisUrl();
    await startAll();
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }
  /** Node i stopped (its server, then its App) and started again with the same config on a new port; without i, every node, all stopped first. */
  const restart = async (i?: number) => {
    if (i === undefined) {
      for (const n of nodes.splice(0).reverse()) await stopNode(n);
      return startAll();
    }
    const old = nodes[i]!;
    await stopNode(old);
    nodes[i] = await start(old.app.config);
  };
  return { nodes, databaseUrl: db.url, stop, restart };
}

/** makeApp on the cluster: node 1, whose REST (app.http) the test calls; the other two nodes run beside it. */
export async function clusterApp(config: Config, opts: NodeOptions): Promise<TestApp> {
  const { nodes, stop } = await startNodes(config, opts, false);
  const app = nodes[0]!.app;
  // close() returns the stop's promise: afterAll(() => app.close()) waits for the database to be dropped.
  return Object.assign(app, { http: createHttpApp(app), close: stop });
}

export type ClusterServed = Served & { nodes: Node[]; urls: string[]; restart(i?: number): Promise<void> };

/**
 * serve on the cluster: REST on node 1; every read of wsUrl names the next of the other nodes.
 * restart(i) restarts node i, restart() every node, on the same database (app, running and url follow node 1).
 */
export async function clusterServe(config: Config, opts: NodeOptions): Promise<ClusterServed> {
  const { nodes, stop, restart } = await startNodes({ ...config, port: 0 }, opts, true);
  const urlOf = (n: Node) => `http://127.0.0.1:${n.running!.server.port}`;
  let next = 0;
  return {
    get app() {
      return nodes[0]!.app;
    },
    get running() {
      return nodes[0]!.running!;
    },
    get url() {
      return urlOf(nodes[0]!);
    },
    /** Every node's REST URL, node 1's first. */
    get urls() {
      return nodes.map(urlOf);
    },
    restart,
    get wsUrl() {
      const n = nodes[1 + (next++ % (nodes.length - 1))]!;
      return urlOf(n).replace("http:", "ws:") + "/ws";
    },
    nodes,
    stop,
  };
}
