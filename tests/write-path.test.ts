// The one write path: nothing is heard of before it is durable; effects are
// carried out in commit order, so a socket's Login can never be overtaken by
// a membership change or a revocation; a revocation made by another process
// closes the sockets too. Each interleaving is forced with a held fsync and
// a commit hook, never by sleeping.
import { afterEach, describe, expect, test } from "bun:test";
import { closeApp, createApp } from "../src/app";
import { startServer } from "../src/server";
import { manualClock } from "../src/time";
import { Client, group, tempDir, testConfig, user, type Frame, type TestUser } from "./helpers";
import { commits, connect, heldServer, rest, roundTrip, type HeldServer } from "./write.kit";

const isMsg = (f: Frame) => f.event === "Msg";
const isNotify = (content: string) => (f: Frame) => f.event === "Notify" && f.body.content === content;

let cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

async function setup(overrides = {}) {
  const s = await heldServer(overrides);
  const a = await user(s.app, "wp_a");
  const b = await user(s.app, "wp_b");
  const c = await user(s.app, "wp_c");
  const gid = await group(s.app, a, [b]);
  const sockets: Client[] = [];
  const open = async (u?: TestUser) => {
    const sock = await connect(s, u);
    sockets.push(sock);
    return sock;
  };
  cleanups.push(async () => {
    for (const sock of sockets) sock.close();
    await s.stop();
  });
  return { s, a, b, c, gid, open };
}

/**
 * Starts a write and waits for its commit (not for its durability): its reply
 * comes back unawaited, in an array so that await does not unwrap it.
 */
async function started<T>(s: HeldServer, begin: () => Promise<T>): Promise<readonly [Promise<T>]> {
  const committed = commits(s.app);
  const reply = begin();
  await committed;
  return [reply] as const;
}

/** Sends a frame without waiting for its reply. */
function fire(c: Client, event: string, body: Record<string, unknown>) {
  const clientMsgId = (body.clientMsgId as string) ?? `f-${Math.random().toString(36).slice(2)}`;
  c.send({ event, body: { kind: "Text", content: "", ...body, clientMsgId } });
  return c.next((f) => f.kind === "Ack" && f.clientMsgId === clientMsgId);
}

