// The frame protocol: the seed's five example exchanges, and every event
// (Login, Msg, Ack, Read, Heart, Logout, Sync) answered and refused.
import { afterEach, describe, expect, test } from "bun:test";
import { group, MSG_ADDITIONS, user } from "./helpers";
import { cleanup, connect, cursors, expectError, isMsg, record, say, start, storedMessages, TIME, twoInGroup } from "./ws.kit";

afterEach(cleanup);

describe("the seed's five example exchanges", () => {
  test("Login, Msg, Logout, client Ack and Read, frames as in rim's README", async () => {
    const s = await start();
    const a = await user(s.app, "seed_a");
    const b = await user(s.app, "seed_b");
    const gid = await group(s.app, a, [b]);
    const ca = await connect(s);
    const cb = await connect(s, b);

    // 1. Login
    ca.send({ event: "Login", body: { kind: "Text", content: a.token, uid: a.uid, clientMsgId: "72aebfd4aeef7634" } });
    expect(await ca.next()).toEqual({ clientMsgId: "72aebfd4aeef7634", serverMsgId: null, kind: "Ack", content: "Ok" });

    // 2. Msg
    ca.send({ event: "Msg", body: { kind: "Text", content: "Hello World", uid: a.uid, gid, clientMsgId: "badc6d33aebfd40ab3cda" } });
    const ack = await ca.next();
    const [stored] = await storedMessages(s, gid);
    expect(stored).toBeDefined();
    // The four fields of rim's Ack, plus the allowed extra seq.
    expect(ack).toEqual({ clientMsgId: "badc6d33aebfd40ab3cda", serverMsgId: stored!.id, kind: "Ack", content: "Ok", seq: 1 });
    // "client msg body is same as server msg body": what b receives is what a sent, plus id, seq and time.
    const push = await cb.next(isMsg);
    expect(push).toEqual({
      event: "Msg",
      body: { kind: "Text", content: "Hello World", uid: a.uid, gid, clientMsgId: "badc6d33aebfd40ab3cda", msgId: stored!.id, seq: 1, createTime: expect.stringMatching(TIME), ...MSG_ADDITIONS },
    });

    // 3. Logout (content "" and the Login's clientMsgId, as in the README)
    ca.send({ event: "Logout", body: { kind: "Text", content: "", uid: a.uid, clientMsgId: "72aebfd4aeef7634" } });
    expect(await ca.next()).toEqual({ clientMsgId: "72aebfd4aeef7634", serverMsgId: null, kind: "Ack", content: "Ok" });

    // 4. client Ack (delivered)
    cb.send({ event: "Ack", body: { kind: "Text", content: "", uid: b.uid, gid, clientMsgId: "72aebfd4aeefaaa", msgId: stored!.id } });
    expect(await cb.next()).toEqual({ clientMsgId: "72aebfd4aeefaaa", serverMsgId: null, kind: "Ack", content: "Ok" });
    expect((await cursors(s, gid, b.uid)).delivered).toBe(stored!.id);

    // 5. client Read: serverMsgId is the msgId read
    cb.send({ event: "Read", body: { kind: "Text", content: "", uid: b.uid, gid, clientMsgId: "72aebfd4aeefaaa", msgId: stored!.id } });
    expect(await cb.next()).toEqual({ clientMsgId: "72aebfd4aeefaaa", serverMsgId: stored!.id, kind: "Ack", content: "Ok" });
    expect((await cursors(s, gid, b.uid)).read).toBe(stored!.id);

    expect(await cb.expectNone()).toBe(true);
    // a logged out: nothing reached it after its Logout ack.
    expect(await ca.expectNone()).toBe(true);
  });

  test("rim's demo client sends a gid with Login: ignored", async () => {
    const s = await start();
    const a = await user(s.app);
    const c = await connect(s);
    c.send({ event: "Login", body: { kind: "Text", content: a.token, uid: a.uid, gid: 999, clientMsgId: "l1" } });
    expect(await c.next()).toEqual({ clientMsgId: "l1", serverMsgId: null, kind: "Ack", content: "Ok" });
  });
});

