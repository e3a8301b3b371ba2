// Delivery: fan-out to every socket of every member but the sending one,
// idempotent resends, per-group order under concurrent senders, and the
// legacy listener sharing topics with /ws.
import { afterEach, describe, expect, test } from "bun:test";
import { group, MSG_ADDITIONS, socketsOfUser, user, type Frame } from "./helpers";
import { cleanup, collect, connect, freePort, isAck, isMsg, record, say, start, storedMessages, TIME, twoInGroup } from "./ws.kit";

afterEach(cleanup);

describe("fan-out: two users, three sockets", () => {
  test("every other socket gets the push with the original kind, seq and createTime; the sending socket only its Ack", async () => {
    const s = await start();
    const a = await user(s.app);
    const b = await user(s.app);
    const stranger = await user(s.app);
    const gid = await group(s.app, a, [b]);
    const a1 = await connect(s, a);
    const a2 = await connect(s, a);
    const b1 = await connect(s, b);
    const cs = await connect(s, stranger);

    const ack = await say(a1, gid, "<b>rich</b>", { kind: "RichText", clientMsgId: "rich-1" });
    expect(ack).toMatchObject({ content: "Ok", seq: 1 });
    const expected = {
      event: "Msg",
      body: { kind: "RichText", uid: a.uid, gid, content: "<b>rich</b>", clientMsgId: "rich-1", msgId: ack.serverMsgId, seq: 1, createTime: expect.stringMatching(TIME), ...MSG_ADDITIONS },
    };
    expect(await b1.next(isMsg)).toEqual(expected); // the other member
    expect(await a2.next(isMsg)).toEqual(expected); // the sender's other device

    const ack2 = await say(b1, gid, "https://img.example/cat.png", { kind: "Image", clientMsgId: "img-1" });
    for (const c of [a1, a2]) {
      expect((await c.next(isMsg)).body).toMatchObject({ kind: "Image", uid: b.uid, msgId: ack2.serverMsgId, seq: 2, clientMsgId: "img-1" });
    }

    // Sender exclusion, and nothing for a non-member; checked after the pushes above arrived.
    expect(await a1.expectNone(isMsg)).toBe(true);
    expect(await b1.expectNone(isMsg)).toBe(true);
    expect(await cs.expectNone()).toBe(true);
    expect(a2.frames.filter(isMsg)).toEqual([]);
  });

  test("a socket opened later gets live pushes too, and a closed one no longer counts", async () => {
    const s = await start();
    const { a, b, gid } = await twoInGroup(s);
    const a1 = await connect(s, a);
    const b1 = await connect(s, b);
    const b2 = await connect(s, b);
    b1.close();
    await b1.waitClose();
    const b3 = await connect(s, b);
    await say(a1, gid, "hello");
    for (const c of [b2, b3]) expect((await c.next(isMsg)).body.content).toBe("hello");
    expect(socketsOfUser(s, b.uid)).toBe(2);
  });
});

describe("idempotent send", () => {
  test("a resent clientMsgId returns the original serverMsgId, stores once, pushes once", async () => {
    const s = await start();
    const { a, b, gid } = await twoInGroup(s);
    const a1 = await connect(s, a);
    const a2 = await connect(s, a);
    const b1 = await connect(s, b);
    const first = await say(a1, gid, "once", { clientMsgId: "dup-1" });
    const again = await say(a1, gid, "once, edited", { clientMsgId: "dup-1" });
    expect(again).toEqual(first);
    // The same id from the user's other device is the same message too.
    expect(await say(a2, gid, "once", { clientMsgId: "dup-1" })).toEqual(first);
    expect((await storedMessages(s, gid)).map((m) => [m.id, m.content])).toEqual([[first.serverMsgId, "once"]]);
    expect((await b1.next(isMsg)).body.msgId).toBe(first.serverMsgId);
    expect(await b1.expectNone(isMsg)).toBe(true);
    expect((await a2.next(isMsg)).body.msgId).toBe(first.serverMsgId);
    expect(await a2.expectNone(isMsg)).toBe(true);
  });

  test("also when both copies arrive in the same turn, and after reconnecting on a new socket", async () => {
    const s = await start();
    const { a, b, gid } = await twoInGroup(s);
    const a1 = await connect(s, a);
    const b1 = await connect(s, b);
    const frame = { event: "Msg", body: { kind: "Text", uid: a.uid, gid, content: "twice", clientMsgId: "dup-2" } };
    a1.send(frame);
    a1.send(frame);
    const [x, y] = await collect(a1, isAck, 2);
    expect(x).toMatchObject({ content: "Ok", seq: 1 });
    expect(y).toEqual(x);
    a1.close();
    await a1.waitClose();

    const a3 = await connect(s, a);
    expect(await say(a3, gid, "twice", { clientMsgId: "dup-2" })).toEqual(x!);
    expect(await storedMessages(s, gid)).toHaveLength(1);
    expect(await collect(b1, isMsg, 1)).toHaveLength(1);
    expect(await b1.expectNone(isMsg)).toBe(true);
    expect(await a3.expectNone(isMsg)).toBe(true);
  });

  test("idempotency is per sender: another user's same clientMsgId is a new message", async () => {
    const s = await start();
    const { a, b, gid } = await twoInGroup(s);
    const a1 = await connect(s, a);
    const b1 = await connect(s, b);
    const fromA = await say(a1, gid, "a's", { clientMsgId: "same" });
    const fromB = await say(b1, gid, "b's", { clientMsgId: "same" });
    expect(fromB.serverMsgId).not.toBe(fromA.serverMsgId);
    expect(fromB.seq).toBe(2);
    expect(await storedMessages(s, gid)).toHaveLength(2);
  });
});

