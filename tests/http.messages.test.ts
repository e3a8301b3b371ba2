// /api/message/*: chat/list, history, group/read. There is no REST send
// route: messages are stored through the domain, as the WebSocket layer does.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { sendMessage } from "./helpers";
import { manualClock } from "../src/time";
import { call, group, makeApp, MSG_ADDITIONS, user, type TestApp, type TestUser, fixture } from "./helpers";
import { expectChat, expectMessage, expectUser, fails, ok } from "./http.expect";

let app: TestApp;
let clock: ReturnType<typeof manualClock>;
let a: TestUser, b: TestUser, c: TestUser, outsider: TestUser;
const START = new Date(2026, 2, 4, 5, 6, 7).getTime(); // local time, as rim formats it

beforeEach(async () => {
  clock = manualClock(START);
  app = await makeApp({}, { clock });
  a = await user(app, "m_alice");
  b = await user(app, "m_bob");
  c = await user(app, "m_carol");
  outsider = await user(app, "m_outsider");
});
afterEach(() => app.close());

const MAX = Number.MAX_SAFE_INTEGER;
let cm = 0;
const send = async (u: TestUser, gid: number, content: string) => {
  clock.advance(1000);
  return (await sendMessage(fixture(app), u.uid, { gid, kind: "Text", content, clientMsgId: `cm-${++cm}` })).message;
};
const post = (u: TestUser, path: string, body: unknown) => call(app, "POST", `/api/message${path}`, { token: u.token, body });
const chatList = async (u: TestUser, body: Record<string, unknown> = {}) => ok<any[]>(await post(u, "/chat/list", { uid: u.uid, page: 1, size: 20, ...body }));
const historyOf = async (u: TestUser, body: Record<string, unknown>) => ok<any[]>(await post(u, "/history", body));

describe("POST /api/message/chat/list", () => {
  test("one entry per conversation with a message, with rim's exact shapes", async () => {
    const dm = await group(app, a, [b], { mode: 1 });
    await group(app, a, [b, c], { name: "quiet" }); // no messages: not listed
    const m = (await sendMessage(fixture(app), b.uid, { gid: dm, kind: "RichText", content: "<b>hi</b>", clientMsgId: "client-1" })).message;
    const list = await chatList(a);
    expect(list).toHaveLength(1);
    expectChat(list[0]);
    expect(list[0]).toEqual({
      group: { id: dm, name: "team", avatar: "", mode: 1, creatorUid: a.uid },
      msg: {
        id: m.id,
        kind: "RichText",
        content: "<b>hi</b>",
        gid: dm,
        uid: b.uid,
        client_msg_id: "client-1",
        seq: 1,
        createTime: "2026-03-04 05:06:07",
        updateTime: "2026-03-04 05:06:07",
        ...MSG_ADDITIONS,
      },
      user: { id: b.uid, name: "M_BOB", avatar: "", email: "", account: "m_bob" },
      unread: 1,
      mentions: 0,
    });
  });

  test("newest activity first; user is the other member of a direct chat, the newest sender otherwise", async () => {
    const dmAB = await group(app, a, [b], { mode: 1 });
    const dmAC = await group(app, c, [a], { mode: 1 });
    const grp = await group(app, a, [b, c]);
    await send(a, dmAB, "a→b");
    await send(c, grp, "c in group");
    await send(a, dmAC, "a→c");
    await send(b, grp, "b in group");
    const list = await chatList(a);
    list.forEach((e) => expectChat(e));
    expect(list.map((e) => [e.group.id, e.msg.content, e.user.id])).toEqual([
      [grp, "b in group", b.uid],
      [dmAC, "a→c", c.uid], // a sent the newest message; the title is still the other party
      [dmAB, "a→b", b.uid],
    ]);
    await send(a, grp, "a in group");
    await send(b, dmAB, "b→a");
    expect((await chatList(a)).map((e) => [e.group.id, e.user.id])).toEqual([
      [dmAB, b.uid],
      [grp, a.uid], // in a group, the newest sender, even the caller
      [dmAC, c.uid],
    ]);
    expect((await chatList(b)).map((e) => [e.group.id, e.user.id])).toEqual([
      [dmAB, a.uid],
      [grp, a.uid],
    ]);
    expect(await chatList(outsider)).toEqual([]);
  });

  test("unread counts messages after the read cursor not sent by the caller", async () => {
    const grp = await group(app, a, [b, c]);
    await send(b, grp, "1");
    await send(b, grp, "2");
    await send(a, grp, "3");
    await send(c, grp, "4");
    const unread = async (u: TestUser) => (await chatList(u))[0].unread;
    expect(await unread(a)).toBe(3);
    expect(await unread(b)).toBe(2);
    expect(await unread(c)).toBe(3);
    ok(await post(a, "/group/read", { gid: grp, uid: a.uid }));
    expect(await unread(a)).toBe(0);
    expect(await unread(b)).toBe(2);
    await send(a, grp, "5");
    expect(await unread(a)).toBe(0); // own messages never count
    await send(b, grp, "6");
    expect(await unread(a)).toBe(1);
  });

  test("a member added later counts only what came after joining", async () => {
    const grp = await group(app, a, [b]);
    await send(b, grp, "before");
    ok(await call(app, "POST", "/api/group/user/change", { token: a.token, body: { gid: grp, uids: [c.uid], opType: 1 } }));
    const first = await chatList(c);
    expect(first.map((e) => [e.msg.content, e.unread])).toEqual([["before", 0]]);
    await send(b, grp, "after");
    expect((await chatList(c)).map((e) => [e.msg.content, e.unread])).toEqual([["after", 1]]);
  });

  test("pages through conversations newest first; uid may be left out", async () => {
    const gids: number[] = [];
    for (const i of [1, 2, 3, 4, 5]) gids.push(await group(app, a, [b], { name: `g${i}` }));
    for (const g of gids) await send(b, g, `in ${g}`);
    const newestFirst = [...gids].reverse();
    const page = async (p: number, size: number) => (await chatList(a, { page: p, size })).map((e) => e.group.id);
    expect(await page(1, 2)).toEqual(newestFirst.slice(0, 2));
    expect(await page(2, 2)).toEqual(newestFirst.slice(2, 4));
    expect(await page(3, 2)).toEqual(newestFirst.slice(4));
    expect(await page(4, 2)).toEqual([]);
    expect(ok<any[]>(await post(a, "/chat/list", {})).map((e) => e.group.id)).toEqual(newestFirst);
  });

  test.each([
    ["another user's uid", 403, () => ({ uid: b.uid }), "uid"],
    ["an absent uid", 403, () => ({ uid: 999999 }), "uid"],
    ["uid 0", 400, () => ({ uid: 0 }), "uid: "],
    ["uid a string", 400, () => ({ uid: "1" }), "uid: "],
    ["uid 2^53", 400, () => ({ uid: MAX + 1 }), "uid: "],
    ["page 0", 400, () => ({ page: 0 }), "page: "],
    ["page -1", 400, () => ({ page: -1 }), "page: "],
    ["page 1.5", 400, () => ({ page: 1.5 }), "page: "],
    ["page a string", 400, () => ({ page: "1" }), "page: "],
    ["size 0", 400, () => ({ size: 0 }), "size: "],
    ["size 101", 400, () => ({ size: 101 }), "size: "],
    ["size null", 400, () => ({ size: null }), "size: "],
  ])("%s → %d", async (_label, status, body, msg) => {
    const grp = await group(app, a, [b]);
    await send(b, grp, "x");
    fails(await post(a, "/chat/list", body()), status, msg);
  });
});

