// Who may do what on a socket: Login rules and its timeout, forged uids and
// non-members refused with nothing stored or pushed, token revocation,
// Origin checks, and garbage frames that each get exactly one error reply.
import { afterEach, describe, expect, test } from "bun:test";
import { Client, group, originOf, socketsOfUser, user } from "./helpers";
import { api, cleanup, connect, cursors, expectError, isAck, isMsg, isNotify, say, start, storedMessages, twoInGroup } from "./ws.kit";

afterEach(cleanup);

describe("before Login", () => {
  test("every event but Login and Heart is 401, and nothing is stored or pushed", async () => {
    const s = await start();
    const { a, b, gid } = await twoInGroup(s);
    const cb = await connect(s, b);
    const m = await say(await connect(s, a), gid, "hi");
    await cb.next(isMsg);
    const anon = await connect(s);
    const frames: [string, Record<string, unknown>][] = [
      ["Msg", { gid, content: "x", uid: a.uid }],
      ["Ack", { gid, msgId: m.serverMsgId, uid: b.uid }],
      ["Read", { gid, msgId: m.serverMsgId, uid: b.uid }],
      ["Logout", { uid: a.uid }],
      ["Sync", { msgId: 0, uid: a.uid }],
    ];
    for (const [event, body] of frames) expectError(await anon.request(event, { ...body, clientMsgId: `pre-${event}` }), 401, `pre-${event}`);
    expect(await anon.request("Heart", { clientMsgId: "pre-heart" })).toMatchObject({ content: "Ok" });
    expect(await storedMessages(s)).toHaveLength(1);
    expect(await cursors(s, gid, b.uid)).toEqual({ read: 0, delivered: 0 });
    expect(await cb.expectNone()).toBe(true);
    expect(anon.frames).toEqual([]);
  });

  test("Login with a bad token is 401, with a uid that is not the token's owner 403", async () => {
    const s = await start();
    const a = await user(s.app);
    const b = await user(s.app);
    const c = await connect(s);
    expectError(await c.request("Login", { content: a.token + "x", uid: a.uid, clientMsgId: "t1" }), 401, "t1");
    expectError(await c.request("Login", { content: a.token, uid: b.uid, clientMsgId: "t2" }), 403, "t2");
    expect(socketsOfUser(s, a.uid)).toBe(0);
    expect(socketsOfUser(s, b.uid)).toBe(0);
  });

  test("no Login within wsLoginTimeout closes the socket; failed Logins and Hearts do not count, a real Login does", async () => {
    const s = await start({ wsLoginTimeout: 1 });
    const a = await user(s.app);
    // Opened first, so its timer fires before the idle socket's.
    const loggedOut = await connect(s, a);
    expect(await loggedOut.request("Logout")).toMatchObject({ content: "Ok" });
    const idle = await connect(s);
    const failing = await connect(s);
    const ok = await connect(s);
    expect((await failing.request("Login", { content: "bad", uid: a.uid })).code).toBe(401);
    await ok.login(a);
    expect(await idle.request("Heart")).toMatchObject({ content: "Ok" });
    expect((await idle.waitClose(5000)).code).toBe(4008);
    expect((await failing.waitClose(5000)).code).toBe(4008);
    expect(ok.closed).toBeNull();
    expect(await ok.request("Heart")).toMatchObject({ content: "Ok" });
    // It logged in in time; its later Logout does not make the login timer close it.
    expect(loggedOut.closed).toBeNull();
    expect(await loggedOut.request("Heart")).toMatchObject({ content: "Ok" });
  });
});

