// A group's life: leave, transfer, roles, delete — over REST, heard live on
// the members' sockets and replayed by Sync for those who were away.
import { afterEach, describe, expect, test } from "bun:test";
import { group, user, type Frame, type TestUser } from "./helpers";
import { connect, heldServer, rest, roundTrip, type HeldServer } from "./write.kit";
import type { Client } from "./helpers";

const isNotify = (content: string) => (f: Frame) => f.event === "Notify" && f.body.content === content;

let cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

async function setup(overrides = {}) {
  const s = await heldServer({ sync: "normal", ...overrides });
  const [owner, admin, member, outsider] = [await user(s.app, "gl_owner"), await user(s.app, "gl_admin"), await user(s.app, "gl_member"), await user(s.app, "gl_out")];
  const gid = await group(s.app, owner, [admin, member], { admins: [admin] });
  const sockets: Client[] = [];
  const open = async (u: TestUser) => {
    const c = await connect(s, u);
    sockets.push(c);
    return c;
  };
  cleanups.push(async () => {
    for (const c of sockets) c.close();
    await s.stop();
  });
  const roles = async () =>
    Object.fromEntries(((await rest(s, `/api/group/user/get?gid=${gid}`, owner.token)).body.data ?? []).map((m: any) => [m.user.account, m.role]));
  return { s, owner, admin, member, outsider, gid, open, roles };
}

const post = (s: HeldServer, path: string, u: TestUser, body: unknown) => rest(s, path, u.token, body);

describe("leave", () => {
  test("a member leaves: everyone hears MemberRemoved, the leaver then nothing more; the group is gone from their list", async () => {
    const { s, owner, member, gid, open } = await setup();
    const co = await open(owner);
    const cm = await open(member);
    expect(await post(s, "/api/group/leave", member, { gid })).toMatchObject({ status: 200, body: { ok: true, data: true } });
    for (const c of [co, cm]) expect((await c.next(isNotify("MemberRemoved"))).body).toMatchObject({ uid: member.uid, uids: [member.uid], eventId: expect.any(Number) });
    await co.request("Msg", { gid, content: "bye" });
    await roundTrip(cm);
    expect(cm.frames.filter((f) => f.event === "Msg")).toEqual([]);
    expect((await rest(s, `/api/group/get?uid=${member.uid}`, member.token)).body.data).toEqual([]);
  });

  test.each([
    ["the owner, with others in the group", 409, "owner", "transfer"],
    ["someone not in it", 403, "outsider", "not a member"],
  ] as const)("refused: %s → %d", async (_label, status, who, msg) => {
    const ctx = await setup();
    const res = await post(ctx.s, "/api/group/leave", ctx[who], { gid: ctx.gid });
    expect(res).toMatchObject({ status, body: { ok: false, code: status } });
    expect(res.body.msg).toContain(msg);
    expect(Object.keys(await ctx.roles())).toHaveLength(3);
  });

  test("an owner alone in the group leaves by deleting it; a direct chat cannot be left", async () => {
    const { s, owner, member } = await setup();
    const solo = await group(s.app, owner, []);
    expect((await post(s, "/api/group/leave", owner, { gid: solo })).status).toBe(200);
    expect((await rest(s, `/api/group/get?uid=${owner.uid}`, owner.token)).body.data.map((g: any) => g.id)).not.toContain(solo);
    const direct = await group(s.app, owner, [member], { mode: 1 });
    expect(await post(s, "/api/group/leave", member, { gid: direct })).toMatchObject({ status: 400 });
    expect(await post(s, "/api/group/leave", owner, { gid: 999_999 })).toMatchObject({ status: 404 });
  });
});

