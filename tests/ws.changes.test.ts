// Replies, edits, deletions and reactions over the socket: per verb the happy
// path, every refusal (with nothing stored and nothing pushed), idempotent
// resends, order against messages, and replay by Sync after a reconnect.
// Who hears what is proven with the round-trip barrier, never by sleeping.
import { afterEach, describe, expect, test } from "bun:test";
import { Client, group, MSG_ADDITIONS, user, type Frame, type TestUser, sqlAll, sqlGet } from "./helpers";
import { api, cleanup, connect, expectError, freePort, isMsg, isNotify, start, TIME, type Served } from "./ws.kit";
import { roundTrip } from "./write.kit";

afterEach(cleanup);

/** The rows a change may touch: equal before and after means nothing was stored. */
async function changeRows(s: Served) {
  const q = (sql: string) => sqlAll(s.app, sql);
  return {
    messages: await q("SELECT * FROM messages ORDER BY id"),
    events: await q("SELECT * FROM group_events ORDER BY id"),
    reactions: await q("SELECT * FROM message_reactions ORDER BY message_id, ord, uid"),
    mentions: await q("SELECT * FROM message_mentions ORDER BY uid, group_id, message_id"),
  };
}

/** Proves each socket was sent nothing (but its own replies, already taken) since the last look. */
async function nothingFor(...socks: Client[]) {
  await Promise.all(socks.map(roundTrip));
  for (const c of socks) expect(c.frames).toEqual([]);
}

/**
 * G: a owns it, c is an admin, b a member; H: d owns it, a is a member (so a
 * message of H is "another group's"); e is in no group with a.
 */
async function world(overrides = {}) {
  const s = await start({ wsRate: 0, ...overrides });
  const [a, b, c, d, e] = [await user(s.app, "ch_ann"), await user(s.app, "ch_bob"), await user(s.app, "ch_cid"), await user(s.app, "ch_dee"), await user(s.app, "ch_eve")];
  const gid = await group(s.app, a, [b, c], { admins: [c] });
  const other = await group(s.app, d, [a]);
  const ca = await connect(s, a);
  const ca2 = await connect(s, a);
  const cb = await connect(s, b);
  const cc = await connect(s, c);
  const cd = await connect(s, d);
  const ce = await connect(s, e);
  /** Sends a Msg, then takes its push off every other socket of G. */
  const post = async (from: Client, content: string, extra: Record<string, unknown> = {}, g = gid) => {
    const ack = await from.request("Msg", { gid: g, content, ...extra });
    expect(ack.content).toBe("Ok");
    const members = g === gid ? [ca, ca2, cb, cc] : [ca, ca2, cd];
    for (const sock of members) if (sock !== from) await sock.next((f) => isMsg(f) && f.body.msgId === ack.serverMsgId);
    return ack.serverMsgId as number;
  };
  return { s, a, b, c, d, e, gid, other, ca, ca2, cb, cc, cd, ce, post, all: [ca, ca2, cb, cc, cd, ce] };
}

