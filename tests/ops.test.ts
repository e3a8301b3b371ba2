// The operator's side: registration policy, invites, the CLI, metrics, logs.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { createApp, closeApp } from "../src/app";
import { createHttpApp } from "../src/http/app";
import { createLogger } from "../src/log";
import { manualClock } from "../src/time";
import { call, Client, group, makeApp, serve, tempDir, testConfig, user } from "./helpers";

const root = join(import.meta.dir, "..");
const JSON_TYPE = { "Content-Type": "application/json" };
const newUser = (account: string, extra: Record<string, unknown> = {}) => ({ account, password: "secret12", name: account, ...extra });

describe("registration policy", () => {
  test.each([
    ["open", undefined, 200],
    ["closed", undefined, 403],
    ["invite", undefined, 403],
    ["invite", "not-a-code", 403],
  ] as const)("--registration %s with invite %p → %d", async (policy, invite, status) => {
    const app = await makeApp({ registration: policy });
    const r = await call(app, "POST", "/api/user/create", { body: newUser("newbie", invite ? { invite } : {}) });
    expect(r.status).toBe(status);
    if (status !== 200) expect(r.body.msg).toMatch(policy === "closed" ? /closed/ : /invite/);
    app.close();
  });

  test("an invite code works once, and not after it expires", async () => {
    const clock = manualClock();
    const app = await makeApp({ registration: "invite", inviteTtlDays: 1 }, { clock });
    const inviter = await user(app, "inviter");
    const code = (await call(app, "POST", "/api/user/invite", { token: inviter.token })).body.data;
    expect(code).toMatch(/^[\w-]{16}$/);
    expect((await call(app, "POST", "/api/user/create", { body: newUser("first", { invite: code }) })).status).toBe(200);
    const again = await call(app, "POST", "/api/user/create", { body: newUser("second", { invite: code }) });
    expect(again.status).toBe(403);
    const late = (await call(app, "POST", "/api/user/invite", { token: inviter.token })).body.data;
    clock.advance(86_400_000 + 1);
    expect((await call(app, "POST", "/api/user/create", { body: newUser("third", { invite: late }) })).status).toBe(403);
    // A refused registration leaves no user behind.
    expect((await call(app, "GET", "/api/user/search?account=second", { token: inviter.token })).body.data).toBeNull();
    app.close();
  });

  test("invites need a login", async () => {
    const app = await makeApp();
    expect((await call(app, "POST", "/api/user/invite")).status).toBe(401);
    app.close();
  });
});

describe("the rim CLI", () => {
  const tmp = tempDir("rim-cli-");
  const db = join(tmp.dir, "rim.db");
  const cheap = ["--argon2-memory", "256", "--argon2-time", "1", "--db", db];
  const rim = (args: string[], env: Record<string, string> = {}) => {
    const p = Bun.spawnSync(["bun", "src/main.ts", ...args, ...cheap], { cwd: root, env: { ...process.env, ...env } });
    return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
  };

  test("user create, with the password from RIM_PASSWORD too; bad input is refused", () => {
    expect(rim(["migrate"]).code).toBe(0); // operators' commands need an existing database
    expect(rim(["user", "create", "--account", "opsann", "--password", "secret12"])).toMatchObject({ code: 0 });
    expect(rim(["user", "create", "--account", "opsbob"], { RIM_PASSWORD: "secret34" }).code).toBe(0);
    expect(rim(["user", "create", "--account", "opsann", "--password", "secret12"]).err).toContain("Account Existed");
    expect(rim(["user", "create", "--account", "x", "--password", "secret12"]).err).toContain("account");
    expect(rim(["user", "create", "--account", "opscat"]).code).toBe(2);
    expect(rim(["user", "frobnicate", "--account", "opsann"]).code).toBe(2);
  });

  test("reset-password, disable and enable act on a live database's logins", async () => {
    const app = createApp(testConfig({ db }));
    const http = createHttpApp(app);
    const login = (password: string) =>
      Promise.resolve(http.request("/api/user/login", { method: "POST", headers: JSON_TYPE, body: JSON.stringify({ account: "opsann", password }) })).then((r) => r.status);
    const tokenRes = await http.request("/api/user/login", { method: "POST", headers: JSON_TYPE, body: JSON.stringify({ account: "opsann", password: "secret12" }) });
    const token = ((await tokenRes.json()) as any).data;
    const me = () => Promise.resolve(http.request("/api/user/token?token=" + token, { headers: { Authorization: `Bearer ${token}` } })).then((r) => r.status);
    expect(await me()).toBe(200);

    expect(rim(["user", "reset-password", "--account", "opsann", "--password", "newpass12"]).out).toContain("1 token(s) revoked");
    expect(await me()).toBe(401);
    expect(await login("secret12")).toBe(401);
    expect(await login("newpass12")).toBe(200);

    expect(rim(["user", "disable", "--account", "opsann"]).code).toBe(0);
    expect(await login("newpass12")).toBe(401);
    expect(rim(["user", "enable", "--account", "opsann"]).code).toBe(0);
    expect(await login("newpass12")).toBe(200);
    closeApp(app);
  });

  test("stats counts what is stored", () => {
    const stats = JSON.parse(rim(["stats"]).out);
    expect(stats).toMatchObject({ users: 2, groups: 0, messages: 0 });
  });

  test("invite prints a code that registers once", async () => {
    const code = rim(["invite"]).out.trim();
    const app = createApp(testConfig({ db, registration: "invite" }));
    const http = createHttpApp(app);
    const create = (account: string) =>
      Promise.resolve(http.request("/api/user/create", { method: "POST", headers: JSON_TYPE, body: JSON.stringify({ account, password: "secret12", invite: code }) })).then((r) => r.status);
    expect(await create("invited1")).toBe(200);
    expect(await create("invited2")).toBe(403);
    closeApp(app);
  });

  test("backup while serving, restore refused while serving and done after", async () => {
    const server = Bun.spawn(["bun", "src/main.ts", "serve", "--host", "127.0.0.1", "--port", "0", ...cheap], { cwd: root, stderr: "pipe" });
    const reader = server.stderr.getReader();
    let seen = "";
    while (!seen.includes("server.listening")) seen += new TextDecoder().decode((await reader.read()).value);
    void (async () => { while (!(await reader.read()).done); })();
    try {
      const backup = join(tmp.dir, "backup.db");
      const before = JSON.parse(rim(["stats"]).out).users;
      expect(rim(["backup", backup]).code).toBe(0);
      expect(rim(["backup", backup]).err).toContain("exists");
      const refused = rim(["restore", backup]);
      expect(refused.code).toBe(1);
      expect(refused.err).toContain("being served");
      server.kill("SIGTERM");
      expect(await server.exited).toBe(0);
      rim(["user", "create", "--account", "afterbackup", "--password", "secret12"]);
      expect(JSON.parse(rim(["stats"]).out).users).toBe(before + 1);
      expect(rim(["restore", backup]).code).toBe(0);
      expect(JSON.parse(rim(["stats"]).out).users).toBe(before);
    } finally {
      server.kill("SIGKILL");
      tmp.cleanup();
    }
  }, 30_000);
});

