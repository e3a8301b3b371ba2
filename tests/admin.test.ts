// Server admins: the /api/admin/ routes as an admin sees them, the settings
// kept across restarts, and the CLI that makes admins. Non-admins get 403 on
// every admin route: tests/authz.matrix.test.ts.
import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { setUserAdmin } from "./helpers";
import { cluster, fixture, makeApp, serve, sqlAll, tempDir, user, type Served, type TestUser } from "./helpers";
import { connect, heldServer, rest, type HeldServer } from "./write.kit";

let cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

async function setup(overrides = {}) {
  const s = await heldServer({ sync: "normal", ...overrides });
  cleanups.push(() => s.stop());
  const root = await user(s.app, "ad_root");
  await setUserAdmin(fixture(s.app), root.uid, true);
  const ann = await user(s.app, "ad_ann");
  const bob = await user(s.app, "ad_bob");
  return { s, root, ann, bob };
}

const login = async (s: HeldServer, account: string, password: string) =>
  (await fetch(s.url + "/api/user/login", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ account, password }) })).status;

describe("users", () => {
  test("list: newest first, searchable by account or name, paged, with admin and disabled flags and emails", async () => {
    const { s, root } = await setup();
    const all = (await rest(s, "/api/admin/users", root.token)).body.data;
    expect(all.total).toBe(3);
    expect(all.users.map((u: any) => u.account)).toEqual(["ad_bob", "ad_ann", "ad_root"]);
    expect(all.users[2]).toMatchObject({ admin: true, disabled: false, email: expect.any(String), createTime: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/) });
    expect((await rest(s, "/api/admin/users?q=ANN", root.token)).body.data.users.map((u: any) => u.account)).toEqual(["ad_ann"]);
    expect((await rest(s, "/api/admin/users?q=%25", root.token)).body.data.total).toBe(0);
    expect((await rest(s, "/api/admin/users?page=2&size=2", root.token)).body.data.users.map((u: any) => u.account)).toEqual(["ad_root"]);
  });

  test("disable cuts the user's sockets at once and refuses their logins; enable lets them back", async () => {
    const { s, root, ann } = await setup();
    const c = await connect(s, ann);
    expect((await rest(s, "/api/admin/user/disable", root.token, { uid: ann.uid })).status).toBe(200);
    expect(await c.waitClose()).toEqual({ code: 4001, reason: "account disabled" });
    expect(await login(s, "ad_ann", "password1")).toBe(401);
    expect((await rest(s, "/api/admin/users?q=ad_ann", root.token)).body.data.users[0].disabled).toBe(true);
    expect((await rest(s, "/api/admin/user/enable", root.token, { uid: ann.uid })).status).toBe(200);
    expect(await login(s, "ad_ann", "password1")).toBe(200);
    c.close();
  });

  test("password: the old one stops working and every socket closes; the new one works", async () => {
    const { s, root, ann } = await setup();
    const c = await connect(s, ann);
    expect((await rest(s, "/api/admin/user/password", root.token, { uid: ann.uid, password: "new-secret" })).status).toBe(200);
    expect((await c.waitClose()).code).toBe(4001);
    expect(await login(s, "ad_ann", "password1")).toBe(401);
    expect(await login(s, "ad_ann", "new-secret")).toBe(200);
  });

  test.each([
    ["disable yourself", 400, "/api/admin/user/disable", (x: { root: TestUser }) => ({ uid: x.root.uid })],
    ["disable nobody", 404, "/api/admin/user/disable", () => ({ uid: 999_999 })],
    ["password of nobody", 404, "/api/admin/user/password", () => ({ uid: 999_999, password: "whatever1" })],
    ["a short password", 400, "/api/admin/user/password", (x: { ann: TestUser }) => ({ uid: x.ann.uid, password: "short" })],
  ] as const)("refused: %s → %d", async (_label, status, path, body) => {
    const ctx = await setup();
    expect(await rest(ctx.s, path, ctx.root.token, body(ctx as any))).toMatchObject({ status, body: { ok: false, code: status } });
    expect(await login(ctx.s, "ad_ann", "password1")).toBe(200);
  });

  test("demoted in the database, refused at once: the admin flag is read on every call", async () => {
    const { s, root } = await setup();
    expect((await rest(s, "/api/admin/stats", root.token)).status).toBe(200);
    await setUserAdmin(fixture(s.app), root.uid, false);
    expect((await rest(s, "/api/admin/stats", root.token)).status).toBe(403);
  });
});

