// Limits: frame size (1009), content size (413), the per-socket rate limit
// (429, then close), sockets per user (429), and backpressure: a reader that
// stops reading is closed and recovers every message with Sync.
import { afterEach, describe, expect, test } from "bun:test";
import type { WebSocket as BunWebSocket } from "bun";
import { group, socketsOfUser, user, type Frame } from "./helpers";
import { cleanup, collect, connect, expectError, isAck, isMsg, record, say, start, storedMessages, twoInGroup } from "./ws.kit";

afterEach(cleanup);

describe("sizes", () => {
  test("a frame over wsMaxFrame closes the socket with 1009; other sockets carry on", async () => {
    const s = await start({ wsMaxFrame: 2048 });
    const { a, b, gid } = await twoInGroup(s);
    const ca = await connect(s, a);
    const cb = await connect(s, b);
    // Just under the limit is fine.
    const fits = await say(ca, gid, "y".repeat(1800));
    expect(fits).toMatchObject({ content: "Ok" });
    ca.send({ event: "Msg", body: { kind: "Text", gid, content: "x".repeat(4000), clientMsgId: "too-big" } });
    expect((await ca.waitClose()).code).toBe(1009);
    expect(await storedMessages(s)).toHaveLength(1);
    expect(await cb.request("Heart")).toMatchObject({ content: "Ok" });
  });

  test("content over maxContent (in bytes) is a 413 error ack and stores nothing; exactly the limit is fine", async () => {
    const s = await start({ maxContent: 100 });
    const { a, b, gid } = await twoInGroup(s);
    const ca = await connect(s, a);
    const cb = await connect(s, b);
    expectError(await say(ca, gid, "x".repeat(101), { clientMsgId: "c101" }), 413, "c101");
    // 34 characters, 102 bytes.
    expectError(await say(ca, gid, "€".repeat(34), { clientMsgId: "euro" }), 413, "euro");
    expect(await storedMessages(s)).toEqual([]);
    expect(await cb.expectNone(isMsg)).toBe(true);
    expect(await say(ca, gid, "x".repeat(100))).toMatchObject({ content: "Ok", seq: 1 });
    expect(await say(ca, gid, "€".repeat(33))).toMatchObject({ content: "Ok", seq: 2 });
  });
});

describe("rate limit", () => {
  test("beyond the burst frames get 429 error acks that echo their clientMsgId; a socket that goes on is closed", async () => {
    const s = await start({ wsRate: 5, wsBurst: 5 });
    const { a, b, gid } = await twoInGroup(s);
    const c = await connect(s);
    const cb = await connect(s, b);
    // The Login used nothing yet: c's bucket is full (5). 10 frames at once: 5 pass, 5 are refused.
    const login = { event: "Login", body: { kind: "Text", content: a.token, uid: a.uid, clientMsgId: "r0" } };
    c.send(login);
    for (let i = 1; i < 10; i++) c.send({ event: "Msg", body: { kind: "Text", gid, content: `m${i}`, clientMsgId: `r${i}` } });
    const replies = await collect(c, isAck, 10);
    expect(replies.slice(0, 5).map((r) => [r.clientMsgId, r.content])).toEqual([0, 1, 2, 3, 4].map((i) => [`r${i}`, "Ok"]));
    replies.slice(5).forEach((r, i) => expectError(r, 429, `r${i + 5}`));
    // Refused frames were not stored or pushed.
    expect((await storedMessages(s)).map((m) => m.client_msg_id)).toEqual(["r1", "r2", "r3", "r4"]);
    await collect(cb, isMsg, 4);
    expect(await cb.expectNone(isMsg)).toBe(true);

    // Keeping on flooding gets the socket closed.
    for (let i = 0; i < 200; i++) c.send({ event: "Heart", body: { kind: "Text", content: "", clientMsgId: `h${i}` } });
    expect((await c.waitClose()).code).toBe(4029);
    // The other socket is unaffected.
    expect(await cb.request("Heart")).toMatchObject({ content: "Ok" });
  });

  test("wsRate 0 turns the limit off", async () => {
    const s = await start({ wsRate: 0, wsBurst: 1 });
    const c = await connect(s);
    for (let i = 0; i < 300; i++) c.send({ event: "Heart", body: { kind: "Text", content: "", clientMsgId: `h${i}` } });
    const replies = await collect(c, isAck, 300);
    expect(replies.every((r) => r.content === "Ok")).toBe(true);
  });
});

