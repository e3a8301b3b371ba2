// Account security (issue 5, item 5): login throttling with Retry-After (per
// account and per address), tokens hashed at rest, logout / password change /
// expiry ending tokens and their sockets, no plaintext password (or token)
// anywhere in the database files or the logs, login timing that does not tell
// unknown accounts from wrong passwords, secure headers and the CORS allowlist.
import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync, existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { closeApp, createApp } from "../src/app";
import { defaultConfig, type Config } from "../src/config";
import { hashToken } from "../src/domain/sessions";
import { createHttpApp } from "../src/http/app";
import { createLogger } from "../src/log";
import { startServer } from "../src/server";
import { manualClock } from "../src/time";
import { call, Client, group, makeApp, serve, tempDir, testConfig, user, type TestApp, sqlAll, sqlGet, cluster } from "./helpers";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

async function app(overrides: Partial<Config> = {}, clock = manualClock()): Promise<TestApp & { clock: typeof clock }> {
  const a = await makeApp(overrides, { clock });
  cleanups.push(() => a.close());
  return Object.assign(a, { clock });
}

/** A real server (sockets), on a manual clock; on the cluster, three nodes (sockets on nodes 2 and 3). */
async function server(overrides: Partial<Config> = {}, clock = manualClock()) {
  const s = await serve(overrides, { clock });
  const sockets: Client[] = [];
  cleanups.push(async () => {
    for (const c of sockets) if (!c.closed) c.close();
    await s.stop();
  });
  return {
    app: s.app,
    clock,
    running: s.running,
    url: s.url,
    /** The periodic sweep of expired sockets, run now on every node (the cluster's sockets are on nodes 2 and 3). */
    sweep() {
      for (const { app } of (s as { nodes?: { app: typeof s.app }[] }).nodes ?? [s]) app.hub.closeExpired(clock());
    },
    async socket(token: string, uid: number, url = s.wsUrl) {
      const c = await Client.open(url);
      sockets.push(c);
      const r = await c.request("Login", { content: token, uid });
      if (r.content !== "Ok") throw new Error("login failed: " + JSON.stringify(r));
      return c;
    },
    post(path: string, body: unknown, token?: string) {
      return fetch(`${s.url}${path}`, {
        method: "POST",
        headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify(body),
      }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));
    },
  };
}

const loginCall = (a: TestApp, account: string, password: string, ip = "10.0.0.1") => call(a, "POST", "/api/user/login", { body: { account, password }, ip });

// ---------------------------------------------------------------- throttling

