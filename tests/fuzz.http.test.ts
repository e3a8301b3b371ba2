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
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { requestFriend } from "./helpers";
import { isEmoji } from "../src/domain/changes";
import { sendMessage } from "./helpers";
import { setUserAdmin } from "./helpers";
import { fixture, group, makeApp, user, type TestApp, type TestUser } from "./helpers";
import {
  applyOps, badUtf8, encode, fatalOps, invalidFor, isId, isStr, noise, wellFormed, notAnObject, oneOf, params, show,
  RUNS, snapshot, TIMEOUT, toV, weirdString, withNoise, type Field, type Snapshot, type V,
} from "./fuzz.kit";

// The fixture is built before the route tables below, which name its ids.
const app: TestApp = await makeApp({ loginMaxPerAccount: 1_000_000, loginMaxPerIp: 1_000_000 });
const A: TestUser = await user(app, "fz_alice");
const B: TestUser = await user(app, "fz_bob");
const C: TestUser = await user(app, "fz_carol");
const E: TestUser = await user(app, "fz_erin");
const G = await group(app, A, [B]); // A owns, B is a member
const D = await group(app, A, [B], { mode: 1 });
const H = await group(app, C, [E]); // A is not a member
const M = (await sendMessage(fixture(app), A.uid, { gid: G, kind: "Text", content: "hello", clientMsgId: "fz-m" })).message.id;
const MH = (await sendMessage(fixture(app), C.uid, { gid: H, kind: "Text", content: "elsewhere", clientMsgId: "fz-mh" })).message.id;
await requestFriend(fixture(app), B.uid, A.uid);
await requestFriend(fixture(app), A.uid, B.uid); // A and B are friends
await requestFriend(fixture(app), C.uid, A.uid); // C asked A, pending
await setUserAdmin(fixture(app), A.uid, true); // A is a server admin, so the admin routes' inputs are fuzzed, not just refused
const NX = 999_999_999; // no such user, group or message
/** An upload through the route, with its Content-Length. */
async function uploadAs(u: TestUser, body: Uint8Array<ArrayBuffer>, name: string): Promise<string> {
  const res = await app.http.request(`/api/file/upload?name=${name}`, { method: "POST", headers: { Authorization: `Bearer ${u.token}`, "Content-Length": String(body.length) }, body }, { ip: "127.0.0.1" });
  return ((await res.json()) as { data: { id: string } }).data.id;
}
const FILE_BYTES = new TextEncoder().encode("a fuzzed file: " + "0123456789".repeat(50));
const FA = await uploadAs(A, FILE_BYTES, "a.txt"); // A's own
const FC = await uploadAs(C, new TextEncoder().encode("carol's file"), "c.txt"); // A may not read it
const ETAG = `"${new Bun.CryptoHasher("sha256").update(FILE_BYTES).digest("hex")}"`;
const COOKIE = (await app.http.request("/api/file/cookie", { method: "POST", headers: { Authorization: `Bearer ${A.token}` } }, { ip: "127.0.0.1" })).headers.get("Set-Cookie")!.split(";")[0]!;
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
      // Accounts are case-insensitive: "FZ_ALICE" is fz_alice (tests/accounts.nocase.test.ts), so only other accounts fail.
      f(["account"], true, invalidFor(isStr(0, 80), fc.constant("fz_nobody"), fc.constant("fz_alic"), fc.constant("fz_alice~2"))),
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
    kind: "body", path: "/api/group/leave", auth: true,
    // A owns G with B in it: leaving is a 409 until it is handed over, so no case leaves.
    base: () => ({ gid: G }),
    fields: [f(["gid"], true, id(H, NX, D))],
  },
  {
    kind: "body", path: "/api/group/transfer", auth: true,
    base: () => ({ gid: G, uid: B.uid }),
    fields: [f(["gid"], true, id(H, NX, D)), f(["uid"], true, id(A.uid, C.uid, NX))],
  },
  {
    kind: "body", path: "/api/group/role", auth: true,
    base: () => ({ gid: G, uid: B.uid, role: 2 }),
    fields: [
      f(["gid"], true, id(H, NX, D)),
      f(["uid"], true, id(A.uid, C.uid, NX)),
      f(["role"], true, invalidFor(oneOf(1, 2), fc.constant(0), fc.constant(3), fc.constant("2"))),
    ],
  },
  {
    kind: "body", path: "/api/group/delete", auth: true,
    base: () => ({ gid: G }),
    fields: [f(["gid"], true, id(H, NX))],
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
  {
    kind: "body", path: "/api/user/update", auth: true,
    base: () => ({ name: "Alice" }),
    fields: [
      f(["name"], false, invalidFor((x) => wellFormed(x) && x.trim().length >= 1 && x.trim().length <= 64, fc.constant("   "), fc.constant("a\uD800"))),
      f(["avatar"], false, invalidFor(isStr(0, 2048))),
      f(["email"], false, invalidFor((x) => wellFormed(x) && (x === "" || x.includes("@")), fc.constant("no-at-sign"))),
    ],
  },
  { kind: "body", path: "/api/admin/user/disable", auth: true, base: () => ({ uid: E.uid }), fields: [f(["uid"], true, id(A.uid, NX))] },
  { kind: "body", path: "/api/admin/user/enable", auth: true, base: () => ({ uid: E.uid }), fields: [f(["uid"], true, id(NX))] },
  {
    kind: "body", path: "/api/admin/user/password", auth: true,
    base: () => ({ uid: E.uid, password: "password9" }),
    fields: [f(["uid"], true, id(NX)), f(["password"], true, invalidFor(isStr(6, 256), fc.constant("short")))],
  },
  { kind: "body", path: "/api/admin/invite/revoke", auth: true, base: () => ({ id: NX }), fields: [f(["id"], true, id(NX))] },
  {
    kind: "body", path: "/api/admin/settings", auth: true,
    base: () => ({ registration: "open" }),
    fields: [
      f(["registration"], false, invalidFor(oneOf("open", "invite", "closed"), fc.constant("OPEN"), fc.constant(""))),
      f(["inviters"], false, invalidFor(oneOf("members", "admins"), fc.constant("everyone"))),
    ],
  },
];

