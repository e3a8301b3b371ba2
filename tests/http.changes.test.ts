// POST /api/message/edit, /delete, /react: the envelope with the updated
// MessageInfo, every refusal with nothing written; mentions in messages and
// the chat list's count of unread mentions.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { sendMessage, sqlAll } from "./helpers";
import { manualClock } from "../src/time";
import { call, fixture, group, makeApp, MSG_ADDITIONS, user, type TestApp, type TestUser } from "./helpers";
import { expectMessage, fails, ok, TIME } from "./http.expect";
import { api, cleanup, connect, isNotify, start } from "./ws.kit";
import { roundTrip } from "./write.kit";

let app: TestApp;
let clock: ReturnType<typeof manualClock>;
let a: TestUser, b: TestUser, c: TestUser, d: TestUser;
let gid: number, other: number;
const START = new Date(2026, 2, 4, 5, 6, 7).getTime();

beforeEach(async () => {
  clock = manualClock(START);
  app = await makeApp({ maxContent: 64 }, { clock });
  [a, b, c, d] = [await user(app, "hc_Ann"), await user(app, "hc_bob"), await user(app, "hc_cid"), await user(app, "hc_dee")];
  gid = await group(app, a, [b, c], { admins: [c] }); // a owner, c admin, b member
  other = await group(app, d, [a]);
});
afterEach(async () => {
  app.close();
  await cleanup();
});

let n = 0;
const send = async (u: TestUser, content: string, g = gid, extra: { kind?: "Text" | "RichText" | "Image"; replyTo?: number } = {}) =>
  (await sendMessage(fixture(app), u.uid, { gid: g, kind: extra.kind ?? "Text", content, clientMsgId: `hc-${++n}`, replyTo: extra.replyTo })).message;
const post = (u: TestUser | null, path: string, body: unknown) => call(app, "POST", `/api/message${path}`, { token: u?.token, body });
const rows = async () => {
  const q = (sql: string) => sqlAll(app, sql);
  return [await q("SELECT * FROM messages ORDER BY id"), await q("SELECT * FROM group_events ORDER BY id"), await q("SELECT * FROM message_reactions"), await q("SELECT * FROM message_mentions")];
};
const chatMentions = async (u: TestUser) => Object.fromEntries(ok<any[]>(await post(u, "/chat/list", {})).map((e) => [e.group.id, e.mentions]));

describe("POST /api/message/edit", () => {
  test("the sender edits: data is the updated MessageInfo; id, seq and createTime stay; editedAt and updateTime move", async () => {
    const m = await send(a, "first");
    clock.advance(5000);
    const data = ok(await post(a, "/edit", { gid, msgId: m.id, content: "second" }));
    expectMessage(data, { id: m.id, seq: 1, content: "second", createTime: "2026-03-04 05:06:07", updateTime: "2026-03-04 05:06:12", editedAt: "2026-03-04 05:06:12", deleted: false });
    expect(ok<any[]>(await post(b, "/history", { gid }))[0].msg).toEqual(data);
  });

  test("refused: not the sender 403, non-member 403, another group's message 404, unknown 404, deleted 404, over --max-content 413, bad body 400, no token 401; nothing written", async () => {
    const m = await send(a, "x");
    const elsewhere = await send(d, "in H", other);
    const gone = await send(a, "gone");
    ok(await post(a, "/delete", { gid, msgId: gone.id }));
    const before = await rows();
    fails(await post(b, "/edit", { gid, msgId: m.id, content: "y" }), 403, "sender");
    fails(await post(c, "/edit", { gid, msgId: m.id, content: "y" }), 403, "sender");
    fails(await post(d, "/edit", { gid, msgId: m.id, content: "y" }), 403, "member");
    fails(await post(a, "/edit", { gid, msgId: elsewhere.id, content: "y" }), 404, "msgId");
    fails(await post(a, "/edit", { gid: other, msgId: m.id, content: "y" }), 404, "msgId");
    fails(await post(a, "/edit", { gid, msgId: 999_999, content: "y" }), 404, "msgId");
    fails(await post(a, "/edit", { gid: 999_999, msgId: m.id, content: "y" }), 404, "group");
    fails(await post(a, "/edit", { gid, msgId: gone.id, content: "y" }), 404, "deleted");
    fails(await post(a, "/edit", { gid, msgId: m.id, content: "é".repeat(33) }), 413, "content");
    fails(await post(a, "/edit", { gid, msgId: m.id }), 400, "content");
    fails(await post(a, "/edit", { gid, msgId: "1", content: "y" }), 400, "msgId");
    fails(await post(null, "/edit", { gid, msgId: m.id, content: "y" }), 401, "login");
    expect(await rows()).toEqual(before);
  });
});