describe("login throttling", () => {
  test("per account: after the limit every attempt is 429 with Retry-After, the right password too, from any address; the window ends it", async () => {
    const a = await app({ loginMaxPerAccount: 3, loginMaxPerIp: 1000, loginWindowMinutes: 15 });
    await user(a, "victim", "correct-horse");
    for (let i = 0; i < 3; i++) expect((await loginCall(a, "victim", `guess${i}`, `10.0.0.${i}`)).status).toBe(401);
    for (const [password, ip] of [["guess9", "10.9.9.9"], ["correct-horse", "10.0.0.1"], ["correct-horse", "192.168.1.1"]] as const) {
      const r = await loginCall(a, "victim", password, ip);
      expect(r.status).toBe(429);
      expect(r.body).toMatchObject({ ok: false, code: 429, data: null });
      expect(r.headers.get("Retry-After")).toBe("900");
    }
    a.clock.advance(10 * 60_000);
    expect((await loginCall(a, "victim", "correct-horse")).headers.get("Retry-After")).toBe("300");
    a.clock.advance(5 * 60_000 + 1);
    expect((await loginCall(a, "victim", "correct-horse")).status).toBe(200);
    // An account that does not exist is throttled exactly alike (no hint that it is unknown).
    for (let i = 0; i < 3; i++) expect((await loginCall(a, "ghost", `guess${i}`)).status).toBe(401);
    expect((await loginCall(a, "ghost", "guess")).status).toBe(429);
  });

  test("per address: after the limit every account is refused from that address, with Retry-After; other addresses are not", async () => {
    const a = await app({ loginMaxPerAccount: 1000, loginMaxPerIp: 5, loginWindowMinutes: 1 });
    await user(a, "alice_ip", "alice-password");
    for (let i = 0; i < 5; i++) expect((await loginCall(a, `sprayed${i}`, "123456", "203.0.113.7")).status).toBe(401);
    const refused = await loginCall(a, "alice_ip", "alice-password", "203.0.113.7");
    expect(refused.status).toBe(429);
    expect(refused.headers.get("Retry-After")).toBe("60");
    expect((await loginCall(a, "alice_ip", "alice-password", "203.0.113.8")).status).toBe(200);
    a.clock.advance(60_001);
    expect((await loginCall(a, "alice_ip", "alice-password", "203.0.113.7")).status).toBe(200);
  });

  test("parallel guesses cannot outrun the throttle", async () => {
    const a = await app({ loginMaxPerAccount: 5, loginMaxPerIp: 1000 });
    await user(a, "rushed", "the-password");
    const statuses = await Promise.all(Array.from({ length: 40 }, (_, i) => loginCall(a, "rushed", `guess${i}`).then((r) => r.status)));
    expect(statuses.filter((s) => s === 401).length).toBe(5);
    expect(statuses.filter((s) => s === 429).length).toBe(35);
  });

  test("a wrong old password on /api/user/password counts as a guess: a stolen token cannot brute-force the password", async () => {
    const a = await app({ loginMaxPerAccount: 3, loginMaxPerIp: 1000 });
    const u = await user(a, "stolen", "real-password");
    const change = (oldPassword: string) => call(a, "POST", "/api/user/password", { token: u.token, body: { oldPassword, newPassword: "attacker-pass" } });
    for (let i = 0; i < 3; i++) {
      const r = await change(`guess${i}`);
      expect(r.status).toBe(403); // not 401: the token itself is fine, clients must not log out
      expect(r.body.msg).toContain("oldPassword");
    }
    const limited = await change("real-password");
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("Retry-After"))).toBeGreaterThan(0);
    // Logins are throttled by the same count, and the password did not change.
    expect((await loginCall(a, "stolen", "real-password")).status).toBe(429);
    a.clock.advance(15 * 60_000 + 1);
    expect((await loginCall(a, "stolen", "real-password")).status).toBe(200);
  });
});

// ---------------------------------------------------------------- tokens

