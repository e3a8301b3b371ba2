// /api/friend/*: add, list, status/modify.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { call, makeApp, user, type TestApp, type TestUser } from "./helpers";
import { expectUser, fails, ok } from "./http.expect";

let app: TestApp;
let a: TestUser, b: TestUser, c: TestUser;
beforeEach(async () => {
  app = await makeApp();
  a = await user(app, "f_alice");
  b = await user(app, "f_bob");
  c = await user(app, "f_carol");
});
afterEach(() => app.close());

const MAX = Number.MAX_SAFE_INTEGER;
const add = (u: TestUser, fid: number) => call(app, "POST", "/api/friend/add", { token: u.token, body: { fid } });
const modify = (u: TestUser, fid: number, status: number) => call(app, "POST", "/api/friend/status/modify", { token: u.token, body: { fid, status } });
const list = async (u: TestUser, query: string) => ok<any[]>(await call(app, "GET", `/api/friend/list?${query}`, { token: u.token }));
const ids = async (u: TestUser, query: string) => (await list(u, query)).map((x) => x.id);

describe("POST /api/friend/add", () => {
  test("makes a pending request: outgoing for the applicant, incoming for the addressee", async () => {
    expect(ok(await add(a, b.uid))).toBe(true);
    const out = await list(a, "status=0");
    expect(out).toHaveLength(1);
    expectUser(out[0], { id: b.uid, account: "f_bob", name: "F_BOB", email: "", avatar: "" });
    expect(await ids(a, "status=0&dir=out")).toEqual([b.uid]);
    expect(await ids(b, "status=0&dir=in")).toEqual([a.uid]);
    expect(await ids(b, "status=0")).toEqual([]);
    expect(await ids(a, "status=0&dir=in")).toEqual([]);
    expect(await ids(a, "status=1")).toEqual([]);
    expect(await ids(b, "status=1")).toEqual([]);
  });

  test("the reverse request confirms the first", async () => {
    ok(await add(a, b.uid));
    expect(ok(await add(b, a.uid))).toBe(true);
    expect(await ids(a, "status=1")).toEqual([b.uid]);
    expect(await ids(b, "status=1")).toEqual([a.uid]);
    expect(await ids(a, "status=0")).toEqual([]);
    expect(await ids(b, "status=0&dir=in")).toEqual([]);
  });

  test.each([
    ["a second request", (x: TestUser, y: TestUser) => add(x, y.uid), 409, "already sent"],
    ["a request once friends", async (x: TestUser, y: TestUser) => (await add(y, x.uid), add(x, y.uid)), 409, "already friends"],
    ["the other side once friends", async (x: TestUser, y: TestUser) => (await add(y, x.uid), add(y, x.uid)), 409, "already friends"],
  ] as const)("%s is 409", async (_label, again, status, msg) => {
    ok(await add(a, b.uid));
    fails(await again(a, b), status, msg);
  });

  test.each([
    ["yourself", 400, () => ({ fid: a.uid }), "fid: "],
    ["an absent user", 404, () => ({ fid: 999999 }), "not found"],
    ["2^53-1 (valid, absent)", 404, () => ({ fid: MAX }), "not found"],
    ["fid missing", 400, () => ({}), "fid: "],
    ["fid 0", 400, () => ({ fid: 0 }), "fid: "],
    ["fid -3", 400, () => ({ fid: -3 }), "fid: "],
    ["fid 2^53", 400, () => ({ fid: MAX + 1 }), "fid: "],
    ["fid a string", 400, () => ({ fid: String(b.uid) }), "fid: "],
    ["fid 1.5", 400, () => ({ fid: 1.5 }), "fid: "],
    ["a forged uid", 403, () => ({ fid: c.uid, uid: b.uid }), "uid"],
  ])("%s → %d", async (_label, status, body, msg) => {
    fails(await call(app, "POST", "/api/friend/add", { token: a.token, body: body() }), status, msg);
    expect(await ids(a, "status=0")).toEqual([]);
    expect(await ids(c, "status=0&dir=in")).toEqual([]);
  });

  test("uid naming the caller is accepted", async () => {
    ok(await call(app, "POST", "/api/friend/add", { token: a.token, body: { fid: b.uid, uid: a.uid } }));
    expect(await ids(a, "status=0")).toEqual([b.uid]);
  });
});