const QUERY_ROUTES: QueryRoute[] = [
  {
    kind: "query", path: "/api/message/search", base: () => ({ q: "hello", gid: String(G), limit: "5" }),
    fields: [
      // One character, or no letter or digit at all, is too little to search for.
      { key: "q", required: true, invalid: fc.constantFrom("", "a", "中", "x".repeat(201), "%%", "!?", "  ") },
      { key: "gid", required: false, invalid: queryId(String(H), String(NX)) },
      { key: "limit", required: false, invalid: fc.oneof(queryId(), fc.constantFrom("101", "1000")) },
      { key: "beforeId", required: false, invalid: queryId() },
    ],
  },
  {
    kind: "query", path: "/api/user/directory", base: () => ({ q: "fz", limit: "5" }),
    fields: [
      { key: "q", required: false, invalid: fc.constantFrom("x".repeat(65), "é".repeat(65)) },
      { key: "limit", required: false, invalid: fc.oneof(queryId(), fc.constantFrom("51", "1000")) },
    ],
  },
  {
    kind: "query", path: "/api/admin/users", base: () => ({ q: "fz", page: "1", size: "10" }),
    fields: [
      { key: "q", required: false, invalid: fc.constantFrom("x".repeat(65), "é".repeat(65)) },
      { key: "page", required: false, invalid: queryId("1000001") },
      { key: "size", required: false, invalid: fc.oneof(queryId(), fc.constantFrom("101", "1000")) },
    ],
  },
  { kind: "query", path: "/api/user/get", base: () => ({ uid: String(B.uid) }), fields: [{ key: "uid", required: true, invalid: queryId(String(NX)) }] },
  {
    kind: "query", path: "/api/user/token", base: () => ({ token: "x" }),
    // Any text but a live token: the base itself is a wrong token.
    fields: [{ key: "token", required: true, invalid: fc.oneof(weirdString, fc.constantFrom("x".repeat(201), A.token + "x", A.token.slice(1), ...RAW_PERCENT)).filter((s) => s !== A.token) }],
  },
  { kind: "query", path: "/api/user/search", base: () => ({ account: "fz_bob" }), fields: [{ key: "account", required: true, invalid: fc.constantFrom("", "x".repeat(81), "é".repeat(81), "\uD800".repeat(81)) }] },
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
  { method: "POST", path: "/api/admin/invite/create" },
  { method: "GET", path: "/api/admin/invites" },
  { method: "GET", path: "/api/admin/settings" },
  { method: "GET", path: "/api/admin/stats" },
  { method: "POST", path: "/api/file/upload?name=fz.bin" },
  { method: "GET", path: `/api/file/${FA}` },
  { method: "POST", path: "/api/file/cookie" },
];
/** The file routes, fuzzed by their own tests below. */
const FILE_ROUTES = ["POST /api/file/upload", "GET /api/file/:id", "POST /api/file/cookie"];
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
  before = await snapshot(app);
  const r = await send(req);
  counted.cases++;
  const shown = `${req.method} ${req.path.slice(0, 300)} ${req.body ? show(req.body) : ""}`;
  if (r.status < 400 || r.status > 499) throw new Error(`status ${r.status} for ${shown}: ${JSON.stringify(r.body).slice(0, 300)}`);
  expect(r.contentType).toContain("application/json");
  expect(r.body).toEqual({ ok: false, code: r.status, msg: expect.any(String), data: null });
  expect(r.body.msg.length).toBeGreaterThan(0);
  expect(await snapshot(app)).toEqual(before);
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
        before = await snapshot(app);
        const res = await send(r);
        expect(res.status).toBe(401);
        expect(res.body).toEqual({ ok: false, code: 401, msg: expect.any(String), data: null });
        expect(await snapshot(app)).toEqual(before);
      }),
      params(),
    );
  }, TIMEOUT);

  test("every REST route is fuzzed here (a new route needs its row in this file)", () => {
    const fuzzed = new Set([...BODY_ROUTES.map((r) => "POST " + r.path), ...QUERY_ROUTES.map((r) => "GET " + r.path), ...AUTHED.map((r) => `${r.method} ${r.path}`), ...NO_INPUT, ...FILE_ROUTES]);
    const routes = [...new Set(app.http.routes.filter((r) => r.path.startsWith("/api/") && r.method !== "ALL").map((r) => `${r.method} ${r.path}`))];
    expect(routes.filter((r) => !fuzzed.has(r))).toEqual([]);
  });

  // The routes' own declarations (createRoute, published as /api/openapi.json) say what each takes: every input a route declares is fuzzed.
  test("every declared body field, query parameter and token requirement is fuzzed here", async () => {
    const doc = (await send({ method: "GET", path: "/api/openapi.json", headers: {} })).body;
    const deref = (x: any): any => (x?.$ref ? deref(doc.components.schemas[x.$ref.split("/").pop()]) : x);
    /** Every path into a body: object properties by name, array items as index 0. */
    const fieldPaths = (schema: any, at: (string | number)[] = []): string[] => {
      const x = deref(schema);
      if (x?.type === "object") return Object.entries(x.properties ?? {}).flatMap(([k, v]) => [[...at, k].join("."), ...fieldPaths(v, [...at, k])]);
      if (x?.type === "array") return [[...at, 0].join("."), ...fieldPaths(x.items, [...at, 0])];
      return [];
    };
    const missing: string[] = [];
    for (const [path, ops] of Object.entries<any>(doc.paths)) {
      for (const [method, op] of Object.entries<any>(ops)) {
        const name = `${method.toUpperCase()} ${path}`;
        // The file routes take raw bytes, a name and an id: fuzzed by tests/files.test.ts and the file rows here (FILE_ROUTES).
        if (FILE_ROUTES.includes(name.replace("{id}", ":id"))) continue;
        const needsToken = op.security.length > 0;
        if (needsToken && !AUTHED.some((r) => `${r.method} ${r.path}` === name)) missing.push(`${name}: token`);
        const body = op.requestBody?.content["application/json"]?.schema;
        if (body) {
          const row = BODY_ROUTES.find((r) => "POST " + r.path === name);
          if (!row) missing.push(`${name}: body`);
          else {
            if (row.auth !== needsToken) missing.push(`${name}: auth is ${needsToken}`);
            const have = new Set(row.fields.map((x) => x.path.join(".")));
            missing.push(...fieldPaths(body).filter((p) => !have.has(p)).map((p) => `${name}: ${p}`));
          }
        }
        for (const param of op.parameters ?? []) {
          const row = QUERY_ROUTES.find((r) => "GET " + r.path === name);
          if (!row?.fields.some((x) => x.key === param.name)) missing.push(`${name}: ?${param.name}`);
        }
      }
    }
    expect(missing).toEqual([]);
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
    const s = await snapshot(app);
    expect({ users: s.users, groups: s.groups, messages: s.messages, files: s.files }).toEqual({ users: 4, groups: 3, messages: 2, files: 2 });
    console.log(`REST fuzz: ${counted.cases} cases`);
  });
});