describe("tokens", () => {
  test("are random, one per login, and stored only as their SHA-256", async () => {
    const a = await app();
    await user(a, "hashed_user", "password1");
    const tokens = [await loginCall(a, "hashed_user", "password1"), await loginCall(a, "hashed_user", "password1")].map((r) => r.body.data as string);
    expect(tokens[0]).not.toBe(tokens[1]);
    for (const t of tokens) expect(t.length).toBeGreaterThanOrEqual(32);
    const rows = await sqlAll(a, "SELECT * FROM sessions") as Record<string, unknown>[];
    const stored = rows.map((r) => r.token_hash);
    for (const t of tokens) {
      expect(stored).toContain(hashToken(t));
      for (const r of rows) for (const v of Object.values(r)) expect(String(v)).not.toContain(t);
    }
  });

  test("REST logout revokes that token only and closes exactly its sockets (4001)", async () => {
    const s = await server();
    const u = await user(s.app, "leaver", "password1");
    const other = (await s.post("/api/user/login", { account: "leaver", password: "password1" })).body.data as string;
    const a1 = await s.socket(u.token, u.uid);
    const a2 = await s.socket(u.token, u.uid);
    const b = await s.socket(other, u.uid);
    expect((await s.post("/api/user/logout", {}, u.token)).status).toBe(200);
    expect((await a1.waitClose()).code).toBe(4001);
    expect((await a2.waitClose()).code).toBe(4001);
    expect((await s.post("/api/user/logout", {}, u.token)).status).toBe(401);
    // The revoked token cannot log a socket in either.
    const again = await Client.open(`ws://127.0.0.1:${s.running.server.port}/ws`);
    expect((await again.request("Login", { content: u.token, uid: u.uid })).code).toBe(401);
    again.close();
    // The other device goes on.
    expect(b.closed).toBeNull();
    expect(await b.request("Heart")).toMatchObject({ content: "Ok" });
    expect((await s.post("/api/message/chat/list", { page: 1, size: 5 }, other)).status).toBe(200);
  });

  test("a password change revokes every other token and closes their sockets; the caller's stays", async () => {
    const s = await server();
    const u = await user(s.app, "changer", "old-password");
    const peer = await user(s.app, "changer_peer", "password1");
    const gid = await group(s.app, peer, [u]);
    const login = async () => (await s.post("/api/user/login", { account: "changer", password: "old-password" })).body.data as string;
    const [t2, t3] = [await login(), await login()];
    const mine = await s.socket(u.token, u.uid);
    const s2 = await s.socket(t2, u.uid);
    const s3 = await s.socket(t3, u.uid);

    // A wrong old password changes nothing.
    expect((await s.post("/api/user/password", { oldPassword: "nope-nope", newPassword: "new-password" }, u.token)).status).toBe(403);
    expect(s2.closed).toBeNull();
    expect((await s.post("/api/message/chat/list", { page: 1, size: 5 }, t2)).status).toBe(200);

    expect((await s.post("/api/user/password", { oldPassword: "old-password", newPassword: "new-password" }, u.token)).status).toBe(200);
    expect((await s2.waitClose()).code).toBe(4001);
    expect((await s3.waitClose()).code).toBe(4001);
    for (const t of [t2, t3]) expect((await s.post("/api/message/chat/list", { page: 1, size: 5 }, t)).status).toBe(401);
    expect((await s.post("/api/user/login", { account: "changer", password: "old-password" })).status).toBe(401);
    expect((await s.post("/api/user/login", { account: "changer", password: "new-password" })).status).toBe(200);
    // The caller's own socket and token go on, and still get pushes.
    const peerSock = await s.socket(peer.token, peer.uid);
    const sent = await peerSock.request("Msg", { gid, content: "still there?" });
    expect((await mine.next((f) => f.event === "Msg")).body.msgId).toBe(sent.serverMsgId);
    expect((await s.post("/api/message/chat/list", { page: 1, size: 5 }, u.token)).status).toBe(200);
  });

  test("a socket outliving its token's expiry is closed (4001): on its next frame (which gets 401), or by the sweep if it only listens", async () => {
    const s = await server({ tokenTtlDays: 1 });
    const u = await user(s.app, "expiring", "password1");
    // The peer logs in a minute later, so its token outlives u's by that minute.
    s.clock.advance(60_000);
    const peer = await user(s.app, "expiring_peer", "password1");
    const gid = await group(s.app, peer, [u]);
    const talker = await s.socket(u.token, u.uid);
    const listener = await s.socket(u.token, u.uid);
    const peerSock = await s.socket(peer.token, peer.uid);
    s.clock.advance(86_400_000 - 60_000 - 1);
    expect((await talker.request("Heart")).content).toBe("Ok"); // a millisecond before: fine
    s.clock.advance(1);
    const r = await talker.request("Msg", { gid, content: "after expiry" });
    expect(r).toMatchObject({ content: "Error", code: 401, serverMsgId: null });
    expect((await talker.waitClose()).code).toBe(4001);
    expect(await sqlGet(s.app, "SELECT count(*) AS n FROM messages")).toEqual({ n: 0 });
    // The listener sends nothing; the periodic sweep closes it, and not the peer's.
    s.sweep();
    expect((await listener.waitClose()).code).toBe(4001);
    expect((await peerSock.request("Heart")).content).toBe("Ok");
    expect(peerSock.closed).toBeNull();
  });
});

// ---------------------------------------------------------------- what is on disk and in the logs

