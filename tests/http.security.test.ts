// Who may call what: tokens (missing, garbage, expired, revoked), forged uids,
// membership and roles on every group route, the login throttle, and what the
// database keeps of passwords and tokens.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { requestFriend, sqlAll, cluster } from "./helpers";
import { sendMessage } from "./helpers";
import { manualClock } from "../src/time";
import { call, fixture, group, makeApp, user, type TestApp, type TestUser } from "./helpers";
import { fails, ok } from "./http.expect";

type Method = "GET" | "POST";
type Route = { method: Method; path: string; body?: unknown };

let app: TestApp;
let clock: ReturnType<typeof manualClock>;
let owner: TestUser, second: TestUser, outsider: TestUser, third: TestUser;
let gid: number;
beforeEach(async () => {
  clock = manualClock();
  app = await makeApp({}, { clock });
  owner = await user(app, "s_owner");
  second = await user(app, "s_second");
  outsider = await user(app, "s_outsider");
  third = await user(app, "s_third");
  gid = await group(app, owner, [second, third]);
  await sendMessage(fixture(app), second.uid, { gid, kind: "Text", content: "hello", clientMsgId: "sec-1" });
  await requestFriend(fixture(app), outsider.uid, owner.uid); // so the owner has a request to answer
});
afterEach(() => app.close());

const DAY = 86_400_000;

/** Every route behind a token, with a body that would succeed for the owner. */
const authedRoutes = (): Route[] => [
  { method: "POST", path: "/api/user/logout" },
  { method: "GET", path: `/api/user/get?uid=${owner.uid}` },
  { method: "GET", path: `/api/user/token?token=${owner.token}` },
  { method: "GET", path: "/api/user/search?account=s_owner" },
  { method: "POST", path: "/api/group/create", body: { group: { name: "n", avatar: "", mode: 2 }, users: [] } },
  { method: "POST", path: "/api/group/update", body: { id: gid, name: "n", avatar: "" } },
  { method: "GET", path: `/api/group/get?uid=${owner.uid}` },
  { method: "GET", path: `/api/group/user/get?gid=${gid}` },
  { method: "POST", path: "/api/group/user/change", body: { gid, uids: [outsider.uid], opType: 1 } },
  { method: "POST", path: "/api/message/chat/list", body: { uid: owner.uid, page: 1, size: 10 } },
  { method: "POST", path: "/api/message/history", body: { gid, uid: owner.uid, page: 1, size: 10 } },
  { method: "POST", path: "/api/message/group/read", body: { gid, uid: owner.uid } },
  { method: "POST", path: "/api/friend/add", body: { fid: outsider.uid } },
  { method: "GET", path: "/api/friend/list?status=0" },
  { method: "POST", path: "/api/friend/status/modify", body: { fid: outsider.uid, status: 1 } },
];
const ROUTE_NAMES = [
  "user/logout", "user/get", "user/token", "user/search", "group/create", "group/update", "group/get", "group/user/get",
  "group/user/change", "message/chat/list", "message/history", "message/group/read", "friend/add", "friend/list", "friend/status/modify",
];
const routeAt = (i: number) => authedRoutes()[i]!;
const hit = (r: Route, opts: { token?: string; headers?: Record<string, string> }) => call(app, r.method, r.path, { body: r.body, ...opts });