describe("reply: Msg with replyTo", () => {
  test("stored and pushed with replyTo; history and Sync show it; null means no reply", async () => {
    const { s, a, gid, ca, cb, post } = await world();
    const first = await post(ca, "question");
    const ack = await cb.request("Msg", { gid, content: "answer", replyTo: first });
    expect(ack).toMatchObject({ content: "Ok", seq: 2 });
    const push = await ca.next(isMsg);
    expect(push.body).toMatchObject({ content: "answer", msgId: ack.serverMsgId, replyTo: first });
    const none = await cb.request("Msg", { gid, content: "plain", replyTo: null });
    expect((await ca.next(isMsg)).body).toMatchObject({ msgId: none.serverMsgId, replyTo: null });
    const hist = (await api(s, "/api/message/history", a.token, { gid })).body.data;
    expect(hist.map((e: any) => [e.msg.content, e.msg.replyTo])).toEqual([["question", null], ["answer", first], ["plain", null]]);
    await ca.request("Sync", { msgId: first });
    expect(ca.frames.filter(isMsg).map((f) => f.body.replyTo)).toEqual([first, null]);
  });

  test("refused: another group's message, an unknown one, a deleted one (404); non-member 403; a bad replyTo 400; nothing stored or pushed", async () => {
    const { s, gid, other, ca, cb, cc, cd, ce, post } = await world();
    const mine = await post(ca, "in G");
    const elsewhere = await post(cd, "in H", {}, other);
    const gone = await post(cb, "to be deleted");
    expect((await cb.request("Delete", { gid, msgId: gone })).content).toBe("Ok");
    await Promise.all([ca.next(isNotify("Deleted")), cc.next(isNotify("Deleted"))]);
    const before = await changeRows(s);
    expectError(await cb.request("Msg", { gid, content: "x", replyTo: elsewhere, clientMsgId: "r1" }), 404, "r1");
    expectError(await cb.request("Msg", { gid, content: "x", replyTo: 999_999, clientMsgId: "r2" }), 404, "r2");
    expectError(await cb.request("Msg", { gid, content: "x", replyTo: gone, clientMsgId: "r3" }), 404, "r3");
    expectError(await ce.request("Msg", { gid, content: "x", replyTo: mine, clientMsgId: "r4" }), 403, "r4");
    for (const bad of [0, -1, "1", 1.5, true]) expectError(await cb.request("Msg", { gid, content: "x", replyTo: bad, clientMsgId: "r5" }), 400, "r5");
    expect(await changeRows(s)).toEqual(before);
    await nothingFor(ca, cc, cd);
  });

  test("a resend with the same clientMsgId answers the original, even once its target is deleted", async () => {
    const { s, gid, ca, cb, cc, post } = await world();
    const target = await post(ca, "target");
    const first = await cb.request("Msg", { gid, content: "re", replyTo: target, clientMsgId: "reply-1" });
    await Promise.all([ca.next(isMsg), cc.next(isMsg)]);
    expect((await ca.request("Delete", { gid, msgId: target })).content).toBe("Ok");
    await Promise.all([cb.next(isNotify("Deleted")), cc.next(isNotify("Deleted"))]);
    const again = await cb.request("Msg", { gid, content: "re", replyTo: target, clientMsgId: "reply-1" });
    expect(again).toEqual(first);
    expect(await sqlGet(s.app, "SELECT count(*) AS n FROM messages WHERE client_msg_id = 'reply-1'")).toEqual({ n: 1 });
    await nothingFor(ca, cc);
  });
});

