// The directory and the profile: find people by any part of their account or
// name, never a disabled one, never an email; change your own profile.
import { afterAll, describe, expect, test } from "bun:test";
import { setDisabled, sqlGet, sqlRun } from "./helpers";
import { call, fixture, makeApp, user } from "./helpers";

const app = await makeApp();
afterAll(() => app.close());
const finn = await user(app, "finn");
const ann = await user(app, "ann_lee");
await user(app, "annabel");
await user(app, "joanna");
const gone = await user(app, "anne_gone");
await setDisabled(fixture(app), "anne_gone", true);
await sqlRun(app, "UPDATE users SET name = 'Finnegan Ann', email = 'finn@example.com' WHERE id = ?", finn.uid);

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