describe("transfer and roles", () => {
  test("transfer: the member becomes owner, the old owner admin; everyone hears RoleChanged; the new owner may now delete, the old may not", async () => {
    const { s, owner, admin, member, gid, open, roles } = await setup();
    const ca = await open(admin);
    expect((await post(s, "/api/group/transfer", owner, { gid, uid: member.uid })).status).toBe(200);
    const n = await ca.next(isNotify("RoleChanged"));
    expect(n.body).toMatchObject({ uid: owner.uid, gid, roles: [{ uid: member.uid, role: 3 }, { uid: owner.uid, role: 2 }], eventId: expect.any(Number) });
    expect(await roles()).toEqual({ gl_owner: 2, gl_admin: 2, gl_member: 3 });
    expect((await post(s, "/api/group/delete", owner, { gid })).status).toBe(403);
    // The old owner can leave now.
    expect((await post(s, "/api/group/leave", owner, { gid })).status).toBe(200);
  });

  test("role: the owner makes a member admin and back; setting the same role again announces nothing", async () => {
    const { s, owner, member, gid, open, roles } = await setup();
    const cm = await open(member);
    expect((await post(s, "/api/group/role", owner, { gid, uid: member.uid, role: 2 })).status).toBe(200);
    expect((await cm.next(isNotify("RoleChanged"))).body.roles).toEqual([{ uid: member.uid, role: 2 }]);
    expect((await roles()).gl_member).toBe(2);
    expect((await post(s, "/api/group/role", owner, { gid, uid: member.uid, role: 2 })).status).toBe(200);
    await roundTrip(cm);
    expect(cm.frames.filter(isNotify("RoleChanged"))).toEqual([]);
    expect((await post(s, "/api/group/role", owner, { gid, uid: member.uid, role: 1 })).status).toBe(200);
    expect((await roles()).gl_member).toBe(1);
  });

  test.each([
    ["transfer by an admin", 403, "/api/group/transfer", "admin", "member", {}],
    ["role by an admin", 403, "/api/group/role", "admin", "member", { role: 2 }],
    ["transfer to someone not in the group", 404, "/api/group/transfer", "owner", "outsider", {}],
    ["role for someone not in the group", 404, "/api/group/role", "owner", "outsider", { role: 2 }],
    ["transfer to yourself", 400, "/api/group/transfer", "owner", "owner", {}],
    ["the owner's own role", 400, "/api/group/role", "owner", "owner", { role: 1 }],
    ["role 3 (use transfer)", 400, "/api/group/role", "owner", "member", { role: 3 }],
  ] as const)("refused: %s → %d", async (_label, status, path, who, target, extra) => {
    const ctx = await setup();
    const before = await ctx.roles();
    const res = await post(ctx.s, path, ctx[who], { gid: ctx.gid, uid: ctx[target].uid, ...extra });
    expect(res).toMatchObject({ status, body: { ok: false, code: status } });
    expect(await ctx.roles()).toEqual(before);
  });
});

describe("delete", () => {
  test("the owner deletes: every member hears GroupDeleted, then nothing; nobody can read or write it; an offline member gets it from Sync", async () => {
    const { s, owner, admin, member, gid, open } = await setup();
    const co = await open(owner);
    const ca = await open(admin);
    const cm = await open(member);
    const last = await co.request("Msg", { gid, content: "last words" });
    await cm.next((f) => f.event === "Msg");
    cm.close();
    await cm.waitClose();

    expect((await post(s, "/api/group/delete", owner, { gid })).status).toBe(200);
    for (const c of [co, ca]) expect((await c.next(isNotify("GroupDeleted"))).body).toMatchObject({ gid, uid: owner.uid, eventId: expect.any(Number) });
    expect(await co.request("Msg", { gid, content: "anyone?" })).toMatchObject({ content: "Error", code: 403 });
    for (const u of [owner, admin]) {
      expect((await rest(s, "/api/message/history", u.token, { gid, page: 1, size: 20 })).status).toBe(403);
      expect((await rest(s, `/api/group/get?uid=${u.uid}`, u.token)).body.data).toEqual([]);
    }

    const back = await open(member);
    const ack = await back.request("Sync", { msgId: last.serverMsgId });
    expect(back.frames.map((f) => f.body.content)).toEqual(["GroupDeleted"]);
    expect(ack).toMatchObject({ content: "Ok", serverMsgId: back.frames[0]!.body.eventId, more: false });
  });

  // The held disk: SQLite's fsync (so --sync full), or each node's batch after its COMMIT on the cluster.
  test.each([
    ["made durable: the owner's 200 and everyone's GroupDeleted follow", null, 200],
    ["never confirmed: a 500 and nobody hears of it", new Error("EIO"), 500],
  ] as const)("a delete is heard of only once durable; %s", async (_label, failure, status) => {
    const { s, owner, admin, gid, open } = await setup({ sync: "full" });
    const ca = await open(admin);
    s.disk.hold();
    let answered = false;
    const reply = post(s, "/api/group/delete", owner, { gid }).finally(() => (answered = true));
    await s.disk.held();
    await roundTrip(ca);
    expect(ca.frames.filter(isNotify("GroupDeleted"))).toEqual([]);
    expect(answered).toBe(false);
    s.disk.release(failure);
    expect((await reply).status).toBe(status);
    s.disk.pass();
    if (status === 200) expect((await ca.next(isNotify("GroupDeleted"))).body.gid).toBe(gid);
    else expect(await ca.expectNone(isNotify("GroupDeleted"))).toBe(true);
  });

  test("a deleted direct chat frees the pair: creating it again makes a new one", async () => {
    const { s, owner, member } = await setup();
    const first = await group(s.app, owner, [member], { mode: 1 });
    expect((await post(s, "/api/group/delete", owner, { gid: first })).status).toBe(200);
    const again = await post(s, "/api/group/create", owner, { group: { name: "", avatar: "", mode: 1 }, users: [{ uid: member.uid, role: 1 }] });
    expect(again.status).toBe(200);
    expect(again.body.data).not.toBe(first);
  });

  test.each([["an admin", 403, "admin"], ["a member", 403, "member"], ["someone not in it", 403, "outsider"]] as const)("refused: %s → %d", async (_l, status, who) => {
    const ctx = await setup();
    expect(await post(ctx.s, "/api/group/delete", ctx[who], { gid: ctx.gid })).toMatchObject({ status, body: { ok: false } });
    expect(Object.keys(await ctx.roles())).toHaveLength(3);
  });
});