describe("Edit", () => {
  test("the sender edits: msgId and seq stay, editedAt is set; the others (and the sender's other socket) get Notify Edited with the message; the editing socket only its Ack", async () => {
    const { s, a, b, gid, ca, ca2, cb, cc, cd, ce, post } = await world();
    const id = await post(ca, "helo");
    const ack = await ca.request("Edit", { gid, msgId: id, content: "hello @CH_BOB", clientMsgId: "e1" });
    expect(ack).toEqual({ clientMsgId: "e1", serverMsgId: expect.any(Number), kind: "Ack", content: "Ok" });
    expect(ack.serverMsgId).toBeGreaterThan(id);
    const want = {
      event: "Notify",
      body: {
        kind: "Text", uid: a.uid, gid, content: "Edited", clientMsgId: "", msgId: id, eventId: ack.serverMsgId,
        message: {
          kind: "Text", uid: a.uid, gid, content: "hello @CH_BOB", clientMsgId: expect.any(String), msgId: id, seq: 1, createTime: expect.stringMatching(TIME),
          ...MSG_ADDITIONS, mentions: [b.uid], editedAt: expect.stringMatching(TIME),
        },
      },
    };
    for (const sock of [ca2, cb, cc]) expect(await sock.next(isNotify("Edited"))).toEqual(want);
    await nothingFor(ca, ca2, cb, cc, cd, ce);
    const row = (await api(s, "/api/message/history", b.token, { gid })).body.data[0].msg;
    expect(row).toMatchObject({ id, seq: 1, content: "hello @CH_BOB", mentions: [b.uid], editedAt: expect.stringMatching(TIME), deleted: false });
  });

  test("refused: not the sender 403, non-member 403, another group's message 404, unknown 404, deleted 404, over --max-content 413, before Login 401, another uid 403, malformed 400; nothing stored or pushed", async () => {
    const { s, a, gid, other, ca, ca2, cb, cc, cd, ce, post } = await world({ maxContent: 64 });
    const id = await post(ca, "original");
    const elsewhere = await post(cd, "in H", {}, other);
    const gone = await post(ca, "gone");
    await ca.request("Delete", { gid, msgId: gone });
    await Promise.all([ca2, cb, cc].map((x) => x.next(isNotify("Deleted"))));
    const anon = await connect(s);
    const before = await changeRows(s);
    expectError(await cb.request("Edit", { gid, msgId: id, content: "mine now", clientMsgId: "x1" }), 403, "x1");
    expectError(await cc.request("Edit", { gid, msgId: id, content: "admin", clientMsgId: "x2" }), 403, "x2");
    expectError(await ce.request("Edit", { gid, msgId: id, content: "stranger", clientMsgId: "x3" }), 403, "x3");
    expectError(await ca.request("Edit", { gid, msgId: elsewhere, content: "cross", clientMsgId: "x4" }), 404, "x4");
    expectError(await ca.request("Edit", { gid: other, msgId: id, content: "cross", clientMsgId: "x5" }), 404, "x5");
    expectError(await ca.request("Edit", { gid, msgId: 999_999, content: "none", clientMsgId: "x6" }), 404, "x6");
    expectError(await ca.request("Edit", { gid, msgId: gone, content: "revive", clientMsgId: "x7" }), 404, "x7");
    expectError(await ca.request("Edit", { gid, msgId: id, content: "x".repeat(65), clientMsgId: "x8" }), 413, "x8");
    expectError(await anon.request("Edit", { gid, msgId: id, content: "anon", clientMsgId: "x9" }), 401, "x9");
    expectError(await ca.request("Edit", { gid, msgId: id, content: "forged", uid: a.uid + 1, clientMsgId: "x10" }), 403, "x10");
    expectError(await ca.request("Edit", { gid: 999_999, msgId: id, content: "no group", clientMsgId: "x11" }), 404, "x11");
    for (const body of [{ gid, msgId: id }, { gid, msgId: id, content: 5 }, { gid, content: "no id" }, { msgId: id, content: "no gid" }, { gid, msgId: "1", content: "s" }, { gid, msgId: id, content: "a\uD800" }]) {
      ca.send({ event: "Edit", body: { ...body, clientMsgId: "bad" } });
      expectError(await ca.next((f) => f.clientMsgId === "bad"), 400, "bad");
    }
    expect(await changeRows(s)).toEqual(before);
    await nothingFor(ca, ca2, cb, cc, cd, ce);
    // Exactly at the limit is fine.
    expect((await ca.request("Edit", { gid, msgId: id, content: "x".repeat(64) })).content).toBe("Ok");
  });

  test("a resend with the same clientMsgId (even with other content) answers the first edit's id and changes nothing", async () => {
    const { s, gid, ca, cb, cc, post } = await world();
    const id = await post(ca, "v1");
    const first = await ca.request("Edit", { gid, msgId: id, content: "v2", clientMsgId: "same" });
    await Promise.all([cb.next(isNotify("Edited")), cc.next(isNotify("Edited"))]);
    const before = await changeRows(s);
    for (const content of ["v2", "v3"]) expect(await ca.request("Edit", { gid, msgId: id, content, clientMsgId: "same" })).toEqual(first);
    expect(await changeRows(s)).toEqual(before);
    await nothingFor(cb, cc);
    expect(await sqlGet(s.app, "SELECT content FROM messages WHERE id = ?", id)).toEqual({ content: "v2" });
  });
});