describe("POST /api/message/history", () => {
  let grp: number;
  let ids: number[];
  beforeEach(async () => {
    grp = await group(app, a, [b, c]);
    ids = [];
    for (let i = 1; i <= 7; i++) ids.push((await send(i % 2 ? a : b, grp, `m${i}`)).id);
  });

  test("page 1 is the newest size messages, each page ascending, user = sender", async () => {
    const p1 = await historyOf(a, { gid: grp, uid: a.uid, page: 1, size: 3 });
    expect(p1.map((e) => e.msg.id)).toEqual(ids.slice(4, 7));
    for (const e of p1) {
      expect(Object.keys(e).sort()).toEqual(["group", "msg", "unread", "user"]);
      expect(e.unread).toBeNull();
      expect(e.group).toEqual({ id: grp, name: "team", avatar: "", mode: 2, creatorUid: a.uid });
      expectMessage(e.msg, { gid: grp, kind: "Text" });
      expectUser(e.user, { id: e.msg.uid });
    }
    expect(p1.map((e) => [e.msg.content, e.msg.seq, e.user.account])).toEqual([
      ["m5", 5, "m_alice"],
      ["m6", 6, "m_bob"],
      ["m7", 7, "m_alice"],
    ]);
    expect(p1[0].msg.createTime).toBe("2026-03-04 05:06:12");
    expect((await historyOf(a, { gid: grp, page: 2, size: 3 })).map((e) => e.msg.id)).toEqual(ids.slice(1, 4));
    expect((await historyOf(a, { gid: grp, page: 3, size: 3 })).map((e) => e.msg.id)).toEqual(ids.slice(0, 1));
    expect(await historyOf(a, { gid: grp, page: 4, size: 3 })).toEqual([]);
    expect((await historyOf(a, { gid: grp })).map((e) => e.msg.id)).toEqual(ids); // defaults: page 1, size 20
  });

  test("beforeId pages by cursor, ascending", async () => {
    expect((await historyOf(a, { gid: grp, beforeId: ids[5], size: 2 })).map((e) => e.msg.content)).toEqual(["m4", "m5"]);
    expect((await historyOf(a, { gid: grp, beforeId: ids[3], size: 10 })).map((e) => e.msg.content)).toEqual(["m1", "m2", "m3"]);
    expect(await historyOf(a, { gid: grp, beforeId: ids[0], size: 10 })).toEqual([]);
    // a cursor past the end is the newest page
    expect((await historyOf(a, { gid: grp, beforeId: ids[6]! + 1000, size: 2 })).map((e) => e.msg.content)).toEqual(["m6", "m7"]);
  });

  test("only this group's messages", async () => {
    const other = await group(app, b, [c]);
    await send(c, other, "elsewhere");
    expect((await historyOf(b, { gid: grp })).every((e) => e.msg.gid === grp)).toBe(true);
    expect((await historyOf(b, { gid: other })).map((e) => e.msg.content)).toEqual(["elsewhere"]);
  });

  test("uid naming someone else is accepted and ignored (rim's demo client sends the other party)", async () => {
    const mine = await historyOf(b, { gid: grp, page: 1, size: 20 });
    expect(await historyOf(b, { gid: grp, uid: a.uid, page: 1, size: 20 })).toEqual(mine);
    expect(await historyOf(b, { gid: grp, uid: 999999, page: 1, size: 20 })).toEqual(mine);
    // ... but it does not let a non-member in by naming a member
    fails(await post(outsider, "/history", { gid: grp, uid: a.uid }), 403, "not a member");
  });

  test.each([
    ["gid missing", 400, { gid: undefined }, "gid: "],
    ["gid 0", 400, { gid: 0 }, "gid: "],
    ["gid 2^53", 400, { gid: MAX + 1 }, "gid: "],
    ["gid a string", 400, { gid: "1" }, "gid: "],
    ["uid 0", 400, { uid: 0 }, "uid: "],
    ["page 0", 400, { page: 0 }, "page: "],
    ["size 0", 400, { size: 0 }, "size: "],
    ["size 201", 400, { size: 201 }, "size: "],
    ["size 2.5", 400, { size: 2.5 }, "size: "],
    ["beforeId 0", 400, { beforeId: 0 }, "beforeId: "],
    ["beforeId a string", 400, { beforeId: "9" }, "beforeId: "],
    ["an absent group", 404, { gid: 999999 }, "group not found"],
  ])("%s → %d", async (_label, status, body, msg) => {
    fails(await post(a, "/history", { gid: grp, ...body }), status, msg);
  });
});