describe("nothing is heard of before it is durable", () => {
  test("a Msg's ack and push wait for the fsync; then both arrive", async () => {
    const { s, a, b, gid, open } = await setup();
    const ca = await open(a);
    const cb = await open(b);
    s.disk.hold();
    const ack = fire(ca, "Msg", { gid, content: "durable" });
    await s.disk.held();
    await Promise.all([roundTrip(ca), roundTrip(cb)]);
    expect(ca.frames).toEqual([]);
    expect(cb.frames).toEqual([]);
    s.disk.release();
    expect(await ack).toMatchObject({ content: "Ok", seq: 1 });
    expect((await cb.next(isMsg)).body.content).toBe("durable");
  });

  test("a Heart sent after a Msg is answered after the Msg's ack, not before", async () => {
    const { s, a, gid, open } = await setup();
    const ca = await open(a);
    s.disk.hold();
    ca.send({ event: "Msg", body: { kind: "Text", gid, content: "first", clientMsgId: "m1" } });
    await s.disk.held();
    ca.send({ event: "Heart", body: { kind: "Text", content: "", clientMsgId: "h1" } });
    await roundTrip(ca);
    expect(ca.frames).toEqual([]);
    s.disk.release();
    const first = await ca.next();
    const second = await ca.next();
    expect([first.clientMsgId, second.clientMsgId]).toEqual(["m1", "h1"]);
  });

  test("one fsync covers every commit made while the previous one ran", async () => {
    const { s, a, gid, open } = await setup();
    const ca = await open(a);
    s.disk.hold();
    const before = s.disk.calls;
    const acks = [fire(ca, "Msg", { gid, content: "1" })];
    await s.disk.held();
    const committed = commits(s.app, 1);
    for (let i = 2; i <= 4; i++) acks.push(fire(ca, "Msg", { gid, content: String(i) }));
    await committed;
    expect(s.disk.calls - before).toBe(1);
    s.disk.release();
    await s.disk.held();
    expect(s.disk.calls - before).toBe(2);
    s.disk.release();
    expect((await Promise.all(acks)).map((x) => x.seq)).toEqual([1, 2, 3, 4]);
  });

  test("a failed fsync is an error ack and no push; the resend is answered from what was stored, once", async () => {
    const { s, a, b, gid, open } = await setup();
    const ca = await open(a);
    const cb = await open(b);
    s.disk.hold();
    const first = fire(ca, "Msg", { gid, content: "maybe", clientMsgId: "same" });
    await s.disk.held();
    s.disk.release(new Error("EIO"));
    expect(await first).toMatchObject({ content: "Error", code: 500 });
    await roundTrip(cb);
    expect(cb.frames).toEqual([]);
    s.disk.pass();
    expect(await ca.request("Msg", { gid, content: "maybe", clientMsgId: "same" })).toMatchObject({ content: "Ok", seq: 1 });
    expect(s.app.db.$client.query("SELECT count(*) AS n FROM messages").get()).toEqual({ n: 1 });
  });

  test("a Login whose commit does not become durable leaves the socket as it was: logged out, bound to nothing", async () => {
    const { s, a, b, gid, open } = await setup();
    const ca = await open(a);
    const cb = await open();
    s.disk.hold();
    const inFlight = fire(ca, "Msg", { gid, content: "in flight" });
    await s.disk.held();
    const committed = commits(s.app);
    const login = fire(cb, "Login", { content: b.token });
    await committed;
    // The disk fails the message's fsync, then the one that would have covered the Login.
    s.disk.release(new Error("EIO"));
    expect(await inFlight).toMatchObject({ content: "Error", code: 500 });
    await s.disk.held();
    s.disk.release(new Error("EIO"));
    expect(await login).toMatchObject({ content: "Error", code: 500 });
    s.disk.pass();
    expect(s.app.hub.socketsOf(b.uid).size).toBe(0);
    expect(await cb.request("Msg", { gid, content: "as whom?" })).toMatchObject({ content: "Error", code: 401 });
    await ca.request("Msg", { gid, content: "not for the logged-out socket" });
    await roundTrip(cb);
    expect(cb.frames.filter(isMsg)).toEqual([]);
  });

  test("a REST rename reaches the members only after the fsync; a failed fsync is 500 and nobody hears of it", async () => {
    const { s, a, b, gid, open } = await setup();
    const cb = await open(b);
    for (const outcome of ["fails", "succeeds"] as const) {
      s.disk.hold();
      const write = rest(s, "/api/group/update", a.token, { id: gid, name: `renamed ${outcome}` });
      await s.disk.held();
      await roundTrip(cb);
      expect(cb.frames).toEqual([]);
      s.disk.release(outcome === "fails" ? new Error("EIO") : null);
      const res = await write;
      if (outcome === "fails") {
        expect(res).toMatchObject({ status: 500, body: { ok: false, code: 500 } });
        await roundTrip(cb);
        expect(cb.frames).toEqual([]);
      } else {
        expect(res).toMatchObject({ status: 200, body: { ok: true, data: true } });
        const n = await cb.next(isNotify("GroupUpdated"));
        expect(n.body).toMatchObject({ gid, group: { name: "renamed succeeds" }, eventId: expect.any(Number) });
      }
    }
  });

  test("a REST read waits for the writes committed before it, then shows them", async () => {
    const { s, a, gid } = await setup();
    s.disk.hold();
    const write = rest(s, "/api/group/update", a.token, { id: gid, name: "renamed" });
    await s.disk.held();
    let readDone = false;
    const read = rest(s, "/api/group/get", a.token).then((r) => ((readDone = true), r));
    // The read is parsed and waiting behind the held write once a second batch (its barrier) exists: nothing to commit, so no hook;
    // a round trip on another connection proves the server has had time to answer it if it were going to.
    const probe = await connect(s);
    await roundTrip(probe);
    probe.close();
    expect(readDone).toBe(false);
    s.disk.release();
    expect((await write).status).toBe(200);
    expect((await read).body.data.find((g: { id: number }) => g.id === gid).name).toBe("renamed");
  });

  test("a REST write answered by its own write leaves once that write is durable, not waiting for a message committed after it; a read then waits for the message", async () => {
    const { s, a, gid, open } = await setup();
    const ca = await open(a);
    s.disk.hold();
    const write = rest(s, "/api/group/update", a.token, { id: gid, name: "renamed first" });
    await s.disk.held();
    // A message commits while the rename's fsync is held: it waits for the next fsync.
    const [ack] = await started(s, () => fire(ca, "Msg", { gid, content: "committed after the rename" }));
    s.disk.release();
    // The rename's fsync is done; the message's is now the one held.
    await s.disk.held();
    expect(await write).toMatchObject({ status: 200, body: { ok: true, data: true } });
    let readDone = false;
    const read = rest(s, `/api/message/history`, a.token, { gid, size: 10 }).then((r) => ((readDone = true), r));
    const probe = await connect(s);
    await roundTrip(probe);
    probe.close();
    expect(readDone).toBe(false);
    s.disk.release();
    expect(await ack).toMatchObject({ content: "Ok" });
    expect((await read).body.data.map((m: { msg: { content: string } }) => m.msg.content)).toContain("committed after the rename");
  });
});