describe("Delete", () => {
  test("the sender, the owner and an admin delete; the message stays a tombstone: content \"\", mentions [], reactions [], deleted true", async () => {
    const { s, a, b, c, gid, ca, ca2, cb, cc, post } = await world();
    const own = await post(cb, "mine @ch_ann");
    const byOwner = await post(cb, "the owner deletes this");
    const byAdmin = await post(ca, "an admin deletes this");
    await cc.request("React", { gid, msgId: own, emoji: "👍", on: true });
    await Promise.all([ca, ca2, cb].map((x) => x.next(isNotify("Reacted"))));
    for (const [sock, actor, msgId] of [[cb, b, own], [ca, a, byOwner], [cc, c, byAdmin]] as const) {
      const ack = await sock.request("Delete", { gid, msgId, clientMsgId: `d-${msgId}` });
      expect(ack).toEqual({ clientMsgId: `d-${msgId}`, serverMsgId: expect.any(Number), kind: "Ack", content: "Ok" });
      for (const other of [ca, ca2, cb, cc].filter((x) => x !== sock)) {
        const n = await other.next(isNotify("Deleted"));
        expect(n.body).toMatchObject({ uid: actor.uid, gid, msgId, eventId: ack.serverMsgId });
        expect(n.body.message).toMatchObject({ msgId, content: "", mentions: [], reactions: [], deleted: true });
      }
    }
    const hist = (await api(s, "/api/message/history", a.token, { gid })).body.data;
    expect(hist.map((e: any) => [e.msg.content, e.msg.deleted])).toEqual([["", true], ["", true], ["", true]]);
    // Content, reactions and mentions are gone from the database too, not hidden.
    expect(await sqlGet(s.app, "SELECT count(*) AS n FROM messages WHERE content != ''")).toEqual({ n: 0 });
    expect(await sqlGet(s.app, "SELECT count(*) AS n FROM message_reactions")).toEqual({ n: 0 });
    expect(await sqlGet(s.app, "SELECT count(*) AS n FROM message_mentions")).toEqual({ n: 0 });
  });

  test("refused: a member deleting another's 403, non-member 403, another group's message 404, deleted already 404; nothing stored or pushed", async () => {
    const { s, gid, other, ca, ca2, cb, cc, cd, ce, post } = await world();
    const aMsg = await post(ca, "a's");
    const elsewhere = await post(cd, "in H", {}, other);
    const gone = await post(cb, "gone");
    await cb.request("Delete", { gid, msgId: gone });
    await Promise.all([ca, ca2, cc].map((x) => x.next(isNotify("Deleted"))));
    const before = await changeRows(s);
    expectError(await cb.request("Delete", { gid, msgId: aMsg, clientMsgId: "y1" }), 403, "y1");
    expectError(await ce.request("Delete", { gid, msgId: aMsg, clientMsgId: "y2" }), 403, "y2");
    expectError(await ca.request("Delete", { gid, msgId: elsewhere, clientMsgId: "y3" }), 404, "y3");
    expectError(await cb.request("Delete", { gid, msgId: gone, clientMsgId: "y4" }), 404, "y4");
    expectError(await ca.request("Delete", { gid, msgId: gone, clientMsgId: "y5" }), 404, "y5");
    expect(await changeRows(s)).toEqual(before);
    await nothingFor(ca, ca2, cb, cc, cd, ce);
  });

  test("a resend with the same clientMsgId answers the first deletion's id", async () => {
    const { s, gid, ca, cb, cc, post } = await world();
    const id = await post(cb, "oops");
    const first = await cb.request("Delete", { gid, msgId: id, clientMsgId: "del" });
    await Promise.all([ca.next(isNotify("Deleted")), cc.next(isNotify("Deleted"))]);
    const before = await changeRows(s);
    expect(await cb.request("Delete", { gid, msgId: id, clientMsgId: "del" })).toEqual(first);
    expect(await changeRows(s)).toEqual(before);
    await nothingFor(ca, cc);
  });
});

