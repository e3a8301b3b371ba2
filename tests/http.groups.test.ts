// /api/group/*: create, update, get, user/get, user/change, and the role rules.
import { beforeEach, afterEach, describe, expect, test } from "bun:test";
import { call, group, makeApp, user, type TestApp, type TestUser } from "./helpers";
import { expectGroup, expectUser, fails, ok } from "./http.expect";

let app: TestApp;
let owner: TestUser, admin: TestUser, admin2: TestUser, member: TestUser, member2: TestUser, outsider: TestUser;
beforeEach(async () => {
  app = await makeApp();
  owner = await user(app, "g_owner");
  admin = await user(app, "g_admin");
  admin2 = await user(app, "g_admin2");
  member = await user(app, "g_member");
  member2 = await user(app, "g_member2");
  outsider = await user(app, "g_outsider");
});
afterEach(() => app.close());

const MAX = Number.MAX_SAFE_INTEGER;
const post = (u: TestUser, path: string, body: unknown) => call(app, "POST", `/api/group${path}`, { token: u.token, body });
const get = (u: TestUser, path: string) => call(app, "GET", `/api/group${path}`, { token: u.token });
const members = async (u: TestUser, gid: number) =>
  (ok<any[]>(await get(u, `/user/get?gid=${gid}`))).map((m) => ({ uid: m.user.id, role: m.role }));
const team = async () => await group(app, owner, [admin, admin2, member, member2], { admins: [admin, admin2] });
const change = (u: TestUser, gid: number, uids: number[], opType: number) => post(u, "/user/change", { gid, uids, opType });

