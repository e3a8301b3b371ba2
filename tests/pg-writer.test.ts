// The PostgreSQL write path (src/db/pg/writer.ts, a prototype no server uses yet) on a real
// PostgreSQL: two writers on two pools stand for two nodes.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { SQL } from "bun";
import { migratePostgres } from "../src/db/pg/migrate";
import { createPgWriter, type PgWriter } from "../src/db/pg/writer";
import type { Ctx } from "../src/domain/context";
import { sendMessage, type Sent } from "../src/domain/messages";
import { markRead } from "../src/domain/reads";
import { FAILS_BEFORE_WRITING } from "../src/ws/dispatch";
import { createLogger } from "../src/log";
import type { Effect } from "../src/write/effects";
import { freshDatabase } from "./services";

let fresh: Awaited<ReturnType<typeof freshDatabase>>;
let pools: SQL[];
let reader: SQL;
const applied: { node: number; effect: Effect }[] = [];
let writers: PgWriter[];
const lines: string[] = [];

beforeAll(async () => {
  fresh = await freshDatabase();
  pools = [new SQL(fresh.url, { max: 2 }), new SQL(fresh.url, { max: 2 })];
  reader = new SQL(fresh.url, { max: 1 });
  await migratePostgres(pools[0]!);
  await pools[0]!.unsafe("INSERT INTO users (id, account, name, password_hash, created_at) VALUES (1, 'ann', 'Ann', 'h', 1), (2, 'bob', 'Bob', 'h', 1), (3, 'cat', 'Cat', 'h', 1)");
  await pools[0]!.unsafe("INSERT INTO groups (id, name, mode, creator_uid, created_at) VALUES (1, 'team', 2, 1, 1)");
  await pools[0]!.unsafe("INSERT INTO group_members (group_id, user_id, role, joined_at) VALUES (1, 1, 3, 1), (1, 2, 1, 1)");
  const ctx = { clock: () => 1_700_000_000_000, limits: { maxContent: 100 } } as unknown as Ctx;
  const log = createLogger({ level: "error", format: "json", write: (l) => lines.push(l) });
  writers = pools.map((sql, node) =>
    createPgWriter({
      ctx,
      sql,
      log,
      apply: (effect) => applied.push({ node, effect }),
    }),
  );
}, 120_000);

afterAll(async () => {
  for (const p of [...(pools ?? []), reader]) await p?.close();
  await fresh?.drop();
});

const send = (node: number, uid: number, clientMsgId: string, gid = 1) =>
  writers[node]!.run(function* (w) {
    const sent: Sent = yield* sendMessage(w, uid, { gid, kind: "Text", content: clientMsgId, clientMsgId });
    w.effects.push({ type: "publish", gid, data: String(sent.message.id) });
    return sent;
  });

test("two nodes sending at once: seqs dense, every send stored once and announced once committed", async () => {
  const sends: Promise<Sent>[] = [];
  for (let turn = 0; turn < 10; turn++) {
    for (let i = 0; i < 6; i++) sends.push(send(i % 2, 1 + (i % 2), `m${turn}.${i}`));
    await new Promise((r) => setImmediate(r));
  }
  const sent = await Promise.all(sends);
  expect(sent.every((s) => !s.duplicate)).toBe(true);
  const seqs = ((await reader`SELECT seq FROM messages WHERE group_id = 1 ORDER BY seq`) as { seq: string }[]).map((r) => Number(r.seq));
  expect(seqs).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
  const ids = new Set(((await reader`SELECT id FROM messages`) as { id: string }[]).map((r) => r.id));
  expect(applied.length).toBe(60);
  expect(applied.every((a) => ids.has((a.effect as { data: string }).data))).toBe(true);
});

