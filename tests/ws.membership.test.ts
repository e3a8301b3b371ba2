// Live membership: REST group create / user change / update take effect on
// open sockets at once, with their Notify frames.
import { afterEach, describe, expect, test } from "bun:test";
import { group, user } from "./helpers";
import { api, cleanup, connect, expectError, isMsg, isNotify, say, start, storedMessages, twoInGroup } from "./ws.kit";

afterEach(cleanup);

describe("membership change while connected", () => {
  test("added: every open socket of the new member gets MemberAdded, then the group's pushes, and may send", async () => {
    const s = await start();
    const a = await user(s.app);
    const b = await user(s.app);
    const c = await user(s.app);
    const gid = await group(s.app, a, [b]);
    const ca = await connect(s, a);
    const cb = await connect(s, b);
    const c1 = await connect(s, c);
    const c2 = await connect(s, c);
    await say(ca, gid, "before c");

    const res = await api(s, "/api/group/user/change", a.token, { gid, uids: [c.uid], opType: 1 });
    expect(res.body).toEqual({ ok: true, code: 200, msg: null, data: true });

    const added = { kind: "Text", uid: a.uid, gid, content: "MemberAdded", clientMsgId: "", msgId: null };
    for (const sock of [c1, c2, cb, ca]) {
      const n = await sock.next(isNotify("MemberAdded"));
      expect(n.event).toBe("Notify");
      expect(n.body).toMatchObject(added);
      expect(n.body.uids).toEqual([c.uid]);
    }
    // Nothing said before the join was pushed to c.
    expect(c1.frames.filter(isMsg)).toEqual([]);

    const m = await say(ca, gid, "welcome c");
    for (const sock of [c1, c2]) expect((await sock.next(isMsg)).body).toMatchObject({ msgId: m.serverMsgId, content: "welcome c" });
    const back = await say(c1, gid, "thanks");
    expect(back).toMatchObject({ content: "Ok" });
    expect((await c2.next(isMsg)).body.msgId).toBe(back.serverMsgId);
    expect((await cb.next((f) => isMsg(f) && f.body.uid === c.uid)).body.content).toBe("thanks");
  });

  test("removed: MemberRemoved, then no more pushes; the removed user's frames for the group are 403 with nothing stored; Sync replays up to the removal", async () => {
    const s = await start();
    const a = await user(s.app);
    const b = await user(s.app);
    const c = await user(s.app);
    const gid = await group(s.app, a, [b, c]);
    const ca = await connect(s, a);
    const cb = await connect(s, b);
    const c1 = await connect(s, c);
    const c2 = await connect(s, c);
    const m0 = await say(ca, gid, "all three");
    for (const sock of [c1, c2, cb]) await sock.next(isMsg);

    const res = await api(s, "/api/group/user/change", a.token, { gid, uids: [c.uid], opType: 2 });
    expect(res.body.ok).toBe(true);
    const eventIds = new Set<number>();
    for (const sock of [c1, c2, cb]) {
      const n = await sock.next(isNotify("MemberRemoved"));
      expect(n.body).toMatchObject({ kind: "Text", uid: a.uid, gid, content: "MemberRemoved", clientMsgId: "", msgId: null, uids: [c.uid] });
      eventIds.add(n.body.eventId);
    }
    // One change, one id, the same for everyone, above the last message's.
    expect(eventIds.size).toBe(1);
    const [removal] = [...eventIds] as [number];
    expect(removal).toBeGreaterThan(m0.serverMsgId);

    const m1 = await say(ca, gid, "c is gone");
    expect((await cb.next(isMsg)).body.msgId).toBe(m1.serverMsgId);
    for (const sock of [c1, c2]) expect(await sock.expectNone(isMsg)).toBe(true);

    const count = (await storedMessages(s, gid)).length;
    expectError(await say(c1, gid, "let me back", { clientMsgId: "rm1" }), 403, "rm1");
    expectError(await c1.request("Read", { gid, msgId: m0.serverMsgId, clientMsgId: "rm2" }), 403, "rm2");
    expectError(await c1.request("Ack", { gid, msgId: m0.serverMsgId, clientMsgId: "rm3" }), 403, "rm3");
    expect(await storedMessages(s, gid)).toHaveLength(count);
    expect(await cb.expectNone(isMsg)).toBe(true);
    expect(await ca.expectNone(isNotify("Read"))).toBe(true);
    // Sync replays the group up to the removal and no further: the client learns it was removed, and nothing said after.
    for (const q of [{ gid }, {}]) {
      c1.frames.length = 0;
      expect(await c1.request("Sync", { ...q, msgId: 0 })).toMatchObject({ content: "Ok", more: false, serverMsgId: removal });
      expect(c1.frames.filter(isMsg).map((f) => f.body.msgId)).toEqual([m0.serverMsgId]);
      expect(c1.frames.filter(isNotify("MemberRemoved")).map((f) => f.body.eventId)).toEqual([removal]);
    }
    // From a cursor at the removal, there is nothing more to send.
    expect(await c1.request("Sync", { gid, msgId: removal })).toMatchObject({ content: "Ok", more: false, serverMsgId: removal });
  });

  test("a member who leaves by themself stops getting pushes on every socket", async () => {
    const s = await start();
    const { a, b, gid } = await twoInGroup(s);
    const ca = await connect(s, a);
    const b1 = await connect(s, b);
    const b2 = await connect(s, b);
    const res = await api(s, "/api/group/user/change", b.token, { gid, uids: [b.uid], opType: 2 });
    expect(res.body.ok).toBe(true);
    expect((await ca.next(isNotify("MemberRemoved"))).body).toMatchObject({ uid: b.uid, uids: [b.uid] });
    await say(ca, gid, "bye");
    for (const sock of [b1, b2]) expect(await sock.expectNone(isMsg)).toBe(true);
  });

  test("group/update: every member's socket gets GroupUpdated, non-members nothing", async () => {
    const s = await start();
    const a = await user(s.app);
    const b = await user(s.app);
    const outsider = await user(s.app);
    const gid = await group(s.app, a, [b]);
    const ca = await connect(s, a);
    const cb = await connect(s, b);
    const co = await connect(s, outsider);
    const res = await api(s, "/api/group/update", a.token, { id: gid, name: "renamed" });
    expect(res.body.ok).toBe(true);
    for (const sock of [ca, cb]) {
      const n = await sock.next(isNotify("GroupUpdated"));
      expect(n.body).toMatchObject({ kind: "Text", uid: a.uid, gid, content: "GroupUpdated", clientMsgId: "", msgId: null });
      expect(n.body.group).toMatchObject({ id: gid, name: "renamed" });
    }
    expect(await co.expectNone()).toBe(true);
    // A refused update announces nothing.
    const denied = await api(s, "/api/group/update", b.token, { id: gid, name: "mine now" });
    expect(denied.status).toBe(403);
    expect(await ca.expectNone(isNotify("GroupUpdated"))).toBe(true);
  });

  test("group/create: the new members' open sockets join the topic at once", async () => {
    const s = await start();
    const a = await user(s.app);
    const b = await user(s.app);
    const ca = await connect(s, a);
    const cb = await connect(s, b);
    const res = await api(s, "/api/group/create", a.token, { group: { name: "fresh", avatar: "", mode: 2 }, users: [{ uid: b.uid, role: 1 }] });
    expect(res.body.ok).toBe(true);
    const gid = res.body.data as number;
    expect((await cb.next(isNotify("MemberAdded"))).body).toMatchObject({ gid, uid: a.uid });
    const m = await say(ca, gid, "first words");
    expect(m).toMatchObject({ content: "Ok", seq: 1 });
    expect((await cb.next(isMsg)).body).toMatchObject({ gid, msgId: m.serverMsgId });
  });
});
