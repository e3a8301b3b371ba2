// /api/user/*: create, login, logout, get, token, search.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { call, makeApp, user, type TestApp, type TestUser } from "./helpers";
import { expectUser, fails, ok } from "./http.expect";

let app: TestApp;
let a: TestUser;
let b: TestUser;
beforeAll(async () => {
  app = await makeApp();
  a = await user(app, "users_alice");
  b = await user(app, "users_bob");
});
afterAll(() => app.close());

const MAX = Number.MAX_SAFE_INTEGER;
const create = (body: unknown) => call(app, "POST", "/api/user/create", { body });
const login = (body: unknown, ip?: string) => call(app, "POST", "/api/user/login", { body, ip });
let n = 0;
const fresh = () => `new_user_${++n}`;

describe("POST /api/user/create", () => {
  test("returns the new uid; the user reads back with exactly rim's fields", async () => {
    const account = fresh();
    const uid = ok<number>(await create({ name: "Carol", avatar: "http://x/a.png", email: "carol@example.com", account, password: "s3cret-pass" }));
    expect(Number.isInteger(uid)).toBe(true);
    expect(uid).toBeGreaterThan(b.uid);
    // Read back by someone else the email is private (tests/http.privacy.test.ts); its owner sees it.
    const u = ok(await call(app, "GET", `/api/user/get?uid=${uid}`, { token: a.token }));
    expectUser(u, { id: uid, name: "Carol", avatar: "http://x/a.png", email: "", account });
    const token = ok<string>(await call(app, "POST", "/api/user/login", { body: { account, password: "s3cret-pass" } }));
    expect(ok(await call(app, "GET", `/api/user/get?uid=${uid}`, { token }))).toMatchObject({ email: "carol@example.com" });
  });

  test("name, avatar and email may be left out (rim's demo client does); name defaults to the account", async () => {
    const account = fresh();
    const uid = ok<number>(await create({ account, password: "password1" }));
    expectUser(ok(await call(app, "GET", `/api/user/get?uid=${uid}`, { token: a.token })), { id: uid, name: account, avatar: "", email: "", account });
  });

  test("a stale Authorization header is ignored on create and login", async () => {
    const account = fresh();
    const headers = { Authorization: "Bearer stale-garbage" };
    ok(await call(app, "POST", "/api/user/create", { body: { account, password: "password1" }, headers }));
    expect(typeof ok(await call(app, "POST", "/api/user/login", { body: { account, password: "password1" }, headers }))).toBe("string");
  });

  test("a taken account is 409 Account Existed", async () => {
    fails(await create({ account: "users_alice", password: "password1" }), 409, "Account Existed");
    const account = fresh();
    ok(await create({ account, password: "password1" }));
    fails(await create({ account, password: "otherpass" }), 409, "Account Existed");
  });

  test.each([
    ["3 characters", "abc"],
    ["64 characters", "a".repeat(64)],
    ["every allowed symbol", "a_b.c-d@e.f"],
    ["digits and capitals", "ABC123"],
    ["an email address", "someone@example.com"],
  ])("account of %s is accepted", async (_label, account) => {
    expect(ok<number>(await create({ account, password: "password1" }))).toBeGreaterThan(0);
    expect(ok(await call(app, "GET", `/api/user/search?account=${encodeURIComponent(account)}`, { token: a.token }))).toMatchObject({ account });
  });

  const good = { account: "valid_acct", password: "password1" };
  test.each([
    ["missing account", { password: "password1" }, "account"],
    ["missing password", { account: "valid_acct" }, "password"],
    ["account a number", { ...good, account: 12345 }, "account"],
    ["account null", { ...good, account: null }, "account"],
    ["account of 2 characters", { ...good, account: "ab" }, "account"],
    ["account empty", { ...good, account: "" }, "account"],
    ["account of 65 characters", { ...good, account: "a".repeat(65) }, "account"],
    ["account with a space", { ...good, account: "bad name" }, "account"],
    ["account with a slash", { ...good, account: "bad/name" }, "account"],
    ["account with a plus", { ...good, account: "a+b" }, "account"],
    ["account with non-ASCII", { ...good, account: "jürgen" }, "account"],
    ["account with a newline", { ...good, account: "abc\ndef" }, "account"],
    ["password a number", { ...good, password: 12345678 }, "password"],
    ["password of 5 characters", { ...good, password: "12345" }, "password"],
    ["password of 257 characters", { ...good, password: "p".repeat(257) }, "password"],
    ["name a number", { ...good, name: 5 }, "name"],
    ["name of 65 characters", { ...good, name: "n".repeat(65) }, "name"],
    ["avatar of 2049 characters", { ...good, avatar: "a".repeat(2049) }, "avatar"],
    ["avatar an object", { ...good, avatar: {} }, "avatar"],
    ["email not an address", { ...good, email: "not-an-email" }, "email"],
    ["email a number", { ...good, email: 7 }, "email"],
    ["email of 255 characters", { ...good, email: "e".repeat(243) + "@example.com" }, "email"],
  ])("%s is 400", async (_label, body, field) => {
    const r = await create(body);
    fails(r, 400, `${field}: `);
    // Nothing was created.
    expect(ok(await call(app, "GET", "/api/user/search?account=valid_acct", { token: a.token }))).toBeNull();
  });
});