describe("POST /api/message/delete", () => {
  test("the sender, the owner, an admin: data is the tombstone", async () => {
    for (const [by, from] of [[b, b], [a, b], [c, a]] as const) {
      const m = await send(from, `from ${from.account} @hc_cid`);
      const data = ok(await post(by, "/delete", { gid, msgId: m.id }));
      expectMessage(data, { id: m.id, content: "", mentions: [], reactions: [], deleted: true, editedAt: null });
    }
  });

  test("refused: a member deleting another's 403, non-member 403, another group's 404, deleted already 404; nothing written", async () => {
    const m = await send(a, "x");
    const elsewhere = await send(d, "in H", other);
    const gone = await send(b, "gone");
    ok(await post(b, "/delete", { gid, msgId: gone.id }));
    const before = await rows();
    fails(await post(b, "/delete", { gid, msgId: m.id }), 403, "sender");
    fails(await post(d, "/delete", { gid, msgId: m.id }), 403, "member");
    fails(await post(a, "/delete", { gid, msgId: elsewhere.id }), 404, "msgId");
    fails(await post(b, "/delete", { gid, msgId: gone.id }), 404, "deleted");
    fails(await post(a, "/delete", { gid }), 400, "msgId");
    expect(await rows()).toEqual(before);
  });
});

describe("POST /api/message/react", () => {
  test("on adds, off removes, both idempotent; data is the message with its reactions", async () => {
    const m = await send(a, "x");
    expect(ok(await post(b, "/react", { gid, msgId: m.id, emoji: "👍", on: true })).reactions).toEqual([{ emoji: "👍", uids: [b.uid] }]);
    const before = await rows();
    expect(ok(await post(b, "/react", { gid, msgId: m.id, emoji: "👍", on: true })).reactions).toEqual([{ emoji: "👍", uids: [b.uid] }]);
    expect(await rows()).toEqual(before);
    expect(ok(await post(c, "/react", { gid, msgId: m.id, emoji: "👍", on: true })).reactions).toEqual([{ emoji: "👍", uids: [b.uid, c.uid] }]);
    expect(ok(await post(b, "/react", { gid, msgId: m.id, emoji: "👍", on: false })).reactions).toEqual([{ emoji: "👍", uids: [c.uid] }]);
    expect(ok(await post(b, "/react", { gid, msgId: m.id, emoji: "👍", on: false })).reactions).toEqual([{ emoji: "👍", uids: [c.uid] }]);
    expect(ok(await post(c, "/react", { gid, msgId: m.id, emoji: "👍", on: false })).reactions).toEqual([]);
  });

  test("refused: non-member 403, another group's 404, deleted 404, bad emoji 400; nothing written", async () => {
    const m = await send(a, "x");
    const elsewhere = await send(d, "in H", other);
    const gone = await send(a, "gone");
    ok(await post(a, "/delete", { gid, msgId: gone.id }));
    const before = await rows();
    fails(await post(d, "/react", { gid, msgId: m.id, emoji: "👍", on: true }), 403, "member");
    fails(await post(a, "/react", { gid, msgId: elsewhere.id, emoji: "👍", on: true }), 404, "msgId");
    fails(await post(a, "/react", { gid, msgId: gone.id, emoji: "👍", on: true }), 404, "deleted");
    for (const emoji of ["", "x".repeat(33), "\u0007", 1, null]) fails(await post(a, "/react", { gid, msgId: m.id, emoji, on: true }), 400, "emoji");
    fails(await post(a, "/react", { gid, msgId: m.id, emoji: "👍" }), 400, "on");
    expect(await rows()).toEqual(before);
  });
});