describe("Login", () => {
  test("binds the socket; a Login without uid takes the token's owner", async () => {
    const s = await start();
    const { a, b, gid } = await twoInGroup(s);
    const cb = await connect(s);
    expect(await cb.request("Login", { content: b.token })).toMatchObject({ content: "Ok", serverMsgId: null });
    const ca = await connect(s, a);
    await say(ca, gid, "to b");
    expect((await cb.next(isMsg)).body.content).toBe("to b");
  });

  test("a bad token is 401, another user's token is 403, an empty token 400; the socket stays usable", async () => {
    const s = await start();
    const a = await user(s.app);
    const b = await user(s.app);
    const c = await connect(s);
    expectError(await c.request("Login", { content: "no-such-token", uid: a.uid, clientMsgId: "x1" }), 401, "x1");
    expectError(await c.request("Login", { content: b.token, uid: a.uid, clientMsgId: "x2" }), 403, "x2");
    expectError(await c.request("Login", { content: "", uid: a.uid, clientMsgId: "x3" }), 400, "x3");
    expectError(await c.request("Login", { uid: a.uid, content: 5, clientMsgId: "x4" }), 400, "x4");
    // None of these logged the socket in.
    expectError(await c.request("Sync", { msgId: 0, clientMsgId: "x5" }), 401, "x5");
    expect(await c.login(a)).toMatchObject({ content: "Ok" });
  });

  test("a second Login with another user's token rebinds the socket to that user", async () => {
    const s = await start();
    const a = await user(s.app);
    const b = await user(s.app);
    const d = await user(s.app);
    const gAD = await group(s.app, a, [d]);
    const gBD = await group(s.app, b, [d]);
    const c = await connect(s, a);
    expect(await c.login(b)).toMatchObject({ content: "Ok" });
    const cd = await connect(s, d);
    await say(cd, gAD, "for a");
    await say(cd, gBD, "for b");
    const push = await c.next(isMsg);
    expect(push.body).toMatchObject({ gid: gBD, content: "for b" });
    expect(await c.expectNone(isMsg)).toBe(true);
    // and the socket now speaks as b
    expectError(await say(c, gAD, "as b", { clientMsgId: "nb" }), 403, "nb");
  });
});

describe("Msg", () => {
  test("every kind is stored and pushed with its own kind; the Ack carries serverMsgId and seq", async () => {
    const s = await start();
    const { a, b, gid } = await twoInGroup(s);
    const ca = await connect(s, a);
    const cb = await connect(s, b);
    const kinds = ["Text", "RichText", "Image"] as const;
    for (const [i, kind] of kinds.entries()) {
      const ack = await say(ca, gid, `${kind} body`, { kind, uid: a.uid });
      expect(ack).toEqual({ clientMsgId: ack.clientMsgId, serverMsgId: expect.any(Number), kind: "Ack", content: "Ok", seq: i + 1 });
      const push = await cb.next(isMsg);
      expect(push.body).toEqual({ kind, uid: a.uid, gid, content: `${kind} body`, clientMsgId: ack.clientMsgId, msgId: ack.serverMsgId, seq: i + 1, createTime: expect.stringMatching(TIME), ...MSG_ADDITIONS });
    }
    expect((await storedMessages(s, gid)).map((m) => m.kind)).toEqual([...kinds]);
  });

  test("refused: before Login 401, unknown group 404, non-member 403, bad kind 400, missing gid 400, forged uid 403", async () => {
    const s = await start();
    const a = await user(s.app);
    const b = await user(s.app);
    const outsider = await user(s.app);
    const gid = await group(s.app, a, [b]);
    const cb = await connect(s, b);
    const anon = await connect(s);
    expectError(await say(anon, gid, "x", { clientMsgId: "m1" }), 401, "m1");
    const ca = await connect(s, a);
    const co = await connect(s, outsider);
    expectError(await say(ca, 424242, "x", { clientMsgId: "m2" }), 404, "m2");
    expectError(await say(co, gid, "x", { clientMsgId: "m3" }), 403, "m3");
    expectError(await say(ca, gid, "x", { kind: "Video", clientMsgId: "m4" }), 400, "m4");
    expectError(await ca.request("Msg", { content: "x", clientMsgId: "m5" }), 400, "m5");
    expectError(await say(ca, gid, "x", { uid: b.uid, clientMsgId: "m6" }), 403, "m6");
    expectError(await say(ca, gid, 12 as unknown as string, { clientMsgId: "m7" }), 400, "m7");
    expect(await storedMessages(s)).toEqual([]);
    expect(await cb.expectNone(isMsg)).toBe(true);
  });
});

