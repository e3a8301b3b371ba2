// What is live only, never stored or replayed: Typing (throttled per user and
// group with the app's clock) and Presence (a user's first socket in, last
// socket out; lastSeen kept through the write path). Nothing sleeps: frames
// are waited for, absence is proven with the round-trip barrier.
import { afterEach, describe, expect, test } from "bun:test";
import { closeApp, createApp, type App } from "../src/app";
import { startServer } from "../src/server";
import { formatTime, manualClock } from "../src/time";
import { Client, group, isPresence, tempDir, testConfig, user, type TestUser, sqlAll, cluster } from "./helpers";
import { api, cleanup, connect, expectError, isNotify, start } from "./ws.kit";
import { heldDisk, roundTrip } from "./write.kit";
import { recorder } from "./recorder";

afterEach(cleanup);

const isTyping = isNotify("Typing");

/**
 * Whether each Typing is forwarded, as every node decides it. On SQLite the
 * forward goes out with the Ack; in a cluster the 2 s window is in Redis and
 * the forward follows its answer, after the Ack: a round trip to the receiver
 * alone proves nothing there, the verdict tells whether a frame is on its way.
 */
function typingVerdicts(s: { app: App; nodes?: { app: App }[] }) {
  const verdicts = recorder<boolean>();
  for (const { app } of s.nodes ?? [s]) {
    const { typing } = app.shared;
    const take = typing.take.bind(typing);
    typing.take = (uid, gid) => {
      const r = take(uid, gid);
      void Promise.resolve(r).then((v) => verdicts.push(typeof v === "boolean" ? v : v !== null));
      return r;
    };
  }
  return verdicts;
}

async function typingWorld() {
  const clock = manualClock(Date.UTC(2026, 4, 1, 9));
  const s = await start({ wsRate: 0 }, { clock });
  const [a, b, c] = [await user(s.app, "lv_ann"), await user(s.app, "lv_bob"), await user(s.app, "lv_cid")];
  const g1 = await group(s.app, a, [b]);
  const g2 = await group(s.app, a, [b]);
  const ca = await connect(s, a);
  const ca2 = await connect(s, a);
  const cb = await connect(s, b);
  const cc = await connect(s, c);
  return { s, clock, a, b, c, g1, g2, ca, ca2, cb, cc };
}

const dbState = (s: { app: App }) =>
  Promise.all(["messages", "group_events", "message_reactions", "message_mentions", "group_members"].map((t) => sqlAll(s.app, `SELECT * FROM ${t}`)));