describe("POST /api/group/create", () => {
  test("returns the gid; the caller is owner (role 3) and the roles given are kept", async () => {
    const gid = ok<number>(await post(owner, "/create", {
      group: { name: "Team", avatar: "t.png", mode: 2, creatorUid: owner.uid },
      users: [{ uid: admin.uid, role: 2 }, { uid: member.uid, role: 1 }, { uid: owner.uid, role: 1 }],
    }));
    expect(gid).toBeGreaterThan(0);
    expect(await members(owner, gid)).toEqual([
      { uid: owner.uid, role: 3 },
      { uid: admin.uid, role: 2 },
      { uid: member.uid, role: 1 },
    ]);
    const groups = ok<any[]>(await get(member, "/get"));
    expect(groups).toHaveLength(1);
    expectGroup(groups[0], { id: gid, name: "Team", avatar: "t.png", mode: 2, creatorUid: owner.uid });
  });

  test("creatorUid and role may be left out; role defaults to common member", async () => {
    const gid = ok<number>(await post(member, "/create", { group: { name: "x", mode: 2 }, users: [{ uid: owner.uid }] }));
    expect(await members(member, gid)).toEqual([{ uid: member.uid, role: 3 }, { uid: owner.uid, role: 1 }]);
    expectGroup(ok<any[]>(await get(member, "/get"))[0], { id: gid, creatorUid: member.uid, avatar: "", name: "x" });
  });

  test("a group of one (no users) is allowed in mode 2", async () => {
    const gid = ok<number>(await post(owner, "/create", { group: { name: "solo", mode: 2 } }));
    expect(await members(owner, gid)).toEqual([{ uid: owner.uid, role: 3 }]);
  });

  test("a forged creatorUid is 403 and creates nothing", async () => {
    fails(await post(member, "/create", { group: { name: "x", mode: 2, creatorUid: owner.uid }, users: [] }), 403, "uid");
    expect(ok<any[]>(await get(member, "/get"))).toEqual([]);
    expect(ok<any[]>(await get(owner, "/get"))).toEqual([]);
  });

  test("mode 1: a direct chat exists once between two people, whoever creates it again", async () => {
    const gid = ok<number>(await post(owner, "/create", { group: { name: "dm", mode: 1 }, users: [{ uid: member.uid, role: 1 }] }));
    expect(ok<number>(await post(owner, "/create", { group: { name: "again", mode: 1 }, users: [{ uid: member.uid }] }))).toBe(gid);
    expect(ok<number>(await post(member, "/create", { group: { name: "back", mode: 1 }, users: [{ uid: owner.uid }, { uid: member.uid }] }))).toBe(gid);
    expectGroup(ok<any[]>(await get(member, "/get"))[0], { id: gid, name: "dm", mode: 1 });
    expect(await members(member, gid)).toEqual([{ uid: owner.uid, role: 3 }, { uid: member.uid, role: 1 }]);
    // A different pair gets its own chat.
    const other = ok<number>(await post(owner, "/create", { group: { name: "dm2", mode: 1 }, users: [{ uid: admin.uid }] }));
    expect(other).not.toBe(gid);
  });

  test.each([
    ["no other member", [], "users"],
    ["only the caller", ["self"], "users"],
    ["two other members", ["member", "admin"], "users"],
  ])("mode 1 with %s is 400", async (_label, who, field) => {
    const byName: Record<string, TestUser> = { self: owner, member, admin };
    const users = (who as string[]).map((w) => ({ uid: byName[w]!.uid }));
    fails(await post(owner, "/create", { group: { name: "dm", mode: 1 }, users }), 400, `${field}: `);
    expect(ok<any[]>(await get(owner, "/get"))).toEqual([]);
  });

  test("an unknown uid is 404 and creates nothing", async () => {
    fails(await post(owner, "/create", { group: { name: "x", mode: 2 }, users: [{ uid: member.uid }, { uid: 999999 }] }), 404, "user 999999 not found");
    fails(await post(owner, "/create", { group: { name: "x", mode: 1 }, users: [{ uid: 999999 }] }), 404, "not found");
    expect(ok<any[]>(await get(owner, "/get"))).toEqual([]);
  });

  const g = { name: "x", avatar: "", mode: 2 };
  test.each([
    ["missing group", { users: [] }, "group"],
    ["group not an object", { group: "x", users: [] }, "group"],
    ["missing mode", { group: { name: "x" }, users: [] }, "group.mode"],
    ["mode 0", { group: { ...g, mode: 0 }, users: [] }, "group.mode"],
    ["mode 3", { group: { ...g, mode: 3 }, users: [] }, "group.mode"],
    ["mode a string", { group: { ...g, mode: "2" }, users: [] }, "group.mode"],
    ["name a number", { group: { ...g, name: 1 }, users: [] }, "group.name"],
    ["name of 101 characters", { group: { ...g, name: "n".repeat(101) }, users: [] }, "group.name"],
    ["avatar of 2049 characters", { group: { ...g, avatar: "a".repeat(2049) }, users: [] }, "group.avatar"],
    ["creatorUid 0", { group: { ...g, creatorUid: 0 }, users: [] }, "group.creatorUid"],
    ["creatorUid 2^53", { group: { ...g, creatorUid: MAX + 1 }, users: [] }, "group.creatorUid"],
    ["creatorUid a string", { group: { ...g, creatorUid: "1" }, users: [] }, "group.creatorUid"],
    ["users not an array", { group: g, users: {} }, "users"],
    ["a user without uid", { group: g, users: [{ role: 1 }] }, "users.0.uid"],
    ["a uid of 0", { group: g, users: [{ uid: 0 }] }, "users.0.uid"],
    ["a uid of -5", { group: g, users: [{ uid: -5 }] }, "users.0.uid"],
    ["a fractional uid", { group: g, users: [{ uid: 1.5 }] }, "users.0.uid"],
    ["a uid of 2^53", { group: g, users: [{ uid: MAX + 1 }] }, "users.0.uid"],
    ["role 3 (owner is not given)", { group: g, users: [{ uid: 2, role: 3 }] }, "users.0.role"],
    ["role 0", { group: g, users: [{ uid: 2, role: 0 }] }, "users.0.role"],
    ["1001 users", { group: g, users: Array.from({ length: 1001 }, (_, i) => ({ uid: i + 1 })) }, "users"],
  ])("%s is 400", async (_label, body, field) => {
    fails(await post(owner, "/create", body), 400, `${field}: `);
  });
});