describe("a token is required on every route but login and create", () => {
  const BAD: [string, { token?: string; headers?: Record<string, string> }][] = [
    ["no Authorization header", {}],
    ["a garbage token", { token: "garbage-token-garbage-token-xx" }],
    ["an empty bearer", { headers: { Authorization: "Bearer " } }],
    ["a Basic header", { headers: { Authorization: "Basic czpzZWNyZXQ=" } }],
    ["the token without Bearer", { headers: { Authorization: "TOKEN" } }],
    ["an oversize token", { token: "x".repeat(5000) }],
  ];
  for (const [label, opts] of BAD) {
    test.each(ROUTE_NAMES.map((n, i) => [n, i] as const))(`${label}: %s → 401`, async (_n, i) => {
      const o = { ...opts, headers: opts.headers && { Authorization: opts.headers.Authorization!.replace("TOKEN", owner.token) } };
      fails(await hit(routeAt(i), o), 401, "login required");
    });
  }

  test.each(ROUTE_NAMES.map((n, i) => [n, i] as const))("the owner's valid token: %s → 200", async (_n, i) => {
    ok(await hit(routeAt(i), { token: owner.token }));
  });

  test.each(ROUTE_NAMES.map((n, i) => [n, i] as const))("an expired token: %s → 401", async (_n, i) => {
    const r = routeAt(i);
    clock.advance(30 * DAY - 60_000);
    expect((await hit({ method: "GET", path: `/api/user/get?uid=${owner.uid}` }, { token: owner.token })).status).toBe(200);
    clock.advance(60_000 + 1);
    fails(await hit(r, { token: owner.token }), 401, "login required");
  });

  test.each(ROUTE_NAMES.map((n, i) => [n, i] as const))("a revoked token (logout): %s → 401", async (_n, i) => {
    ok(await call(app, "POST", "/api/user/logout", { token: owner.token }));
    fails(await hit(routeAt(i), { token: owner.token }), 401, "login required");
    // the user's other devices are untouched
    ok(await call(app, "GET", `/api/user/get?uid=${second.uid}`, { token: second.token }));
  });

  test("the expiry follows tokenTtlDays", async () => {
    const c2 = manualClock();
    const short = await makeApp({ tokenTtlDays: 2 }, { clock: c2 });
    try {
      const u = await user(short, "s_short");
      const me = () => call(short, "GET", `/api/user/get?uid=${u.uid}`, { token: u.token });
      c2.advance(2 * DAY - 1);
      ok(await me());
      c2.advance(1);
      fails(await me(), 401, "login required");
      // a new login is valid again
      const fresh = ok<string>(await call(short, "POST", "/api/user/login", { body: { account: "s_short", password: "password1" } }));
      ok(await call(short, "GET", `/api/user/get?uid=${u.uid}`, { token: fresh }));
    } finally {
      short.close();
    }
  });
});

describe("membership and roles on every group route", () => {
  // [route, owner, second user (a common member), non-member]
  const CASES: [string, (gid: number) => Route, number, number, number][] = [
    ["group/user/get", (g) => ({ method: "GET", path: `/api/group/user/get?gid=${g}` }), 200, 200, 403],
    ["message/history", (g) => ({ method: "POST", path: "/api/message/history", body: { gid: g, page: 1, size: 10 } }), 200, 200, 403],
    ["message/group/read", (g) => ({ method: "POST", path: "/api/message/group/read", body: { gid: g } }), 200, 200, 403],
    ["group/update", (g) => ({ method: "POST", path: "/api/group/update", body: { id: g, name: "mine now", avatar: "" } }), 200, 403, 403],
    ["group/user/change add", (g) => ({ method: "POST", path: "/api/group/user/change", body: { gid: g, uids: [3], opType: 1 } }), 200, 403, 403],
    ["group/user/change remove another", (g) => ({ method: "POST", path: "/api/group/user/change", body: { gid: g, uids: [4], opType: 2 } }), 200, 403, 403],
  ];
  const WHO = ["owner", "second", "outsider"] as const;
  const rows = CASES.flatMap(([name, route, ...statuses]) => WHO.map((w, i) => [name, w, statuses[i]!, route] as const));

  test.each(rows)("%s as %s → %d", async (_name, who, status, route) => {
    expect([owner.uid, second.uid, outsider.uid, third.uid]).toEqual([1, 2, 3, 4]); // the uids the routes name
    const caller = { owner, second, outsider }[who];
    const r = await hit(route(gid), { token: caller.token });
    if (status === 200) ok(r);
    else fails(r, 403, who === "outsider" ? "not a member" : "admins");
    // nothing leaks to a refused caller, and nothing changed
    if (status !== 200) {
      expect(JSON.stringify(r.body)).not.toContain("hello");
      const members = ok<any[]>(await call(app, "GET", `/api/group/user/get?gid=${gid}`, { token: owner.token }));
      expect(members.map((m) => m.user.id)).toEqual([owner.uid, second.uid, third.uid]);
      expect(ok<any[]>(await call(app, "GET", "/api/group/get", { token: owner.token }))[0].name).toBe("team");
    }
  });

  test.each(CASES.map(([name, route]) => [name, route] as const))("%s on an absent group → 404", async (_name, route) => {
    fails(await hit(route(999_999), { token: owner.token }), 404, "group not found");
  });

  test("a non-member sees none of the group in their own lists", async () => {
    expect(ok<any[]>(await call(app, "GET", "/api/group/get", { token: outsider.token }))).toEqual([]);
    expect(ok<any[]>(await call(app, "POST", "/api/message/chat/list", { token: outsider.token, body: {} }))).toEqual([]);
  });
});