describe("per-group order under concurrent senders", () => {
  test("four sockets sending at once: seq is 1..N without gaps, and every socket sees ascending ids", async () => {
    const s = await start({ wsRate: 0 });
    const { a, b, gid } = await twoInGroup(s);
    const socks = [await connect(s, a), await connect(s, a), await connect(s, b), await connect(s, b)];
    const logs = socks.map(record);
    const PER = 30;
    const N = PER * socks.length;
    // Interleave the sends so frames of all four sockets are in flight together.
    for (let i = 0; i < PER; i++) {
      socks.forEach((c, k) => c.send({ event: "Msg", body: { kind: "Text", gid, content: `s${k}-${i}`, clientMsgId: `s${k}-${i}` } }));
    }
    const acks = await Promise.all(socks.map((c) => collect(c, isAck, PER)));
    // Each socket hears every message but its own.
    await Promise.all(socks.map((c) => collect(c, isMsg, N - PER)));

    const rows = await storedMessages(s, gid);
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    // seq follows id order.
    expect(rows.map((r) => r.id)).toEqual([...rows.map((r) => r.id)].sort((x, y) => x - y));

    socks.forEach((_, k) => {
      const mine = acks[k]!;
      // Acks come back in send order and name the right stored message.
      expect(mine.map((f) => f.clientMsgId)).toEqual(Array.from({ length: PER }, (_, i) => `s${k}-${i}`));
      expect(mine.every((f) => f.content === "Ok")).toBe(true);
      for (const f of mine) expect(rows.find((r) => r.id === f.serverMsgId)?.client_msg_id).toBe(f.clientMsgId);
      const ids = mine.map((f) => f.serverMsgId as number);
      expect(ids).toEqual([...ids].sort((x, y) => x - y));

      // Everything this socket received, pushes and acks together, in arrival order: ascending ids and seqs.
      const seen = logs[k]!.map((f: Frame) => (f.event === "Msg" ? { id: f.body.msgId, seq: f.body.seq } : { id: f.serverMsgId, seq: f.seq }));
      expect(seen).toHaveLength(N); // N-PER pushes + PER acks (the Login ack came before record)
      for (let i = 1; i < seen.length; i++) {
        expect(seen[i]!.id).toBeGreaterThan(seen[i - 1]!.id);
        expect(seen[i]!.seq).toBe(seen[i - 1]!.seq + 1);
      }
    });
  });

  test("groups have independent seqs", async () => {
    const s = await start();
    const a = await user(s.app);
    const b = await user(s.app);
    const g1 = await group(s.app, a, [b]);
    const g2 = await group(s.app, a, [b]);
    const ca = await connect(s, a);
    expect((await say(ca, g1, "x")).seq).toBe(1);
    expect((await say(ca, g2, "y")).seq).toBe(1);
    expect((await say(ca, g1, "z")).seq).toBe(2);
  });
});

describe("legacy listener", () => {
  test("accepts the same protocol on any path, and messages cross between /ws and the legacy port", async () => {
    const port = freePort();
    const s = await start({ legacyWsPort: port });
    expect(s.running.legacy?.port).toBe(port);
    const { a, b, gid } = await twoInGroup(s);
    const aMain = await connect(s, a);
    const aLegacy = await connect(`ws://127.0.0.1:${port}/`, a);
    const b1 = await connect(`ws://127.0.0.1:${port}/any/path?x=1`, b);
    const b2 = await connect(`ws://127.0.0.1:${port}/`, b);

    // main -> legacy (both users' legacy sockets)
    const m1 = await say(aMain, gid, "from main");
    for (const c of [aLegacy, b1, b2]) expect((await c.next(isMsg)).body).toMatchObject({ msgId: m1.serverMsgId, content: "from main" });
    // legacy -> main and legacy, the sending legacy socket excluded
    const m2 = await say(b1, gid, "from legacy", { kind: "Image" });
    expect(m2).toMatchObject({ content: "Ok", seq: 2 });
    for (const c of [aMain, aLegacy, b2]) expect((await c.next(isMsg)).body).toMatchObject({ msgId: m2.serverMsgId, kind: "Image" });
    expect(await b1.expectNone(isMsg)).toBe(true);
    expect(await aMain.expectNone(isMsg)).toBe(true);

    // Every event works there: Read (Notify to /ws), Sync, Heart, error acks.
    expect(await b1.request("Read", { gid, msgId: m1.serverMsgId })).toMatchObject({ content: "Ok", serverMsgId: m1.serverMsgId });
    expect((await aMain.next((f) => f.event === "Notify")).body).toMatchObject({ content: "Read", uid: b.uid, msgId: m1.serverMsgId });
    expect(await b2.request("Sync", { msgId: 0 })).toMatchObject({ content: "Ok", serverMsgId: m2.serverMsgId, more: false });
    b2.send("not json");
    expect(await b2.next(isAck)).toMatchObject({ content: "Error", code: 400, clientMsgId: null });
  });

  test("is off by default", async () => {
    const s = await start();
    expect(s.running.legacy).toBeNull();
  });
});