describe("forged uid and non-members", () => {
  test("a member's frame naming another uid is 403: nothing stored, no cursor moved, nothing pushed", async () => {
    const s = await start();
    const { a, b, gid } = await twoInGroup(s);
    const ca = await connect(s, a);
    const m = await say(ca, gid, "real");
    const cb = await connect(s, b);
    const before = await storedMessages(s);
    expectError(await say(cb, gid, "I am a", { uid: a.uid, clientMsgId: "f1" }), 403, "f1");
    expectError(await cb.request("Read", { gid, msgId: m.serverMsgId, uid: a.uid, clientMsgId: "f2" }), 403, "f2");
    expectError(await cb.request("Ack", { gid, msgId: m.serverMsgId, uid: a.uid, clientMsgId: "f3" }), 403, "f3");
    expectError(await cb.request("Sync", { msgId: 0, uid: a.uid, clientMsgId: "f4" }), 403, "f4");
    expect(await storedMessages(s)).toEqual(before);
    expect(await cursors(s, gid, a.uid)).toEqual({ read: 0, delivered: 0 });
    expect(await cursors(s, gid, b.uid)).toEqual({ read: 0, delivered: 0 });
    expect(await ca.expectNone()).toBe(true);
    expect(cb.frames).toEqual([]);
  });

  test("a non-member's Msg is 403 whether it names itself or a member; nothing stored, nothing pushed", async () => {
    const s = await start();
    const a = await user(s.app);
    const b = await user(s.app);
    const mallory = await user(s.app);
    const gid = await group(s.app, a, [b]);
    const ca = await connect(s, a);
    const cb = await connect(s, b);
    const cm = await connect(s, mallory);
    expectError(await say(cm, gid, "let me in", { uid: mallory.uid, clientMsgId: "n1" }), 403, "n1");
    expectError(await say(cm, gid, "I am a", { uid: a.uid, clientMsgId: "n2" }), 403, "n2");
    expectError(await say(cm, gid, "no uid", { clientMsgId: "n3" }), 403, "n3");
    // Reusing a member's clientMsgId does not reveal the member's message.
    const real = await say(ca, gid, "private", { clientMsgId: "shared-id" });
    await cb.next(isMsg);
    expectError(await say(cm, gid, "private?", { clientMsgId: "shared-id" }), 403, "shared-id");
    expect((await storedMessages(s)).map((r) => r.id)).toEqual([real.serverMsgId]);
    expect(await cb.expectNone(isMsg)).toBe(true);
    expect(await ca.expectNone(isMsg)).toBe(true);
    // And it hears nothing of the group.
    expect(cm.frames).toEqual([]);
  });
});

describe("token revocation", () => {
  test("REST logout closes every socket logged in with that token, and only those", async () => {
    const s = await start();
    const { a, b, gid } = await twoInGroup(s);
    // A second token for a: another device.
    const other = await api(s, "/api/user/login", null, { account: a.account, password: "password1" });
    const token2 = other.body.data as string;
    const a1 = await connect(s, a);
    const a2 = await connect(s, a);
    const a3 = await connect(s);
    expect(await a3.request("Login", { content: token2, uid: a.uid })).toMatchObject({ content: "Ok" });
    const cb = await connect(s, b);

    const res = await api(s, "/api/user/logout", a.token, {});
    expect(res.body).toMatchObject({ ok: true, data: true });
    for (const c of [a1, a2]) expect((await c.waitClose()).code).toBe(4001);
    expect(a3.closed).toBeNull();
    await say(cb, gid, "still here");
    expect((await a3.next(isMsg)).body.content).toBe("still here");

    // The revoked token no longer logs in anywhere.
    expect((await api(s, "/api/user/token?token=" + a.token, a.token)).status).toBe(401);
    const again = await connect(s);
    expectError(await again.request("Login", { content: a.token, uid: a.uid, clientMsgId: "rv" }), 401, "rv");
  });
});

describe("Origin", () => {
  test("/ws refuses a foreign Origin and accepts its own or none", async () => {
    const s = await start();
    const a = await user(s.app);
    // One server for both: its own origin is that of the server the socket goes to (on the cluster, that node's, not REST's node 1).
    const url = s.wsUrl;
    await expect(Client.open(url, { Origin: "http://evil.example" })).rejects.toThrow();
    const own = await connect(url, undefined, { Origin: originOf(url) });
    expect(await own.login(a)).toMatchObject({ content: "Ok" });
  });
});