describe("Typing", () => {
  test("members' other sockets get Notify Typing (uid, gid, no eventId); the typing socket only its Ack; nothing is stored", async () => {
    const { s, a, g1, ca, ca2, cb, cc } = await typingWorld();
    const before = await dbState(s);
    expect(await ca.request("Typing", { gid: g1, clientMsgId: "t1" })).toEqual({ clientMsgId: "t1", serverMsgId: null, kind: "Ack", content: "Ok" });
    const want = { event: "Notify", body: { kind: "Text", uid: a.uid, gid: g1, content: "Typing", clientMsgId: "", msgId: null } };
    expect(await cb.next(isTyping)).toEqual(want);
    expect(await ca2.next(isTyping)).toEqual(want);
    await Promise.all([ca, ca2, cb, cc].map(roundTrip));
    for (const x of [ca, ca2, cb, cc]) expect(x.frames).toEqual([]);
    expect(await dbState(s)).toEqual(before);
  });

  test("at most one forwarded per user and group every 2 s: the rest are acked and dropped", async () => {
    const { s, clock, g1, g2, ca, cb } = await typingWorld();
    const verdicts = typingVerdicts(s);
    const forwarded = async (sock: Client, gid: number) => {
      const decided = verdicts.items.length;
      expect((await sock.request("Typing", { gid })).content).toBe("Ok");
      await verdicts.until((v) => v.length > decided);
      // A forwarded one arrives (in a cluster, after the Ack); then the round trip shows nothing else is owed.
      const arrived = verdicts.items[decided] ? [await cb.next(isTyping)] : [];
      await roundTrip(cb);
      return arrived.length + cb.frames.splice(0).filter(isTyping).length;
    };
    expect(await forwarded(ca, g1)).toBe(1);
    for (let i = 0; i < 5; i++) expect(await forwarded(ca, g1)).toBe(0);
    clock.advance(1999);
    expect(await forwarded(ca, g1)).toBe(0);
    // Another group is throttled on its own.
    expect(await forwarded(ca, g2)).toBe(1);
    clock.advance(1);
    expect(await forwarded(ca, g1)).toBe(1);
    expect(await forwarded(ca, g1)).toBe(0);
  });

  test("a Typing whose 2 s window is decided after the same socket's next Msg is not forwarded: nobody sees \"typing…\" under the message", async () => {
    const { s, a, g1, ca, cb } = await typingWorld();
    // The window's answer held back, as a slow Redis would (on SQLite too: the answer is then a promise as in a cluster).
    const answers: ((v: boolean) => void)[] = [];
    for (const { app } of (s as { nodes?: { app: App }[] }).nodes ?? [s]) app.shared.typing.take = () => new Promise<boolean>((r) => answers.push(r));
    expect((await ca.request("Typing", { gid: g1 })).content).toBe("Ok");
    expect(answers).toHaveLength(1);
    expect((await ca.request("Msg", { gid: g1, content: "first" })).content).toBe("Ok");
    answers[0]!(true);
    // Submitted after the held Typing's job: if that one forwarded, cb would hear it between the two messages.
    expect((await ca.request("Msg", { gid: g1, content: "second" })).content).toBe("Ok");
    const isMsg = (f: { event?: string }) => f.event === "Msg";
    expect((await cb.next(isMsg)).body.content).toBe("first");
    expect((await cb.next(isMsg)).body.content).toBe("second");
    await roundTrip(cb);
    expect(cb.frames.filter(isTyping)).toEqual([]);
    // A Typing decided with no Msg in between still goes out.
    expect((await ca.request("Typing", { gid: g1 })).content).toBe("Ok");
    answers[1]!(true);
    expect((await cb.next(isTyping)).body).toMatchObject({ uid: a.uid, gid: g1 });
  });

  test("another user's Typing in the same group is not held back by the first's", async () => {
    const { g1, ca, ca2, cb } = await typingWorld();
    await ca.request("Typing", { gid: g1 });
    expect((await cb.next(isTyping)).body.uid).toBe((await ca2.next(isTyping)).body.uid);
    await cb.request("Typing", { gid: g1 });
    const n = await ca.next(isTyping);
    expect(n.body.content).toBe("Typing");
  });

  test("refused: non-member 403, unknown group 404, before Login 401, malformed 400; nothing forwarded; a refused one does not use up the 2 s", async () => {
    const { s, a, g1, ca, cb, cc } = await typingWorld();
    const verdicts = typingVerdicts(s);
    const anon = await connect(s);
    expectError(await cc.request("Typing", { gid: g1, clientMsgId: "n1" }), 403, "n1");
    expectError(await ca.request("Typing", { gid: 999_999, clientMsgId: "n2" }), 404, "n2");
    expectError(await anon.request("Typing", { gid: g1, clientMsgId: "n3" }), 401, "n3");
    expectError(await ca.request("Typing", { gid: "1", clientMsgId: "n4" }), 400, "n4");
    expectError(await ca.request("Typing", { clientMsgId: "n5" }), 400, "n5");
    await roundTrip(cb);
    expect(cb.frames).toEqual([]);
    // On a cluster a forward would come after the Ack and the round trip: no node was even asked for the 2 s window.
    expect(verdicts.items).toEqual([]);
    await ca.request("Typing", { gid: g1 });
    expect((await cb.next(isTyping)).body).toMatchObject({ gid: g1, uid: a.uid });
    await verdicts.until((v) => v.length === 1);
    expect(verdicts.items).toEqual([true]);
  });

  test("not replayed by Sync", async () => {
    const { g1, ca, cb } = await typingWorld();
    const m = await ca.request("Msg", { gid: g1, content: "hi" });
    await ca.request("Typing", { gid: g1 });
    await cb.next(isTyping);
    cb.frames.length = 0;
    await cb.request("Sync", { msgId: 0 });
    expect(m.content).toBe("Ok");
    // The two groups' creation and the message: no Typing.
    expect(cb.frames.map((f) => `${f.event} ${f.body?.content ?? f.kind}`)).toEqual(["Notify MemberAdded", "Notify MemberAdded", "Msg hi"]);
  });
});