test("ids commit in order across nodes: while one node's batch holds an id, the other's batch with a later id waits for it", async () => {
  await pools[0]!.unsafe("INSERT INTO groups (id, name, mode, creator_uid, created_at) VALUES (2, 'other', 2, 2, 1) ON CONFLICT DO NOTHING");
  await pools[0]!.unsafe("INSERT INTO group_members (group_id, user_id, role, joined_at) VALUES (2, 2, 3, 1) ON CONFLICT DO NOTHING");
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let took!: (id: number) => void;
  const tookId = new Promise<number>((r) => (took = r));
  // Node 0: a message takes its id, then its batch stays open until released.
  const first = writers[0]!.run(function* (w) {
    const sent: Sent = yield* sendMessage(w, 1, { gid: 1, kind: "Text", content: "first", clientMsgId: "order-1" });
    took(sent.message.id);
    yield held;
    return sent;
  });
  const firstId = await tookId;
  // Node 1: a message of another group (no row lock shared with the first), so only the id order can hold it back.
  let secondDone = false;
  const second = send(1, 2, "order-2", 2).then((s) => ((secondDone = true), s));
  // Either the second batch waits on the id lock, or (without it) it commits with a later id while the first is open.
  for (;;) {
    if (secondDone) break;
    const [w] = (await reader`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`) as { n: number }[];
    if (w!.n > 0) break;
  }
  expect(secondDone).toBe(false);
  release();
  const [a, b] = await Promise.all([first, second]);
  expect(a.message.id).toBe(firstId);
  expect(b.message.id).toBeGreaterThan(a.message.id);
});

test("a job that fails in a batch fails alone: the others are stored and announced, its effects are not", async () => {
  applied.length = 0;
  const outcomes = await Promise.allSettled([send(0, 1, "ok1"), send(0, 3, "refused"), send(0, 2, "ok2")]);
  expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
  expect(((outcomes[1] as PromiseRejectedResult).reason as { status: number }).status).toBe(403);
  expect(applied.map((a) => a.node)).toEqual([0, 0]);
  const stored = ((await reader`SELECT client_msg_id FROM messages WHERE client_msg_id IN ('ok1', 'ok2', 'refused') ORDER BY id`) as { client_msg_id: string }[]).map((r) => r.client_msg_id);
  expect(stored).toEqual(["ok1", "ok2"]);
  // A resend through the other node is the original.
  const again = await send(1, 1, "ok1");
  expect(again.duplicate).toBe(true);
});

test("drained() resolves once everything submitted is committed and announced; settled() waits for what has run", async () => {
  applied.length = 0;
  void send(1, 1, "late1");
  void send(1, 2, "late2");
  // Nothing has run yet (the batch starts on the next turn): nothing to wait for.
  await writers[1]!.settled();
  expect(applied.length).toBe(0);
  await writers[1]!.drained();
  expect(applied.length).toBe(2);
  expect(lines).toEqual([]);
});

test("onCommitted gets a batch's effects in commit order while the ids lock is held, before they are carried out here", async () => {
  applied.length = 0;
  let handed: Effect[] = [];
  let release!: () => void;
  const holding = new Promise<void>((r) => (release = r));
  let entered!: () => void;
  const inHook = new Promise<void>((r) => (entered = r));
  writers[0]!.setOnCommitted(async (effects) => {
    handed = [...effects];
    entered();
    await holding;
  });
  try {
    const a = send(0, 1, "hook-a");
    const b = send(0, 2, "hook-b");
    await inHook;
    // Committed, handed over, not yet carried out here.
    expect(handed.map((e) => (e as { data: string }).data)).toHaveLength(2);
    expect(applied.length).toBe(0);
    // Another node's batch waits for the lock until the hook returns.
    let otherDone = false;
    const other = send(1, 1, "hook-c").then((s) => ((otherDone = true), s));
    for (;;) {
      const [w] = (await reader`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`) as { n: number }[];
      if (w!.n > 0) break;
    }
    expect(otherDone).toBe(false);
    release();
    const [sa, sb, sc] = await Promise.all([a, b, other]);
    expect(handed.map((e) => (e as { data: string }).data)).toEqual([String(sa.message.id), String(sb.message.id)]);
    expect(sc.message.id).toBeGreaterThan(sb.message.id);
    // Carried out on node 0 in commit order, after the hand-over.
    expect(applied.filter((x) => x.node === 0).map((x) => (x.effect as { data: string }).data)).toEqual(handed.map((e) => (e as { data: string }).data));
  } finally {
    writers[0]!.setOnCommitted(undefined);
  }
});