describe("garbage frames", () => {
  test("every bad frame gets exactly one error reply, in order, and the server stays up", async () => {
    const s = await start();
    const { a, b, gid } = await twoInGroup(s);
    const c = await connect(s, a);
    const cb = await connect(s, b);
    const good = { kind: "Text", gid, content: "x" };
    // [frame, the clientMsgId the reply must echo ("" may also come back as null)]
    const garbage: [string | Uint8Array, string | null][] = [
      ["not json", null],
      ["", null],
      ["{", null],
      [new Uint8Array([123, 125]), null], // binary, even if it is JSON
      ["null", null],
      ["42", null],
      ['"Msg"', null],
      ["[]", null],
      ["{}", null],
      [JSON.stringify({ event: "Msg" }), null], // missing body
      [JSON.stringify({ body: { ...good, clientMsgId: "g-noevent" } }), "g-noevent"],
      [JSON.stringify({ event: "Bogus", body: { ...good, clientMsgId: "g-unknown" } }), "g-unknown"],
      [JSON.stringify({ event: "Notify", body: { ...good, clientMsgId: "g-notify" } }), "g-notify"],
      [JSON.stringify({ event: 7, body: { ...good, clientMsgId: "g-eventtype" } }), "g-eventtype"],
      [JSON.stringify({ event: "Msg", body: "text" }), null],
      [JSON.stringify({ event: "Msg", body: [1, 2] }), null],
      [JSON.stringify({ event: "Msg", body: null }), null],
      [JSON.stringify({ event: "Msg", body: { ...good, clientMsgId: "" } }), ""], // empty clientMsgId
      [JSON.stringify({ event: "Msg", body: { ...good } }), null], // no clientMsgId
      [JSON.stringify({ event: "Msg", body: { ...good, clientMsgId: 5 } }), null],
      [JSON.stringify({ event: "Msg", body: { ...good, clientMsgId: "x".repeat(129) } }), "x".repeat(128)],
      [JSON.stringify({ event: "Msg", body: { ...good, gid: String(gid), clientMsgId: "g-gidstr" } }), "g-gidstr"],
      [JSON.stringify({ event: "Msg", body: { ...good, gid: 1.5, clientMsgId: "g-gidfloat" } }), "g-gidfloat"],
      [JSON.stringify({ event: "Msg", body: { ...good, gid: -1, clientMsgId: "g-gidneg" } }), "g-gidneg"],
      [JSON.stringify({ event: "Msg", body: { ...good, gid: 1e300, clientMsgId: "g-gidhuge" } }), "g-gidhuge"],
      [JSON.stringify({ event: "Msg", body: { ...good, content: null, clientMsgId: "g-nocontent" } }), "g-nocontent"],
      [JSON.stringify({ event: "Msg", body: { ...good, kind: "Video", clientMsgId: "g-kind" } }), "g-kind"],
      [JSON.stringify({ event: "Msg", body: { ...good, uid: "1", clientMsgId: "g-uidstr" } }), "g-uidstr"],
      [JSON.stringify({ event: "Msg", body: { ...good, uid: 0, clientMsgId: "g-uid0" } }), "g-uid0"],
      [JSON.stringify({ event: "Read", body: { ...good, msgId: true, clientMsgId: "g-msgid" } }), "g-msgid"],
      [JSON.stringify({ event: "Login", body: { content: ["t"], clientMsgId: "g-login" } }), "g-login"],
      ["[".repeat(5000) + "]".repeat(5000), null], // deep nesting
      ['{"event":"Msg","body":{"__proto__":{"clientMsgId":"p"},"gid":1}}', null],
    ];
    for (const [frame] of garbage) c.send(frame);
    const replies = await Promise.all(garbage.map(() => c.next()));
    // Replies come in frame order (one each), so pair them up.
    replies.forEach((r, i) => {
      const echoed = garbage[i]![1];
      expect(r).toMatchObject({ serverMsgId: null, kind: "Ack", content: "Error", code: 400 });
      expect(Object.keys(r).sort()).toEqual(["clientMsgId", "code", "content", "kind", "msg", "serverMsgId"]);
      if (echoed === "") expect([null, ""]).toContain(r.clientMsgId);
      else expect(r.clientMsgId).toBe(echoed);
      expect(typeof r.msg).toBe("string");
    });
    expect(await c.expectNone()).toBe(true);
    expect(await storedMessages(s)).toEqual([]);
    expect(await cb.expectNone()).toBe(true);

    // Still up: the same socket works, other sockets work, REST works.
    expect(await c.request("Heart")).toMatchObject({ content: "Ok" });
    expect(await say(c, gid, "after the storm")).toMatchObject({ content: "Ok", seq: 1 });
    expect((await cb.next(isMsg)).body.content).toBe("after the storm");
    expect((await fetch(s.url + "/health")).status).toBe(200);
  });

  test("a bad frame between good ones does not disturb their replies or order", async () => {
    const s = await start();
    const { a, b, gid } = await twoInGroup(s);
    const c = await connect(s, a);
    c.send({ event: "Msg", body: { kind: "Text", gid, content: "1", clientMsgId: "ok-1" } });
    c.send("garbage");
    c.send({ event: "Msg", body: { kind: "Text", gid: 999999, content: "2", clientMsgId: "bad-gid" } });
    c.send({ event: "Msg", body: { kind: "Text", gid, content: "3", clientMsgId: "ok-2" } });
    const r = await Promise.all([c.next(isAck), c.next(isAck), c.next(isAck), c.next(isAck)]);
    expect(r.map((f) => [f.clientMsgId, f.content, f.code ?? null])).toEqual([
      ["ok-1", "Ok", null],
      [null, "Error", 400],
      ["bad-gid", "Error", 404],
      ["ok-2", "Ok", null],
    ]);
    expect(r[3]!.seq).toBe(2);
    expect(isNotify()(r[0]!)).toBe(false);
  });
});