describe("a uid or creatorUid naming someone else is refused", () => {
  const CASES: [string, () => Route, number, string | null][] = [
    ["group/get?uid", () => ({ method: "GET", path: `/api/group/get?uid=${owner.uid}` }), 403, "uid"],
    ["group/create creatorUid", () => ({ method: "POST", path: "/api/group/create", body: { group: { name: "x", mode: 2, creatorUid: owner.uid }, users: [] } }), 403, "uid"],
    ["chat/list uid", () => ({ method: "POST", path: "/api/message/chat/list", body: { uid: owner.uid, page: 1, size: 10 } }), 403, "uid"],
    ["group/read uid", () => ({ method: "POST", path: "/api/message/group/read", body: { gid, uid: owner.uid } }), 403, "uid"],
    ["friend/add uid", () => ({ method: "POST", path: "/api/friend/add", body: { fid: outsider.uid, uid: owner.uid } }), 403, "uid"],
    ["friend/status/modify uid", () => ({ method: "POST", path: "/api/friend/status/modify", body: { fid: outsider.uid, status: 1, uid: owner.uid } }), 403, "uid"],
    ["history uid (accepted and ignored)", () => ({ method: "POST", path: "/api/message/history", body: { gid, uid: owner.uid, page: 1, size: 10 } }), 200, null],
  ];
  test.each(CASES.map(([name, route, status, msg]) => [name, status, route, msg] as const))("%s → %d", async (_name, status, route, msg) => {
    const r = await hit(route(), { token: second.token });
    if (status === 200) expect(ok<any[]>(r).map((e) => e.msg.content)).toEqual(["hello"]);
    else fails(r, status, msg!);
  });

  test("a forged uid changes nobody's state", async () => {
    await hit({ method: "POST", path: "/api/message/group/read", body: { gid, uid: owner.uid } }, { token: second.token });
    const list = ok<any[]>(await call(app, "POST", "/api/message/chat/list", { token: owner.token, body: {} }));
    expect(list[0].unread).toBe(1);
    await hit({ method: "POST", path: "/api/friend/add", body: { fid: outsider.uid, uid: owner.uid } }, { token: second.token });
    expect(ok<any[]>(await call(app, "GET", "/api/friend/list?status=0&dir=in", { token: outsider.token }))).toEqual([]);
  });
});

describe("login throttle", () => {
  const login = (account: string, password: string, ip = "10.0.0.1") =>
    call(app, "POST", "/api/user/login", { body: { account, password }, ip });

  test("more than 10 failures for an account → 429 with Retry-After, even with the right password, from any address", async () => {
    for (let i = 1; i <= 10; i++) fails(await login("s_owner", `wrong${i}`, `10.0.1.${i}`), 401, "wrong account or password");
    const blocked = await login("s_owner", "wrong11");
    fails(blocked, 429, "too many failed logins");
    expect(blocked.headers.get("Retry-After")).toBe("900");
    fails(await login("s_owner", "password1", "10.9.9.9"), 429, "too many");
    clock.advance(5 * 60_000);
    expect((await login("s_owner", "password1")).headers.get("Retry-After")).toBe("600");
    // other accounts are not affected
    expect(typeof ok(await login("s_second", "password1"))).toBe("string");
    // the window ends
    clock.advance(10 * 60_000);
    expect(typeof ok(await login("s_owner", "password1"))).toBe("string");
  });

  test("an unknown account is throttled alike", async () => {
    for (let i = 1; i <= 10; i++) fails(await login("no_such_acct", "x"), 401, "wrong account or password");
    fails(await login("no_such_acct", "x"), 429, "too many");
  });

  test("a success forgives the account's earlier failures", async () => {
    for (let i = 0; i < 9; i++) fails(await login("s_owner", "wrong"), 401, "wrong");
    ok(await login("s_owner", "password1"));
    for (let i = 0; i < 10; i++) fails(await login("s_owner", "wrong"), 401, "wrong");
    fails(await login("s_owner", "wrong"), 429, "too many");
  });

  test("parallel guesses cannot slip past the limit", async () => {
    const replies = await Promise.all(Array.from({ length: 30 }, (_, i) => login("s_owner", `guess${i}`, `10.0.2.${i}`)));
    const statuses = replies.map((r) => r.status);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(10);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(20);
    expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);
  });

  test("more than loginMaxPerIp failures from one address → 429 for every account from it", async () => {
    const c2 = manualClock();
    const small = await makeApp({ loginMaxPerIp: 5 }, { clock: c2 });
    try {
      await user(small, "ip_victim");
      const l = (account: string, password: string, ip: string) => call(small, "POST", "/api/user/login", { body: { account, password }, ip });
      for (let i = 0; i < 5; i++) fails(await l(`spray${i}`, "x", "192.0.2.7"), 401, "wrong account or password");
      const r = await l("ip_victim", "password1", "192.0.2.7");
      fails(r, 429, "too many");
      expect(Number(r.headers.get("Retry-After"))).toBeGreaterThan(0);
      // another address is fine
      expect(typeof ok(await l("ip_victim", "password1", "192.0.2.8"))).toBe("string");
      c2.advance(15 * 60_000);
      expect(typeof ok(await l("ip_victim", "password1", "192.0.2.7"))).toBe("string");
    } finally {
      small.close();
    }
  });

  test("defaults: 10 per account, 100 per address, 15 minutes", () => {
    expect([app.config.loginMaxPerAccount, app.config.loginMaxPerIp, app.config.loginWindowMinutes]).toEqual([10, 100, 15]);
  });
});

