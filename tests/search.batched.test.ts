// SQLite's search index is filled in batches after the messages commit
// (domain/search.ts indexPending, src/search-indexer.ts): a message is stored
// without its index entry; the server's indexer adds it shortly after, a
// search adds every waiting one before it answers, and what was waiting when
// the server stopped is indexed after the next start. The watermark in
// `settings` says how far the index has got.
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { closeApp, createApp, type App } from "../src/app";
import { createHttpApp } from "../src/http/app";
import { catchUpSearch, SEARCH_BATCH } from "../src/search-indexer";
import { call, fixture, group, makeApp, sendMessage, serve, sqlGet, tempDir, testConfig, user, type TestApp } from "./helpers";

const watermark = (app: App) => Number((sqlGet(app, "SELECT value FROM settings WHERE key = 'search_indexed_upto'") as { value: string }).value);
const indexedRows = (app: App) => (sqlGet(app, "SELECT count(*) AS n FROM message_search") as { n: number }).n;
let n = 0;
const say = async (app: App, uid: number, gid: number, content: string) =>
  (await sendMessage(fixture(app), uid, { gid, kind: "Text", content, clientMsgId: `sb-${++n}` })).message.id;
const found = async (app: TestApp, token: string, q: string) =>
  (await call(app, "GET", `/api/message/search?q=${encodeURIComponent(q)}`, { token })).body.data.map((m: { content: string }) => m.content);

const app = await makeApp();
afterAll(() => app.close());

describe("a search answers for every message stored before it", () => {
  test("stored, not indexed yet; the search indexes it first and finds it", async () => {
    const ann = await user(app, "sb_ann");
    const gid = await group(app, ann, []);
    const id = await say(app, ann.uid, gid, "the okapi report");
    expect(watermark(app)).toBeLessThan(id);
    expect(indexedRows(app)).toBe(0);
    expect(await found(app, ann.token, "okapi")).toEqual(["the okapi report"]);
    expect(watermark(app)).toBe(id);
    expect(indexedRows(app)).toBe(1);
  });

  test("edited or deleted while waiting: indexed as it is then, once", async () => {
    const bob = await user(app, "sb_bob");
    const gid = await group(app, bob, []);
    const edited = await say(app, bob.uid, gid, "tapir draft");
    const deleted = await say(app, bob.uid, gid, "tapir secret");
    for (const [msgId, content] of [[edited, "capybara final"], [deleted, null]] as const) {
      const r = await call(app, "POST", content === null ? "/api/message/delete" : "/api/message/edit", { token: bob.token, body: { gid, msgId, ...(content === null ? {} : { content }) } });
      expect(r.status).toBe(200);
    }
    const before = indexedRows(app);
    expect(await found(app, bob.token, "tapir")).toEqual([]);
    expect(await found(app, bob.token, "capybara")).toEqual(["capybara final"]);
    // One new entry: the edited message's; the deleted one has none.
    expect(indexedRows(app)).toBe(before + 1);
  });

  test("more than a batch waiting: every one is indexed, in several jobs", async () => {
    const cat = await user(app, "sb_cat");
    const gid = await group(app, cat, []);
    let last = 0;
    await app.writer.run((w) => {
      for (let i = 0; i < 2500; i++) last = (sendMessage(w, cat.uid, { gid, kind: "Text", content: `gnu number ${i}`, clientMsgId: `bulk-${i}` }) as { message: { id: number } }).message.id;
    });
    let jobs = 0;
    const off = app.writer.onCommit(() => jobs++);
    await catchUpSearch(app);
    off();
    expect(watermark(app)).toBe(last);
    expect(jobs).toBe(Math.ceil(2500 / SEARCH_BATCH));
    const hits = await call(app, "GET", `/api/message/search?q=gnu&limit=100`, { token: cat.token });
    expect(hits.body.data.length).toBe(100);
  });
});

test("the server's indexer indexes new messages without a search", async () => {
  const s = await serve();
  try {
    const dan = await user(s.app, "sb_dan");
    const gid = await group(s.app, dan, []);
    const id = await say(s.app, dan.uid, gid, "the wombat census");
    // Woken by the indexer's own commit (src/search-indexer.ts, every INDEX_EVERY_MS while messages wait).
    await new Promise<void>((resolve) => {
      const off = s.app.writer.onCommit(() => {
        if (watermark(s.app) >= id) {
          off();
          resolve();
        }
      });
    });
    expect(indexedRows(s.app)).toBe(1);
  } finally {
    await s.stop();
  }
});

test("waiting when the server stopped: found after the next start, and indexed once", async () => {
  const tmp = tempDir();
  const db = join(tmp.dir, "rim.db");
  let a = createApp(testConfig({ db }));
  const eve = await user(a, "sb_eve");
  const gid = await group(a, eve, []);
  const first = await say(a, eve.uid, gid, "quokka one");
  await catchUpSearch(a);
  const second = await say(a, eve.uid, gid, "quokka two");
  expect(watermark(a)).toBe(first);
  closeApp(a);
  a = createApp(testConfig({ db }));
  const served = Object.assign(a, { http: createHttpApp(a), close: () => closeApp(a) });
  expect(watermark(a)).toBe(first);
  expect(await found(served, eve.token, "quokka")).toEqual(["quokka two", "quokka one"]);
  expect(watermark(a)).toBe(second);
  expect(indexedRows(a)).toBe(2);
  closeApp(a);
  tmp.cleanup();
});
