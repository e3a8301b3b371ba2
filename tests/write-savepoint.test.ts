// Jobs without a savepoint (Job.savepoint: false, the socket's Msg, Edit,
// Delete and React): one that
// fails before writing fails alone, as with a savepoint; one that fails after
// writing cannot be taken back alone, so its whole batch is rolled back and
// every job of it answered as after a failed commit: nothing half-stored,
// nothing announced.
import { afterEach, describe, expect, test } from "bun:test";
import type { Outcome, WriteCtx } from "../src/write/writer";
import type { App } from "../src/app";
import type { Sent } from "../src/domain/messages";
import { makeApp, sendMessage, type TestApp, user, group } from "./helpers";

let apps: TestApp[] = [];
afterEach(() => {
  for (const a of apps) a.close();
  apps = [];
});

async function setup() {
  const app = await makeApp();
  apps.push(app);
  app.db.$client.run("CREATE TABLE t (v TEXT NOT NULL)");
  return app;
}

const rows = (app: TestApp) => app.db.$client.query<{ v: string }, []>("SELECT v FROM t ORDER BY rowid").all().map((r) => r.v);

/** Submits jobs in one turn (one batch); resolves with their outcomes and what each job's effects and undo did. */
function batch(app: TestApp, jobs: { savepoint?: boolean; run: (w: WriteCtx) => unknown }[]) {
  const log: string[] = [];
  const outcomes = jobs.map(
    (j, i) =>
      new Promise<Outcome>((settle) =>
        app.writer.submit({
          db: true,
          savepoint: j.savepoint,
          run: (w) => {
            w.onRollback(() => log.push(`undo ${i}`));
            return j.run(w);
          },
          settle,
        }),
      ),
  );
  return { outcomes: Promise.all(outcomes), log };
}

// The SQLite writer hands its jobs the App (and its db) through their prototype.
const insert = (v: string) => (w: WriteCtx) => void (w as WriteCtx & Pick<App, "db">).db.$client.query("INSERT INTO t (v) VALUES (?)").run(v);