describe("React", () => {
  test("any member reacts; emojis in the order first used, each with its holders; one nobody holds is dropped; the order holds while anyone holds it", async () => {
    const { a, b, c, gid, ca, ca2, cb, cc, post } = await world();
    const id = await post(ca, "react to me");
    const react = async (sock: Client, emoji: string, on: boolean) => {
      const ack = await sock.request("React", { gid, msgId: id, emoji, on });
      expect(ack.content).toBe("Ok");
      const seen = await Promise.all([ca, ca2, cb, cc].filter((x) => x !== sock).map((x) => x.next(isNotify("Reacted"))));
      for (const n of seen) expect(n.body.eventId).toBe(ack.serverMsgId);
      return seen[0]!.body.message.reactions;
    };
    expect(await react(cb, "👍", true)).toEqual([{ emoji: "👍", uids: [b.uid] }]);
    expect(await react(cc, "❤️", true)).toEqual([{ emoji: "👍", uids: [b.uid] }, { emoji: "❤️", uids: [c.uid] }]);
    expect(await react(ca, "👍", true)).toEqual([{ emoji: "👍", uids: [b.uid, a.uid] }, { emoji: "❤️", uids: [c.uid] }]);
    // b, who used 👍 first, takes it back: a still holds it, so it keeps its place.
    expect(await react(cb, "👍", false)).toEqual([{ emoji: "👍", uids: [a.uid] }, { emoji: "❤️", uids: [c.uid] }]);
    expect(await react(ca, "👍", false)).toEqual([{ emoji: "❤️", uids: [c.uid] }]);
    // Used again after nobody held it: it is new, so it goes last.
    expect(await react(cb, "👍", true)).toEqual([{ emoji: "❤️", uids: [c.uid] }, { emoji: "👍", uids: [b.uid] }]);
    expect(await react(cc, "❤️", false)).toEqual([{ emoji: "👍", uids: [b.uid] }]);
    expect(await react(cb, "👍", false)).toEqual([]);
  });

  test("idempotent: on when on, off when off: Ok with serverMsgId null, nothing stored or pushed", async () => {
    const { s, gid, ca, ca2, cb, cc, post } = await world();
    const id = await post(ca, "x");
    await cb.request("React", { gid, msgId: id, emoji: "🎉", on: true });
    await Promise.all([ca, ca2, cc].map((x) => x.next(isNotify("Reacted"))));
    const before = await changeRows(s);
    expect(await cb.request("React", { gid, msgId: id, emoji: "🎉", on: true, clientMsgId: "again" })).toEqual({ clientMsgId: "again", serverMsgId: null, kind: "Ack", content: "Ok" });
    expect(await cb.request("React", { gid, msgId: id, emoji: "👀", on: false, clientMsgId: "never" })).toEqual({ clientMsgId: "never", serverMsgId: null, kind: "Ack", content: "Ok" });
    expect(await changeRows(s)).toEqual(before);
    await nothingFor(ca, ca2, cb, cc);
  });

  test("a resend with the same clientMsgId answers the first change and does not toggle it back", async () => {
    const { s, b, gid, ca, cb, cc, post } = await world();
    const id = await post(ca, "x");
    const on = await cb.request("React", { gid, msgId: id, emoji: "🎉", on: true, clientMsgId: "r-on" });
    const off = await cb.request("React", { gid, msgId: id, emoji: "🎉", on: false, clientMsgId: "r-off" });
    await Promise.all([ca, cc].map((x) => collectN(x, isNotify("Reacted"), 2)));
    expect(off.serverMsgId).toBeGreaterThan(on.serverMsgId);
    const before = await changeRows(s);
    expect(await cb.request("React", { gid, msgId: id, emoji: "🎉", on: true, clientMsgId: "r-on" })).toEqual(on);
    expect(await changeRows(s)).toEqual(before);
    await nothingFor(ca, cc);
    expect(await sqlGet(s.app, "SELECT count(*) AS n FROM message_reactions WHERE uid = ?", b.uid)).toEqual({ n: 0 });
  });

  test("refused: non-member 403, another group's message 404, deleted 404, bad emoji or on 400; nothing stored or pushed", async () => {
    const { s, gid, other, ca, ca2, cb, cc, cd, ce, post } = await world();
    const id = await post(ca, "x");
    const elsewhere = await post(cd, "in H", {}, other);
    const gone = await post(ca, "gone");
    await ca.request("Delete", { gid, msgId: gone });
    await Promise.all([ca2, cb, cc].map((x) => x.next(isNotify("Deleted"))));
    const before = await changeRows(s);
    expectError(await ce.request("React", { gid, msgId: id, emoji: "👍", on: true, clientMsgId: "z1" }), 403, "z1");
    expectError(await cd.request("React", { gid, msgId: id, emoji: "👍", on: true, clientMsgId: "z2" }), 403, "z2");
    expectError(await cb.request("React", { gid, msgId: elsewhere, emoji: "👍", on: true, clientMsgId: "z3" }), 404, "z3");
    expectError(await cb.request("React", { gid, msgId: gone, emoji: "👍", on: true, clientMsgId: "z4" }), 404, "z4");
    for (const emoji of ["", "x".repeat(33), "😀".repeat(33), "a\u0000", "\n", "\uD83D", 7, null, ["👍"]]) {
      expectError(await cb.request("React", { gid, msgId: id, emoji, on: true, clientMsgId: "z5" }), 400, "z5");
    }
    for (const on of [undefined, "true", 1, null]) expectError(await cb.request("React", { gid, msgId: id, emoji: "👍", on, clientMsgId: "z6" }), 400, "z6");
    expect(await changeRows(s)).toEqual(before);
    await nothingFor(ca, ca2, cb, cc, cd, ce);
    // 32 characters, whatever their UTF-16 length, are fine.
    expect((await cb.request("React", { gid, msgId: id, emoji: "😀".repeat(32), on: true })).content).toBe("Ok");
    expect((await cb.request("React", { gid, msgId: id, emoji: ":party_parrot:", on: true })).content).toBe("Ok");
  });
});

async function collectN(c: Client, pred: (f: Frame) => boolean, n: number) {
  const out: Frame[] = [];
  for (let i = 0; i < n; i++) out.push(await c.next(pred));
  return out;
}

/** What a client shows after applying frames in order: message id → its latest body. */
function apply(state: Map<number, any>, frames: Frame[]) {
  for (const f of frames) {
    if (f.event === "Msg") state.set(f.body.msgId, f.body);
    else if (f.event === "Notify" && f.body.message) state.set(f.body.msgId, f.body.message);
  }
  return state;
}