describe("Ack and Read", () => {
  test("happy: Ack moves the delivered cursor; Read moves read (and delivered) and answers serverMsgId = msgId", async () => {
    const s = await start();
    const { a, b, gid } = await twoInGroup(s);
    const ca = await connect(s, a);
    const cb = await connect(s, b);
    const m1 = (await say(ca, gid, "one")).serverMsgId;
    const m2 = (await say(ca, gid, "two")).serverMsgId;
    expect(await cb.request("Ack", { gid, msgId: m1, uid: b.uid, clientMsgId: "k1" })).toEqual({ clientMsgId: "k1", serverMsgId: null, kind: "Ack", content: "Ok" });
    expect(await cursors(s, gid, b.uid)).toEqual({ read: 0, delivered: m1 });
    expect(await cb.request("Read", { gid, msgId: m2, clientMsgId: "r1" })).toEqual({ clientMsgId: "r1", serverMsgId: m2, kind: "Ack", content: "Ok" });
    expect(await cursors(s, gid, b.uid)).toEqual({ read: m2, delivered: m2 });
  });

  test("refused: before Login 401, missing msgId 400, unknown message 404, message of another group 404, non-member 403, forged uid 403", async () => {
    const s = await start();
    const a = await user(s.app);
    const b = await user(s.app);
    const outsider = await user(s.app);
    const gid = await group(s.app, a, [b]);
    const other = await group(s.app, a, [outsider]);
    const ca = await connect(s, a);
    const m = (await say(ca, gid, "one")).serverMsgId;
    const mOther = (await say(ca, other, "elsewhere")).serverMsgId;
    const anon = await connect(s);
    const cb = await connect(s, b);
    const co = await connect(s, outsider);
    for (const event of ["Ack", "Read"]) {
      expectError(await anon.request(event, { gid, msgId: m, clientMsgId: "e1" }), 401, "e1");
      expectError(await cb.request(event, { gid, clientMsgId: "e2" }), 400, "e2");
      expectError(await cb.request(event, { gid, msgId: "1", clientMsgId: "e3" }), 400, "e3");
      expectError(await cb.request(event, { gid, msgId: 999999, clientMsgId: "e4" }), 404, "e4");
      expectError(await cb.request(event, { gid, msgId: mOther, clientMsgId: "e5" }), 404, "e5");
      expectError(await co.request(event, { gid, msgId: m, clientMsgId: "e6" }), 403, "e6");
      expectError(await cb.request(event, { gid, msgId: m, uid: a.uid, clientMsgId: "e7" }), 403, "e7");
    }
    expect(await cursors(s, gid, b.uid)).toEqual({ read: 0, delivered: 0 });
    // Nobody was told of a read that did not happen.
    expect(await ca.expectNone((f) => f.event === "Notify")).toBe(true);
  });
});

describe("Heart", () => {
  test("answered before and after Login (rim crashed here)", async () => {
    const s = await start();
    const a = await user(s.app);
    const c = await connect(s);
    expect(await c.request("Heart", { clientMsgId: "h1" })).toEqual({ clientMsgId: "h1", serverMsgId: null, kind: "Ack", content: "Ok" });
    await c.login(a);
    expect(await c.request("Heart", { uid: a.uid, clientMsgId: "h2" })).toEqual({ clientMsgId: "h2", serverMsgId: null, kind: "Ack", content: "Ok" });
  });

  test("refused: no clientMsgId 400, wrong types 400, another user's uid after Login 403", async () => {
    const s = await start();
    const a = await user(s.app);
    const b = await user(s.app);
    const c = await connect(s, a);
    c.send({ event: "Heart", body: { kind: "Text", content: "" } });
    expectError(await c.next(), 400, null);
    expectError(await c.request("Heart", { uid: "me", clientMsgId: "h3" }), 400, "h3");
    expectError(await c.request("Heart", { uid: b.uid, clientMsgId: "h4" }), 403, "h4");
  });
});