describe("a Login in flight sees every change, whichever order they commit in", () => {
  // A message's fsync is held, so everything after it waits its turn; then the Login commits first (its groups read)
  // and the change second, or the other way round; then the disk lets them all through.
  async function writeInFlight(s: HeldServer, c: Client, gid: number) {
    s.disk.hold();
    const ack = fire(c, "Msg", { gid, content: "in flight" });
    await s.disk.held();
    return [ack] as const;
  }
  const orders = ["login first", "change first"] as const;

  for (const order of orders) {
    test(`removed while the Login is in flight (${order}): MemberRemoved or nothing, never a later message`, async () => {
      const { s, a, b, gid, open } = await setup();
      const ca = await open(a);
      const cb = await open();
      const [inFlight] = await writeInFlight(s, ca, gid);
      const steps = {
        login: () => started(s, () => fire(cb, "Login", { content: b.token })),
        change: () => started(s, () => rest(s, "/api/group/user/change", a.token, { gid, uids: [b.uid], opType: 2 })),
      };
      const [first, second] = order === "login first" ? [steps.login, steps.change] : [steps.change, steps.login];
      // Each step hands back its reply unawaited (in an array, so await does not unwrap it).
      const [p1] = await first();
      const [p2] = await second();
      s.disk.pass();
      await Promise.all([inFlight, p1, p2]);
      const sent = await ca.request("Msg", { gid, content: "after the removal" });
      expect(sent.content).toBe("Ok");
      await roundTrip(cb);
      expect(cb.frames.filter(isMsg)).toEqual([]);
      // Logged in before the removal committed: it heard of it.
      if (order === "login first") expect(cb.frames.filter(isNotify("MemberRemoved"))).toHaveLength(1);
    });

    test(`added while the Login is in flight (${order}): every later message arrives`, async () => {
      const { s, a, c, gid, open } = await setup();
      const ca = await open(a);
      const cc = await open();
      const [inFlight] = await writeInFlight(s, ca, gid);
      const login = () => started(s, () => fire(cc, "Login", { content: c.token }));
      const add = () => started(s, () => rest(s, "/api/group/user/change", a.token, { gid, uids: [c.uid], opType: 1 }));
      const [[p1], [p2]] = order === "login first" ? [await login(), await add()] : [await add(), await login()];
      s.disk.pass();
      await Promise.all([inFlight, p1, p2]);
      const sent = await ca.request("Msg", { gid, content: "welcome" });
      expect((await cc.next(isMsg)).body.msgId).toBe(sent.serverMsgId);
    });

    test(`logout while the Login is in flight (${order}): the socket ends closed or refused, never working on the revoked token`, async () => {
      const { s, a, b, gid, open } = await setup();
      const ca = await open(a);
      const cb = await open();
      const [inFlight] = await writeInFlight(s, ca, gid);
      const login = () => started(s, () => fire(cb, "Login", { content: b.token }));
      const logout = () => started(s, () => rest(s, "/api/user/logout", b.token, {}));
      const [[p1], [p2]] = order === "login first" ? [await login(), await logout()] : [await logout(), await login()];
      s.disk.pass();
      const [r1, r2] = await Promise.all([p1, p2, inFlight]);
      const loginAck = (order === "login first" ? r1 : r2) as Frame;
      if (order === "login first") {
        expect(loginAck.content).toBe("Ok");
        expect((await cb.waitClose()).code).toBe(4001);
      } else {
        expect(loginAck).toMatchObject({ content: "Error", code: 401 });
        expect(await cb.request("Msg", { gid, content: "x" })).toMatchObject({ content: "Error", code: 401 });
      }
      // Only a's message in flight was stored: b's socket never wrote on the revoked token.
      expect(s.app.db.$client.query("SELECT count(*) AS n FROM messages WHERE sender_uid = ?").get(b.uid)).toEqual({ n: 0 });
    });
  }
});

