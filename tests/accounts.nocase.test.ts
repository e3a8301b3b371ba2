// Accounts are one regardless of case: "Bob" and "bob" cannot both register,
// "BOB" logs in as "Bob", search for "FINN" finds "finn". A database from
// before, holding case-only duplicates, is migrated without locking anyone
// out: the oldest keeps its account, each later one becomes "account~N", keeps
// its password and sessions, and the renames are recorded and logged.
import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { closeApp, createApp } from "../src/app";
import { migrate } from "../src/db/migrate";
import { MIGRATIONS } from "../src/db/migrations.gen";
import { resetPassword } from "../src/domain/users";
import { setDisabled, sqlAll, sqlGet, sqlRun, cluster } from "./helpers";
import { createHttpApp } from "../src/http/app";
import { createLogger } from "../src/log";
import { call, makeApp, tempDir, testConfig, type TestApp, fixture } from "./helpers";

const tmp = tempDir("rim-nocase-");
const apps: TestApp[] = [];
afterAll(() => {
  apps.forEach((a) => a.close());
  tmp.cleanup();
});
async function app() {
  const a = await makeApp({ registerMaxPerIp: 0 });
  apps.push(a);
  return a;
}
const create = (a: TestApp, account: string, password = "secret12") => call(a, "POST", "/api/user/create", { body: { account, password } });
const loginAs = (a: TestApp, account: string, password = "secret12", ip = "198.51.100.1") => call(a, "POST", "/api/user/login", { body: { account, password }, ip });
const whoami = async (a: TestApp, token: string) => (await call(a, "GET", `/api/user/token?token=${token}`, { token })).body.data;

describe("one account whatever its case", () => {
  test.each(["bob", "BOB", "bOb", "Bob"])("with Bob registered, %s is taken (409)", async (other) => {
    const a = await app();
    expect((await create(a, "Bob")).status).toBe(200);
    expect((await create(a, other)).body).toMatchObject({ code: 409, msg: "Account Existed" });
  });

  test.each(["Bob", "bob", "BOB", "bOB"])("%s logs in to Bob's account, which keeps its case", async (typed) => {
    const a = await app();
    const uid = (await create(a, "Bob")).body.data;
    const r = await loginAs(a, typed);
    expect(r.status).toBe(200);
    expect(await whoami(a, r.body.data)).toMatchObject({ id: uid, account: "Bob" });
  });

  test.each<[string, string, string | null]>([
    ["FINN finds finn", "FINN", "finn"],
    ["Finn finds finn", "Finn", "finn"],
    ["finn finds finn", "finn", "finn"],
    ["a prefix finds nothing", "FIN", null],
    ["hostile: a LIKE pattern finds nothing", "f_nn", null],
    ["hostile: the Kelvin sign is not a K", "\u212Aate", null],
  ])("search: %s", async (_label, query, found) => {
    const a = await app();
    await create(a, "finn");
    await create(a, "kate");
    const me = (await loginAs(a, "finn")).body.data;
    const r = await call(a, "GET", `/api/user/search?account=${encodeURIComponent(query)}`, { token: me });
    expect(r.body.data?.account ?? null).toBe(found);
  });

  test("wrong passwords in any case count for the one account (429 for all its spellings)", async () => {
    const a = await makeApp({ loginMaxPerAccount: 3, registerMaxPerIp: 0 });
    apps.push(a);
    await create(a, "Dora");
    for (const [i, spelling] of ["dora", "DORA", "Dora"].entries()) expect((await loginAs(a, spelling, "wrong-pw", `198.51.100.${i}`)).status).toBe(401);
    for (const spelling of ["dora", "DORA", "dOrA"]) expect((await loginAs(a, spelling, "secret12", "203.0.113.9")).status).toBe(429);
  });

  test("parallel registrations of Zed and zed: exactly one account", async () => {
    const a = await app();
    const statuses = (await Promise.all(["Zed", "zed", "ZED", "zeD"].map((n) => create(a, n)))).map((r) => r.status).sort();
    expect(statuses).toEqual([200, 409, 409, 409]);
  });

  test("operators' commands find the account in any case", async () => {
    const a = await app();
    await create(a, "Opal");
    await resetPassword(a, "OPAL", "newpass12");
    expect((await loginAs(a, "opal", "newpass12")).status).toBe(200);
    await setDisabled(fixture(a), "oPaL", true);
    expect((await loginAs(a, "Opal", "newpass12")).status).toBe(401);
  });

  test("the database itself refuses a case-only duplicate", async () => {
    const a = await app();
    await sqlRun(a, "INSERT INTO users (account, name, password_hash, created_at) VALUES ('Eve', 'E', 'h', 1)");
    await expect(Promise.resolve().then(() => sqlRun(a, "INSERT INTO users (account, name, password_hash, created_at) VALUES ('EVE', 'E', 'h', 1)"))).rejects.toThrow(/unique/i);
  });
});

