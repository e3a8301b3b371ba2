// The storage seam (domain/store.ts): the same domain flows, run on the
// SQLite store (runSync) and on the PostgreSQL store (runAsync, a real
// PostgreSQL from tests/services.ts), from the same seed, one case after the
// other: each case's answer must be the expected one and the same on both
// engines (ids included: both count from 1 in the same order).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { migrate } from "../src/db/migrate";
import { closeDatabase, openDatabase, type Db } from "../src/db/open";
import { migratePostgres } from "../src/db/pg/migrate";
import { pgStore } from "../src/db/pg/store";
import { sqliteStore } from "../src/db/sqlite-store";
import type { Ctx } from "../src/domain/context";
import { attachFiles, readableFile } from "../src/domain/files";
import { findMessageInGroup, history, sendMessage } from "../src/domain/messages";
import { runAsync, runSync, type Flow, type Store } from "../src/domain/store";
import { getUsers } from "../src/domain/users";
import { messageView } from "../src/domain/views";
import { toAppError } from "../src/errors";
import { freshDatabase } from "./services";

// Users 1 ann, 2 bob, 3 cat (in no group); group 1 "team" (ann, bob); group 2 "cat's" (only cat in it);
// ann's file F1 (a PNG), cat's file F2. Plain SQL both engines run as it is.
const F1 = "f1f1f1f1f1f1f1f1f1f1f";
const F2 = "f2f2f2f2f2f2f2f2f2f2f";
const SEED = [
  "INSERT INTO users (id, account, name, password_hash, created_at) VALUES (1, 'Ann', 'Ann', 'h', 1), (2, 'bob', 'Bob', 'h', 1), (3, 'cat', 'Cat', 'h', 1)",
  "INSERT INTO groups (id, name, mode, creator_uid, created_at) VALUES (1, 'team', 2, 1, 1), (2, 'empty', 2, 3, 1)",
  "INSERT INTO group_members (group_id, user_id, role, joined_at) VALUES (1, 1, 3, 1), (1, 2, 1, 1), (2, 3, 3, 1)",
  `INSERT INTO files (id, sha256, name, size, mime, uploader_uid, created_at) VALUES ('${F1}', 'aa', 'pic.png', 10, 'image/png', 1, 1), ('${F2}', 'bb', 'doc.txt', 20, 'text/plain', 3, 1)`,
];

type Case = { name: string; flow: (ctx: Ctx) => Flow<unknown>; expected?: unknown };

const send = (uid: number, over: Partial<Parameters<typeof sendMessage>[2]>) => (ctx: Ctx) =>
  sendMessage(ctx, uid, { gid: 1, kind: "Text", content: "hello", clientMsgId: "c1", ...over });
const pick = (ctx: Ctx, f: Flow<{ message: { id: number; seq: number; mentions: number[]; file?: unknown }; duplicate: boolean }>) =>
  (function* () {
    const s = yield* f;
    return { id: s.message.id, seq: s.message.seq, mentions: s.message.mentions, file: s.message.file ?? null, duplicate: s.duplicate };
  })();

