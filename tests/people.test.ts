// The directory and the profile: find people by any part of their account or
// name, never a disabled one, never an email; change your own profile.
import { afterAll, describe, expect, test } from "bun:test";
import { setDisabled, setUserAdmin, sqlGet } from "./helpers";
import { call, fixture, makeApp, user } from "./helpers";

const app = await makeApp();
afterAll(() => app.close());
const finn = await user(app, "finn");
const ann = await user(app, "ann_lee");
await user(app, "annabel");
await user(app, "joanna");
const gone = await user(app, "anne_gone");
await setDisabled(fixture(app), "anne_gone", true);
// Through the profile, as a user would: a name is written with its fold (domain/fold.ts).
await call(app, "POST", "/api/user/update", { token: finn.token, body: { name: "Finnegan Ann", email: "finn@example.com" } });

const dir = async (q: string, limit?: number) =>
  (await call(app, "GET", `/api/user/directory?q=${encodeURIComponent(q)}${limit ? `&limit=${limit}` : ""}`, { token: ann.token })).body.data.map((u: any) => u.account);

describe("directory", () => {
  test.each([
    ["a prefix of an account", "ann", ["ann_lee", "annabel", "finn", "joanna"]],
    ["any case", "FINN", ["finn"]],
    ["a part of a name", "negan", ["finn"]],
    ["a substring", "oan", ["joanna"]],
    ["LIKE's wildcards are plain text", "%", []],
    ["nothing matches", "zzz", []],
  ] as const)("%s: %p", async (_label, q, accounts) => {
    expect(await dir(q)).toEqual([...accounts]);
  });

  test("prefix matches of the account come first, then of the name, then the rest; limit caps the list", async () => {
    expect(await dir("ann")).toEqual(["ann_lee", "annabel", "finn", "joanna"]);
    expect(await dir("ann", 2)).toEqual(["ann_lee", "annabel"]);
  });

  test("a disabled user is never listed, and emails are always blank", async () => {
    const res = await call(app, "GET", "/api/user/directory?q=", { token: ann.token });
    expect(res.body.data.map((u: any) => u.account)).not.toContain(gone.account);
    expect(res.body.data.every((u: any) => u.email === "")).toBe(true);
  });

  test.each([
    ["limit 0", 400, "?limit=0"],
    ["limit 51", 400, "?limit=51"],
    ["q longer than 64", 400, `?q=${"x".repeat(65)}`],
  ] as const)("refused: %s → %d", async (_label, status, query) => {
    expect((await call(app, "GET", `/api/user/directory${query}`, { token: ann.token })).status).toBe(status);
  });

  test("needs a token", async () => {
    expect((await call(app, "GET", "/api/user/directory?q=a")).status).toBe(401);
  });
});