test("a job without a savepoint: refused before writing, it fails alone; failing after writing, its batch fails and nothing of it is announced", async () => {
  applied.length = 0;
  const noSavepoint = (clientMsgId: string, failAfter: boolean, uid = 1) =>
    new Promise<Sent>((resolve, reject) =>
      writers[0]!.submit({
        savepoint: false,
        run: function* (w) {
          const sent: Sent = yield* sendMessage(w, uid, { gid: 1, kind: "Text", content: clientMsgId, clientMsgId });
          if (failAfter) throw new Error("after writing");
          w.effects.push({ type: "publish", gid: 1, data: String(sent.message.id) });
          return sent;
        },
        settle: (o) => (o.ok ? resolve(o.value as Sent) : reject(o.error)),
      }),
    );
  // Cat is no member: refused by the checks that come before the INSERT.
  const alone = await Promise.allSettled([noSavepoint("ns-1", false), noSavepoint("ns-refused", false, 3), noSavepoint("ns-2", false)]);
  expect(alone.map((o) => o.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
  const before = lines.length;
  const batch = await Promise.allSettled([noSavepoint("ns-3", false), noSavepoint("ns-4", true)]);
  expect(batch.map((o) => o.status)).toEqual(["rejected", "rejected"]);
  expect(((batch[0] as PromiseRejectedResult).reason as { status: number }).status).toBe(500);
  expect(lines.slice(before).some((l) => l.includes("write.failed_after_writing"))).toBe(true);
  lines.length = before;
  const stored = ((await reader`SELECT client_msg_id FROM messages WHERE client_msg_id LIKE 'ns-%' ORDER BY id`) as { client_msg_id: string }[]).map((r) => r.client_msg_id);
  expect(stored).toEqual(["ns-1", "ns-2"]);
  expect(applied.length).toBe(2);
});

test("a batch that stores nothing (Typing, presence) is handed over too, without a transaction", async () => {
  const handed: Effect[][] = [];
  writers[0]!.setOnCommitted((effects) => void handed.push([...effects]));
  try {
    await writers[0]!.run((w) => void w.effects.push({ type: "publish", gid: 1, data: "typing" }), { db: false });
    expect(handed).toEqual([[{ type: "publish", gid: 1, data: "typing" }]]);
  } finally {
    writers[0]!.setOnCommitted(undefined);
  }
});

test("round trips under the ids lock: a batch of a message and a read receipt is 7 statements, each of them 2", async () => {
  // What every batch of every node waits behind (BENCHMARKS.md, "Round trips under the ids lock"): counted, so a
  // statement added to the hot path shows here rather than as a slower cluster.
  const first = await send(0, 1, "rt-seed");
  const pool = new SQL(fresh.url, { max: 2 });
  const statements: string[] = [];
  const counting = {
    async reserve() {
      const conn = await pool.reserve();
      return { unsafe: (text: string, params?: never[]) => (statements.push(text), conn.unsafe(text, params)), release: () => conn.release() };
    },
  } as unknown as SQL;
  const ctx = { clock: () => 1_700_000_000_000, limits: { maxContent: 100 } } as unknown as Ctx;
  const writer = createPgWriter({ ctx, sql: counting, log: createLogger({ level: "silent", format: "json" }), apply: () => {} });
  try {
    const settled = (job: (w: Parameters<Parameters<PgWriter["run"]>[0]>[0]) => Generator<unknown, unknown, unknown>, event: "Msg" | "Read") =>
      new Promise((resolve, reject) =>
        writer.submit({ run: job, savepoint: !FAILS_BEFORE_WRITING.has(event), settle: (o) => (o.ok ? resolve(o.value) : reject(o.error)) }),
      );
    // Submitted in one turn: one batch, as a socket's Read and Msg are.
    const done = Promise.all([
      settled((w) => sendMessage(w, 2, { gid: 1, kind: "Text", content: "counted", clientMsgId: "rt-1" }), "Msg"),
      settled((w) => markRead(w, 2, 1, first.message.id), "Read"),
    ]);
    await done;
    await writer.drained();
    expect(statements).toHaveLength(7);
    expect(statements[0]).toContain("pg_advisory_lock");
    expect(statements[0]).toContain("BEGIN");
    expect(statements[5]).toBe("COMMIT");
    expect(statements[6]).toContain("pg_advisory_unlock");
  } finally {
    await pool.close();
  }
});