describe("Logout", () => {
  test("unbinds the socket: no more pushes, its frames need a new Login, and the token stays valid", async () => {
    const s = await start();
    const { a, b, gid } = await twoInGroup(s);
    const ca = await connect(s, a);
    const cb = await connect(s, b);
    expect(await cb.request("Logout", { uid: b.uid, clientMsgId: "o1" })).toEqual({ clientMsgId: "o1", serverMsgId: null, kind: "Ack", content: "Ok" });
    await say(ca, gid, "while b is out");
    expect(await cb.expectNone(isMsg)).toBe(true);
    expectError(await say(cb, gid, "x", { clientMsgId: "o2" }), 401, "o2");
    // The same token logs in again, on the same socket, and REST still accepts it.
    expect(await cb.login(b)).toMatchObject({ content: "Ok" });
    await say(ca, gid, "b is back");
    expect((await cb.next(isMsg)).body.content).toBe("b is back");
    const res = await fetch(s.url + `/api/user/token?token=${b.token}`, { headers: { Authorization: `Bearer ${b.token}` } });
    expect(((await res.json()) as any).data.id).toBe(b.uid);
  });

  test("refused: before Login 401, another user's uid 403 (and the socket stays logged in)", async () => {
    const s = await start();
    const { a, b, gid } = await twoInGroup(s);
    const anon = await connect(s);
    expectError(await anon.request("Logout", { clientMsgId: "q1" }), 401, "q1");
    const cb = await connect(s, b);
    expectError(await cb.request("Logout", { uid: a.uid, clientMsgId: "q2" }), 403, "q2");
    const ca = await connect(s, a);
    await say(ca, gid, "still there?");
    expect((await cb.next(isMsg)).body.content).toBe("still there?");
  });
});

describe("Sync", () => {
  test("happy: pushes what came after msgId, then the Ack with the last id and more:false", async () => {
    const s = await start();
    const { a, b, gid } = await twoInGroup(s);
    const ca = await connect(s, a);
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) ids.push((await say(ca, gid, `m${i}`)).serverMsgId);
    const cb = await connect(s, b);
    const log = record(cb);
    const ack = await cb.request("Sync", { msgId: ids[0], clientMsgId: "s1" });
    expect(ack).toEqual({ clientMsgId: "s1", serverMsgId: ids[2], kind: "Ack", content: "Ok", more: false });
    // The pushes came before the Ack, in ascending order, in the Msg push shape.
    expect(log.map((f) => f.body?.msgId ?? "ack")).toEqual([ids[1], ids[2], "ack"]);
    expect(log[0]).toEqual({ event: "Msg", body: { kind: "Text", uid: a.uid, gid, content: "m1", clientMsgId: expect.any(String), msgId: ids[1], seq: 2, createTime: expect.stringMatching(TIME), ...MSG_ADDITIONS } });
  });

  test("refused: before Login 401, negative or missing msgId 400, non-member gid 403, unknown gid 404, forged uid 403", async () => {
    const s = await start();
    const a = await user(s.app);
    const b = await user(s.app);
    const outsider = await user(s.app);
    const gid = await group(s.app, a, [b]);
    const ca = await connect(s, a);
    await say(ca, gid, "secret");
    const anon = await connect(s);
    expectError(await anon.request("Sync", { msgId: 0, clientMsgId: "y1" }), 401, "y1");
    const co = await connect(s, outsider);
    expectError(await co.request("Sync", { msgId: -1, clientMsgId: "y2" }), 400, "y2");
    expectError(await co.request("Sync", { clientMsgId: "y3" }), 400, "y3");
    expectError(await co.request("Sync", { msgId: 0, gid, clientMsgId: "y4" }), 403, "y4");
    expectError(await co.request("Sync", { msgId: 0, gid: 777777, clientMsgId: "y5" }), 404, "y5");
    expectError(await co.request("Sync", { msgId: 0, uid: a.uid, clientMsgId: "y6" }), 403, "y6");
    // The outsider's own Sync sees nothing of a group it is not in.
    expect(await co.request("Sync", { msgId: 0, clientMsgId: "y7" })).toMatchObject({ content: "Ok", more: false });
    expect(await co.expectNone(isMsg)).toBe(true);
  });
});