describe("what is stored", () => {
  const SECRET = "Plaintext-Secret-42!";
  // Every table of the engine's catalogue, shadow and migration tables included.
  const TABLES = cluster
    ? "SELECT table_schema || '\".\"' || table_name AS name FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')"
    : "SELECT name FROM sqlite_master WHERE type = 'table'";
  const allRows = async () => {
    const tables = await sqlAll<{ name: string }>(app, TABLES);
    expect(tables.map((t) => t.name.replace(/^public"\."/, ""))).toEqual(expect.arrayContaining(["users", "sessions", "groups", "group_members", "messages", "friend_requests"]));
    return Promise.all(tables.map(async (t) => ({ table: t.name, rows: await sqlAll(app, `SELECT * FROM "${t.name}"`) })));
  };

  test("the plaintext password is in no table and no reply; the hash is argon2id", async () => {
    const created = await call(app, "POST", "/api/user/create", { body: { account: "s_secret", password: SECRET, name: "S", email: "s@example.com" } });
    const uid = ok<number>(created);
    const token = ok<string>(await call(app, "POST", "/api/user/login", { body: { account: "s_secret", password: SECRET } }));
    fails(await call(app, "POST", "/api/user/login", { body: { account: "s_secret", password: SECRET + "x" } }), 401, "wrong");
    ok(await call(app, "POST", "/api/friend/add", { token, body: { fid: owner.uid } }));
    const g = ok<number>(await call(app, "POST", "/api/group/create", { token, body: { group: { name: "g", mode: 2 }, users: [{ uid: owner.uid }] } }));
    const replies = [
      created,
      await call(app, "GET", `/api/user/get?uid=${uid}`, { token }),
      await call(app, "GET", `/api/user/token?token=${token}`, { token }),
      await call(app, "GET", "/api/user/search?account=s_secret", { token }),
      await call(app, "GET", `/api/group/user/get?gid=${g}`, { token }),
      await call(app, "GET", "/api/friend/list?status=0&dir=in", { token: owner.token }),
    ];
    for (const r of replies) {
      ok(r);
      expect(JSON.stringify(r.body)).not.toContain(SECRET);
      expect(JSON.stringify(r.body)).not.toMatch(/password|argon2|\$argon/i);
    }
    const dump = JSON.stringify(await allRows());
    expect(dump).toContain("s_secret"); // the scan does see the user's row
    expect(dump).not.toContain(SECRET);
    const hashes = await sqlAll(app, "SELECT account, password_hash FROM users");
    expect(hashes.length).toBe(5);
    for (const h of hashes) expect(h.password_hash).toStartWith("$argon2id$");
  });

  test("tokens are stored only as a hash", async () => {
    const token = ok<string>(await call(app, "POST", "/api/user/login", { body: { account: "s_second", password: "password1" } }));
    const sessions = await sqlAll(app, "SELECT * FROM sessions");
    expect(sessions.length).toBe(5); // one per login: four by the fixtures, one here
    for (const s of sessions) {
      expect(s.token_hash).not.toBe(token);
      expect(s.token_hash).toMatch(/^[0-9a-f]{64}$/);
      expect(s.expires_at - s.created_at).toBe(30 * DAY);
    }
    const dump = JSON.stringify(await allRows());
    for (const t of [token, owner.token, second.token, outsider.token, third.token]) expect(dump).not.toContain(t);
  });
});
