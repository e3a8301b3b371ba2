// The rim command line on PostgreSQL, spawned for real against a real
// PostgreSQL (tests/services.ts): `rim migrate` migrates (once), `rim serve`
// migrates and serves (a node of a cluster; tests/cluster.serve.test.ts goes further),
// the operator's commands (user, invite, stats) work, backup and restore point
// to pg_dump and pg_restore, and the refusals of a
// database without a bus (or a bus without a database) come before anything runs.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { join } from "node:path";
import { MIGRATIONS } from "../src/db/pg/migrations.gen";
import { tempDir } from "./helpers";
import { freshDatabase, redisUrl } from "./services";
import { CHEAP, spawnRim } from "./cli.kit";

const main = join(import.meta.dir, "../src/main.ts");
const tmp = tempDir("rim-pgcli-");

async function rim(args: string[], env: Record<string, string> = {}) {
  // A clean environment: no RIM_* of the caller leaks in.
  const p = Bun.spawn(["bun", main, ...args], { cwd: tmp.dir, env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? "/", ...env }, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err };
}

let db: Awaited<ReturnType<typeof freshDatabase>>;
let bus: string;
beforeAll(async () => {
  [db, bus] = await Promise.all([freshDatabase(), redisUrl()]);
});
afterAll(async () => {
  await db?.drop();
  tmp.cleanup();
});

const migrationRows = async (url: string) => {
  const sql = new SQL(url, { max: 1 });
  try {
    return (await sql`SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations`)[0].n as number;
  } finally {
    await sql.close();
  }
};

describe("rim migrate --db postgres://…", () => {
  test("applies the migrations, then finds the database up to date; RIM_DB works the same", async () => {
    expect(await rim(["migrate", "--db", db.url])).toEqual({ code: 0, out: `applied ${MIGRATIONS.map((m) => m.tag).join(", ")}\n`, err: "" });
    expect(await rim(["migrate"], { RIM_DB: db.url })).toEqual({ code: 0, out: "database is up to date\n", err: "" });
    expect(await migrationRows(db.url)).toBe(MIGRATIONS.length);
  });

  test.each([
    ["a database that is not there", (u: URL): void => {
      u.pathname = "/no_such_database";
    }, "no_such_database"],
    ["a port nobody listens on, with a password kept out of the message", (u: URL): void => {
      u.port = "1";
      u.password = "s3cret";
    }, "Failed to connect"],
  ] as const)("%s is an error naming the database, exit 1", async (_label, change, detail) => {
    const url = new URL(db.url);
    change(url);
    const r = await rim(["migrate", "--db", url.toString()]);
    if (url.password) url.password = "***";
    expect(r.code).toBe(1);
    expect(r.err).toStartWith(`rim: PostgreSQL at ${url}: `);
    expect(r.err).toContain(detail);
    expect(r.err).not.toContain("s3cret");
  });
});

describe("rim serve on PostgreSQL and Redis", () => {
  test("migrates a fresh database, listens, and stops cleanly on SIGTERM (exit 0)", async () => {
    const fresh = await freshDatabase();
    try {
      const node = spawnRim(["serve", "--db", fresh.url, "--bus", bus, "--host", "127.0.0.1", "--port", "0", ...CHEAP]);
      const url = await node.listening;
      expect(url).toStartWith("http://127.0.0.1:");
      expect((await fetch(url + "/health")).status).toBe(200);
      expect(await migrationRows(fresh.url)).toBe(MIGRATIONS.length);
      expect(await node.stop()).toBe(0);
      expect(node.lines.filter((l) => / (ERROR|WARN) /.test(l) && !l.includes("files.not_shared"))).toEqual([]);
    } finally {
      await fresh.drop();
    }
  });

  test.each<[string, string[], Record<string, string>, string]>([
    ["without a bus", ["serve", "--db", "postgres://rim@127.0.0.1:1/rim"], {}, "rim: a PostgreSQL --db needs --bus redis://HOST:PORT (or RIM_BUS): without a bus, nodes would silently miss each other's pushes"],
    ["with RIM_DB and no bus", [], { RIM_DB: "postgres://rim@127.0.0.1:1/rim" }, "rim: a PostgreSQL RIM_DB needs --bus redis://HOST:PORT (or RIM_BUS): without a bus, nodes would silently miss each other's pushes"],
    ["a bus with a SQLite file", ["serve", "--db", "x.db", "--bus", "redis://127.0.0.1:1"], {}, "rim: --bus needs a PostgreSQL --db: a SQLite file is served by one node, which has no other node to talk to"],
    ["a URL of another engine", ["serve", "--db", "mysql://rim@127.0.0.1:1/rim"], {}, "rim: --db must be a SQLite file or a postgres://USER@HOST:PORT/DB URL"],
  ])("is refused before anything runs, exit 2: %s", async (_label, args, env, line) => {
    expect(await rim(args, env)).toEqual({ code: 2, out: "", err: `${line}\nTry 'rim --help'.\n` });
  });
});