describe("invites and settings", () => {
  test("an invite made by an admin registers once; list shows it live then used; a revoked one is refused", async () => {
    const { s, root } = await setup({ registration: "invite" });
    const made = (await rest(s, "/api/admin/invite/create", root.token, {})).body.data;
    expect(made).toEqual({ code: expect.any(String), link: `/app/#invite=${made.code}` });
    const second = (await rest(s, "/api/admin/invite/create", root.token, {})).body.data.code;
    const create = (account: string, invite: string) =>
      fetch(s.url + "/api/user/create", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ account, password: "password1", invite }) }).then((r) => r.status);
    expect((await rest(s, "/api/admin/invites", root.token)).body.data.map((i: any) => i.status)).toEqual(["live", "live"]);
    expect(await create("ad_new", made.code)).toBe(200);
    const listed = (await rest(s, "/api/admin/invites", root.token)).body.data;
    expect(listed.map((i: any) => i.status)).toEqual(["live", "used"]);
    expect((await rest(s, "/api/admin/invite/revoke", root.token, { id: listed[0].id })).status).toBe(200);
    expect(await create("ad_other", second)).toBe(403);
    expect((await rest(s, "/api/admin/invite/revoke", root.token, { id: listed[1].id })).status).toBe(404);
  });

  test("registration policy changes at run time and is kept across a restart", async () => {
    const tmp = tempDir();
    cleanups.push(() => tmp.cleanup());
    const file = join(tmp.dir, "rim.db");
    // On the cluster, the database is the cluster's own (the file is not used).
    let srv = await serve({ db: file, registration: "open" });
    cleanups.push(() => srv.stop());
    /** On SQLite, a new server on the same file; on the cluster, every node stopped and started again on the same database. */
    const restart = async () => {
      if (cluster) return (srv as Served & { restart(): Promise<void> }).restart();
      await srv.stop();
      srv = await serve({ db: file, registration: "open" });
    };
    const register = (url: string, account: string) =>
      fetch(url + "/api/user/create", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ account, password: "password1" }) }).then((r) => r.status);
    const root = await user(srv.app, "ad_keeper");
    await setUserAdmin(fixture(srv.app), root.uid, true);
    const settings = (body?: unknown) =>
      fetch(srv.url + "/api/admin/settings", { method: body ? "POST" : "GET", headers: { Authorization: `Bearer ${root.token}`, "Content-Type": "application/json" }, body: body ? JSON.stringify(body) : undefined }).then((r) => r.json() as Promise<any>);
    expect((await settings()).data).toEqual({ registration: "open", inviters: "members" });
    expect(await register(srv.url, "ad_first")).toBe(200);
    expect((await settings({ registration: "closed" })).data.registration).toBe("closed");
    expect(await register(srv.url, "ad_second")).toBe(403);
    await restart();
    expect(await register(srv.url, "ad_third")).toBe(403);
    expect((await settings()).data.registration).toBe("closed");
  });

  test("inviters=admins: a member's /api/user/invite is 403, an admin's works", async () => {
    const { s, root, ann } = await setup();
    expect((await rest(s, "/api/user/invite", ann.token, {})).status).toBe(200);
    expect((await rest(s, "/api/admin/settings", root.token, { inviters: "admins" })).body.data.inviters).toBe("admins");
    expect((await rest(s, "/api/user/invite", ann.token, {})).status).toBe(403);
    expect((await rest(s, "/api/user/invite", root.token, {})).status).toBe(200);
  });

  test("stats", async () => {
    const { s, root } = await setup();
    expect((await rest(s, "/api/admin/stats", root.token)).body.data).toMatchObject({ users: 3, groups: 0, messages: 0, socketsOpen: 0 });
  });
});

describe("the CLI", () => {
  test("user create --admin, promote and demote", async () => {
    const tmp = tempDir();
    cleanups.push(() => tmp.cleanup());
    // The operator's commands on the database the server uses: a SQLite file, or the cluster's PostgreSQL database.
    const app = await makeApp({ db: join(tmp.dir, "rim.db") });
    cleanups.push(() => app.close());
    const db = app.config.db;
    // Not spawnSync: the cluster's nodes run in this process and keep their heartbeats meanwhile.
    const rim = async (args: string[]) => {
      const p = Bun.spawn(["bun", "src/main.ts", ...args, "--db", db, "--argon2-memory", "256", "--argon2-time", "1", "--log-level", "silent"], { cwd: import.meta.dir + "/..", stdout: "pipe", stderr: "pipe" });
      const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
      return { code, out, err };
    };
    expect((await rim(["migrate"])).code).toBe(0);
    expect(await rim(["user", "create", "--account", "cli_root", "--password", "secret12", "--admin"])).toMatchObject({ code: 0, out: expect.stringContaining("server admin") });
    expect((await rim(["user", "create", "--account", "cli_ann", "--password", "secret12"])).code).toBe(0);
    expect(await rim(["user", "promote", "--account", "cli_ann"])).toMatchObject({ code: 0, out: expect.stringContaining("now a server admin") });
    expect((await rim(["user", "demote", "--account", "cli_root"])).code).toBe(0);
    expect((await rim(["user", "promote", "--account", "cli_nobody"])).code).not.toBe(0);
    expect(await sqlAll(app, "SELECT account FROM users WHERE is_admin")).toEqual([{ account: "cli_ann" }]);
  });
});