// Skipped on the cluster (RIM_TEST_BACKEND=cluster): it reads SQLite's own files (the database, its WAL and shm).
describe.skipIf(cluster)("no plaintext password anywhere", () => {
  test("not in the database file, its WAL or its shm, nor in the logs; tokens neither", async () => {
    const tmp = tempDir("rim-plain-");
    cleanups.push(() => tmp.cleanup());
    const file = join(tmp.dir, "rim.db");
    const lines: string[] = [];
    const a = createApp(testConfig({ db: file, sync: "full" }), { log: createLogger({ level: "debug", format: "json", write: (l) => lines.push(l) }) });
    const http = createHttpApp(a);
    const req = (path: string, body: unknown, token?: string) =>
      Promise.resolve(http.request(path, { method: "POST", headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) }, { ip: "127.0.0.1" })).then((r) => r.json() as Promise<any>);
    const secrets = ["Zebra-Quokka-7741!unique", "Narwhal-Okapi-5520?unique", "Axolotl-Tapir-3318#unique"];
    const tokens: string[] = [];
    for (let i = 0; i < 3; i++) {
      expect((await req("/api/user/create", { account: `plain${i}`, password: secrets[0], name: `Plain ${i}` })).ok).toBe(true);
      tokens.push((await req("/api/user/login", { account: `plain${i}`, password: secrets[0] })).data);
    }
    // A password change (the new one), and failed logins with yet another one.
    expect((await req("/api/user/password", { oldPassword: secrets[0], newPassword: secrets[1] }, tokens[0])).ok).toBe(true);
    for (let i = 0; i < 3; i++) expect((await req("/api/user/login", { account: "plain1", password: secrets[2] })).ok).toBe(false);
    tokens.push((await req("/api/user/login", { account: "plain0", password: secrets[1] })).data);

    const hashes = await sqlAll(a, "SELECT password_hash AS h FROM users") as { h: string }[];
    for (const { h } of hashes) expect(h).toStartWith("$argon2id$");

    const files = [file, file + "-wal", file + "-shm"];
    expect(statSync(file + "-wal").size).toBeGreaterThan(0); // the WAL really holds the recent writes
    const forms = (s: string) => [Buffer.from(s, "utf8"), Buffer.from(s, "utf16le"), Buffer.from(s, "utf16le").swap16(), Buffer.from(Buffer.from(s).toString("base64")), Buffer.from(Buffer.from(s).toString("hex"))];
    const scan = (label: string) => {
      for (const f of files) {
        if (!existsSync(f)) continue;
        const bytes = readFileSync(f);
        for (const secret of [...secrets, ...tokens]) for (const form of forms(secret)) expect({ label, file: f, found: bytes.includes(form) }).toEqual({ label, file: f, found: false });
      }
    };
    scan("while open");
    closeApp(a); // checkpoints the WAL into the main file
    scan("after close");
    for (const line of lines) for (const secret of [...secrets, ...tokens]) expect(line.includes(secret)).toBe(false);
    expect(lines.length).toBeGreaterThan(0);
  });
});

// ---------------------------------------------------------------- timing

describe("login timing", () => {
  test("unknown account and wrong password take the same time (medians within 10%), at the production argon2 cost", async () => {
    // The production argon2 cost (the config's defaults), not the cheap one of the other tests.
    const { argon2Memory, argon2Time } = defaultConfig();
    const a = await app({ argon2Memory, argon2Time, loginMaxPerAccount: 1_000_000, loginMaxPerIp: 1_000_000 });
    await user(a, "timed_user", "the-real-password");
    const measure = async (account: string) => {
      const t = performance.now();
      const r = await loginCall(a, account, "a-wrong-password");
      const ms = performance.now() - t;
      expect(r.status).toBe(401);
      return { ms, body: JSON.stringify(r.body) };
    };
    // Warm up both paths (the unknown-account path computes its dummy hash once).
    const w1 = await measure("nobody_here");
    const w2 = await measure("timed_user");
    expect(w1.body).toBe(w2.body); // the same reply
    const median = (xs: number[]) => {
      const s = [...xs].sort((x, y) => x - y);
      return (s[(s.length - 1) >> 1]! + s[s.length >> 1]!) / 2;
    };
    // Only ratios of durations are compared, never a duration against a constant. Each sample is a pair
    // measured back to back (alternating which goes first), so a change in machine load hits both alike;
    // the verdict is the median of the pairs' ratios, and a noisy attempt is measured again.
    const SAMPLES = 21;
    let off = Infinity;
    const tries: string[] = [];
    for (let attempt = 1; attempt <= 5 && off > 1.1; attempt++) {
      const unknown: number[] = [];
      const wrong: number[] = [];
      for (let i = 0; i < SAMPLES; i++) {
        if (i % 2) {
          unknown.push((await measure(`nobody_${i}`)).ms);
          wrong.push((await measure("timed_user")).ms);
        } else {
          wrong.push((await measure("timed_user")).ms);
          unknown.push((await measure(`nobody_${i}`)).ms);
        }
      }
      const paired = median(unknown.map((u, i) => u / wrong[i]!));
      off = Math.max(paired, 1 / paired);
      const byMedians = median(unknown) / median(wrong);
      tries.push(`attempt ${attempt}: medians unknown ${median(unknown).toFixed(1)} ms / wrong password ${median(wrong).toFixed(1)} ms = ${byMedians.toFixed(3)}, median paired ratio ${paired.toFixed(3)}`);
    }
    console.log(`login timing (${SAMPLES} pairs per attempt): ${tries.join("; ")}`);
    expect(off).toBeLessThanOrEqual(1.1);
  }, 120_000);
});