describe("backup and restore on PostgreSQL say what to do instead", () => {
  test.each<[string, string[], RegExp]>([
    ["backup", ["backup", "copy.dump"], /^rim: rim backup copies a SQLite file; back up a PostgreSQL database with pg_dump/],
    ["restore", ["restore", "copy.dump"], /^rim: rim restore puts back a SQLite file; restore a PostgreSQL database with pg_restore/],
  ])("%s exits 1 with one line, and touches nothing", async (_label, args, line) => {
    const r = await rim([...args, "--db", db.url]);
    expect(r.code).toBe(1);
    expect(r.out).toBe("");
    expect(r.err).toMatch(line);
    expect(r.err.trimEnd().split("\n")).toHaveLength(1);
  });
});

// The operator's commands run the domain's code through the storage seam on PostgreSQL, as on SQLite.
describe("the operator's commands on PostgreSQL", () => {
  test("user create (and --admin), promote, reset-password, disable and enable, invite, stats", async () => {
    const fresh = await freshDatabase();
    try {
      const on = (...args: string[]) => rim([...args, "--db", fresh.url, "--argon2-memory", "8192", "--argon2-time", "1"]);
      expect(await on("user", "create", "--account", "ann", "--password", "secret12", "--admin")).toEqual({ code: 0, out: "created server admin ann (uid 1)\n", err: "" });
      expect(await on("user", "create", "--account", "bob", "--password", "secret12")).toEqual({ code: 0, out: "created user bob (uid 2)\n", err: "" });
      expect((await on("user", "create", "--account", "BOB", "--password", "secret12")).err).toMatch(/Account Existed/);
      expect((await on("user", "promote", "--account", "Bob")).out).toBe("Bob is now a server admin\n");
      expect((await on("user", "reset-password", "--account", "bob", "--password", "other123")).out).toBe("password of bob reset; 0 token(s) revoked\n");
      expect((await on("user", "disable", "--account", "bob")).out).toBe("bob disabled; 0 token(s) revoked\n");
      expect((await on("user", "enable", "--account", "bob")).out).toBe("bob enabled\n");
      expect((await on("user", "disable", "--account", "nobody")).err).toMatch(/user not found/);
      const invite = await on("invite");
      expect(invite.code).toBe(0);
      expect(invite.out).toMatch(/^[A-Za-z0-9_-]{16}\n$/);
      const stats = await on("stats");
      expect(stats.code).toBe(0);
      expect(JSON.parse(stats.out)).toEqual({ users: 2, groups: 0, messages: 0, sessions: 0, lastMessageId: 0 });
      const sql = new SQL(fresh.url, { max: 1 });
      try {
        const rows = await sql`SELECT account, is_admin, disabled_at IS NULL AS enabled FROM users ORDER BY id`;
        expect(rows).toEqual([{ account: "ann", is_admin: true, enabled: true }, { account: "bob", is_admin: true, enabled: true }]);
        expect((await sql`SELECT count(*)::int AS n FROM invites WHERE used_at IS NULL`)[0].n).toBe(1);
      } finally {
        await sql.close();
      }
    } finally {
      await fresh.drop();
    }
  }, 60_000);
});