describe("POST /api/message/group/read", () => {
  test("moves the caller's read cursor to the newest message; unread becomes 0", async () => {
    const grp = await group(app, a, [b]);
    await send(b, grp, "1");
    const last = await send(b, grp, "2");
    expect((await chatList(a))[0].unread).toBe(2);
    expect(ok(await post(a, "/group/read", { gid: grp, uid: a.uid }))).toBe(true);
    expect((await chatList(a))[0].unread).toBe(0);
    const members = ok<any[]>(await call(app, "GET", `/api/group/user/get?gid=${grp}`, { token: a.token }));
    expect(members.find((m) => m.user.id === a.uid).readMsgId).toBe(last.id);
    expect(members.find((m) => m.user.id === b.uid).readMsgId).toBe(0);
    // again, and without uid: still fine, still 0
    expect(ok(await post(a, "/group/read", { gid: grp }))).toBe(true);
    expect((await chatList(a))[0].unread).toBe(0);
  });

  test("a group with no messages is fine", async () => {
    const grp = await group(app, a, [b]);
    expect(ok(await post(a, "/group/read", { gid: grp }))).toBe(true);
  });

  test.each([
    ["another user's uid", 403, () => ({ uid: b.uid }), "uid"],
    ["a non-member", 403, () => ({ as: "outsider" }), "not a member"],
    ["an absent group", 404, () => ({ gid: 999999 }), "group not found"],
    ["gid missing", 400, () => ({ gid: undefined }), "gid: "],
    ["gid 0", 400, () => ({ gid: 0 }), "gid: "],
    ["gid 2^53", 400, () => ({ gid: MAX + 1 }), "gid: "],
    ["uid -1", 400, () => ({ uid: -1 }), "uid: "],
  ])("%s → %d", async (_label, status, extra, msg) => {
    const grp = await group(app, a, [b]);
    await send(b, grp, "unread");
    const { as, ...body } = extra() as Record<string, unknown>;
    const caller = as === "outsider" ? outsider : a;
    fails(await post(caller, "/group/read", { gid: grp, ...body }), status, msg);
    expect((await chatList(a))[0].unread).toBe(1);
  });
});