// ---------------------------------------------------------------- files

/** Characters a file name may not hold. */
const FORBIDDEN = fc.constantFrom("/", "\\", "\u0000", "\u0001", "\n", "\r", "\t", "\u001f", "\u007f", "\u0085", "\u009f", "\u200e", "\u200f", "\u202a", "\u202e", "\u2066", "\u2069");
const nameText = fc.string({ unit: "grapheme", maxLength: 20 });
const badName = fc.oneof(
  fc.constant(""),
  fc.tuple(nameText, FORBIDDEN, nameText).map(([a, x, b]) => a + x + b),
  fc.string({ unit: "grapheme", minLength: 256, maxLength: 300 }).filter((n) => [...n].length > 255),
  fc.constantFrom(".", ".."),
);
/** A Content-Length that is no number of bytes (after the Headers API trims it). */
const badLength = fc
  .oneof(fc.constantFrom("abc", "-1", "1.5", "1e3", "0x10", "99999999999999999", "+5", "5 5", "NaN"), fc.string({ unit: "grapheme-ascii", maxLength: 12 }))
  .filter((v) => !/^\s*\d{1,16}\s*$/.test(v) && /^[\x20-\x7e]*$/.test(v));

type UploadFault = { kind: string; query: string; body: Uint8Array<ArrayBuffer>; length: string | null };