describe("a job without a savepoint", () => {
  test("failing before it writes fails alone; the jobs around it are stored", async () => {
    const app = await setup();
    const { outcomes, log } = batch(app, [
      { run: insert("a") },
      {
        savepoint: false,
        run: () => {
          throw new Error("checked first");
        },
      },
      { savepoint: false, run: insert("c") },
    ]);
    const [a, b, c] = await outcomes;
    expect(a!.ok).toBe(true);
    expect(b!.ok).toBe(false);
    expect(c!.ok).toBe(true);
    expect(rows(app)).toEqual(["a", "c"]);
    expect(log).toEqual(["undo 1"]);
  });

  test("failing after it wrote rolls back the whole batch: every job fails, nothing is stored, every undo runs", async () => {
    const app = await setup();
    const before = app.writer.pending;
    const { outcomes, log } = batch(app, [
      { run: insert("a") },
      { savepoint: false, run: insert("b") },
      {
        savepoint: false,
        run: (w) => {
          insert("c")(w);
          throw new Error("after writing");
        },
      },
      { run: insert("d") },
    ]);
    const all = await outcomes;
    expect(before).toBe(0);
    for (const o of all) {
      expect(o.ok).toBe(false);
      if (!o.ok) expect(o.error.status).toBe(500);
    }
    expect(rows(app)).toEqual([]);
    expect(app.db.$client.inTransaction).toBe(false);
    // The failing job's undo first, then the stored ones', newest first; the job after it never ran.
    expect(log).toEqual(["undo 2", "undo 1", "undo 0"]);
    // The writer goes on: the next batch is stored.
    const next = batch(app, [{ savepoint: false, run: insert("e") }]);
    expect((await next.outcomes)[0]!.ok).toBe(true);
    expect(rows(app)).toEqual(["e"]);
  });

  test("a resend writes nothing and a refused Msg fails alone, in one batch of Msgs", async () => {
    const app = await setup();
    const a = await user(app, "sp_a");
    const b = await user(app, "sp_b");
    const outsider = await user(app, "sp_c");
    const gid = await group(app, a, [b]);
    const send = (uid: number, clientMsgId: string) => (w: WriteCtx) => sendMessage(w, uid, { gid, kind: "Text", content: clientMsgId, clientMsgId });
    const { outcomes } = batch(app, [
      { savepoint: false, run: send(a.uid, "m1") },
      { savepoint: false, run: send(outsider.uid, "m2") },
      { savepoint: false, run: send(a.uid, "m1") },
      { savepoint: false, run: send(b.uid, "m3") },
    ]);
    const [m1, refused, resent, m3] = (await outcomes) as any[];
    expect(m1.ok && m3.ok && resent.ok).toBe(true);
    expect(refused.ok).toBe(false);
    expect(refused.error.status).toBe(403);
    expect(resent.value.duplicate).toBe(true);
    expect(resent.value.message.id).toBe(m1.value.message.id);
    expect([m1.value.message.seq, m3.value.message.seq]).toEqual([1, 2]);
  });

  test("changes refused in every way fail alone, in one batch with changes that are stored", async () => {
    const app = await setup();
    const a = await user(app, "sp_d");
    const b = await user(app, "sp_e");
    const outsider = await user(app, "sp_f");
    const gid = await group(app, a, [b]);
    const { deleteMessage, editMessage, reactToMessage } = await import("../src/domain/changes");
    const { FAILS_BEFORE_WRITING } = await import("../src/ws/dispatch");
    for (const e of ["Msg", "Edit", "Delete", "React"] as const) expect(FAILS_BEFORE_WRITING.has(e)).toBe(true);
    const say = (content: string) => app.writer.run((w) => (sendMessage(w, a.uid, { gid, kind: "Text", content, clientMsgId: content }) as Sent).message.id);
    const [m1, m2, gone] = [await say("one"), await say("two"), await say("three")];
    await app.writer.run((w) => deleteMessage(w, a.uid, { gid, msgId: gone }));
    await app.writer.run((w) => reactToMessage(w, b.uid, { gid, msgId: m1, emoji: "👍", on: true }));
    const big = "x".repeat(app.limits.maxContent + 1);
    const jobs: [string, number | null, (w: WriteCtx) => unknown][] = [
      ["edit", null, (w) => editMessage(w, a.uid, { gid, msgId: m1, content: "one, edited", clientMsgId: "e1" })],
      ["not the sender", 403, (w) => editMessage(w, b.uid, { gid, msgId: m2, content: "mine now" })],
      ["too large", 413, (w) => editMessage(w, a.uid, { gid, msgId: m2, content: big })],
      ["no such group", 404, (w) => editMessage(w, a.uid, { gid: gid + 1000, msgId: m2, content: "x" })],
      ["not a member", 403, (w) => reactToMessage(w, outsider.uid, { gid, msgId: m2, emoji: "👀", on: true })],
      ["deleted", 404, (w) => reactToMessage(w, b.uid, { gid, msgId: gone, emoji: "👀", on: true })],
      ["react", null, (w) => reactToMessage(w, b.uid, { gid, msgId: m1, emoji: "🎉", on: true, clientMsgId: "r1" })],
      ["not the sender nor an admin", 403, (w) => deleteMessage(w, b.uid, { gid, msgId: m2 })],
      ["resent", null, (w) => editMessage(w, a.uid, { gid, msgId: m1, content: "one, edited", clientMsgId: "e1" })],
      ["unreact", null, (w) => reactToMessage(w, b.uid, { gid, msgId: m1, emoji: "👍", on: false })],
      ["no such message", 404, (w) => deleteMessage(w, a.uid, { gid, msgId: gone + 1000 })],
      ["delete", null, (w) => deleteMessage(w, a.uid, { gid, msgId: m2 })],
    ];
    const { outcomes } = batch(app, jobs.map(([, , run]) => ({ savepoint: false, run })));
    const got: unknown[] = (await outcomes).map((o, i) => [jobs[i]![0], o.ok ? null : o.error.status]);
    expect(got).toEqual(jobs.map(([name, status]) => [name, status]));
    const stored = app.db.$client.query<{ id: number; content: string; reactions: string | null; deleted_at: number | null }, []>("SELECT id, content, reactions, deleted_at FROM messages ORDER BY id").all();
    expect(stored.map((m) => [m.content, m.reactions === null ? null : JSON.parse(m.reactions), m.deleted_at !== null])).toEqual([
      ["one, edited", [{ emoji: "🎉", uids: [b.uid] }], false],
      ["", null, true],
      ["", null, true],
    ]);
  });
});

