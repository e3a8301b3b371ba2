// --sync full: nothing is acked, pushed or answered before its commit is
// fsynced, and the fsync runs off the event loop. A controllable fsync
// stands in for the disk.
import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { closeApp, createApp, type App } from "../src/app";
import { createHttpApp } from "../src/http/app";
import { startServer, type Running } from "../src/server";
import { Client, group, tempDir, testConfig, user } from "./helpers";

/** An fsync that completes only when told to. */
function heldDisk() {
  const pending: ((err: Error | null) => void)[] = [];
  let calls = 0;
  return {
    sync: (_fd: number, cb: (err: Error | null) => void) => {
      calls++;
      pending.push(cb);
    },
    get calls() {
      return calls;
    },
    get waiting() {
      return pending.length;
    },
    release(err: Error | null = null) {
      for (const cb of pending.splice(0)) cb(err);
    },
  };
}

let cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

async function setup(sync: "full" | "normal" = "full") {
  const tmp = tempDir("rim-durable-");
  const disk = heldDisk();
  const app = createApp(testConfig({ db: join(tmp.dir, "rim.db"), sync }), { fsync: disk.sync });
  const running = startServer(app);
  const wsUrl = `ws://127.0.0.1:${running.server.port}/ws`;
  const a = await user(app, "dur_a");
  const b = await user(app, "dur_b");
  const gid = group(app, a, [b]);
  const ca = await Client.open(wsUrl);
  const cb = await Client.open(wsUrl);
  cleanups.push(async () => {
    disk.release();
    ca.close();
    cb.close();
    await running.stop();
    closeApp(app);
    tmp.cleanup();
  });
  return { app, running, disk, a, b, gid, ca, cb };
}

async function loggedIn(s: Awaited<ReturnType<typeof setup>>) {
  const la = s.ca.login(s.a);
  const lb = s.cb.login(s.b);
  // Logins write nothing since the users were made, but wait behind any held fsync.
  await Bun.sleep(20);
  s.disk.release();
  await Promise.all([la, lb]);
}

describe("--sync full", () => {
  test("the ack and the push wait for the fsync; then both arrive", async () => {
    const s = await setup();
    await loggedIn(s);
    const ack = s.ca.request("Msg", { gid: s.gid, content: "durable" });
    expect(await s.ca.expectNone((f) => f.kind === "Ack", 200)).toBe(true);
    expect(await s.cb.expectNone((f) => f.event === "Msg", 0)).toBe(true);
    expect(s.disk.waiting).toBe(1);
    s.disk.release();
    expect(await ack).toMatchObject({ content: "Ok", seq: 1 });
    expect((await s.cb.next((f) => f.event === "Msg")).body.content).toBe("durable");
  });

  test("a Heart sent after a Msg is answered after the Msg's ack, not before", async () => {
    const s = await setup();
    await loggedIn(s);
    s.ca.send({ event: "Msg", body: { kind: "Text", gid: s.gid, content: "first", clientMsgId: "m1" } });
    await Bun.sleep(20);
    s.ca.send({ event: "Heart", body: { kind: "Text", content: "", clientMsgId: "h1" } });
    expect(await s.ca.expectNone(() => true, 150)).toBe(true);
    s.disk.release();
    const first = await s.ca.next();
    const second = await s.ca.next();
    expect([first.clientMsgId, second.clientMsgId]).toEqual(["m1", "h1"]);
  });

  test("one fsync covers the commits made while the previous one was running", async () => {
    const s = await setup();
    await loggedIn(s);
    const before = s.disk.calls;
    const acks = [s.ca.request("Msg", { gid: s.gid, content: "1" })];
    await Bun.sleep(20);
    for (let i = 2; i <= 4; i++) {
      acks.push(s.ca.request("Msg", { gid: s.gid, content: String(i) }));
      await Bun.sleep(10);
    }
    expect(s.disk.calls - before).toBe(1);
    s.disk.release();
    await Bun.sleep(20);
    expect(s.disk.calls - before).toBe(2);
    s.disk.release();
    expect((await Promise.all(acks)).map((a) => a.seq)).toEqual([1, 2, 3, 4]);
  });

  test("a failed fsync is an error ack; the resend is answered from what was stored, once", async () => {
    const s = await setup();
    await loggedIn(s);
    const first = s.ca.request("Msg", { gid: s.gid, content: "maybe", clientMsgId: "same" });
    await Bun.sleep(20);
    s.disk.release(new Error("EIO"));
    expect(await first).toMatchObject({ content: "Error", code: 500 });
    const again = s.ca.request("Msg", { gid: s.gid, content: "maybe", clientMsgId: "same" });
    await Bun.sleep(20);
    s.disk.release();
    expect(await again).toMatchObject({ content: "Ok", seq: 1 });
    expect(s.app.db.$client.query("SELECT count(*) AS n FROM messages").get()).toEqual({ n: 1 });
  });

  test("a REST write is answered after the fsync; a read is not held", async () => {
    const s = await setup();
    const http = createHttpApp(s.app);
    const headers = { Authorization: `Bearer ${s.a.token}`, "Content-Type": "application/json" };
    let answered = false;
    const write = Promise.resolve(http.request("/api/group/update", { method: "POST", headers, body: JSON.stringify({ id: s.gid, name: "renamed" }) })).then((r) => {
      answered = true;
      return r.status;
    });
    await Bun.sleep(50);
    expect(answered).toBe(false);
    const read = await http.request("/api/group/get", { headers });
    expect(read.status).toBe(200);
    s.disk.release();
    expect(await write).toBe(200);
  });
});

test("--sync normal never waits for an fsync", async () => {
  const s = await setup("normal");
  await s.ca.login(s.a);
  expect(await s.ca.request("Msg", { gid: s.gid, content: "fast" })).toMatchObject({ content: "Ok" });
  expect(s.disk.calls).toBe(0);
});

test("the real fdatasync runs off the event loop and acks arrive", async () => {
  const tmp = tempDir("rim-durable-real-");
  const app: App = createApp(testConfig({ db: join(tmp.dir, "rim.db") }));
  const running: Running = startServer(app);
  try {
    const a = await user(app, "real_a");
    const gid = group(app, a, []);
    const c = await Client.open(`ws://127.0.0.1:${running.server.port}/ws`);
    await c.login(a);
    const acks = await Promise.all(Array.from({ length: 50 }, (_, i) => c.request("Msg", { gid, content: "m" + i })));
    expect(acks.map((x) => x.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    c.close();
  } finally {
    await running.stop();
    closeApp(app);
    tmp.cleanup();
  }
});