const uploadCase: fc.Arbitrary<UploadFault> = fc
  .tuple(fc.uint8Array({ minLength: 1, maxLength: 200 }), fc.boolean())
  .chain(([raw, announce]) => {
    const body = new Uint8Array(raw);
    const ok = { query: "name=fz.bin", body, length: announce ? String(body.length) : null };
    return fc.oneof(
      badName.map((n) => ({ ...ok, kind: "bad name", query: `name=${safeEncode(n)}` })),
      fc.constantFrom("", "nom=fz.bin", "name", "Name=fz.bin", "name[]=fz.bin").map((q) => ({ ...ok, kind: "no name", query: q })),
      fc.constantFrom<string | null>(null, "0").map((length) => ({ ...ok, kind: "empty", body: new Uint8Array(0), length })),
      fc.integer({ min: 25 * 1024 * 1024 + 1, max: Number.MAX_SAFE_INTEGER }).map((n) => ({ ...ok, kind: "announced over --max-upload", length: String(n) })),
      badLength.map((length) => ({ ...ok, kind: "Content-Length not a number", length })),
      fc.integer({ min: 1, max: 400 }).filter((n) => n !== body.length).map((n) => ({ ...ok, kind: "Content-Length not the body's", length: String(n) })),
    );
  });

const partFiles = () => (existsSync(join(app.files.dir, "tmp")) ? readdirSync(join(app.files.dir, "tmp")) : []);