const CASES: Case[] = [
  { name: "a member sends: id 1, seq 1", flow: (c) => pick(c, send(1, {})(c)), expected: { seq: 1, mentions: [], file: null, duplicate: false } },
  { name: "a resend returns the original", flow: (c) => pick(c, send(1, { content: "changed" })(c)), expected: { seq: 1, mentions: [], file: null, duplicate: true } },
  { name: "the next message takes the next seq", flow: (c) => pick(c, send(2, { clientMsgId: "b1", content: "hi @ann and @all" })(c)), expected: { seq: 2, mentions: [1, 2], file: null, duplicate: false } },
  { name: "a non-member is refused", flow: send(3, { clientMsgId: "x1" }), expected: { error: "forbidden" } },
  { name: "no such group", flow: send(1, { gid: 99, clientMsgId: "x2" }), expected: { error: "not_found" } },
  { name: "a resend to a group one has left still returns the original", flow: (c) => pick(c, send(1, { gid: 2 })(c)), expected: { seq: 1, mentions: [], file: null, duplicate: true } },
  { name: "too long", flow: send(1, { clientMsgId: "x3", content: "x".repeat(101) }), expected: { error: "too_large" } },
  { name: "a reply to a message of the group", flow: (c) => pick(c, send(1, { clientMsgId: "r1", replyTo: 1 })(c)), expected: { seq: 3, mentions: [], file: null, duplicate: false } },
  { name: "a reply to nothing", flow: send(1, { clientMsgId: "r2", replyTo: 99 }), expected: { error: "not_found" } },
  { name: "one's own image", flow: (c) => pick(c, send(1, { clientMsgId: "i1", kind: "Image", content: F1 })(c)), expected: { seq: 4, mentions: [], file: { id: F1, name: "pic.png", size: 10, mime: "image/png" }, duplicate: false } },
  { name: "someone else's file, not shared with the sender", flow: send(1, { clientMsgId: "i2", kind: "File", content: F2 }), expected: { error: "not_found" } },
  { name: "a file shared in one's group", flow: (c) => pick(c, send(2, { clientMsgId: "i3", kind: "File", content: F1 })(c)), expected: { seq: 5, mentions: [], file: { id: F1, name: "pic.png", size: 10, mime: "image/png" }, duplicate: false } },
  { name: "an image that is no image", flow: send(3, { gid: 2, clientMsgId: "i4", kind: "Image", content: F2 }), expected: { error: "bad_request" } },
  { name: "readableFile: the uploader", flow: (c) => readableFile(c, 3, F2) },
  { name: "readableFile: nobody else", flow: (c) => readableFile(c, 1, F2), expected: { error: "not_found" } },
  {
    name: "history, newest page, with senders and files",
    flow: (c) =>
      (function* () {
        const page = yield* history(c, 2, { gid: 1, page: 1, size: 3 });
        return page.map((p) => ({ id: p.msg.id, seq: p.msg.seq, uid: p.user.id, account: p.user.account, file: p.msg.file?.id ?? null, replyTo: p.msg.replyTo }));
      })(),
    expected: [
      { seq: 3, uid: 1, account: "Ann", file: null, replyTo: 1 },
      { seq: 4, uid: 1, account: "Ann", file: F1, replyTo: null },
      { seq: 5, uid: 2, account: "bob", file: F1, replyTo: null },
    ],
  },
  { name: "history before an id (the third message's)", flow: (c) => (function* () {
    const third = (yield* c.store.messageBySenderClientId(1, "r1"))!.id;
    return (yield* history(c, 1, { gid: 1, page: 1, size: 10, beforeId: third })).map((p) => p.msg.seq);
  })(), expected: [1, 2] },
  { name: "history: not a member", flow: (c) => history(c, 3, { gid: 1, page: 1, size: 10 }), expected: { error: "forbidden" } },
  { name: "findMessageInGroup", flow: (c) => (function* () { return [!!(yield* findMessageInGroup(c, 1, 1)), !!(yield* findMessageInGroup(c, 2, 1))]; })(), expected: [true, false] },
  { name: "getUsers", flow: (c) => (function* () { return [...(yield* getUsers(c, [2, 1, 2, 99])).values()].sort((a, b) => a.id - b.id); })(), expected: [
    { id: 1, name: "Ann", avatar: "", email: "", account: "Ann" },
    { id: 2, name: "Bob", avatar: "", email: "", account: "bob" },
  ] },
  {
    name: "the rows as stored: message 2, its mentions, the groups' last seq",
    flow: (c) =>
      (function* () {
        const row = yield* c.store.messageBySenderClientId(2, "b1");
        const views = yield* attachFiles(c, [messageView(row!)]);
        return { view: views[0], team: yield* c.store.groupForSender(1, 1), empty: yield* c.store.groupForSender(2, 1) };
      })(),
  },
];

const outcome = (value: unknown) => JSON.parse(JSON.stringify(value ?? null));
const failure = (err: unknown) => {
  const e = toAppError(err);
  if (e.code === "internal") console.error(err);
  return { error: e.code };
};

describe.each(["sqlite", "postgres"] as const)("the domain over the %s store", (engine) => {
  let store: Store;
  let run: (flow: Flow<unknown>) => Promise<unknown>;
  let close: () => Promise<void>;
  beforeAll(async () => {
    if (engine === "sqlite") {
      const db: Db = openDatabase(":memory:", { sync: "normal" });
      migrate(db.$client);
      for (const s of SEED) db.$client.run(s);
      store = sqliteStore(db.$client);
      run = async (flow) => runSync(flow);
      close = async () => closeDatabase(db);
    } else {
      const fresh = await freshDatabase();
      const sql = new SQL(fresh.url, { max: 1 });
      await migratePostgres(sql);
      for (const s of SEED) await sql.unsafe(s);
      store = pgStore(sql);
      run = (flow) => runAsync(flow);
      close = async () => {
        await sql.close();
        await fresh.drop();
      };
    }
  });
  afterAll(() => close?.());

  const ctx = () => ({ store, clock: () => 1_700_000_000_000, limits: { maxContent: 100 } }) as unknown as Ctx;
  const answers: Record<string, unknown> = (globalThis as { storeAnswers?: Record<string, unknown> }).storeAnswers ??= {};

  test.each(CASES.map((c, i) => [c.name, i] as const))("%s", async (_name, i) => {
    const c = CASES[i]!;
    let got: unknown;
    try {
      got = outcome(await run(c.flow(ctx())));
    } catch (err) {
      got = failure(err);
    }
    if (c.expected !== undefined) expect(got).toMatchObject(outcome(c.expected));
    // The same answer on both engines (the SQLite run comes first).
    if (engine === "sqlite") answers[c.name] = got;
    else expect(got).toEqual(answers[c.name]);
  });
});
