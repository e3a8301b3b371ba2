// Sync (gap-free resume after a disconnect, paging, gid filter) and the
// delivered/read cursors behind Ack and Read, with their Notify and the REST
// chat list's unread counts.
import { afterEach, describe, expect, test } from "bun:test";
import { Client, group, user, type Frame, type TestUser, sqlGet } from "./helpers";
import { api, cleanup, collect, connect, cursors, expectError, isMsg, isNotify, record, say, start, storedMessages, type Served, twoInGroup } from "./ws.kit";

afterEach(cleanup);

/** Loops Sync from `after` until more:false, returning the pushed messages and the acks in order. */
async function syncAll(c: Client, after: number, gid?: number): Promise<{ msgs: Frame[]; acks: Frame[] }> {
  const log = record(c);
  const acks: Frame[] = [];
  let from = after;
  for (let round = 0; round < 1000; round++) {
    const ack = await c.request("Sync", gid === undefined ? { msgId: from } : { msgId: from, gid });
    expect(ack.content).toBe("Ok");
    acks.push(ack);
    from = ack.serverMsgId;
    if (!ack.more) break;
  }
  // Every pushed frame arrived before its Ack, so the log is complete here.
  const msgs = log.filter(isMsg);
  c.frames.splice(0, c.frames.length, ...c.frames.filter((f) => !isMsg(f)));
  return { msgs, acks };
}

async function chatUnread(s: Served, u: TestUser): Promise<Record<number, number>> {
  const res = await api(s, "/api/message/chat/list", u.token, { uid: u.uid, page: 1, size: 50 });
  expect(res.status).toBe(200);
  return Object.fromEntries(res.body.data.map((e: any) => [e.group.id, e.unread]));
}