describe("mentions", () => {
  test("@account of a member, any case, in Text and RichText; @all: every member; not in images, not an address, not a longer name, not a non-member", async () => {
    expect((await send(a, "hi @HC_BOB and @hc_cid.")).mentions).toEqual([b.uid, c.uid]);
    expect((await send(a, "<b>@hc_bob</b>", gid, { kind: "RichText" })).mentions).toEqual([b.uid]);
    expect((await send(a, "@all look", gid)).mentions).toEqual([a.uid, b.uid, c.uid]);
    expect((await send(a, "https://x/@hc_bob.png", gid, { kind: "Image" })).mentions).toEqual([]);
    expect((await send(a, "mail me at x@hc_bob", gid)).mentions).toEqual([]);
    expect((await send(a, "@hc_bobby @hc_dee", gid)).mentions).toEqual([]);
    expect((await send(a, "(@hc_bob) @hc_ann,@hc_cid", gid)).mentions).toEqual([a.uid, b.uid, c.uid]);
  });

  test("chat/list counts the unread messages that mention you; reading, editing the mention out and deleting take it back; your own do not count", async () => {
    const dm = await group(app, b, [c], { mode: 1 });
    await send(a, "@hc_bob one");
    await send(c, "@all two");
    await send(b, "@hc_bob talking to myself");
    await send(a, "no mention");
    await send(c, "@hc_bob in the dm", dm);
    expect(await chatMentions(b)).toEqual({ [gid]: 2, [dm]: 1 });
    expect(await chatMentions(c)).toEqual({ [gid]: 0, [dm]: 0 }); // @all from c itself
    ok(await post(b, "/group/read", { gid }));
    expect(await chatMentions(b)).toEqual({ [gid]: 0, [dm]: 1 });
    const m1 = await send(a, "@hc_bob again");
    const m2 = await send(c, "@hc_bob and again");
    expect((await chatMentions(b))[gid]).toBe(2);
    expect(ok(await post(a, "/edit", { gid, msgId: m1.id, content: "never mind" })).mentions).toEqual([]);
    expect((await chatMentions(b))[gid]).toBe(1);
    ok(await post(c, "/delete", { gid, msgId: m2.id }));
    expect((await chatMentions(b))[gid]).toBe(0);
    expect(ok(await post(a, "/edit", { gid, msgId: m1.id, content: "@HC_BOB after all" })).mentions).toEqual([b.uid]);
    expect((await chatMentions(b))[gid]).toBe(1);
  });
});

describe("over HTTP, the members' sockets hear of it", () => {
  test("every socket of every member (the actor's included) gets the Notify; the data equals the Notify's message", async () => {
    const s = await start();
    const [x, y] = [await user(s.app, "hc_x"), await user(s.app, "hc_y")];
    const g = await group(s.app, x, [y]);
    const cx = await connect(s, x);
    const cy = await connect(s, y);
    const m = await cx.request("Msg", { gid: g, content: "hello" });
    await cy.next((f) => f.event === "Msg");
    for (const [who, path, body, name] of [
      [x, "/api/message/edit", { gid: g, msgId: m.serverMsgId, content: "hello!" }, "Edited"],
      [y, "/api/message/react", { gid: g, msgId: m.serverMsgId, emoji: "👍", on: true }, "Reacted"],
      [x, "/api/message/delete", { gid: g, msgId: m.serverMsgId }, "Deleted"],
    ] as const) {
      const r = await api(s, path, who.token, body);
      expect(r.status).toBe(200);
      for (const sock of [cx, cy]) {
        const note = await sock.next(isNotify(name));
        expect(note.body).toMatchObject({ uid: who.uid, gid: g, msgId: m.serverMsgId, eventId: expect.any(Number) });
        const { client_msg_id, id, updateTime, ...rest } = r.body.data;
        expect(note.body.message).toEqual({ ...rest, clientMsgId: client_msg_id, msgId: id });
        expect(updateTime).toMatch(TIME);
      }
    }
    await Promise.all([roundTrip(cx), roundTrip(cy)]);
    expect([...cx.frames, ...cy.frames]).toEqual([]);
    expect(MSG_ADDITIONS.deleted).toBe(false);
  });
});
