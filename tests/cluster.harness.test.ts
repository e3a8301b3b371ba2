// The cluster backend's harness itself (tests/cluster.ts), whatever the App over PostgreSQL's
// state: its database is a fresh migrated copy per cluster, dropped at stop; every node gets
// the same database, Redis and files folder; REST is node 1 and sockets go round-robin over
// the others. Nodes are stand-ins here (SQLite Apps, which ignore the database they are
// given): what is under test is what the harness hands them and how it spreads the clients.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { closeApp, createApp, type App } from "../src/app";
import type { Config } from "../src/config";
import { NODES, startNodes, useNodeBuilder } from "./cluster";
import { Client, testConfig } from "./helpers";
import { postgresServer } from "./services";

const given: Config[] = [];
let restore: () => void;
beforeAll(() => {
  restore = useNodeBuilder({
    async create(config) {
      given.push(config);
      return createApp({ ...config, db: ":memory:", bus: "", files: "" });
    },
    async close(app: App) {
      closeApp(app);
    },
  });
});
afterAll(() => restore());

const databaseExists = async (url: string) => {
  const name = new URL(url).pathname.slice(1);
  const sql = new SQL(await postgresServer(), { max: 1 });
  try {
    return (await sql`SELECT count(*)::int AS n FROM pg_database WHERE datname = ${name}`)[0].n === 1;
  } finally {
    await sql.close();
  }
};

describe("a cluster's database", () => {
  test("is a migrated copy of its own, the same for every node, dropped at stop", async () => {
    given.length = 0;
    const one = await startNodes(testConfig(), {}, false);
    const two = await startNodes(testConfig(), {}, false);
    try {
      expect(given).toHaveLength(2 * NODES);
      expect(new Set(given.slice(0, NODES).map((c) => c.db))).toEqual(new Set([one.databaseUrl]));
      expect(one.databaseUrl).not.toBe(two.databaseUrl);
      expect(new Set(given.map((c) => c.bus)).size).toBe(1);
      expect(given[0]!.bus).toMatch(/^redis:\/\//);
      expect(new Set(given.slice(0, NODES).map((c) => c.files)).size).toBe(1);
      expect(given[0]!.files).not.toBe(given[NODES]!.files);
      // Migrated: the tables are there, and empty.
      const sql = new SQL(one.databaseUrl, { max: 1 });
      try {
        expect((await sql`SELECT count(*)::int AS n FROM users`)[0].n).toBe(0);
        expect((await sql`SELECT count(*)::int AS n FROM information_schema.tables WHERE table_name IN ('messages', 'group_events')`)[0].n).toBe(2);
      } finally {
        await sql.close();
      }
    } finally {
      await one.stop();
      await two.stop();
    }
    expect(await databaseExists(one.databaseUrl)).toBe(false);
    expect(await databaseExists(two.databaseUrl)).toBe(false);
    // The first test of the file starts PostgreSQL and Redis (initdb included): seconds on a loaded machine.
  }, 60_000);
});

describe("the clients of a test", () => {
  test("REST goes to node 1; each new socket to the next of the other nodes", async () => {
    const { clusterServe } = await import("./cluster");
    const s = await clusterServe(testConfig(), {});
    try {
      const ports = s.nodes.map((n) => n.running!.server.port!);
      expect(new Set(ports).size).toBe(NODES);
      expect(s.url).toBe(`http://127.0.0.1:${ports[0]}`);
      const socketPorts = [s.wsUrl, s.wsUrl, s.wsUrl, s.wsUrl].map((u) => Number(new URL(u).port));
      expect(socketPorts).toEqual([ports[1]!, ports[2]!, ports[1]!, ports[2]!]);
      // Those URLs answer: a socket opened there gets its Heart acked.
      const c = await Client.open(s.wsUrl);
      expect((await c.request("Heart")).content).toBe("Ok");
      c.close();
    } finally {
      await s.stop();
    }
  }, 30_000);
});
