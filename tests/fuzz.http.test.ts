// Property tests over every REST route (fast-check). Each case starts from a
// valid request and makes it invalid: a field with a value of the wrong type,
// out of range, above 2^53, a float, NaN-ish text, lone surrogates, a megabyte
// string, deep nesting; a required field left out; the body not an object, not
// JSON, not UTF-8; plus extra, `__proto__` and `constructor` keys. Property:
// the reply is the error envelope with a 4xx status (never a 500, never a
// throw), nothing is written, and /health still answers.
//
// FUZZ_RUNS cases per target (default 200); `bun tests/fuzz-run.ts --long` runs 20000.
import { afterAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { requestFriend } from "../src/domain/friends";
import { isEmoji } from "../src/domain/changes";
import { sendMessage } from "../src/domain/messages";
import { fixture, group, makeApp, user, type TestApp, type TestUser } from "./helpers";
import {
  applyOps, badUtf8, encode, fatalOps, invalidFor, isId, isStr, noise, wellFormed, notAnObject, oneOf, params, show,
  RUNS, snapshot, TIMEOUT, toV, weirdString, withNoise, type Field, type Snapshot, type V,
} from "./fuzz.kit";

// The fixture is built before the route tables below, which name its ids.
const app: TestApp = makeApp({ loginMaxPerAccount: 1_000_000, loginMaxPerIp: 1_000_000 });
const A: TestUser = await user(app, "fz_alice");
const B: TestUser = await user(app, "fz_bob");
const C: TestUser = await user(app, "fz_carol");
const E: TestUser = await user(app, "fz_erin");
const G = group(app, A, [B]); // A owns, B is a member
const D = group(app, A, [B], { mode: 1 });
const H = group(app, C, [E]); // A is not a member
const M = sendMessage(fixture(app), A.uid, { gid: G, kind: "Text", content: "hello", clientMsgId: "fz-m" }).message.id;
const MH = sendMessage(fixture(app), C.uid, { gid: H, kind: "Text", content: "elsewhere", clientMsgId: "fz-mh" }).message.id;
requestFriend(fixture(app), B.uid, A.uid);
requestFriend(fixture(app), A.uid, B.uid); // A and B are friends
requestFriend(fixture(app), C.uid, A.uid); // C asked A, pending
const NX = 999_999_999; // no such user, group or message
afterAll(() => app.close());

// ---------------------------------------------------------------- the routes

/** Query values sent as they are, not percent-encoded: broken escapes, and escapes of bytes that are not UTF-8. */
const RAW_PERCENT = ["%FF", "%ED%A0%80", "%", "%Z9", "1%00", "%C0%80", "%E2%82"];

const id = (...semantic: V[]) => invalidFor(isId, ...semantic.map((s) => fc.constant(s)));
const idOpt = id;
/** Decimal strings in a query: refused unless Number(s) is an id. */
const queryId = (...semantic: string[]) =>
  fc.oneof(weirdString, fc.constantFrom(...RAW_PERCENT, "9007199254740993", "1e400", "0", "-0", "1.5", ...semantic)).filter((s) => !isId(Number(s)) || semantic.includes(s));
const page = () => invalidFor((x) => isId(x) && (x as number) <= 1_000_000);
const size = (max: number) => invalidFor((x) => isId(x) && (x as number) <= max);
const accountRe = /^[A-Za-z0-9_.\-@]+$/;

type BodyRoute = { kind: "body"; path: string; auth: boolean; base: () => Record<string, unknown>; fields: Field[] };
type QueryRoute = { kind: "query"; path: string; base: () => Record<string, string>; fields: { key: string; required: boolean; invalid: fc.Arbitrary<string> }[] };

const f = (path: (string | number)[], required: boolean, invalid: fc.Arbitrary<V>): Field => ({ path, required, invalid });

const BODY_ROUTES: BodyRoute[] = [
  {
    kind: "body", path: "/api/user/create", auth: false,
    base: () => ({ account: "fz_newcomer", password: "password1", name: "New", avatar: "", email: "" }),
    fields: [
      f(["account"], true, invalidFor(isStr(3, 64, accountRe), fc.constant("fz_alice"), fc.constant("ab"), fc.constant("a b c"))),
      f(["password"], true, invalidFor(isStr(6, 256), fc.constant("12345"), fc.constant("password\uD800"))),
      f(["name"], false, invalidFor((x) => wellFormed(x) && x.trim().length <= 64, fc.constant("a\uD800"))),
      f(["avatar"], false, invalidFor(isStr(0, 2048))),
      // Text without "@" is never an email; "" is allowed.
      f(["email"], false, invalidFor((x) => wellFormed(x) && (x === "" || x.includes("@")), fc.constant("no-at-sign"), fc.constant("a@b\uDC00.c"))),
      f(["invite"], false, invalidFor(isStr(1, 64), fc.constant(""))),
    ],
  },
  {
    kind: "body", path: "/api/user/login", auth: false,
    base: () => ({ account: "fz_alice", password: "password1" }),
    fields: [
      f(["account"], true, invalidFor(isStr(0, 64), fc.constant("fz_nobody"), fc.constant("FZ_ALICE"))),
      f(["password"], true, invalidFor(isStr(0, 256), fc.constant("wrong-password"), fc.constant(""), fc.constant("password1 "))),
    ],
  },
  {
    kind: "body", path: "/api/user/password", auth: true,
    base: () => ({ oldPassword: "password1", newPassword: "password2" }),
    fields: [
      f(["oldPassword"], true, invalidFor(isStr(0, 256), fc.constant("not-the-password"), fc.constant(""))),
      f(["newPassword"], true, invalidFor(isStr(6, 256), fc.constant("short"))),
    ],
  },
  {
    kind: "body", path: "/api/group/create", auth: true,
    base: () => ({ group: { name: "fz group", avatar: "", mode: 2 }, users: [{ uid: B.uid, role: 1 }] }),
    fields: [
      f(["group"], true, invalidFor((x) => x !== null && typeof x === "object" && !Array.isArray(x))),
      f(["group", "name"], false, invalidFor((x) => wellFormed(x) && x.trim().length <= 100, fc.constant("team\uD83D"))),
      f(["group", "avatar"], false, invalidFor(isStr(0, 2048))),
      f(["group", "mode"], true, invalidFor(oneOf(1, 2), fc.constant(3), fc.constant("1"))),
      f(["group", "creatorUid"], false, idOpt(B.uid, NX)),
      f(["users"], false, invalidFor(Array.isArray, fc.constant(Array.from({ length: 1001 }, () => toV({ uid: B.uid, role: 1 }))))),
      f(["users", 0], false, invalidFor((x) => x !== null && typeof x === "object" && !Array.isArray(x))),
      f(["users", 0, "uid"], true, id(NX)),
      f(["users", 0, "role"], false, invalidFor(oneOf(1, 2), fc.constant(3), fc.constant("2"))),
    ],
  },
  {
    kind: "body", path: "/api/group/update", auth: true,
    base: () => ({ id: G, name: "renamed" }),
    fields: [
      f(["id"], true, id(H, NX)),
      // name is the only change asked for: leaving it out is a fault too.
      f(["name"], true, invalidFor((x) => wellFormed(x) && x.trim().length >= 1 && x.trim().length <= 100, fc.constant("   "), fc.constant("\uDE00"))),
      f(["avatar"], false, invalidFor(isStr(0, 2048))),
    ],
  },
  {
    kind: "body", path: "/api/group/user/change", auth: true,
    base: () => ({ gid: G, uids: [C.uid], opType: 1 }),
    fields: [
      f(["gid"], true, id(H, NX, D)),
      f(["uids"], true, invalidFor((x) => Array.isArray(x) && x.length >= 1 && x.length <= 1000, fc.constant([]), fc.constant(Array.from({ length: 1001 }, (_, i) => i + 1)))),
      f(["uids", 0], false, id(NX)),
      f(["opType"], true, invalidFor(oneOf(1, 2), fc.constant(0), fc.constant(3), fc.constant("1"))),
    ],
  },
  {
    kind: "body", path: "/api/message/chat/list", auth: true,
    base: () => ({ uid: A.uid, page: 1, size: 20 }),
    fields: [f(["uid"], false, idOpt(B.uid, NX)), f(["page"], false, page()), f(["size"], false, size(100))],
  },
  {
    kind: "body", path: "/api/message/history", auth: true,
    base: () => ({ gid: G, uid: B.uid, page: 1, size: 20, beforeId: M + 1 }),
    fields: [
      f(["gid"], true, id(H, NX)),
      f(["uid"], false, idOpt()),
      f(["page"], false, page()),
      f(["size"], false, size(200)),
      f(["beforeId"], false, idOpt()),
    ],
  },
  {
    kind: "body", path: "/api/message/group/read", auth: true,
    base: () => ({ gid: G, uid: A.uid }),
    fields: [f(["gid"], true, id(H, NX)), f(["uid"], false, idOpt(B.uid, NX))],
  },
  {
    kind: "body", path: "/api/message/edit", auth: true,
    base: () => ({ gid: G, msgId: M, content: "edited" }),
    fields: [
      f(["gid"], true, id(H, NX)),
      f(["msgId"], true, id(MH, NX)),
      // Content is any text up to --max-content (32 KiB); more is 413.
      f(["content"], true, invalidFor((x) => wellFormed(x) && Buffer.byteLength(x) <= 32 * 1024, fc.constant("x".repeat(40_000)), fc.constant("a\uD800"))),
    ],
  },
  {
    kind: "body", path: "/api/message/delete", auth: true,
    base: () => ({ gid: G, msgId: M }),
    fields: [f(["gid"], true, id(H, NX)), f(["msgId"], true, id(MH, NX))],
  },
  {
    kind: "body", path: "/api/message/react", auth: true,
    base: () => ({ gid: G, msgId: M, emoji: "👍", on: true }),
    fields: [
      f(["gid"], true, id(H, NX)),
      f(["msgId"], true, id(MH, NX)),
      f(["emoji"], true, invalidFor((x) => typeof x === "string" && isEmoji(x), fc.constant(""), fc.constant("x".repeat(33)), fc.constant("\u0007"))),
      f(["on"], true, invalidFor((x) => typeof x === "boolean", fc.constant("true"), fc.constant(1))),
    ],
  },
  {
    kind: "body", path: "/api/friend/add", auth: true,
    base: () => ({ fid: E.uid }),
    fields: [f(["fid"], true, id(A.uid, B.uid, NX)), f(["uid"], false, idOpt(B.uid, NX))],
  },
  {
    kind: "body", path: "/api/friend/status/modify", auth: true,
    base: () => ({ fid: C.uid, status: 1 }),
    fields: [
      f(["fid"], true, id(A.uid, B.uid, E.uid, NX)),
      f(["status"], true, invalidFor(oneOf(1, 2), fc.constant(0), fc.constant(3), fc.constant("1"))),
      f(["uid"], false, idOpt(B.uid, NX)),
    ],
  },
];

const QUERY_ROUTES: QueryRoute[] = [
  { kind: "query", path: "/api/user/get", base: () => ({ uid: String(B.uid) }), fields: [{ key: "uid", required: true, invalid: queryId(String(NX)) }] },
  {
    kind: "query", path: "/api/user/token", base: () => ({ token: "x" }),
    // Any text but a live token: the base itself is a wrong token.
    fields: [{ key: "token", required: true, invalid: fc.oneof(weirdString, fc.constantFrom("x".repeat(201), A.token + "x", A.token.slice(1), ...RAW_PERCENT)).filter((s) => s !== A.token) }],
  },
  { kind: "query", path: "/api/user/search", base: () => ({ account: "fz_bob" }), fields: [{ key: "account", required: true, invalid: fc.constantFrom("", "x".repeat(65), "é".repeat(65), "\uD800".repeat(65)) }] },
  {
    kind: "query", path: "/api/user/presence", base: () => ({ uids: `${B.uid},${C.uid}` }),
    // Unknown and unrelated uids are answered (left out): only what is not a list of ids is refused.
    fields: [{ key: "uids", required: true, invalid: fc.oneof(weirdString, fc.constantFrom("", ",", "1,", ",1", "1,,2", "0", "-1", "1.5", "1e3", "9007199254740993", "1;2", "1 2", Array.from({ length: 1001 }, (_, i) => i + 1).join(","), ...RAW_PERCENT)).filter((s) => !/^\d{1,16}(,\d{1,16})*$/.test(s) || s.split(",").length > 1000 || s.split(",").some((x) => !isId(Number(x)))) }],
  },
  { kind: "query", path: "/api/group/get", base: () => ({ uid: String(A.uid) }), fields: [{ key: "uid", required: false, invalid: queryId(String(B.uid), String(NX)) }] },
  { kind: "query", path: "/api/group/user/get", base: () => ({ gid: String(G) }), fields: [{ key: "gid", required: true, invalid: queryId(String(H), String(NX)) }] },
  {
    kind: "query", path: "/api/friend/list", base: () => ({ status: "1", dir: "in" }),
    fields: [
      { key: "status", required: true, invalid: fc.oneof(weirdString, fc.constantFrom("3", "-1", "01", " 1", "1.0", "%FF", "%Z9")).filter((s) => !["0", "1", "2"].includes(s)) },
      { key: "dir", required: false, invalid: fc.oneof(weirdString, fc.constantFrom("IN", "both", "%FF", "%Z9")).filter((s) => !["in", "out"].includes(s)) },
    ],
  },
];

/** Every route that needs a token, with a method and a harmless valid input (for the token fuzz). */
const AUTHED: { method: "GET" | "POST"; path: string }[] = [
  ...BODY_ROUTES.filter((r) => r.auth).map((r) => ({ method: "POST" as const, path: r.path })),
  ...QUERY_ROUTES.map((r) => ({ method: "GET" as const, path: r.path })),
  // No input but the token.
  { method: "POST", path: "/api/user/logout" },
  { method: "POST", path: "/api/user/invite" },
];
/** Routes that take no input at all (nothing to fuzz but the method, below). */
const NO_INPUT = ["GET /api/openapi.json", "GET /api/ws-schema.json"];

// ---------------------------------------------------------------- requests and the property

type Req = { method: "GET" | "POST"; path: string; headers: Record<string, string>; body?: Uint8Array<ArrayBuffer> };

const CONTENT_TYPES = fc.constantFrom("application/json", "application/json; charset=utf-8", "text/plain", "application/x-www-form-urlencoded", "", "multipart/form-data; boundary=x", "application/json; charset=latin1");

async function send(req: Req) {
  const res = await app.http.request(req.path, { method: req.method, headers: req.headers, body: req.body }, { ip: "127.0.0.1" });
  const raw = await res.text();
  let body: any = raw;
  try {
    body = JSON.parse(raw);
  } catch {}
  return { status: res.status, body, contentType: res.headers.get("content-type") ?? "" };
}

let before: Snapshot;
const counted = { cases: 0 };

/** The property: a 4xx error envelope, nothing written. */
async function refused(req: Req) {
  before = snapshot(app.db.$client);
  const r = await send(req);
  counted.cases++;
  const shown = `${req.method} ${req.path.slice(0, 300)} ${req.body ? show(req.body) : ""}`;
  if (r.status < 400 || r.status > 499) throw new Error(`status ${r.status} for ${shown}: ${JSON.stringify(r.body).slice(0, 300)}`);
  expect(r.contentType).toContain("application/json");
  expect(r.body).toEqual({ ok: false, code: r.status, msg: expect.any(String), data: null });
  expect(r.body.msg.length).toBeGreaterThan(0);
  expect(snapshot(app.db.$client)).toEqual(before);
}

function bodyCase(route: BodyRoute): fc.Arbitrary<{ body: V | Uint8Array<ArrayBuffer>; contentType: string }> {
  const known = [...new Set(route.fields.map((x) => String(x.path[0])))];
  const corrupted = fc.tuple(fatalOps(route.fields), noise(known)).map(([ops, extra]) => withNoise(toV(applyOps(route.base(), ops)), extra));
  return fc.record({
    body: fc.oneof(
      { arbitrary: corrupted, weight: 12 },
      { arbitrary: notAnObject, weight: 3 },
      { arbitrary: badUtf8, weight: 1 },
      { arbitrary: fc.constant<V>(toV({ ...route.base(), pad: HUGE_PAD })), weight: 1 },
    ),
    contentType: fc.oneof({ arbitrary: fc.constant("application/json"), weight: 5 }, { arbitrary: CONTENT_TYPES, weight: 1 }),
  });
}
// A valid body made too large by an ignored field: over the 1 MiB body limit, so 413.
const HUGE_PAD = "p".repeat(1_100_000);

function queryString(pairs: [string, string][], encodeValues: boolean): string {
  return pairs.map(([k, v]) => `${encodeKey(k)}=${encodeValues ? safeEncode(v) : v}`).join("&");
}
const encodeKey = (k: string) => safeEncode(k);
/** encodeURIComponent, but lone surrogates (which it refuses) go out as raw percent bytes, and %-text stays raw. */
function safeEncode(s: string): string {
  if (RAW_PERCENT.includes(s)) return s;
  try {
    return encodeURIComponent(s);
  } catch {
    return [...s].map((ch) => (/[\uD800-\uDFFF]/.test(ch) ? "%ED%A0%80" : encodeURIComponent(ch))).join("");
  }
}

function queryCase(route: QueryRoute): fc.Arbitrary<string> {
  const keys = route.fields.map((x) => x.key);
  const fatal = fc.integer({ min: 0, max: route.fields.length - 1 }).chain((i) => {
    const field = route.fields[i]!;
    const set = field.invalid.map((v) => ({ key: field.key, del: false, v }));
    return field.required ? fc.oneof(set, fc.constant({ key: field.key, del: true, v: "" })) : set;
  });
  const extra = fc.array(fc.tuple(fc.oneof(fc.constantFrom("__proto__", "constructor", "toString", "hasOwnProperty", "", ...RAW_PERCENT), fc.string({ maxLength: 8 })).filter((k) => !keys.includes(k)), weirdString), { maxLength: 3 });
  return fc.tuple(fatal, extra, fc.boolean()).map(([op, more, dupFirst]) => {
    const base = route.base();
    const pairs: [string, string][] = Object.entries(base).filter(([k]) => !(op.del && k === op.key));
    if (!op.del) {
      const at = pairs.findIndex(([k]) => k === op.key);
      if (at >= 0) pairs[at] = [op.key, op.v];
      else pairs.push([op.key, op.v]);
      // A duplicate of the key after the bad one: which one counts is the server's choice, so both are bad.
      if (dupFirst) pairs.push([op.key, op.v]);
    }
    return route.path + "?" + queryString([...pairs, ...more], true);
  });
}

const authHeader = fc.oneof(
  fc.constantFrom("", "Bearer", "Bearer ", "Bearer  ", "bearer TOKEN", "Basic YWxpY2U6cGFzc3dvcmQx", "Bearer null", "Bearer undefined", "Bearer [object Object]", "Token abc"),
  fc.string({ unit: "grapheme-ascii", maxLength: 60 }).map((s) => "Bearer " + s),
  fc.string({ unit: "grapheme-ascii", maxLength: 60 }),
  fc.constant(null).map(() => "Bearer " + "A".repeat(10_000)),
  fc.constant(null).map(() => "Bearer " + A.token + "x"),
  fc.constant(null).map(() => "Bearer " + A.token.slice(0, -1)),
  fc.constant(null).map(() => "Bearer " + A.token.toUpperCase()),
  fc.constant(null).map(() => "Bearer " + A.token.replace(/^./, (c) => (c === "a" ? "b" : "a"))),
).filter((h) => !h.includes(A.token) || h !== "Bearer " + A.token);

// ---------------------------------------------------------------- the tests

describe(`REST fuzz (${RUNS} cases per target)`, () => {
  for (const route of BODY_ROUTES) {
    test(`POST ${route.path}: invalid bodies are a 4xx envelope and write nothing`, async () => {
      await fc.assert(
        fc.asyncProperty(bodyCase(route), async ({ body, contentType }) => {
          const bytes = body instanceof Uint8Array ? body : encode(body);
          const headers: Record<string, string> = {};
          if (contentType) headers["Content-Type"] = contentType;
          if (route.auth) headers.Authorization = `Bearer ${A.token}`;
          await refused({ method: "POST", path: route.path, headers, body: bytes });
        }),
        params(),
      );
      expect((await send({ method: "GET", path: "/health", headers: {} })).status).toBe(200);
    }, TIMEOUT);
  }

  for (const route of QUERY_ROUTES) {
    test(`GET ${route.path}: invalid queries are a 4xx envelope and write nothing`, async () => {
      await fc.assert(
        fc.asyncProperty(queryCase(route), async (path) => {
          await refused({ method: "GET", path, headers: { Authorization: `Bearer ${A.token}` } });
        }),
        params(),
      );
      expect((await send({ method: "GET", path: "/health", headers: {} })).status).toBe(200);
    }, TIMEOUT);
  }

  test("every route that needs a token: a missing, malformed, altered or foreign token is 401 and writes nothing", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...AUTHED), fc.option(authHeader, { nil: undefined }), fc.constantFrom("Authorization", "authorization", "AUTHORIZATION"), async (route, header, name) => {
        const headers: Record<string, string> = { "Content-Type": "application/json" };
        if (header !== undefined) headers[name] = header;
        const r = { method: route.method, path: route.path, headers, body: route.method === "POST" ? encode(toV({})) : undefined };
        before = snapshot(app.db.$client);
        const res = await send(r);
        expect(res.status).toBe(401);
        expect(res.body).toEqual({ ok: false, code: 401, msg: expect.any(String), data: null });
        expect(snapshot(app.db.$client)).toEqual(before);
      }),
      params(),
    );
  }, TIMEOUT);

  test("every REST route is fuzzed here (a new route needs its row in this file)", () => {
    const fuzzed = new Set([...BODY_ROUTES.map((r) => "POST " + r.path), ...QUERY_ROUTES.map((r) => "GET " + r.path), ...AUTHED.map((r) => `${r.method} ${r.path}`), ...NO_INPUT]);
    const routes = [...new Set(app.http.routes.filter((r) => r.path.startsWith("/api/") && r.method !== "ALL").map((r) => `${r.method} ${r.path}`))];
    expect(routes.filter((r) => !fuzzed.has(r))).toEqual([]);
  });

  test("unknown paths and wrong methods under /api are a 4xx envelope", async () => {
    // Every real route (pages outside /api, such as a web client, may answer any GET: only /api is fuzzed here).
    const known = new Set(app.http.routes.filter((r) => r.method !== "ALL").map((r) => `${r.method} ${r.path}`));
    const segment = fc.oneof(fc.constantFrom("api", "user", "group", "message", "friend", "get", "create", "list", "__proto__", "constructor", "%FF", "%2e%2e", "health", ""), fc.stringMatching(/^[A-Za-z0-9_~-]{1,10}$/));
    const path = fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => "/api/" + s.join("/"));
    const anyKnown = fc.constantFrom(...[...known].map((k) => k.split(" ")[1]!).filter((p) => p.startsWith("/api/")));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH") as fc.Arbitrary<"GET" | "POST">, fc.oneof(path, anyKnown), fc.boolean(), async (method, p, auth) => {
        if (known.has(`${method} ${p}`) || !p.startsWith("/api/") || /(^|\/)(%2e%2e|\.\.?)(\/|$)/i.test(p)) return; // a real route, or not under /api
        const headers: Record<string, string> = { "Content-Type": "application/json" };
        if (auth) headers.Authorization = `Bearer ${A.token}`;
        await refused({ method, path: p, headers, body: method === "GET" ? undefined : encode(toV({})) });
      }),
      params(),
    );
  }, TIMEOUT);

  test("GET /health still answers, and the fixture is intact", async () => {
    expect((await send({ method: "GET", path: "/health", headers: {} })).status).toBe(200);
    const s = snapshot(app.db.$client);
    expect({ users: s.users, groups: s.groups, messages: s.messages }).toEqual({ users: 4, groups: 3, messages: 2 });
    console.log(`REST fuzz: ${counted.cases} cases`);
  });
});