/** The messages as REST history shows them to a member, in the Msg push shape. */
async function asOthersSee(s: Served, u: TestUser, gid: number) {
  const hist = (await api(s, "/api/message/history", u.token, { gid, size: 200 })).body.data;
  return new Map<number, any>(
    hist.map((e: any) => [e.msg.id, {
      kind: e.msg.kind, uid: e.msg.uid, gid: e.msg.gid, content: e.msg.content, clientMsgId: e.msg.client_msg_id, msgId: e.msg.id, seq: e.msg.seq, createTime: e.msg.createTime,
      replyTo: e.msg.replyTo, mentions: e.msg.mentions, editedAt: e.msg.editedAt, deleted: e.msg.deleted, reactions: e.msg.reactions,
    }]),
  );
}

describe("order and replay", () => {
  test("changes arrive between the messages they happened between, in id order, with the acks in frame order", async () => {
    const { gid, ca, cb, cc } = await world();
    const m1 = await ca.request("Msg", { gid, content: "one" });
    await Promise.all([cb.next(isMsg), cc.next(isMsg)]);
    // Pipelined: sent at once, without waiting for the acks.
    const frames = [
      { event: "Edit", body: { gid, msgId: m1.serverMsgId, content: "one, edited", clientMsgId: "p1" } },
      { event: "Msg", body: { kind: "Text", gid, content: "two", clientMsgId: "p2" } },
      { event: "React", body: { gid, msgId: m1.serverMsgId, emoji: "👍", on: true, clientMsgId: "p3" } },
      { event: "Msg", body: { kind: "Text", gid, content: "three", replyTo: m1.serverMsgId, clientMsgId: "p4" } },
      { event: "Delete", body: { gid, msgId: m1.serverMsgId, clientMsgId: "p5" } },
      { event: "Msg", body: { kind: "Text", gid, content: "four", clientMsgId: "p6" } },
    ];
    for (const f of frames) ca.send(f);
    const acks = await collectN(ca, (f) => f.kind === "Ack" && f.event === undefined, frames.length);
    expect(acks.map((x) => [x.clientMsgId, x.content])).toEqual(frames.map((f) => [f.body.clientMsgId, "Ok"]));
    const ids = acks.map((x) => x.serverMsgId as number);
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    for (const sock of [cb, cc]) {
      const got = await collectN(sock, (f) => f.event === "Msg" || f.event === "Notify", frames.length);
      expect(got.map((f) => (f.event === "Msg" ? `Msg ${f.body.content}` : `${f.body.content} ${f.body.message.content}`))).toEqual([
        "Edited one, edited",
        "Msg two",
        "Reacted one, edited",
        "Msg three",
        "Deleted ",
        "Msg four",
      ]);
      expect(got.map((f) => (f.event === "Msg" ? f.body.msgId : f.body.eventId))).toEqual(ids);
    }
  });

  test("a client back from a burst of messages, edits, deletions and reactions ends, after Sync, with exactly what the others see", async () => {
    const { s, a, b, gid, ca, ca2, cb, cc, post } = await world({ syncPage: 4 });
    const seed = [await post(ca, "s1"), await post(cb, "s2 @ch_cid"), await post(cc, "s3")];
    // b goes away with what it has; a's other device, which changes nothing itself, stays and applies the live frames.
    const bState = apply(new Map(), []);
    for (const id of seed) bState.set(id, (await asOthersSee(s, a, gid)).get(id));
    const cursor = seed.at(-1)!;
    cb.close();
    await cb.waitClose();
    const live: Frame[] = [];
    ca2.ws.addEventListener("message", (ev) => live.push(JSON.parse(String((ev as MessageEvent).data))));
    const cLive = apply(new Map(), []);
    for (const id of seed) cLive.set(id, bState.get(id));

    let n = 0;
    const burst: [Client, string, Record<string, unknown>][] = [];
    const ids = [...seed];
    for (let round = 0; round < 6; round++) {
      burst.push([ca, "Msg", { gid, content: `m${round} @ch_bob` }]);
      burst.push([ca, "Edit", { gid, msgId: seed[0], content: `s1 v${round}` }]);
      burst.push([cc, "React", { gid, msgId: seed[round % 3], emoji: ["👍", "🎉"][round % 2], on: round % 4 !== 3 }]);
      burst.push([ca, "React", { gid, msgId: seed[1], emoji: "👀", on: round % 2 === 0 }]);
    }
    burst.push([ca, "Delete", { gid, msgId: seed[1] }]);
    burst.push([cc, "Edit", { gid, msgId: seed[2], content: "s3, last word" }]);
    for (const [sock, event, body] of burst) {
      const ack = await sock.request(event, { ...body, clientMsgId: `burst-${++n}` });
      expect(ack.content).toBe("Ok");
      if (event === "Msg") ids.push(ack.serverMsgId);
    }
    await roundTrip(ca2);
    apply(cLive, live.filter((f) => f.event !== undefined));

    const again = await connect(s, b);
    let from = cursor;
    let pages = 0;
    for (;;) {
      const ack = await again.request("Sync", { msgId: from });
      pages++;
      apply(bState, again.frames.splice(0));
      from = ack.serverMsgId;
      if (!ack.more) break;
    }
    expect(pages).toBeGreaterThan(2);
    const truth = await asOthersSee(s, a, gid);
    expect(bState).toEqual(truth);
    expect(cLive).toEqual(truth);
    expect([...truth.keys()]).toEqual(ids);
    expect(truth.get(seed[1]!)).toMatchObject({ deleted: true, content: "", reactions: [], mentions: [] });
    expect(truth.get(seed[0]!)).toMatchObject({ content: "s1 v5", editedAt: expect.stringMatching(TIME) });
  });
});