describe("POST /api/user/login", () => {
  test("returns a fresh token per login; each works at once (several devices)", async () => {
    const t1 = ok<string>(await login({ account: "users_bob", password: "password1" }));
    const t2 = ok<string>(await login({ account: "users_bob", password: "password1" }));
    expect(t1).not.toBe(t2);
    for (const t of [t1, t2, b.token]) {
      expect(t).toMatch(/^[A-Za-z0-9_-]{22,}$/); // >= 128 bits of nanoid
      expectUser(ok(await call(app, "GET", `/api/user/token?token=${t}`, { token: t })), { id: b.uid });
    }
  });

  test("unknown account and wrong password fail with the same 401", async () => {
    const unknown = await login({ account: "nobody_here", password: "password1" }, "10.1.0.1");
    const wrong = await login({ account: "users_bob", password: "password2" }, "10.1.0.2");
    fails(unknown, 401, "wrong account or password");
    fails(wrong, 401, "wrong account or password");
    expect(unknown.body).toEqual(wrong.body);
  });

  test.each([
    ["missing account", { password: "password1" }, "account"],
    ["missing password", { account: "users_bob" }, "password"],
    ["account a number", { account: 1, password: "password1" }, "account"],
    ["password an array", { account: "users_bob", password: ["password1"] }, "password"],
    // 80, not 64: an account renamed by the case-insensitivity migration may be longer (tests/accounts.nocase.test.ts).
    ["account of 81 characters", { account: "a".repeat(81), password: "password1" }, "account"],
    ["password of 257 characters", { account: "users_bob", password: "p".repeat(257) }, "password"],
  ])("%s is 400", async (_label, body, field) => {
    fails(await login(body, "10.1.1.1"), 400, `${field}: `);
  });
});

describe("POST /api/user/logout", () => {
  test("revokes only the caller's token", async () => {
    const t1 = ok<string>(await login({ account: "users_alice", password: "password1" }));
    const t2 = ok<string>(await login({ account: "users_alice", password: "password1" }));
    expect(ok(await call(app, "POST", "/api/user/logout", { token: t1 }))).toBe(true);
    fails(await call(app, "GET", `/api/user/get?uid=${a.uid}`, { token: t1 }), 401, "login required");
    fails(await call(app, "POST", "/api/user/logout", { token: t1 }), 401, "login required");
    expectUser(ok(await call(app, "GET", `/api/user/get?uid=${a.uid}`, { token: t2 })), { id: a.uid });
  });
});

describe("GET /api/user/get", () => {
  test("any logged-in user reads any user, never a password", async () => {
    const r = await call(app, "GET", `/api/user/get?uid=${a.uid}`, { token: b.token });
    expectUser(ok(r), { id: a.uid, account: "users_alice", name: "USERS_ALICE", avatar: "", email: "" });
    expect(JSON.stringify(r.body)).not.toMatch(/password|hash|argon/i);
  });

  test.each([
    ["missing", 400, "", "uid: "],
    ["zero", 400, "?uid=0", "uid: "],
    ["negative", 400, "?uid=-1", "uid: "],
    ["fractional", 400, "?uid=1.5", "uid: "],
    ["not a number", 400, "?uid=abc", "uid: "],
    ["empty", 400, "?uid=", "uid: "],
    ["2^53", 400, `?uid=${MAX + 1}`, "uid: "],
    ["1e400", 400, "?uid=1e400", "uid: "],
    ["2^53-1 (valid, absent)", 404, `?uid=${MAX}`, "user not found"],
    ["an absent user", 404, "?uid=999999", "user not found"],
  ])("uid %s → %d", async (_label, status, query, msg) => {
    fails(await call(app, "GET", `/api/user/get${query}`, { token: a.token }), status, msg);
  });
});

describe("GET /api/user/token", () => {
  test("returns the user owning the token", async () => {
    expectUser(ok(await call(app, "GET", `/api/user/token?token=${b.token}`, { token: a.token })), { id: b.uid, account: "users_bob" });
    expectUser(ok(await call(app, "GET", `/api/user/token?token=${a.token}`, { token: a.token })), { id: a.uid });
  });

  test.each([
    ["missing", 400, "", "token: "],
    ["empty", 400, "?token=", "token: "],
    ["oversize", 400, `?token=${"t".repeat(201)}`, "token: "],
    ["unknown", 401, "?token=not-a-real-token", "login required"],
  ])("token %s → %d", async (_label, status, query, msg) => {
    fails(await call(app, "GET", `/api/user/token${query}`, { token: a.token }), status, msg);
  });
});

describe("GET /api/user/search", () => {
  test("finds an exact account with the email blanked", async () => {
    const account = fresh();
    const uid = ok<number>(await create({ account, password: "password1", email: "hidden@example.com", name: "Hidden" }));
    const found = ok(await call(app, "GET", `/api/user/search?account=${account}`, { token: a.token }));
    expectUser(found, { id: uid, account, name: "Hidden", email: "" });
    // and so does user/get, to anyone but its owner
    expect(ok(await call(app, "GET", `/api/user/get?uid=${uid}`, { token: a.token }))).toMatchObject({ email: "" });
  });

  test.each([
    ["unknown account", "?account=nobody_at_all", 200, null],
    ["a prefix only", "?account=users_ali", 200, null],
  ])("%s is data null", async (_label, query, _status, data) => {
    expect(ok(await call(app, "GET", `/api/user/search${query}`, { token: a.token }))).toBe(data);
  });

  test.each([
    ["missing", "", "account: "],
    ["empty", "?account=", "account: "],
    ["81 characters", `?account=${"a".repeat(81)}`, "account: "],
  ])("account %s is 400", async (_label, query, msg) => {
    fails(await call(app, "GET", `/api/user/search${query}`, { token: a.token }), 400, msg);
  });
});