// Names in any script, found in any case and without their diacritics, on both engines: SQLite's lower() and
// LIKE fold ASCII only, so names are matched by their fold (users.name_fold, domain/fold.ts). The accounts
// (p01…) share nothing with the names, so a hit is the name's; w01's name holds LIKE's wildcards literally.
describe("directory: names in any script", async () => {
  const world = await makeApp({ registerMaxPerIp: 0 });
  afterAll(() => world.close());
  const NAMES: [string, string][] = [
    ["p01", "Émile Zola"],
    ["p02", "Øyvind Berg"],
    ["p03", "Łukasz Nowak"],
    ["p04", "Ирина Петрова"],
    ["p05", "Οδυσσέας Ελύτης"],
    ["p06", "山田太郎"],
    ["p07", "Jürgen Groß"],
    ["p08", "Anne-Émilie Roy"],
    ["w01", "50% off_sale \\o/"],
    ["emilia", "Zed"],
    ["kate", "Zoe"],
  ];
  // Half register under their name, half rename themselves: both writes of a name fold it.
  for (const [i, [account, name]] of NAMES.entries()) {
    const body = { account, password: "password1", ...(i % 2 ? {} : { name }) };
    expect((await call(world, "POST", "/api/user/create", { body })).status).toBe(200);
    if (i % 2) {
      const token = (await call(world, "POST", "/api/user/login", { body: { account, password: "password1" } })).body.data;
      expect((await call(world, "POST", "/api/user/update", { token, body: { name } })).status).toBe(200);
    }
  }
  const me = (await call(world, "POST", "/api/user/login", { body: { account: "kate", password: "password1" } })).body.data;
  await setUserAdmin(fixture(world), (await call(world, "GET", `/api/user/token?token=${me}`, { token: me })).body.data.id, true);
  const find = async (q: string) =>
    (await call(world, "GET", `/api/user/directory?q=${encodeURIComponent(q)}`, { token: me })).body.data.map((u: any) => u.account);
  // The admin's user list (domain/admin.ts) matches the same way, newest first.
  const listed = async (q: string) =>
    (await call(world, "GET", `/api/admin/users?q=${encodeURIComponent(q)}&size=50`, { token: me })).body.data.users.map((u: any) => u.account);
  const newestFirst = (accounts: readonly string[]) => [...accounts].sort((a, b) => NAMES.findIndex(([x]) => x === b) - NAMES.findIndex(([x]) => x === a));

  const CASES = [
    ["as written", "Émile", ["p01"]],
    ["lower case", "émile", ["p01"]],
    ["upper case", "ÉMILE", ["p01"]],
    ["no accent, upper", "EMILE", ["p01"]],
    ["no accent", "emile", ["p01"]],
    ["the accent as a combining mark (NFD)", "E\u0301mile", ["p01"]],
    ["fullwidth letters (NFKC)", "ＥＭＩＬＥ", ["p01"]],
    ["Norwegian ø in any case", "øYVIND", ["p02"]],
    ["ø is a letter of its own, not o with a mark (as in message search)", "oyvind", []],
    ["Polish ł in any case", "ŁUKASZ", ["p03"]],
    ["Cyrillic, lower", "ирина", ["p04"]],
    ["Cyrillic, upper", "ПЕТРОВА", ["p04"]],
    ["Greek, upper, without tonos", "ΟΔΥΣΣΕΑΣ", ["p05"]],
    ["Greek, lower, with tonos", "οδυσσέας", ["p05"]],
    ["Greek final sigma typed as σ", "ελυτησ", ["p05"]],
    ["CJK, a part of the name", "太郎", ["p06"]],
    ["German ß as ss", "GROSS", ["p07"]],
    ["German ß as typed", "groß", ["p07"]],
    ["German ü without its mark", "jurgen", ["p07"]],
    ["hostile: % is a literal percent", "%", ["w01"]],
    ["hostile: a fullwidth ％ folds to % and stays literal", "％", ["w01"]],
    ["hostile: % is no wildcard", "5%f", []],
    ["hostile: _ is a literal underscore", "_", ["w01"]],
    ["hostile: _ is no wildcard", "o_f", []],
    ["hostile: a backslash is a literal backslash", "\\", ["w01"]],
    ["hostile: the Kelvin sign is K's compatibility form (an account's identity stays ASCII: accounts.nocase)", "\u212Aate", ["kate"]],
    ["hostile: 64 characters that NFKC makes 1152", "\uFDFA".repeat(64), []],
    ["hostile: 64 letters", "É".repeat(64), []],
    ["several: the account's prefix first, then the name's, then the rest", "ÉMIL", ["emilia", "p01", "p08"]],
  ] as const;

  test.each(CASES)("directory, %s: %p", async (_label, q, accounts) => {
    expect(await find(q)).toEqual([...accounts]);
  });

  test.each(CASES)("admin's user list, %s: %p", async (_label, q, accounts) => {
    expect(await listed(q)).toEqual(newestFirst(accounts));
  });
});

describe("profile", () => {
  test("change name, avatar and email; the caller sees their own email, the directory shows the new name", async () => {
    const res = await call(app, "POST", "/api/user/update", { token: ann.token, body: { name: "  Ann Lee ", avatar: "https://example.com/a.png", email: "ann@example.com" } });
    expect(res.body).toMatchObject({ ok: true, data: { id: ann.uid, account: "ann_lee", name: "Ann Lee", avatar: "https://example.com/a.png", email: "ann@example.com" } });
    expect((await call(app, "GET", "/api/user/directory?q=ann lee", { token: finn.token })).body.data).toEqual([
      { id: ann.uid, account: "ann_lee", name: "Ann Lee", avatar: "https://example.com/a.png", email: "" },
    ]);
  });

  test.each([
    ["an empty body", 400, {}],
    ["a blank name", 400, { name: "   " }],
    ["a bad email", 400, { email: "nope" }],
    ["a name over 64", 400, { name: "x".repeat(65) }],
  ] as const)("refused: %s → %d, nothing changed", async (_label, status, body) => {
    const before = await sqlGet(app, "SELECT name, avatar, email FROM users WHERE id = ?", finn.uid);
    expect((await call(app, "POST", "/api/user/update", { token: finn.token, body })).status).toBe(status);
    expect(await sqlGet(app, "SELECT name, avatar, email FROM users WHERE id = ?", finn.uid)).toEqual(before);
  });
});