describe("rim clients are untouched", () => {
  test("a rim client's frames get the same replies; Msg pushes keep rim's fields; changes come only as Notify, never as a Msg push", async () => {
    const { gid, ca, cb, cc, post } = await world();
    // rim's exact frames.
    cb.send({ event: "Msg", body: { kind: "Text", uid: undefined, gid, content: "Hello World", clientMsgId: "badc6d33aebfd40ab3cda" } });
    const ack = await cb.next();
    expect(ack).toEqual({ clientMsgId: "badc6d33aebfd40ab3cda", serverMsgId: expect.any(Number), kind: "Ack", content: "Ok", seq: 1 });
    const push = await ca.next(isMsg);
    const { replyTo, mentions, editedAt, deleted, reactions, ...rim } = push.body;
    expect(rim).toEqual({ kind: "Text", uid: expect.any(Number), gid, content: "Hello World", clientMsgId: "badc6d33aebfd40ab3cda", msgId: ack.serverMsgId, seq: 1, createTime: expect.stringMatching(TIME) });
    expect({ replyTo, mentions, editedAt, deleted, reactions }).toEqual(MSG_ADDITIONS);
    await cc.next(isMsg);
    const id = await post(ca, "to change");
    await ca.request("Edit", { gid, msgId: id, content: "changed" });
    await ca.request("React", { gid, msgId: id, emoji: "👍", on: true });
    await ca.request("Typing", { gid });
    await ca.request("Delete", { gid, msgId: id });
    // Waited for, not assumed there after a round trip: on a cluster cb's node hears of them over the bus, the
    // Typing last of all (forwarded once Redis has answered for its window).
    for (let i = 0; i < 4; i++) await cb.next((f) => f.event === "Notify");
    await roundTrip(cb);
    // A rim client acts on Msg pushes only: it sees none for these, and nothing else.
    expect(cb.frames).toEqual([]);
  });

  test("rim's legacy port (any path) gets the same Msg pushes and Notifies", async () => {
    const port = freePort();
    const s = await start({ legacyWsPort: port });
    const [a, b] = [await user(s.app, "lg_ann"), await user(s.app, "lg_bob")];
    const gid = await group(s.app, a, [b]);
    const ca = await connect(s, a);
    const legacy = await connect(`ws://127.0.0.1:${port}/any/path`, b);
    const sent = await ca.request("Msg", { gid, content: "hi @lg_bob" });
    expect((await legacy.next(isMsg)).body).toMatchObject({ msgId: sent.serverMsgId, mentions: [b.uid] });
    const edit = await ca.request("Edit", { gid, msgId: sent.serverMsgId, content: "hi" });
    expect((await legacy.next(isNotify("Edited"))).body).toMatchObject({ eventId: edit.serverMsgId, message: { content: "hi", mentions: [] } });
  });
});

describe("Sync replays changes with the message as it is now", () => {
  test("each change is replayed in its place, each carrying the message's current state; Sync from a change's eventId starts after it", async () => {
    const { gid, ca, cb, cc, post } = await world();
    const id = await post(ca, "v1");
    const e1 = await ca.request("Edit", { gid, msgId: id, content: "v2" });
    const later = await post(cc, "between");
    const e2 = await ca.request("Edit", { gid, msgId: id, content: "v3" });
    await roundTrip(cb);
    cb.frames.length = 0;
    await cb.request("Sync", { msgId: id });
    const got = cb.frames.splice(0);
    expect(got.map((f) => (f.event === "Msg" ? f.body.msgId : f.body.eventId))).toEqual([e1.serverMsgId, later, e2.serverMsgId]);
    expect(got.filter(isNotify("Edited")).map((f) => f.body.message.content)).toEqual(["v3", "v3"]);
    await cb.request("Sync", { msgId: e2.serverMsgId });
    await roundTrip(cb);
    expect(cb.frames).toEqual([]);
  });
});