describe("Sync", () => {
  test("after a disconnect during traffic, Sync gives exactly the missed messages: no gaps, no duplicates", async () => {
    const s = await start({ syncPage: 5, wsRate: 0 });
    const a = await user(s.app);
    const b = await user(s.app);
    const c = await user(s.app);
    const g1 = await group(s.app, a, [b]);
    const g2 = await group(s.app, c, [b]);
    const gNotB = await group(s.app, a, [c]);
    const ca = await connect(s, a);
    const cc = await connect(s, c);
    let b1 = await connect(s, b);

    // Two senders stream into b's two groups (and one b is not in) without waiting for acks.
    const TOTAL = 40;
    const send = (i: number) => {
      ca.send({ event: "Msg", body: { kind: "Text", gid: i % 3 === 0 ? gNotB : g1, content: `a${i}`, clientMsgId: `a${i}` } });
      cc.send({ event: "Msg", body: { kind: "Text", gid: g2, content: `c${i}`, clientMsgId: `c${i}` } });
    };
    for (let i = 0; i < TOTAL / 2; i++) send(i);
    // b goes away after seeing a few messages, while traffic continues.
    const seen = await collect(b1, isMsg, 5);
    b1.ws.close();
    for (let i = TOTAL / 2; i < TOTAL; i++) send(i);
    await collect(ca, (f) => f.kind === "Ack" && f.event === undefined, TOTAL);
    await collect(cc, (f) => f.kind === "Ack" && f.event === undefined, TOTAL);
    await b1.waitClose();
    const before = [...seen, ...b1.frames.filter(isMsg)]; // whatever reached b before the close
    const last = Math.max(...before.map((f) => f.body.msgId));

    b1 = await connect(s, b);
    const { msgs, acks } = await syncAll(b1, last);
    expect(acks.length).toBeGreaterThan(1); // it took more than one page
    expect(acks.slice(0, -1).every((x) => x.more === true)).toBe(true);
    expect(acks.at(-1)!.more).toBe(false);

    const expected = (await storedMessages(s)).filter((r) => r.group_id !== gNotB);
    const got = [...before, ...msgs].map((f) => f.body.msgId);
    expect(got).toEqual(expected.map((r) => r.id)); // everything, once, in order
    expect(msgs.map((f) => f.body.msgId)).toEqual(expected.filter((r) => r.id > last).map((r) => r.id));
    expect(msgs.every((f) => f.body.gid !== gNotB)).toBe(true);
    // Each page was at most syncPage pushes, and its Ack names the last one sent.
    let i = 0;
    for (const ack of acks) {
      const page = msgs.filter((f) => f.body.msgId > (i === 0 ? last : acks[i - 1]!.serverMsgId) && f.body.msgId <= ack.serverMsgId);
      expect(page.length).toBeLessThanOrEqual(5);
      if (page.length) expect(page.at(-1)!.body.msgId).toBe(ack.serverMsgId);
      i++;
    }
  });

  test("pages: 12 messages with syncPage 5 come as 5, 5, 2 with more true, true, false; a full last page says more:false", async () => {
    const s = await start({ syncPage: 5 });
    const { a, b, gid } = await twoInGroup(s);
    const ca = await connect(s, a);
    // The group's creation is its first event: start after it, so the pages hold messages only.
    const created = (await sqlGet(s.app, "SELECT max(id) AS n FROM group_events") as { n: number }).n;
    const ids: number[] = [];
    for (let i = 0; i < 12; i++) ids.push((await say(ca, gid, `m${i}`)).serverMsgId);
    const cb = await connect(s, b);
    const log = record(cb);

    const p1 = await cb.request("Sync", { msgId: created });
    const p2 = await cb.request("Sync", { msgId: p1.serverMsgId });
    const p3 = await cb.request("Sync", { msgId: p2.serverMsgId });
    expect([p1, p2, p3].map((p) => [p.serverMsgId, p.more])).toEqual([[ids[4], true], [ids[9], true], [ids[11], false]]);
    // The log: 5 pushes, ack, 5 pushes, ack, 2 pushes, ack.
    expect(log.map((f) => (isMsg(f) ? f.body.msgId : "ack"))).toEqual([...ids.slice(0, 5), "ack", ...ids.slice(5, 10), "ack", ...ids.slice(10), "ack"]);

    // Exactly one page left: more is false, no empty extra round needed.
    cb.frames.splice(0);
    const exact = await cb.request("Sync", { msgId: ids[6] });
    expect(exact).toMatchObject({ serverMsgId: ids[11], more: false });
    expect(cb.frames.splice(0).map((f) => f.body.msgId)).toEqual(ids.slice(7));
    // Nothing new: no pushes, the Ack repeats the client's id.
    const none = await cb.request("Sync", { msgId: ids[11] });
    expect(none).toEqual({ clientMsgId: none.clientMsgId, serverMsgId: ids[11], kind: "Ack", content: "Ok", more: false });
    expect(await cb.expectNone(isMsg)).toBe(true);
  });

  test("gid limits Sync to one group; a group the user is not in is 403 with nothing pushed", async () => {
    const s = await start({ syncPage: 5 });
    const a = await user(s.app);
    const b = await user(s.app);
    const c = await user(s.app);
    const g1 = await group(s.app, a, [b]);
    const g2 = await group(s.app, a, [b, c]);
    const gAC = await group(s.app, a, [c]);
    const ca = await connect(s, a);
    for (let i = 0; i < 4; i++) {
      await say(ca, g1, `g1-${i}`);
      await say(ca, g2, `g2-${i}`);
      await say(ca, gAC, `ac-${i}`);
    }
    const cb = await connect(s, b);
    const only2 = await syncAll(cb, 0, g2);
    expect(only2.msgs.map((f) => f.body.content)).toEqual(["g2-0", "g2-1", "g2-2", "g2-3"]);
    const all = await syncAll(cb, 0);
    expect(all.msgs.map((f) => f.body.content)).toEqual(["g1-0", "g2-0", "g1-1", "g2-1", "g1-2", "g2-2", "g1-3", "g2-3"]);

    expectError(await cb.request("Sync", { msgId: 0, gid: gAC, clientMsgId: "nm" }), 403, "nm");
    expect(await cb.expectNone(isMsg)).toBe(true);
  });

  test("a page stops early at half the backpressure limit, and looping still gets everything", async () => {
    const s = await start({ syncPage: 100, wsBackpressure: 64 * 1024 });
    const { a, b, gid } = await twoInGroup(s);
    const ca = await connect(s, a);
    const big = "x".repeat(10_000);
    for (let i = 0; i < 12; i++) await say(ca, gid, big + i);
    const cb = await connect(s, b);
    const { msgs, acks } = await syncAll(cb, 0);
    expect(acks.length).toBeGreaterThan(1);
    expect(msgs.map((f) => f.body.content)).toEqual(Array.from({ length: 12 }, (_, i) => big + i));
  });
});