describe("POST /api/group/update", () => {
  test.each([
    ["the owner", () => owner],
    ["an admin", () => admin],
  ])("%s renames the group", async (_label, who) => {
    const gid = await team();
    expect(ok(await post(who(), "/update", { id: gid, name: "Renamed", avatar: "new.png" }))).toBe(true);
    expectGroup(ok<any[]>(await get(member, "/get"))[0], { id: gid, name: "Renamed", avatar: "new.png", creatorUid: owner.uid });
  });

  test("name alone or avatar alone changes only that", async () => {
    const gid = await team();
    ok(await post(owner, "/update", { id: gid, avatar: "only.png" }));
    expectGroup(ok<any[]>(await get(owner, "/get"))[0], { name: "team", avatar: "only.png" });
    ok(await post(owner, "/update", { id: gid, name: "only name" }));
    expectGroup(ok<any[]>(await get(owner, "/get"))[0], { name: "only name", avatar: "only.png" });
  });

  test.each([
    ["a common member", () => member, 403, "admins"],
    ["a non-member", () => outsider, 403, "not a member"],
  ])("%s may not rename", async (_label, who, status, msg) => {
    const gid = await team();
    fails(await post(who(), "/update", { id: gid, name: "Hijacked", avatar: "" }), status, msg);
    expectGroup(ok<any[]>(await get(owner, "/get"))[0], { name: "team" });
  });

  test.each([
    ["missing id", 400, { name: "x" }, "id: "],
    ["id 0", 400, { id: 0, name: "x" }, "id: "],
    ["id a string", 400, { id: "1", name: "x" }, "id: "],
    ["id 2^53", 400, { id: MAX + 1, name: "x" }, "id: "],
    ["neither name nor avatar", 400, { id: 1 }, "name: "],
    ["an empty name", 400, { id: 1, name: "   " }, "name: "],
    ["name of 101 characters", 400, { id: 1, name: "n".repeat(101) }, "name: "],
    ["avatar of 2049 characters", 400, { id: 1, avatar: "a".repeat(2049) }, "avatar: "],
    ["an absent group", 404, { id: 999999, name: "x" }, "group not found"],
    ["2^53-1 (valid, absent)", 404, { id: MAX, name: "x" }, "group not found"],
  ])("%s → %d", async (_label, status, body, msg) => {
    await team();
    fails(await post(owner, "/update", body), status, msg);
  });
});

describe("GET /api/group/get", () => {
  test("lists the caller's own groups, ascending, uid optional", async () => {
    const g1 = await team();
    const g2 = await group(app, member, [outsider]);
    const mine = ok<any[]>(await get(member, "/get"));
    expect(mine.map((x) => x.id)).toEqual([g1, g2]);
    mine.forEach((x) => expectGroup(x));
    expect(ok<any[]>(await get(member, `/get?uid=${member.uid}`))).toEqual(mine);
    expect(ok<any[]>(await get(outsider, "/get")).map((x) => x.id)).toEqual([g2]);
    expect(ok<any[]>(await get(admin, "/get")).map((x) => x.id)).toEqual([g1]);
  });

  test.each([
    ["another user's uid", 403, () => `?uid=${owner.uid}`, "uid"],
    ["an absent uid", 403, () => "?uid=999999", "uid"],
    ["uid 0", 400, () => "?uid=0", "uid: "],
    ["uid abc", 400, () => "?uid=abc", "uid: "],
    ["uid 2^53", 400, () => `?uid=${MAX + 1}`, "uid: "],
  ])("%s → %d", async (_label, status, query, msg) => {
    await team();
    fails(await get(member, `/get${query()}`), status, msg);
  });
});