describe("GET /api/friend/list", () => {
  test("status 1 lists friends in both directions, ascending by id; status 2 is always empty", async () => {
    ok(await add(a, c.uid));
    ok(await add(b, a.uid));
    ok(await modify(c, a.uid, 1));
    ok(await modify(a, b.uid, 1));
    expect(await ids(a, "status=1")).toEqual([b.uid, c.uid]);
    expect(await ids(b, "status=1")).toEqual([a.uid]);
    expect(await ids(c, "status=1")).toEqual([a.uid]);
    (await list(a, "status=1")).forEach((u) => expectUser(u));
    expect(await list(a, "status=2")).toEqual([]);
    ok(await add(c, b.uid));
    ok(await modify(b, c.uid, 2));
    expect(await list(b, "status=2")).toEqual([]);
    expect(await list(c, "status=2")).toEqual([]);
  });

  test.each([
    ["status missing", "", "status: "],
    ["status 3", "status=3", "status: "],
    ["status -1", "status=-1", "status: "],
    ["status abc", "status=abc", "status: "],
    ["status empty", "status=", "status: "],
    ["dir sideways", "status=0&dir=sideways", "dir: "],
  ])("%s is 400", async (_label, query, msg) => {
    fails(await call(app, "GET", `/api/friend/list?${query}`, { token: a.token }), 400, msg);
  });
});

describe("POST /api/friend/status/modify", () => {
  test("the addressee confirms (1): friends both ways, nothing pending", async () => {
    ok(await add(a, b.uid));
    expect(ok(await modify(b, a.uid, 1))).toBe(true);
    expect(await ids(a, "status=1")).toEqual([b.uid]);
    expect(await ids(b, "status=1")).toEqual([a.uid]);
    expect(await ids(a, "status=0")).toEqual([]);
    expect(await ids(b, "status=0&dir=in")).toEqual([]);
    fails(await modify(b, a.uid, 1), 404, "no pending friend request");
  });

  test("the addressee rejects (2): the request is deleted and may be made again", async () => {
    ok(await add(a, b.uid));
    expect(ok(await modify(b, a.uid, 2))).toBe(true);
    expect(await ids(a, "status=0")).toEqual([]);
    expect(await ids(b, "status=0&dir=in")).toEqual([]);
    expect(await ids(a, "status=1")).toEqual([]);
    fails(await modify(b, a.uid, 2), 404, "no pending friend request");
    expect(ok(await add(a, b.uid))).toBe(true);
    expect(await ids(b, "status=0&dir=in")).toEqual([a.uid]);
  });

  test.each([
    ["the applicant confirming their own request", (x: TestUser, y: TestUser) => modify(x, y.uid, 1)],
    ["the applicant rejecting their own request", (x: TestUser, y: TestUser) => modify(x, y.uid, 2)],
    ["a third user confirming", (_x: TestUser, y: TestUser) => modify(c, y.uid, 1)],
    ["no request at all", (_x: TestUser, _y: TestUser) => modify(c, a.uid, 1)],
    ["an absent user", (_x: TestUser, y: TestUser) => modify(y, 999999, 1)],
  ])("%s is 404", async (_label, act) => {
    ok(await add(a, b.uid));
    fails(await act(a, b), 404, "no pending friend request");
    expect(await ids(b, "status=0&dir=in")).toEqual([a.uid]);
  });

  test.each([
    ["status 0 (apply is not a response)", 400, { status: 0 }, "status: "],
    ["status 3", 400, { status: 3 }, "status: "],
    ["status a string", 400, { status: "1" }, "status: "],
    ["status missing", 400, { status: undefined }, "status: "],
    ["fid missing", 400, { fid: undefined }, "fid: "],
    ["fid 0", 400, { fid: 0 }, "fid: "],
    ["fid 2^53", 400, { fid: MAX + 1 }, "fid: "],
    ["a forged uid", 403, { uid: 999 }, "uid"],
  ])("%s → %d", async (_label, status, body, msg) => {
    ok(await add(a, b.uid));
    fails(await call(app, "POST", "/api/friend/status/modify", { token: b.token, body: { fid: a.uid, status: 1, ...body } }), status, msg);
    expect(await ids(b, "status=0&dir=in")).toEqual([a.uid]);
  });
});