describe("Presence", () => {
  async function presenceWorld() {
    const clock = manualClock(Date.UTC(2026, 4, 1, 9));
    const s = await start({}, { clock });
    const [a, b, c, d] = [await user(s.app, "pr_ann"), await user(s.app, "pr_bob"), await user(s.app, "pr_cid"), await user(s.app, "pr_dee")];
    const g1 = await group(s.app, a, [b]);
    const g2 = await group(s.app, c, [d]);
    return { s, clock, a, b, c, d, g1, g2 };
  }
  const presenceOf = async (s: Awaited<ReturnType<typeof start>>, u: TestUser, uids: number[]) => {
    const r = await api(s, `/api/user/presence?uids=${uids.join(",")}`, u.token);
    expect(r.status).toBe(200);
    return r.body.data;
  };

  test("first socket in: the groups' members get Presence online; further sockets and closing all but one say nothing; the last one out: Presence offline, then lastSeen", async () => {
    const { s, clock, a, b, c, d, g1 } = await presenceWorld();
    const cb = await connect(s, b);
    const cd = await connect(s, d);
    expect(await presenceOf(s, b, [a.uid])).toEqual([{ uid: a.uid, online: false, lastSeen: null }]);
    const a1 = await connect(s, a);
    expect(await cb.nextPresence()).toEqual({ event: "Notify", body: { kind: "Text", uid: a.uid, gid: g1, content: "Presence", clientMsgId: "", msgId: null, online: true } });
    expect(await presenceOf(s, b, [a.uid])).toEqual([{ uid: a.uid, online: true, lastSeen: null }]);
    const a2 = await connect(s, a);
    a1.close();
    await a1.waitClose();
    // Proof that a's second socket and the close of the first told nobody anything: a message after them arrives first.
    const after = await a2.request("Msg", { gid: g1, content: "still here" });
    expect((await cb.next((f) => f.event === "Msg")).body.msgId).toBe(after.serverMsgId);
    await roundTrip(cb);
    expect(cb.presence).toEqual([]);
    clock.advance(60_000);
    a2.close();
    const off = await cb.nextPresence();
    expect(off.body).toMatchObject({ uid: a.uid, gid: g1, content: "Presence", online: false });
    expect(off.body.eventId).toBeUndefined();
    expect(await presenceOf(s, b, [a.uid])).toEqual([{ uid: a.uid, online: false, lastSeen: formatTime(clock()) }]);
    // d shares no group with a: heard nothing.
    await roundTrip(cd);
    expect(cd.presence).toEqual([]);
    expect(c.uid).toBeGreaterThan(0);
  });

  test("Logout of the last socket is going offline too; a Login again is online", async () => {
    const { s, a, b } = await presenceWorld();
    const cb = await connect(s, b);
    const ca = await connect(s, a);
    expect((await cb.nextPresence()).body.online).toBe(true);
    await ca.request("Logout");
    expect((await cb.nextPresence()).body).toMatchObject({ uid: a.uid, online: false });
    await ca.login(a);
    expect((await cb.nextPresence()).body).toMatchObject({ uid: a.uid, online: true });
  });

  test("GET /api/user/presence: only users sharing a group with the caller (self included), in the order asked, each once; bad uids 400; no token 401", async () => {
    const { s, a, b, c, d } = await presenceWorld();
    await connect(s, b);
    const got = await presenceOf(s, a, [d.uid, b.uid, 999_999, a.uid, b.uid, c.uid]);
    expect(got).toEqual([
      { uid: b.uid, online: true, lastSeen: null },
      { uid: a.uid, online: false, lastSeen: null },
    ]);
    for (const q of ["", "uids=", "uids=a", "uids=1,,2", "uids=0", "uids=-1", "uids=1.5", "uids=1,", `uids=${Array.from({ length: 1001 }, (_, i) => i + 1).join(",")}`, "uids=99999999999999999"]) {
      const r = await api(s, `/api/user/presence?${q}`, a.token);
      expect({ q, status: r.status, ok: r.body.ok }).toEqual({ q, status: 400, ok: false });
    }
    expect((await api(s, `/api/user/presence?uids=${b.uid}`, null)).status).toBe(401);
  });

  test("a user in two groups with someone: that member hears it in each group; a group's other members once", async () => {
    const { s, a, b, c, g1 } = await presenceWorld();
    const g3 = await group(s.app, a, [b, c]);
    const cb = await connect(s, b);
    const cc = await connect(s, c);
    await connect(s, a);
    const heard = [await cb.nextPresence(), await cb.nextPresence()].map((f) => f.body.gid).sort((x, y) => x - y);
    expect(heard).toEqual([g1, g3].sort((x, y) => x - y));
    expect((await cc.nextPresence()).body.gid).toBe(g3);
    await roundTrip(cc);
    expect(cc.presence).toEqual([]);
  });

  // Skipped on the cluster (RIM_TEST_BACKEND=cluster): it holds SQLite's fsync (the durability worker) to order the interleaving.
  test.skipIf(cluster)("the last socket closes while a new Login is in flight: whatever the order, the others end seeing online", async () => {
    const disk = heldDisk();
    const tmp = tempDir("rim-presence-");
    const app = createApp(testConfig({ db: tmp.dir + "/rim.db", sync: "full" }), { fsync: disk.sync });
    const running = startServer(app);
    const wsUrl = `ws://127.0.0.1:${running.server.port}/ws`;
    const socks: Client[] = [];
    try {
      const [a, b] = [await user(app, "pr_race_a"), await user(app, "pr_race_b")];
      await group(app, a, [b]);
      const open = async (u: TestUser) => {
        const x = await Client.open(wsUrl);
        socks.push(x);
        expect((await x.login(u)).content).toBe("Ok");
        return x;
      };
      const cb = await open(b);
      const a1 = await open(a);
      expect((await cb.nextPresence()).body.online).toBe(true);
      // The offline's lastSeen write waits on the held disk; a new Login queues behind it.
      disk.hold();
      a1.close();
      await disk.held();
      const a2 = await Client.open(wsUrl);
      socks.push(a2);
      const login = a2.login(a);
      await roundTrip(a2);
      disk.pass();
      expect((await login).content).toBe("Ok");
      const seen = [await cb.nextPresence(), await cb.nextPresence()].map((f) => f.body.online);
      expect(seen).toEqual([false, true]);
      await roundTrip(cb);
      expect(cb.presence).toEqual([]);
      expect(app.hub.isOnline(a.uid)).toBe(true);
      expect(cb.frames.filter(isPresence)).toEqual([]);
    } finally {
      for (const x of socks) if (!x.closed) x.close();
      await running.stop();
      closeApp(app);
      tmp.cleanup();
    }
  });
});