describe("GET /api/group/user/get", () => {
  test("members see every member with role and User, owner first", async () => {
    const gid = await team();
    const list = ok<any[]>(await get(member2, `/user/get?gid=${gid}`));
    expect(list.map((m) => [m.user.id, m.role])).toEqual([
      [owner.uid, 3],
      [admin.uid, 2],
      [admin2.uid, 2],
      [member.uid, 1],
      [member2.uid, 1],
    ]);
    for (const m of list) {
      expect(m).toContainKeys(["role", "user"]);
      expectUser(m.user);
    }
    expect(list[0].user).toEqual({ id: owner.uid, name: "G_OWNER", avatar: "", email: "", account: "g_owner" });
  });

  test.each([
    ["a non-member", 403, () => `?gid=GID`, () => outsider, "not a member"],
    ["an absent group", 404, () => "?gid=999999", () => owner, "group not found"],
    ["gid missing", 400, () => "", () => owner, "gid: "],
    ["gid 0", 400, () => "?gid=0", () => owner, "gid: "],
    ["gid -1", 400, () => "?gid=-1", () => owner, "gid: "],
    ["gid x", 400, () => "?gid=x", () => owner, "gid: "],
    ["gid 2^53", 400, () => `?gid=${MAX + 1}`, () => owner, "gid: "],
  ])("%s → %d", async (_label, status, query, who, msg) => {
    const gid = await team();
    fails(await get(who(), `/user/get${query().replace("GID", String(gid))}`), status, msg);
  });
});

describe("POST /api/group/user/change: adding (opType 1)", () => {
  test.each([
    ["the owner", () => owner],
    ["an admin", () => admin],
  ])("%s adds members; existing members are left as they are", async (_label, who) => {
    const gid = await team();
    expect(ok(await change(who(), gid, [outsider.uid, member.uid, outsider.uid], 1))).toBe(true);
    expect(await members(owner, gid)).toContainEqual({ uid: outsider.uid, role: 1 });
    expect(await members(owner, gid)).toContainEqual({ uid: member.uid, role: 1 });
    expect((await members(owner, gid)).length).toBe(6);
    expect(ok<any[]>(await get(outsider, "/get")).map((x) => x.id)).toEqual([gid]);
  });

  test.each([
    ["a common member", () => member, 403, "admins"],
    ["a non-member", () => outsider, 403, "not a member"],
  ])("%s may not add", async (_label, who, status, msg) => {
    const gid = await team();
    const extra = await user(app, "g_extra");
    fails(await change(who(), gid, [extra.uid], 1), status, msg);
    expect((await members(owner, gid)).map((m) => m.uid)).not.toContain(extra.uid);
  });

  test("an absent user is 404 and adds nobody", async () => {
    const gid = await team();
    fails(await change(owner, gid, [outsider.uid, 999999], 1), 404, "user 999999 not found");
    expect((await members(owner, gid)).map((m) => m.uid)).not.toContain(outsider.uid);
  });

  test("a direct chat's members cannot change", async () => {
    const gid = await group(app, owner, [member], { mode: 1 });
    fails(await change(owner, gid, [outsider.uid], 1), 400, "gid: ");
    fails(await change(member, gid, [member.uid], 2), 400, "gid: ");
  });
});

