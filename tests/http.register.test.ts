// Registration that cannot be abused: at most --register-max-per-ip per
// address and hour (429 with Retry-After, on a manual clock), the invite checked
// before the account in invite mode, and argon2 work bounded and served to
// logins first.
import { afterEach, describe, expect, test } from "bun:test";
import type { Config } from "../src/config";
import { createHashGate, type HashPriority } from "../src/domain/hashing";
import { createInvite, sqlGet } from "./helpers";
import { login, registerUser } from "../src/domain/users";
import { manualClock } from "../src/time";
import { call, makeApp, type TestApp, fixture } from "./helpers";
import { recorder } from "./recorder";

const apps: TestApp[] = [];
afterEach(() => apps.splice(0).forEach((a) => a.close()));
async function app(overrides: Partial<Config> = {}) {
  const clock = manualClock();
  const a = Object.assign(await makeApp(overrides, { clock }), { clock });
  apps.push(a);
  return a;
}
const HOUR = 3_600_000;
const register = (a: TestApp, account: string, ip = "198.51.100.1", extra: Record<string, unknown> = {}) =>
  call(a, "POST", "/api/user/create", { ip, body: { account, password: "secret12", ...extra } });

describe("--register-max-per-ip", () => {
  test("the (N+1)th registration from an address within an hour is 429 with Retry-After; other addresses are not; the hour ends it", async () => {
    const a = await app({ registerMaxPerIp: 3 });
    for (let i = 0; i < 3; i++) {
      expect((await register(a, `reg${i}`)).status).toBe(200);
      a.clock.advance(10 * 60_000); // 0, 10, 20 minutes
    }
    const refused = await register(a, "reg3"); // at 30 minutes
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ ok: false, code: 429, msg: expect.stringContaining("registrations") });
    expect(refused.headers.get("retry-after")).toBe(String(30 * 60)); // the first one leaves the window at 60 minutes
    expect((await register(a, "other0", "198.51.100.2")).status).toBe(200);
    // Sliding: at 60 minutes the first registration is out of the window, and one more is allowed.
    a.clock.advance(30 * 60_000 - 1);
    expect((await register(a, "reg3")).status).toBe(429);
    a.clock.advance(1);
    expect((await register(a, "reg3")).status).toBe(200);
    expect((await register(a, "reg4")).status).toBe(429);
    // Nothing was stored for the refused ones.
    expect(await sqlGet(a, "SELECT count(*) AS n FROM users")).toEqual({ n: 5 });
  });

  test.each<[string, Record<string, unknown>, string, number]>([
    ["a taken account (409)", {}, "taken", 409],
    ["an invalid body (400)", { password: "x" }, "short", 400],
  ])("refused registrations do not count: %s", async (_label, extra, account, status) => {
    const a = await app({ registerMaxPerIp: 2 });
    expect((await register(a, "taken")).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await register(a, account, undefined, extra)).status).toBe(status);
    expect((await register(a, "second")).status).toBe(200);
    expect((await register(a, "third")).status).toBe(429);
  });

  test("parallel registrations cannot outrun it: the slot is taken before the hashing", async () => {
    const a = await app({ registerMaxPerIp: 3 });
    const statuses = await Promise.all(Array.from({ length: 8 }, (_, i) => register(a, `par${i}`).then((r) => r.status)));
    expect(statuses.filter((s) => s === 200)).toHaveLength(3);
    expect(statuses.filter((s) => s === 429)).toHaveLength(5);
  });

  test("0 lifts the limit; operators (rim user create) are never limited", async () => {
    const a = await app({ registerMaxPerIp: 0 });
    for (let i = 0; i < 12; i++) expect((await register(a, `free${i}`)).status).toBe(200);
    const b = await app({ registerMaxPerIp: 1 });
    for (let i = 0; i < 3; i++) await registerUser(b, { account: `op${i}`, password: "secret12", name: "Op", avatar: "", email: "" });
    expect((await register(b, "web0")).status).toBe(200);
  });

  test("behind a trusted proxy each client counts, not the proxy", async () => {
    const a = await app({ registerMaxPerIp: 1 });
    const viaProxy = (account: string, client: string) => call(a, "POST", "/api/user/create", { ip: "127.0.0.1", headers: { "X-Forwarded-For": client }, body: { account, password: "secret12" } });
    expect((await viaProxy("px1", "198.51.100.1")).status).toBe(200);
    expect((await viaProxy("px2", "198.51.100.2")).status).toBe(200);
    expect((await viaProxy("px3", "198.51.100.1")).status).toBe(429);
  });
});