// ---------------------------------------------------------------- headers

const SECURE = {
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "content-security-policy": expect.stringContaining("frame-ancestors 'none'"),
  "referrer-policy": "no-referrer",
  // Plain HTTP: no HSTS (tests/http.headers.test.ts has when it is sent).
  "strict-transport-security": null,
  "cross-origin-opener-policy": "same-origin",
  "x-permitted-cross-domain-policies": "none",
  "x-xss-protection": "0",
};
const pick = (h: Headers) => Object.fromEntries(Object.keys(SECURE).map((k) => [k, h.get(k)]));

describe("secure headers", () => {
  test("on every kind of reply: success, errors of every kind, text, health, docs, unknown routes", async () => {
    const a = await app({ bodyLimit: 1024, loginMaxPerAccount: 1 });
    const u = await user(a, "headers_user", "password1");
    await loginCall(a, "nobody", "x");
    const replies = [
      await call(a, "GET", "/"),
      await call(a, "GET", "/health"),
      await call(a, "GET", "/docs"),
      await call(a, "GET", "/api/openapi.json"),
      await call(a, "GET", `/api/user/get?uid=${u.uid}`, { token: u.token }),
      await call(a, "GET", `/api/user/get?uid=${u.uid}`), // 401
      await call(a, "GET", "/api/group/user/get?gid=999", { token: u.token }), // 404
      await call(a, "POST", "/api/group/update", { token: u.token, body: {} }), // 400
      await call(a, "POST", "/api/user/create", { raw: JSON.stringify({ account: "x".repeat(2000) }) }), // 413
      await loginCall(a, "nobody", "x"), // 429
      await call(a, "GET", "/no/such/route"), // 404
      await call(a, "GET", "/app/"), // the web client
      await call(a, "GET", "/app/c/1"),
      await call(a, "GET", "/no-such-chunk.js"), // 404
    ];
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 401, 404, 400, 413, 429, 404, 200, 200, 404]);
    for (const r of replies) expect(pick(r.headers)).toEqual(SECURE);
  });
});

describe("CORS", () => {
  const preflight = (a: TestApp, origin: string) =>
    a.http.request("/api/user/login", { method: "OPTIONS", headers: { Origin: origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type" } });
  const simple = (a: TestApp, origin: string) => call(a, "POST", "/api/user/login", { body: { account: "x", password: "y" }, headers: { Origin: origin } });

  test("default: no origin is allowed (no Access-Control-Allow-Origin at all)", async () => {
    const a = await app();
    for (const origin of ["https://evil.example", "http://127.0.0.1:8000"]) {
      expect((await preflight(a, origin)).headers.get("access-control-allow-origin")).toBeNull();
      expect((await simple(a, origin)).headers.get("access-control-allow-origin")).toBeNull();
    }
  });

  test("--cors-origins: only the listed origins get CORS headers; never credentials", async () => {
    const a = await app({ corsOrigins: "https://chat.example.com, http://localhost:5173" });
    for (const origin of ["https://chat.example.com", "http://localhost:5173"]) {
      const p = await preflight(a, origin);
      expect(p.status).toBe(204);
      expect(p.headers.get("access-control-allow-origin")).toBe(origin);
      expect(p.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("authorization");
      expect(p.headers.get("access-control-allow-credentials")).toBeNull();
      expect((await simple(a, origin)).headers.get("access-control-allow-origin")).toBe(origin);
    }
    for (const origin of ["https://evil.example", "https://chat.example.com.evil.example", "http://chat.example.com", "null"]) {
      expect((await preflight(a, origin)).headers.get("access-control-allow-origin")).toBeNull();
      expect((await simple(a, origin)).headers.get("access-control-allow-origin")).toBeNull();
    }
  });

  test("--cors-origins '*': any origin, still without credentials", async () => {
    const a = await app({ corsOrigins: "*" });
    const p = await preflight(a, "https://anywhere.example");
    expect(p.headers.get("access-control-allow-origin")).toBe("*");
    expect(p.headers.get("access-control-allow-credentials")).toBeNull();
  });
});