describe("POST /api/group/user/change: removing (opType 2)", () => {
  // [caller, target, status, msg fragment]
  test.each([
    ["member", "member", 200, null],
    ["admin", "admin", 200, null],
    ["member", "member2", 403, "admins"],
    ["member", "admin", 403, "admins"],
    ["member", "owner", 403, "owner"],
    ["admin", "member", 200, null],
    ["admin", "admin2", 403, "only the owner may remove an admin"],
    ["admin", "owner", 403, "the owner cannot be removed"],
    ["owner", "member", 200, null],
    ["owner", "admin", 200, null],
    ["owner", "owner", 403, "the owner cannot leave"],
    ["outsider", "member", 403, "not a member"],
    ["outsider", "outsider", 403, "not a member"],
  ] as const)("%s removing %s → %d", async (callerName, targetName, status, msg) => {
    const who: Record<string, TestUser> = { owner, admin, admin2, member, member2, outsider };
    const caller = who[callerName]!;
    const target = who[targetName]!;
    const gid = await team();
    const before = await members(owner, gid);
    const r = await change(caller, gid, [target.uid], 2);
    if (status === 200) {
      expect(ok(r)).toBe(true);
      expect((await members(owner, gid)).map((m) => m.uid)).not.toContain(target.uid);
      expect((await members(owner, gid)).length).toBe(before.length - 1);
      // Gone means gone: the removed user no longer sees the group.
      fails(await get(target, `/user/get?gid=${gid}`), 403, "not a member");
      expect(ok<any[]>(await get(target, "/get"))).toEqual([]);
    } else {
      fails(r, status, msg!);
      expect(await members(owner, gid)).toEqual(before);
    }
  });

  test("a member may not remove others even when they are not members (no silent success)", async () => {
    const gid = await team();
    fails(await change(member, gid, [outsider.uid], 2), 403, "admins");
    fails(await change(member, gid, [member.uid, member2.uid], 2), 403, "admins");
    expect((await members(owner, gid)).map((m) => m.uid)).toContain(member.uid);
  });

  test("a batch is all or nothing", async () => {
    const gid = await team();
    fails(await change(admin, gid, [member.uid, admin2.uid], 2), 403, "only the owner");
    expect((await members(owner, gid)).length).toBe(5);
    expect(ok(await change(owner, gid, [member.uid, admin2.uid], 2))).toBe(true);
    expect((await members(owner, gid)).map((m) => m.uid)).toEqual([owner.uid, admin.uid, member2.uid]);
  });

  test("an absent user is 404", async () => {
    const gid = await team();
    fails(await change(owner, gid, [999999], 2), 404, "not found");
  });

  test("removing someone who is not a member changes nothing", async () => {
    const gid = await team();
    expect(ok(await change(owner, gid, [outsider.uid], 2))).toBe(true);
    expect((await members(owner, gid)).length).toBe(5);
  });
});

describe("POST /api/group/user/change: validation", () => {
  test.each([
    ["missing opType", 400, { uids: [1] }, "opType: "],
    ["opType 0", 400, { uids: [1], opType: 0 }, "opType: "],
    ["opType 3", 400, { uids: [1], opType: 3 }, "opType: "],
    ["opType a string", 400, { uids: [1], opType: "1" }, "opType: "],
    ["missing uids", 400, { opType: 1 }, "uids: "],
    ["empty uids", 400, { uids: [], opType: 1 }, "uids: "],
    ["uids not an array", 400, { uids: 3, opType: 1 }, "uids: "],
    ["a uid of 0", 400, { uids: [0], opType: 1 }, "uids.0: "],
    ["a uid of 2^53", 400, { uids: [MAX + 1], opType: 1 }, "uids.0: "],
    ["a string uid", 400, { uids: ["2"], opType: 2 }, "uids.0: "],
    ["1001 uids", 400, { uids: Array.from({ length: 1001 }, (_, i) => i + 1), opType: 1 }, "uids: "],
    ["missing gid", 400, { gid: undefined, uids: [1], opType: 1 }, "gid: "],
    ["gid 0", 400, { gid: 0, uids: [1], opType: 1 }, "gid: "],
    ["an absent group", 404, { gid: 999999, uids: [1], opType: 1 }, "group not found"],
    ["an absent group (remove)", 404, { gid: 999999, uids: [1], opType: 2 }, "group not found"],
  ])("%s → %d", async (_label, status, body, msg) => {
    const gid = await team();
    fails(await post(owner, "/user/change", { gid, ...body }), status, msg);
    expect((await members(owner, gid)).length).toBe(5);
  });
});