describe(`REST fuzz of the file routes (${RUNS} cases per target)`, () => {
  test("POST /api/file/upload: bad names, empty bodies, lengths over the limit or untrue are a 4xx envelope and store nothing", async () => {
    const blobs = app.files.list().length;
    await fc.assert(
      fc.asyncProperty(uploadCase, CONTENT_TYPES, async (c, type) => {
        const headers: Record<string, string> = { Authorization: `Bearer ${A.token}` };
        if (type) headers["Content-Type"] = type;
        if (c.length !== null) headers["Content-Length"] = c.length;
        await refused({ method: "POST", path: `/api/file/upload?${c.query}`, headers, body: c.body });
        expect(app.files.list().length).toBe(blobs);
        expect(partFiles()).toEqual([]);
      }),
      params(),
    );
  }, TIMEOUT);

  test("GET /api/file/:id: any id but that of a file you may read is a 4xx envelope (404 for another's file), and writes nothing", async () => {
    const id = fc.oneof(
      weirdString,
      fc.constantFrom(FC, "A".repeat(21), FA + "x", FA.slice(1), FA.toUpperCase(), FA.toLowerCase(), "upload", "cookie", "%2F", "a%2Fb", "%00", ...RAW_PERCENT),
      fc.stringMatching(/^[A-Za-z0-9_-]{21}$/),
    ).filter((x) => x !== FA);
    await fc.assert(
      fc.asyncProperty(id, async (x) => {
        await refused({ method: "GET", path: `/api/file/${safeEncode(x)}`, headers: { Authorization: `Bearer ${A.token}` } });
      }),
      params(),
    );
    const other = await send({ method: "GET", path: `/api/file/${FC}`, headers: { Authorization: `Bearer ${A.token}` } });
    expect(other.status).toBe(404);
  }, TIMEOUT);

  test("GET /api/file/:id: any Range, If-Range and If-None-Match is 200, 206, 304 or 416, each consistent with the file", async () => {
    const size = FILE_BYTES.length;
    const pos = fc.oneof(fc.nat({ max: size + 10 }), fc.constantFrom(size - 1, size, size + 1, 2 ** 53 + 1, 1e21), fc.nat()).map(String);
    const spec = fc.tuple(fc.option(pos, { nil: "" }), fc.option(pos, { nil: "" })).map(([a, b]) => `${a}-${b}`);
    const latin = (v: string) => /^[\x20-\x7e\t]*$/.test(v);
    const range = fc.oneof(
      spec.map((x) => `bytes=${x}`),
      fc.array(spec, { minLength: 2, maxLength: 3 }).map((xs) => `bytes=${xs.join(",")}`),
      fc.constantFrom("bytes=", "bytes=-", "bytes 0-1", "BYTES=0-1", "bytes=0-1,", "items=0-1", "bytes==0-1"),
      weirdString.filter(latin),
    );
    const tag = fc.oneof(fc.constantFrom(ETAG, `W/${ETAG}`, "*", `"x", ${ETAG}`, '"other"', ETAG.slice(1)), weirdString.filter(latin));
    await fc.assert(
      fc.asyncProperty(fc.option(range), fc.option(tag), fc.option(tag), async (r, inm, ifRange) => {
        const headers: Record<string, string> = { Authorization: `Bearer ${A.token}` };
        if (r !== null) headers.Range = r;
        if (inm !== null) headers["If-None-Match"] = inm;
        if (ifRange !== null) headers["If-Range"] = ifRange;
        const before = await snapshot(app);
        const res = await app.http.request(`/api/file/${FA}`, { headers }, { ip: "127.0.0.1" });
        const body = new Uint8Array(await res.arrayBuffer());
        const shown = JSON.stringify(headers);
        switch (res.status) {
          case 200:
            expect(body).toEqual(FILE_BYTES);
            expect(res.headers.get("content-length")).toBe(String(size));
            break;
          case 206: {
            const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(res.headers.get("content-range") ?? "");
            if (!m) throw new Error(`206 without a Content-Range for ${shown}`);
            const [start, end] = [Number(m[1]), Number(m[2])];
            expect([Number(m[3]), start <= end, end < size]).toEqual([size, true, true]);
            expect(body).toEqual(FILE_BYTES.slice(start, end + 1));
            expect(res.headers.get("content-length")).toBe(String(end - start + 1));
            break;
          }
          case 304:
            expect(body.length).toBe(0);
            expect(inm).not.toBeNull();
            break;
          case 416:
            expect(res.headers.get("content-range")).toBe(`bytes */${size}`);
            expect(JSON.parse(new TextDecoder().decode(body))).toMatchObject({ ok: false, code: 416, data: null });
            break;
          default:
            throw new Error(`status ${res.status} for ${shown}`);
        }
        expect(res.headers.get("x-content-type-options")).toBe("nosniff");
        expect(await snapshot(app)).toEqual(before);
      }),
      params(),
    );
  }, TIMEOUT);

  test("GET /api/file/:id without a token: a Cookie header downloads only when its rim_file is the one the server set", async () => {
    const value = COOKIE.slice("rim_file=".length);
    const mutated = fc.oneof(
      fc.nat({ max: value.length - 1 }).chain((i) => fc.constantFrom("A", "0", ".", "-", "_").map((ch) => value.slice(0, i) + ch + value.slice(i + 1))),
      fc.nat({ max: value.length - 1 }).map((i) => value.slice(0, i)),
      fc.string({ unit: "grapheme-ascii", maxLength: 4 }).map((x) => value + x),
    );
    const pair = fc.oneof(mutated.map((v) => `rim_file=${v}`), fc.constant(COOKIE), fc.string({ unit: "grapheme-ascii", maxLength: 40 }));
    const cookie = fc.array(pair, { minLength: 1, maxLength: 3 }).map((xs) => xs.join("; ")).filter((v) => /^[\x20-\x7e]*$/.test(v));
    await fc.assert(
      fc.asyncProperty(cookie, async (c) => {
        const first = c.split(";").map((x) => x.trim()).find((x) => x.startsWith("rim_file="));
        const res = await send({ method: "GET", path: `/api/file/${FA}`, headers: { Cookie: c } });
        if (first === COOKIE) expect(res.status).toBe(200);
        else {
          expect(res.status).toBe(401);
          expect(res.body).toEqual({ ok: false, code: 401, msg: expect.any(String), data: null });
        }
      }),
      params(),
    );
  }, TIMEOUT);
});