describe("property: any mix of messages, replies, edits, deletions and reactions", () => {
  test("a client that resumes with Sync from any cursor ends with exactly what a client that stayed online and REST history show", async () => {
    const fc = (await import("fast-check")).default;
    const { s, a, b, c, ca, ca2, cb, cc } = await world({ syncPage: 3 });
    const users = [
      { u: a, sock: ca },
      { u: b, sock: cb },
      { u: c, sock: cc },
    ];
    const op = fc.record({
      who: fc.integer({ min: 0, max: 2 }),
      verb: fc.constantFrom("Msg", "Msg", "Reply", "Edit", "Delete", "React", "React", "Unreact"),
      pick: fc.nat(),
      emoji: fc.constantFrom("👍", "🎉", "👀"),
      mention: fc.constantFrom("", " @ch_bob", " @all", " @CH_ANN"),
    });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), fc.nat(), async (ops, cut) => {
        const gid = await group(s.app, a, [b, c], { admins: [c] });
        const cmid = `prop${++run}-`;
        // The socket of a's other device joins the new group through its Login; it only listens.
        const watcher = await connect(s, a);
        const live: Frame[] = [];
        watcher.ws.addEventListener("message", (ev) => live.push(JSON.parse(String((ev as MessageEvent).data))));
        const ids: number[] = [];
        let k = 0;
        // Every frame's id (message or change), to resume from a cursor in the middle.
        const cursors = [0];
        for (const o of ops) {
          const { sock } = users[o.who]!;
          const target = ids.length ? ids[o.pick % ids.length]! : null;
          const body: Record<string, unknown> =
            o.verb === "Msg" || o.verb === "Reply" || target === null
              ? { gid, content: `m${k}${o.mention}`, ...(o.verb === "Reply" && target !== null ? { replyTo: target } : {}) }
              : o.verb === "Edit"
                ? { gid, msgId: target, content: `e${k}${o.mention}` }
                : o.verb === "Delete"
                  ? { gid, msgId: target }
                  : { gid, msgId: target, emoji: o.emoji, on: o.verb === "React" };
          const event = "content" in body && !("msgId" in body) ? "Msg" : o.verb === "Unreact" ? "React" : o.verb;
          const ack = await sock.request(event, { ...body, clientMsgId: `${cmid}${k++}` });
          // Refusals (someone else's message, a deleted one) are part of the mix: 403 and 404 only.
          if (ack.content !== "Ok") expect([403, 404]).toContain(ack.code);
          else if (ack.serverMsgId !== null) {
            if (event === "Msg") ids.push(ack.serverMsgId);
            cursors.push(ack.serverMsgId);
          }
        }
        await roundTrip(watcher);
        const truth = await asOthersSee(s, a, gid);
        // The reactions kept on the message are those of message_reactions, in first-use order.
        for (const [id, m] of truth) {
          const rows = await sqlAll(s.app, "SELECT emoji, uid FROM message_reactions WHERE message_id = ? ORDER BY ord, rowid", id) as { emoji: string; uid: number }[];
          const fromTable: { emoji: string; uids: number[] }[] = [];
          for (const r of rows) {
            const last = fromTable.at(-1);
            if (last?.emoji === r.emoji) last.uids.push(r.uid);
            else fromTable.push({ emoji: r.emoji, uids: [r.uid] });
          }
          expect(m.reactions).toEqual(fromTable);
        }
        const seen = apply(new Map(), live);
        expect(seen).toEqual(truth);
        // Back from any cursor: what it had (as it was then is unknowable here, so: nothing of the group) plus the replay.
        const from = cursors[cut % cursors.length]!;
        const resumed = apply(new Map(), live.filter((f) => (f.event === "Msg" ? f.body.msgId : f.body?.eventId) <= from));
        const back = await connect(s, b);
        for (let after = from; ; ) {
          const ack = await back.request("Sync", { msgId: after, gid });
          apply(resumed, back.frames.splice(0));
          after = ack.serverMsgId;
          if (!ack.more) break;
        }
        expect(resumed).toEqual(truth);
        watcher.close();
        back.close();
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 40) > 100 ? 200 : 40 },
    );
    for (const x of [ca, ca2, cb, cc]) x.frames.length = 0;
    console.log(`changes property: ${run} runs`);
  }, 60_000);
});