describe("revocation reaches every socket, wherever it was made", () => {
  const cli = (file: string, args: string[]) =>
    Bun.spawnSync(["bun", "src/main.ts", ...args, "--db", file, "--argon2-memory", "256", "--argon2-time", "1", "--log-level", "silent"], { cwd: import.meta.dir + "/.." });

  for (const [label, args, reason] of [
    ["rim user disable", ["user", "disable", "--account", "wp_b"], "account disabled"],
    ["rim user reset-password", ["user", "reset-password", "--account", "wp_b", "--password", "another12"], "password reset"],
  ] as const) {
    test(`${label} in another process closes the user's open sockets (4001), and only theirs`, async () => {
      const { s, a, b, open } = await setup({ sync: "normal" });
      const ca = await open(a);
      const cb1 = await open(b);
      const cb2 = await open(b);
      const done = cli(s.file, [...args]);
      expect(done.exitCode).toBe(0);
      for (const sock of [cb1, cb2]) expect(await sock.waitClose(5000)).toEqual({ code: 4001, reason });
      expect(await ca.request("Heart")).toMatchObject({ content: "Ok" });
      expect(ca.closed).toBeNull();
    });
  }

  test("an expired token's sockets are closed (4001) even when they send nothing", async () => {
    const clock = manualClock(Date.now());
    const tmp = tempDir();
    const app = createApp(testConfig({ db: tmp.dir + "/rim.db", sync: "normal" }), { clock });
    const running = startServer(app);
    cleanups.push(async () => (await running.stop(), closeApp(app), tmp.cleanup()));
    const u = await user(app, "wp_exp");
    const c = await Client.open(`ws://127.0.0.1:${running.server.port}/ws`);
    await c.login(u);
    clock.advance(app.auth.tokenTtlMs + 1);
    expect(await c.waitClose(5000)).toEqual({ code: 4001, reason: "session expired" });
  });

  test("expired sessions are purged from the database on the write path", async () => {
    const { s, b } = await setup();
    const { purgeExpiredSessions } = await import("../src/domain/sessions");
    const count = () => s.app.db.$client.query("SELECT count(*) AS n FROM sessions WHERE user_id = ?").get(b.uid) as { n: number };
    expect(count().n).toBe(1);
    s.app.db.$client.run("UPDATE sessions SET expires_at = 1 WHERE user_id = ?", [b.uid]);
    expect(await s.app.write((w) => purgeExpiredSessions(w))).toBeGreaterThanOrEqual(1);
    expect(count().n).toBe(0);
  });
});

describe("one cursor replays everything", () => {
  test("a client offline during a rename, an addition, messages and its removal gets all of it from Sync, in id order", async () => {
    const { s, a, b, c, gid, open } = await setup();
    const ca = await open(a);
    const cb = await open(b);
    const m1 = await ca.request("Msg", { gid, content: "before" });
    await cb.next(isMsg);
    const cursor = m1.serverMsgId as number;
    cb.close();
    await cb.waitClose();

    expect((await rest(s, "/api/group/update", a.token, { id: gid, name: "renamed" })).status).toBe(200);
    expect((await rest(s, "/api/group/user/change", a.token, { gid, uids: [c.uid], opType: 1 })).status).toBe(200);
    const m2 = await ca.request("Msg", { gid, content: "while b was away" });
    expect((await rest(s, "/api/group/user/change", a.token, { gid, uids: [b.uid], opType: 2 })).status).toBe(200);
    await ca.request("Msg", { gid, content: "after b was removed" });

    const back = await open(b);
    const ack = await back.request("Sync", { msgId: cursor });
    const got = back.frames.splice(0);
    expect(got.map((f) => (f.event === "Msg" ? `Msg ${f.body.content}` : `Notify ${f.body.content}`))).toEqual([
      "Notify GroupUpdated",
      "Notify MemberAdded",
      "Msg while b was away",
      "Notify MemberRemoved",
    ]);
    const ids = got.map((f) => (f.event === "Msg" ? f.body.msgId : f.body.eventId));
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    expect(ids[2]).toBe(m2.serverMsgId);
    expect(ack).toMatchObject({ content: "Ok", more: false, serverMsgId: ids.at(-1) });
    expect(got[0]!.body).toMatchObject({ group: { id: gid, name: "renamed" } });
    expect(got[1]!.body).toMatchObject({ uids: [c.uid] });
    expect(got[3]!.body).toMatchObject({ uids: [b.uid] });
    // Caught up: the same cursor again sends nothing.
    expect(await back.request("Sync", { msgId: ack.serverMsgId })).toMatchObject({ serverMsgId: ack.serverMsgId, more: false });
    await roundTrip(back);
    expect(back.frames).toEqual([]);
  });

  test("live Notify frames carry the same eventId that Sync replays", async () => {
    const { s, a, b, gid, open } = await setup();
    const cb = await open(b);
    expect((await rest(s, "/api/group/update", a.token, { id: gid, name: "live" })).status).toBe(200);
    const live = await cb.next(isNotify("GroupUpdated"));
    const again = await open(b);
    await again.request("Sync", { msgId: live.body.eventId - 1 });
    expect(again.frames.filter(isNotify("GroupUpdated")).map((f) => f.body)).toEqual([live.body]);
  });
});
