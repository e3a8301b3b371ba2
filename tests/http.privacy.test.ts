// Emails are private: every user-shaped reply carries email "" for anyone
// but the caller; the caller reads their own through user/token and user/get.
import { afterAll, describe, expect, test } from "bun:test";
import { requestFriend, respondToFriend } from "./helpers";
import { sendMessage } from "./helpers";
import { login, registerUser } from "../src/domain/users";
import { call, group, makeApp, fixture } from "./helpers";

const app = await makeApp();
afterAll(() => app.close());

async function person(account: string) {
  const uid = await registerUser(app, { account, password: "secret12", name: account, avatar: "", email: `${account}@example.com` });
  return { uid, account, token: (await login(app, account, "secret12", "127.0.0.1")).token, email: `${account}@example.com` };
}
const ann = await person("priv_ann");
const bob = await person("priv_bob");
const cat = await person("priv_cat");
const direct = await group(app, ann, [bob], { mode: 1 });
const team = await group(app, ann, [bob, cat]);
await sendMessage(fixture(app), bob.uid, { gid: direct, kind: "Text", content: "hi ann", clientMsgId: "p1" });
await sendMessage(fixture(app), cat.uid, { gid: team, kind: "Text", content: "hi team", clientMsgId: "p2" });
await requestFriend(fixture(app), bob.uid, ann.uid);
await respondToFriend(fixture(app), ann.uid, bob.uid, 1);
await requestFriend(fixture(app), cat.uid, ann.uid); // pending, to ann
await requestFriend(fixture(app), ann.uid, (await person("priv_dan")).uid); // pending, from ann

/** Every object in a reply shaped like a User. */
function usersIn(v: unknown, found: Record<string, unknown>[] = []): Record<string, unknown>[] {
  if (Array.isArray(v)) v.forEach((x) => usersIn(x, found));
  else if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    if ("account" in o && "email" in o) found.push(o);
    Object.values(o).forEach((x) => usersIn(x, found));
  }
  return found;
}

describe("as ann, every reply that shows another user shows no email", () => {
  // Every row has all four cells (no body: undefined): a row shorter than the callback's
  // parameters makes bun:test pass a `done` callback in the missing place and wait for it,
  // which a reply that settles in microtasks (SQLite) hides and one that does I/O (the cluster) does not.
  test.each<[string, "GET" | "POST", () => string, unknown]>([
    ["user/get of bob", "GET", () => `/api/user/get?uid=${bob.uid}`, undefined],
    ["user/search of bob", "GET", () => "/api/user/search?account=priv_bob", undefined],
    ["group/user/get (members)", "GET", () => `/api/group/user/get?gid=${team}`, undefined],
    ["friend/list confirmed", "GET", () => "/api/friend/list?status=1", undefined],
    ["friend/list pending, sent", "GET", () => "/api/friend/list?status=0", undefined],
    ["friend/list pending, received", "GET", () => "/api/friend/list?status=0&dir=in", undefined],
    ["message/chat/list", "POST", () => "/api/message/chat/list", { page: 1, size: 10 }],
    ["message/history of the direct chat", "POST", () => "/api/message/history", { gid: direct, page: 1, size: 10 }],
    ["message/history of the group", "POST", () => "/api/message/history", { gid: team, page: 1, size: 10 }],
  ])("%s", async (_label, method, path, body) => {
    const r = await call(app, method, path(), { token: ann.token, body });
    expect(r.status).toBe(200);
    const shown = usersIn(r.body.data).filter((u) => u.id !== ann.uid);
    expect(shown.length).toBeGreaterThan(0); // the reply does show someone else: the check below can fail
    for (const u of shown) expect({ account: u.account, email: u.email }).toEqual({ account: u.account, email: "" });
    // Nowhere in the reply, under any key.
    for (const p of [bob, cat]) expect(JSON.stringify(r.body)).not.toContain(p.email);
  });
});

describe("the caller's own email stays visible to them", () => {
  test.each<[string, () => string]>([
    ["user/token", () => `/api/user/token?token=${ann.token}`],
    ["user/get of oneself", () => `/api/user/get?uid=${ann.uid}`],
  ])("%s", async (_label, path) => {
    const r = await call(app, "GET", path(), { token: ann.token });
    expect(r.body.data).toMatchObject({ id: ann.uid, email: ann.email });
  });

  test("but not to anyone else asking for them", async () => {
    const r = await call(app, "GET", `/api/user/get?uid=${ann.uid}`, { token: bob.token });
    expect(r.body.data).toMatchObject({ id: ann.uid, email: "" });
  });

  test("user/token with another user's token, asked by ann, does not show its owner's email", async () => {
    const r = await call(app, "GET", `/api/user/token?token=${bob.token}`, { token: ann.token });
    expect(r.body.data).toMatchObject({ id: bob.uid, email: "" });
  });
});