// A group's last_seq / last_msg_id move once a batch (db/sqlite-store.ts lastMessages), not once a message:
// a read in the batch, a savepoint rolled back and a batch rolled back must all see or leave the row right.
describe("the group's last message, written once a batch", () => {
  const lastOf = (app: TestApp, gid: number) => app.db.$client.query<{ seq: number; id: number | null }, [number]>("SELECT last_seq AS seq, last_msg_id AS id FROM groups WHERE id = ?").get(gid)!;
  const seqsOf = (app: TestApp, gid: number) => app.db.$client.query<{ seq: number }, [number]>("SELECT seq FROM messages WHERE group_id = ? ORDER BY id").all(gid).map((r) => r.seq);
  async function twoGroups() {
    const app = await setup();
    const a = await user(app, `lm_${apps.length}`);
    const [g1, g2] = [await group(app, a, []), await group(app, a, [])];
    let n = 0;
    const send = (gid: number) => (w: WriteCtx) => (sendMessage(w, a.uid, { gid, kind: "Text", content: "hi", clientMsgId: `lm-${++n}` }) as Sent).message;
    return { app, g1, g2, send };
  }

  test("reads in the batch (a savepoint job, a job without) see the group as of the messages before them", async () => {
    const { app, g1, g2, send } = await twoGroups();
    const { runSync } = await import("../src/domain/store");
    const read = (w: WriteCtx, gid: number) => { const g = runSync(w.store.groupById(gid))!; return { seq: g.lastSeq, id: g.lastMsgId }; };
    const seen: { seq: number; id: number | null }[] = [];
    const { outcomes } = batch(app, [
      { savepoint: false, run: send(g1) },
      { savepoint: false, run: send(g2) },
      { savepoint: false, run: send(g1) },
      { run: (w) => void seen.push(read(w, g1)) },
      { savepoint: false, run: send(g1) },
      { savepoint: false, run: (w) => void seen.push(read(w, g1), read(w, g2)) },
    ]);
    const sent = ((await outcomes) as { ok: true; value: { id: number; seq: number } }[]).map((o) => o.value);
    expect(seen).toEqual([{ seq: 2, id: sent[2]!.id }, { seq: 3, id: sent[4]!.id }, { seq: 1, id: sent[1]!.id }]);
    expect([lastOf(app, g1), lastOf(app, g2)]).toEqual([{ seq: 3, id: sent[4]!.id }, { seq: 1, id: sent[1]!.id }]);
  });

  test("a savepoint job rolled back takes its message's seq with it; the batch's other messages stay", async () => {
    const { app, g1, send } = await twoGroups();
    const { outcomes } = batch(app, [
      { savepoint: false, run: send(g1) },
      { run: (w) => { send(g1)(w); throw new Error("after its message"); } },
      { savepoint: false, run: send(g1) },
    ]);
    const [a, failed, c] = (await outcomes) as any[];
    expect([a.ok, failed.ok, c.ok]).toEqual([true, false, true]);
    expect([a.value.seq, c.value.seq]).toEqual([1, 2]);
    expect(seqsOf(app, g1)).toEqual([1, 2]);
    expect(lastOf(app, g1)).toEqual({ seq: 2, id: c.value.id });
  });

  test("a batch rolled back leaves the group row as it was, and the next message takes the next seq", async () => {
    const { app, g1, send } = await twoGroups();
    await app.writer.run(send(g1));
    const before = lastOf(app, g1);
    const { outcomes } = batch(app, [
      { savepoint: false, run: send(g1) },
      { savepoint: false, run: (w) => { send(g1)(w); throw new Error("after writing"); } },
    ]);
    expect(((await outcomes) as Outcome[]).every((o) => !o.ok)).toBe(true);
    expect(lastOf(app, g1)).toEqual(before);
    const next = await app.writer.run(send(g1));
    expect(next.seq).toBe(2);
    expect(lastOf(app, g1)).toEqual({ seq: 2, id: next.id });
  });
});