describe("metrics", () => {
  test("off by default", async () => {
    const app = await makeApp();
    expect((await call(app, "GET", "/metrics")).status).toBe(404);
    app.close();
  });

  test("token-protected when a token is set", async () => {
    const app = await makeApp({ metrics: "on", metricsToken: "s3cret" });
    expect((await call(app, "GET", "/metrics")).status).toBe(401);
    expect((await call(app, "GET", "/metrics", { headers: { Authorization: "Bearer s3cret" } })).status).toBe(200);
    app.close();
  });

  test("counts sockets, messages, commits, pushes, deliveries and errors", async () => {
    const s = await serve({ metrics: "on" });
    const [a, b] = [await user(s.app, "met_a"), await user(s.app, "met_b")];
    const gid = await group(s.app, a, [b]);
    const [ca, cb] = [await Client.open(s.wsUrl), await Client.open(s.wsUrl)];
    await ca.login(a);
    await cb.login(b);
    await ca.request("Msg", { gid, content: "one" });
    await cb.next((f) => f.event === "Msg");
    await ca.request("Msg", { gid: 999, content: "nowhere" });
    await fetch(s.url + "/api/user/get?uid=1");
    const text = await (await fetch(s.url + "/metrics")).text();
    const value = (name: string) => Number(text.match(new RegExp(`^${name.replace(/[{}"]/g, "\\$&")} (\\S+)$`, "m"))?.[1]);
    expect(value("rim_ws_sockets")).toBe(2);
    expect(value("rim_users_online")).toBe(2);
    expect(value("rim_messages")).toBe(1);
    expect(value("rim_messages_stored_total")).toBe(1);
    expect(value("rim_deliveries_total")).toBeGreaterThanOrEqual(1);
    expect(value('rim_errors_total{transport="ws",code="404"}')).toBe(1);
    expect(value('rim_errors_total{transport="http",code="401"}')).toBe(1);
    expect(value("rim_commits_total")).toBeGreaterThanOrEqual(1);
    expect(value("rim_commit_seconds_count")).toBe(value("rim_commits_total"));
    ca.close();
    cb.close();
    await s.stop();
  });
});

describe("logs", () => {
  test("JSON lines, and never a token or a password", async () => {
    const lines: string[] = [];
    const config = testConfig({ logFormat: "json", logLevel: "debug" });
    const app = createApp(config, { log: createLogger({ level: "debug", format: "json", write: (l) => lines.push(l) }) });
    const http = createHttpApp(app);
    const post = (path: string, body: unknown, token?: string) =>
      http.request(path, { method: "POST", headers: { ...JSON_TYPE, ...(token ? { Authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) }, { ip: "10.0.0.1" });
    await post("/api/user/create", { account: "logged", password: "pw-never-logged" });
    const token = ((await (await post("/api/user/login", { account: "logged", password: "pw-never-logged" })).json()) as any).data;
    await http.request("/api/user/token?token=" + token, { headers: { Authorization: `Bearer ${token}` } });
    await post("/api/user/login", { account: "logged", password: "wrong-pw-never-logged" });
    expect(lines.length).toBeGreaterThanOrEqual(4);
    for (const line of lines) {
      const entry = JSON.parse(line);
      expect(entry).toHaveProperty("level");
      expect(entry).toHaveProperty("event");
      expect(line).not.toContain(token);
      expect(line).not.toContain("never-logged");
    }
    expect(lines.some((l) => JSON.parse(l).event === "http.request")).toBe(true);
    closeApp(app);
  });
});