describe("Ack and Read cursors", () => {
  test("move forward only: an older id is accepted and ignored", async () => {
    const s = await start();
    const { a, b, gid } = await twoInGroup(s);
    const ca = await connect(s, a);
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) ids.push((await say(ca, gid, `m${i}`)).serverMsgId);
    const cb = await connect(s, b);

    expect(await cb.request("Ack", { gid, msgId: ids[1] })).toMatchObject({ content: "Ok", serverMsgId: null });
    expect(await cb.request("Ack", { gid, msgId: ids[0] })).toMatchObject({ content: "Ok", serverMsgId: null });
    expect(await cursors(s, gid, b.uid)).toEqual({ read: 0, delivered: ids[1]! });

    expect(await cb.request("Read", { gid, msgId: ids[2] })).toMatchObject({ content: "Ok", serverMsgId: ids[2] });
    expect(await cb.request("Read", { gid, msgId: ids[0] })).toMatchObject({ content: "Ok", serverMsgId: ids[0] });
    expect(await cursors(s, gid, b.uid)).toEqual({ read: ids[2]!, delivered: ids[2]! });
    // A delivered receipt older than the read cursor leaves both alone.
    expect(await cb.request("Ack", { gid, msgId: ids[1] })).toMatchObject({ content: "Ok" });
    expect(await cursors(s, gid, b.uid)).toEqual({ read: ids[2]!, delivered: ids[2]! });
    // The sender's cursors were never touched.
    expect(await cursors(s, gid, a.uid)).toEqual({ read: 0, delivered: 0 });
  });

  test("Read pushes a Notify receipt to the other members and the reader's other sockets, once per forward move", async () => {
    const s = await start();
    const a = await user(s.app);
    const b = await user(s.app);
    const outsider = await user(s.app);
    const gid = await group(s.app, a, [b]);
    const a1 = await connect(s, a);
    const a2 = await connect(s, a);
    const b1 = await connect(s, b);
    const b2 = await connect(s, b);
    const co = await connect(s, outsider);
    const m1 = (await say(a1, gid, "one")).serverMsgId;
    const m2 = (await say(a1, gid, "two")).serverMsgId;

    expect(await b1.request("Read", { gid, msgId: m2, uid: b.uid })).toMatchObject({ serverMsgId: m2, content: "Ok" });
    const receipt = { event: "Notify", body: { kind: "Text", uid: b.uid, gid, content: "Read", clientMsgId: "", msgId: m2 } };
    for (const c of [a1, a2, b2]) expect(await c.next(isNotify("Read"))).toEqual(receipt);
    expect(await b1.expectNone(isNotify())).toBe(true);
    expect(await co.expectNone()).toBe(true);

    // An older id moves nothing, so it announces nothing.
    expect(await b1.request("Read", { gid, msgId: m1 })).toMatchObject({ serverMsgId: m1, content: "Ok" });
    expect(await a1.expectNone(isNotify())).toBe(true);
  });

  test("REST chat/list unread counts follow Read frames", async () => {
    const s = await start();
    const { a, b, gid } = await twoInGroup(s);
    const ca = await connect(s, a);
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) ids.push((await say(ca, gid, `m${i}`)).serverMsgId);
    const cb = await connect(s, b);
    expect((await chatUnread(s, b))[gid]).toBe(5);
    expect((await chatUnread(s, a))[gid]).toBe(0); // one's own messages are never unread
    await cb.request("Ack", { gid, msgId: ids[4] });
    expect((await chatUnread(s, b))[gid]).toBe(5); // delivered is not read
    await cb.request("Read", { gid, msgId: ids[2] });
    expect((await chatUnread(s, b))[gid]).toBe(2);
    await cb.request("Read", { gid, msgId: ids[0] });
    expect((await chatUnread(s, b))[gid]).toBe(2);
    await cb.request("Read", { gid, msgId: ids[4] });
    expect((await chatUnread(s, b))[gid]).toBe(0);
    await say(ca, gid, "new");
    expect((await chatUnread(s, b))[gid]).toBe(1);
  });
});
