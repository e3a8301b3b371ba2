// What a REST body must be: declared JSON (415 otherwise, so that a
// cross-site form post cannot log in or register in a victim's browser), in
// UTF-8 (400 for bytes that are not), and JSON.
import { afterAll, describe, expect, test } from "bun:test";
import { isJsonType } from "../src/http/context";
import { call, makeApp, serve, user, sqlGet, then } from "./helpers";

const app = await makeApp({ registerMaxPerIp: 0 });
afterAll(() => app.close());
const owner = await user(app, "input_owner");
const raw = (path: string, body: string | Uint8Array, contentType: string | null, token?: string) =>
  Promise.resolve(
    app.http.request(
      path,
      { method: "POST", body: body as BodyInit, headers: { ...(contentType === null ? {} : { "Content-Type": contentType }), ...(token ? { Authorization: `Bearer ${token}` } : {}) } },
      { ip: "127.0.0.1" },
    ),
  ).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));
const users = () => then(sqlGet<{ n: number }>(app, "SELECT count(*) AS n FROM users"), (r) => r!.n);

// Each route reads a JSON body; login and register are the ones a cross-site form would aim at.
const ROUTES: [string, (n: number) => unknown, boolean][] = [
  ["/api/user/create", (n) => ({ account: `ct_user${n}`, password: "secret12" }), false],
  ["/api/user/login", () => ({ account: "input_owner", password: "password1" }), false],
  ["/api/group/create", () => ({ group: { name: "g", mode: 2 }, users: [] }), true],
  ["/api/message/chat/list", () => ({ page: 1, size: 5 }), true],
];

let n = 0;
describe("Content-Type", () => {
  const ACCEPTED = ["application/json", "application/json; charset=utf-8", "Application/JSON; Charset=UTF-8", 'application/json;charset="utf-8"', "application/json;"];
  const REFUSED = [
    null,
    "",
    "text/plain",
    "text/plain;charset=UTF-8", // what a form with enctype=text/plain sends
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz",
    "application/json; charset=latin1",
    "application/json; charset=utf-16",
    "application/jsonp",
    "application/json-patch+json",
    "text/json",
    "application/xml",
  ];

  for (const [path, body, authed] of ROUTES) {
    test.each(ACCEPTED)(`${path}: %p is accepted`, async (type) => {
      const r = await raw(path, JSON.stringify(body(++n)), type, authed ? owner.token : undefined);
      expect({ type, status: r.status }).toEqual({ type, status: 200 });
    });

    test.each(REFUSED)(`${path}: %p is 415 and changes nothing`, async (type) => {
      const before = await users();
      const r = await raw(path, JSON.stringify(body(++n)), type, authed ? owner.token : undefined);
      expect(r).toEqual({ status: 415, body: { ok: false, code: 415, msg: "body: Content-Type must be application/json", data: null } });
      expect(await users()).toBe(before);
    });
  }

  test("a form post of login or register fields is refused, whatever it carries", async () => {
    const before = await users();
    expect((await raw("/api/user/create", "account=formuser&password=secret12", "application/x-www-form-urlencoded")).status).toBe(415);
    // The classic trick: a text/plain form whose field name and value spell JSON.
    expect((await raw("/api/user/create", '{"account":"formuser","password":"secret12","x":"="}', "text/plain")).status).toBe(415);
    expect((await raw("/api/user/login", '{"account":"input_owner","password":"password1","x":"="}', "text/plain")).status).toBe(415);
    expect(await users()).toBe(before);
  });

  test.each<[string | undefined, boolean]>([
    ["application/json", true],
    ["application/json; charset=UTF-8", true],
    [" application/json ", true],
    ["application/json; boundary=x", false],
    ["application/json, text/plain", false],
    [undefined, false],
  ])("isJsonType(%p) is %p", (header, want) => expect(isJsonType(header)).toBe(want));
});

describe("UTF-8", () => {
  const json = (inside: number[]) => new Uint8Array([...new TextEncoder().encode('{"account":"utf8_x'), ...inside, ...new TextEncoder().encode('","password":"secret12","name":"n"}')]);
  test.each<[string, number[]]>([
    ["a lone continuation byte", [0x80]],
    ["0xFF", [0xff]],
    ["an overlong slash", [0xc0, 0xaf]],
    ["a truncated three-byte sequence", [0xe2, 0x82]],
    ["a surrogate encoded as UTF-8 (CESU-8)", [0xed, 0xa0, 0x80]],
    ["a code point above U+10FFFF", [0xf4, 0x90, 0x80, 0x80]],
  ])("%s is 400 and stores nothing", async (_label, bytes) => {
    const before = await users();
    const r = await raw("/api/user/create", json(bytes), "application/json");
    expect(r).toEqual({ status: 400, body: { ok: false, code: 400, msg: "body: must be UTF-8", data: null } });
    expect(await users()).toBe(before);
  });

  test("well-formed UTF-8 of every length is fine, and stored as sent", async () => {
    const name = "é€😀";
    const r = await raw("/api/user/create", JSON.stringify({ account: "utf8_ok", password: "secret12", name }), "application/json");
    expect(r.status).toBe(200);
    expect(await sqlGet(app, "SELECT name FROM users WHERE id = ?", r.body.data)).toEqual({ name });
  });

  test("not JSON is still 400 naming the body", async () => {
    expect((await raw("/api/user/login", "{not json", "application/json")).body.msg).toBe("body: must be JSON");
  });

  test("an oversize body is still 413, not a UTF-8 error", async () => {
    const small = await makeApp({ bodyLimit: 1024 });
    try {
      const big = new Uint8Array(4096).fill(0xff);
      const r = await Promise.resolve(small.http.request("/api/user/login", { method: "POST", body: big, headers: { "Content-Type": "application/json" } }, { ip: "127.0.0.1" }));
      expect(r.status).toBe(413);
    } finally {
      small.close();
    }
  });
});

test("rim's demo client and ours (fetch with Content-Type: application/json) work against a real server", async () => {
  const s = await serve();
  try {
    const post = (path: string, body: unknown, token?: string) =>
      fetch(s.url + path, { method: "POST", headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) }).then((r) => r.json() as Promise<any>);
    expect((await post("/api/user/create", { account: "demo_user", password: "secret12" })).ok).toBe(true);
    const token = (await post("/api/user/login", { account: "demo_user", password: "secret12" })).data;
    expect((await post("/api/message/chat/list", { page: 1, size: 10 }, token)).ok).toBe(true);
    // Without a body, POST needs no Content-Type (logout).
    expect((await fetch(s.url + "/api/user/logout", { method: "POST", headers: { Authorization: `Bearer ${token}` } })).status).toBe(200);
  } finally {
    await s.stop();
  }
});