// Skipped on the cluster (RIM_TEST_BACKEND=cluster): a SQLite migration (renaming case-only duplicates in an existing SQLite file).
describe.skipIf(cluster)("the migration of a database holding case-only duplicates", () => {
  // Accounts as an older rim stored them (case-sensitive unique), oldest first, each with its own password.
  const OLD: [string, string][] = [
    ["Bob", "pw-of-Bob"],
    ["alice", "pw-of-alice"],
    ["bob", "pw-of-bob"],
    ["BOB", "pw-of-BOB"],
    ["Alice", "pw-of-Alice"],
    ["carol", "pw-of-carol"],
    ["x".repeat(63) + "Y", "pw-of-long1"],
    ["x".repeat(63) + "y", "pw-of-long2"],
  ];
  const RENAMED = [
    { uid: 3, from: "bob", to: "bob~2" },
    { uid: 4, from: "BOB", to: "BOB~3" },
    { uid: 5, from: "Alice", to: "Alice~2" },
    { uid: 8, from: "x".repeat(63) + "y", to: "x".repeat(63) + "y~2" },
  ];

  async function oldDatabase(file: string, accounts = OLD) {
    const db = new Database(file, { create: true });
    // The migrations before the one under test: the database of a server from before it.
    migrate(db, MIGRATIONS.slice(0, MIGRATIONS.findIndex((m) => m.tag.endsWith("_accounts_nocase"))));
    for (const [account, password] of accounts) {
      const hash = await Bun.password.hash(password, { algorithm: "argon2id", memoryCost: 256, timeCost: 1 });
      db.run("INSERT INTO users (account, name, password_hash, created_at) VALUES (?, ?, ?, 1)", [account, account, hash]);
    }
    // bob (uid 3) has a live session from before.
    db.run("INSERT INTO sessions (token_hash, user_id, created_at, expires_at, last_used_at) VALUES (?, 3, 1, ?, 1)", [
      new Bun.CryptoHasher("sha256").update("bobs-old-token-0123456789abcdef").digest("hex"),
      Date.now() + 86_400_000,
    ]);
    db.close();
  }

  test("keeps the oldest, renames the later ones account~N, records and logs it; everyone logs in", async () => {
    const file = join(tmp.dir, "dups.db");
    await oldDatabase(file);
    const lines: string[] = [];
    const a = createApp(testConfig({ db: file, registerMaxPerIp: 0 }), { log: createLogger({ level: "info", format: "json", write: (l) => lines.push(l) }) });
    const t = Object.assign(a, { http: createHttpApp(a), close: () => closeApp(a) });
    apps.push(t);

    const logged = lines.map((l) => JSON.parse(l)).filter((e) => e.event === "user.account_renamed");
    expect(logged.map(({ uid, from, to }) => ({ uid, from, to }))).toEqual(RENAMED);
    expect(logged.every((e) => e.level === "warn")).toBe(true);
    expect(await sqlAll(a, "SELECT user_id AS uid, old_account AS \"from\", new_account AS \"to\" FROM account_renames ORDER BY id")).toEqual(RENAMED);
    expect((await sqlAll(a, "SELECT account FROM users ORDER BY id")).map((r: any) => r.account)).toEqual([
      "Bob", "alice", "bob~2", "BOB~3", "Alice~2", "carol", "x".repeat(63) + "Y", "x".repeat(63) + "y~2",
    ]);

    // Each logs in with their own password: the oldest under the old name in any case, the others under the new one.
    const CAN: [string, string, number][] = [
      ["Bob", "pw-of-Bob", 1], ["bob", "pw-of-Bob", 1], ["BOB", "pw-of-Bob", 1],
      ["bob~2", "pw-of-bob", 3], ["BOB~2", "pw-of-bob", 3],
      ["BOB~3", "pw-of-BOB", 4], ["bob~3", "pw-of-BOB", 4],
      ["alice", "pw-of-alice", 2], ["Alice~2", "pw-of-Alice", 5], ["carol", "pw-of-carol", 6],
      ["x".repeat(63) + "y~2", "pw-of-long2", 8], ["X".repeat(63) + "Y", "pw-of-long1", 7],
    ];
    for (const [account, password, uid] of CAN) {
      const r = await loginAs(t, account, password, "198.51.100.7");
      expect({ account, status: r.status }).toEqual({ account, status: 200 });
      expect((await whoami(t, r.body.data)).id).toBe(uid);
    }
    // The renamed user's session from before still works.
    expect((await whoami(t, "bobs-old-token-0123456789abcdef"))).toMatchObject({ id: 3, account: "bob~2" });
    // And the old spelling now means the oldest account: the renamed user's password does not open it.
    expect((await loginAs(t, "bob", "pw-of-bob", "198.51.100.8")).status).toBe(401);
  });

  test("applied once: a restart logs nothing more and changes nothing", async () => {
    const file = join(tmp.dir, "dups.db");
    const lines: string[] = [];
    const a = createApp(testConfig({ db: file }), { log: createLogger({ level: "info", format: "json", write: (l) => lines.push(l) }) });
    expect(lines.filter((l) => l.includes("account_renamed"))).toEqual([]);
    expect((await sqlGet(a, "SELECT count(*) AS n FROM account_renames") as { n: number }).n).toBe(RENAMED.length);
    closeApp(a);
  });

  test("a database without duplicates renames nobody", async () => {
    const file = join(tmp.dir, "clean.db");
    await oldDatabase(file, [["ann", "pw1"], ["ben", "pw2"]]);
    const lines: string[] = [];
    const a = createApp(testConfig({ db: file }), { log: createLogger({ level: "info", format: "json", write: (l) => lines.push(l) }) });
    expect(lines.filter((l) => l.includes("account_renamed"))).toEqual([]);
    expect(await sqlAll(a, "SELECT account FROM users ORDER BY id")).toEqual([{ account: "ann" }, { account: "ben" }]);
    closeApp(a);
  });

  test("rim migrate says what it renamed", async () => {
    const file = join(tmp.dir, "cli.db");
    await oldDatabase(file);
    const p = Bun.spawnSync(["bun", join(import.meta.dir, "..", "src/main.ts"), "migrate", "--db", file], { env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? "/" } });
    const out = p.stdout.toString();
    expect(p.exitCode).toBe(0);
    expect(out).toMatch(/applied .*_accounts_nocase/);
    for (const r of RENAMED) expect(out).toContain(`renamed account ${r.from} (uid ${r.uid}) to ${r.to}: accounts are now case-insensitive`);
  });
});