describe("sockets per user", () => {
  test("the Login of a socket beyond maxSocketsPerUser is 429; closing one makes room; other users are unaffected", async () => {
    const s = await start({ maxSocketsPerUser: 2 });
    const { a, b, gid } = await twoInGroup(s);
    const a1 = await connect(s, a);
    await connect(s, a);
    const a3 = await connect(s);
    expectError(await a3.request("Login", { content: a.token, uid: a.uid, clientMsgId: "third" }), 429, "third");
    expect(socketsOfUser(s, a.uid)).toBe(2);
    // Re-logging an already counted socket is not a new one.
    expect(await a1.login(a)).toMatchObject({ content: "Ok" });
    // The refused socket is not logged in.
    expectError(await say(a3, gid, "x", { clientMsgId: "nope" }), 401, "nope");
    await connect(s, b);
    await connect(s, b);
    // The server answers a close frame and forgets the socket in one step: by the echo, a1 is gone.
    a1.close();
    await a1.waitClose();
    expect(socketsOfUser(s, a.uid)).toBe(1);
    expect(await a3.login(a)).toMatchObject({ content: "Ok" });
  });

  test("Logins arriving together cannot exceed the cap", async () => {
    const s = await start({ maxSocketsPerUser: 2 });
    const a = await user(s.app);
    const socks = await Promise.all([0, 1, 2, 3].map(() => connect(s)));
    socks.forEach((c, i) => c.send({ event: "Login", body: { kind: "Text", content: a.token, uid: a.uid, clientMsgId: `l${i}` } }));
    const replies = await Promise.all(socks.map((c) => c.next(isAck)));
    expect(replies.filter((r) => r.content === "Ok")).toHaveLength(2);
    expect(replies.filter((r) => r.code === 429)).toHaveLength(2);
    expect(socketsOfUser(s, a.uid)).toBe(2);
  });

  test("maxSocketsPerUser 0 lifts the cap", async () => {
    const s = await start({ maxSocketsPerUser: 0 });
    const a = await user(s.app);
    for (let i = 0; i < 40; i++) await connect(s, a);
    expect(socketsOfUser(s, a.uid)).toBe(40);
  });
});

describe("backpressure", () => {
  test("a reader that stops reading is closed, and Sync brings exactly what it missed", async () => {
    const s = await start({ wsBackpressure: 64 * 1024, wsRate: 0 });
    const { a, b, gid } = await twoInGroup(s);
    const ca = await connect(s, a);
    const slow = await connect(s, b);
    const got = record(slow);

    // A few messages arrive normally.
    for (let i = 0; i < 3; i++) await say(ca, gid, `early ${i}`);
    await collect(slow, isMsg, 3);

    // Then b stops reading: the client no longer reads from its TCP socket, so
    // the kernel buffers fill and the server's send buffer grows.
    const raw = slow.ws as unknown as BunWebSocket;
    expect(raw.pause()).toBe(true);
    const content = "z".repeat(30_000);
    let sent = 0;
    while (socketsOfUser(s, b.uid) > 0) {
      if (sent >= 3000) throw new Error("the slow reader was never closed");
      expect(await say(ca, gid, content + sent)).toMatchObject({ content: "Ok" });
      sent++;
    }
    // Traffic goes on after the close.
    for (let i = 0; i < 3; i++) await say(ca, gid, `late ${i}`);

    // b reads what had reached it before the close, then sees the close.
    raw.resume();
    await slow.waitClose(10_000);
    const before = got.filter(isMsg);
    const last = before.at(-1)!.body.msgId as number;

    // b comes back and Syncs from the last message it has, until more:false.
    const again = await connect(s, b);
    const synced: Frame[] = [];
    const log = record(again);
    let from = last;
    for (;;) {
      const ack = await again.request("Sync", { msgId: from });
      expect(ack.content).toBe("Ok");
      from = ack.serverMsgId;
      if (!ack.more) break;
    }
    synced.push(...log.filter(isMsg));

    const all = (await storedMessages(s, gid)).map((r) => r.id);
    expect(all.length).toBe(3 + sent + 3);
    const ids = [...before, ...synced].map((f) => f.body.msgId);
    expect(ids).toEqual(all); // nothing lost, nothing twice, in order
    expect(synced.length).toBeGreaterThan(3); // it really missed messages
  }, 30_000);
});