describe("invite mode: the invite is checked before the account", () => {
  test.each<[string, "taken" | "free", "good" | "bad" | "used", number]>([
    ["a bad code for a taken account", "taken", "bad", 403],
    ["a bad code for a free account", "free", "bad", 403],
    ["a used code for a taken account", "taken", "used", 403],
    ["a used code for a free account", "free", "used", 403],
    ["a good code for a taken account", "taken", "good", 409],
    ["a good code for a free account", "free", "good", 200],
  ])("%s → %d", async (_label, account, code, status) => {
    const a = await app({ registration: "invite" });
    await registerUser(a, { account: "existing", password: "secret12", name: "E", avatar: "", email: "" });
    const used = await createInvite(fixture(a), null, 7);
    expect((await register(a, "firstuser", undefined, { invite: used })).status).toBe(200);
    const invite = code === "good" ? await createInvite(fixture(a), null, 7) : code === "used" ? used : "not-a-code-at-all";
    const r = await register(a, account === "taken" ? "existing" : "newcomer", undefined, { invite });
    expect(r.status).toBe(status);
    // Same answer, word for word, whether the account exists or not.
    if (status === 403) expect(r.body.msg).toBe("invite: unknown, used or expired code");
  });
});

describe("hashing never starves logins", () => {
  // A hash whose end the test decides.
  function controlled() {
    const started: string[] = [];
    const finished: string[] = [];
    const pending = new Map<string, () => void>();
    const work = (name: string) => () =>
      new Promise<string>((resolve) => {
        started.push(name);
        pending.set(name, () => {
          finished.push(name);
          resolve(name);
        });
      });
    return { started, finished, work, end: (name: string) => pending.get(name)!() };
  }
  const flush = () => new Promise((r) => setImmediate(r));

  test("the gate runs at most its size at once, and gives a freed slot to a waiting login first, in arrival order", async () => {
    const gate = createHashGate(2);
    const h = controlled();
    const jobs: [string, HashPriority][] = [["reg1", "other"], ["reg2", "other"], ["reg3", "other"], ["login1", "login"], ["pw1", "other"], ["login2", "login"]];
    const done = jobs.map(([name, p]) => gate.run(p, h.work(name)));
    await flush();
    expect(h.started).toEqual(["reg1", "reg2"]);
    expect(gate.stats()).toEqual({ running: 2, login: 2, other: 2 });
    for (const [name, next] of [["reg1", "login1"], ["reg2", "login2"], ["login1", "reg3"], ["login2", "pw1"]] as const) {
      h.end(name);
      await flush();
      expect(h.started.at(-1)).toBe(next);
      expect(gate.stats().running).toBe(2);
    }
    h.end("reg3");
    h.end("pw1");
    expect(await Promise.all(done)).toEqual(jobs.map(([n]) => n));
    expect(gate.stats()).toEqual({ running: 0, login: 0, other: 0 });
  });

  test("a failing hash frees its slot", async () => {
    const gate = createHashGate(1);
    await expect(gate.run("other", () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(await gate.run("login", async () => "next")).toBe("next");
    expect(gate.stats()).toEqual({ running: 0, login: 0, other: 0 });
  });

  test.each([[0], [-1], [1.5]])("a gate of size %p is refused", (size) => {
    expect(() => createHashGate(size)).toThrow();
  });

  test("with one slot, a login waits for the hash in progress only, not for the registrations and password changes queued before it", async () => {
    const a = await app({ argon2Concurrency: 1, registerMaxPerIp: 0 });
    await registerUser(a, { account: "waiting", password: "secret12", name: "W", avatar: "", email: "" });
    const h = controlled();
    const gate = a.auth.hashing;
    const inProgress = gate.run("other", h.work("in progress"));
    // Who reaches the gate, and whose hash starts, in order.
    const arrived = recorder<HashPriority>();
    const started: HashPriority[] = [];
    const run = gate.run.bind(gate);
    gate.run = (priority, work) => (arrived.push(priority), run(priority, () => (started.push(priority), work())));
    const order: string[] = [];
    // Each reaches the gate after its reads (and, in a cluster, the throttles in Redis): registrations (with an address), then a login.
    const regs = [0, 1, 2].map((i) =>
      registerUser(a, { account: `queued${i}`, password: "secret12", name: "Q", avatar: "", email: "" }, undefined, "198.51.100.1").then(() => order.push(`register ${i}`)),
    );
    const signedIn = login(a, "waiting", "secret12", "198.51.100.9").then(() => order.push("login"));
    await arrived.until((p) => p.length === 4);
    expect(gate.stats()).toEqual({ running: 1, login: 1, other: 3 });
    h.end("in progress");
    await Promise.all([inProgress, ...regs, signedIn]);
    expect(started).toEqual(["login", "other", "other", "other"]);
    // The registrations' order among themselves is their arrival's (the gate's test above); on PostgreSQL their reads race.
    expect(order[0]).toBe("login");
    expect(order.slice(1).sort()).toEqual(["register 0", "register 1", "register 2"]);
  });

  test("--argon2-concurrency 0 sizes the gate to the machine's cores", async () => {
    const { availableParallelism } = await import("node:os");
    const a = await app({ argon2Concurrency: 0, registerMaxPerIp: 0 });
    const n = availableParallelism();
    const h = controlled();
    const runs = Array.from({ length: n + 2 }, (_, i) => a.auth.hashing.run("other", h.work(`w${i}`)));
    await flush();
    expect(h.started).toHaveLength(n);
    for (let i = 0; i < n + 2; i++) {
      h.end(`w${i}`);
      await flush();
    }
    await Promise.all(runs);
  });
});
