// Changes batched with messages leave the search index's pending terms alone.
// FTS5 keeps the terms of a batch's new messages in memory until COMMIT; a
// savepoint, some statements and a delete from the index make it write them
// out early as a segment of their own, which made a change cost several
// times a message (BENCHMARKS.md, "Edits and reactions"). Seen from inside
// the batch: message_search_data gains rows only when that happens. Messages
// are indexed by a job of their own (domain/search.ts indexPending, "Index"
// below), as the server's indexer runs it, batched with whatever else came.
import { afterAll, expect, test } from "bun:test";
import { deleteMessage, editMessage, reactToMessage } from "../src/domain/changes";
import { indexPending } from "../src/domain/search";
import type { EventName } from "../src/protocol/frames";
import { FAILS_BEFORE_WRITING } from "../src/ws/dispatch";
import type { Outcome, WriteCtx } from "../src/write/writer";
import type { App } from "../src/app";
import type { Sent } from "../src/domain/messages";
import { group, makeApp, sendMessage, user } from "./helpers";

const app = await makeApp();
afterAll(() => app.close());
const ann = await user(app, "ft_ann");
const bob = await user(app, "ft_bob");
const gid = await group(app, ann, [bob]);
let n = 0;
// SQLite only (FTS5 internals, skipped on the cluster): the fixture answers at once, inside the writer's job.
const say = (w: WriteCtx, content: string) => (sendMessage(w, ann.uid, { gid, kind: "Text", content, clientMsgId: `ft-${++n}` }) as Sent).message.id;
// The SQLite writer hands its jobs the App (and its db) through their prototype.
const rows = (w: WriteCtx) => (w as WriteCtx & Pick<App, "db">).db.$client.query<{ n: number }, []>("SELECT count(*) AS n FROM message_search_data").get()!.n;

/** Jobs submitted in one turn (one batch), each with the savepoint the socket gives its event (ws/server.ts). */
function batch(jobs: [EventName | "Index", (w: WriteCtx) => unknown][]): Promise<Outcome[]> {
  return Promise.all(
    jobs.map(([event, run]) => new Promise<Outcome>((settle) => app.writer.submit({ db: true, savepoint: event === "Index" || !FAILS_BEFORE_WRITING.has(event), run, settle }))),
  );
}
// With a savepoint, as the server's indexer runs it (app.write): its terms stay pending until the batch's COMMIT or the next savepoint.
const index = (w: WriteCtx) => indexPending(w, 1000);
/** A message, in the index. */
const indexed = async (content: string) => {
  const id = await app.writer.run((w) => say(w, content));
  await app.writer.run(index);
  return id;
};

test("an edit keeping its words, a reaction and its removal, after messages in the same batch, write out no pending terms", async () => {
  const target = await indexed("the census of quokkas");
  const seen: number[] = [];
  const outcomes = await batch([
    ["Msg", (w) => say(w, "first words")],
    ["Msg", (w) => say(w, "more words")],
    ["Index", index],
    ["Msg", (w) => void seen.push(rows(w))],
    ["Edit", (w) => editMessage(w, ann.uid, { gid, msgId: target, content: "The census of quokkas!", clientMsgId: "ft-e" })],
    ["React", (w) => reactToMessage(w, bob.uid, { gid, msgId: target, emoji: "👍", on: true, clientMsgId: "ft-r" })],
    ["React", (w) => reactToMessage(w, ann.uid, { gid, msgId: target, emoji: "👍", on: true, clientMsgId: "ft-r2" })],
    ["React", (w) => reactToMessage(w, bob.uid, { gid, msgId: target, emoji: "👍", on: false, clientMsgId: "ft-r3" })],
    ["Msg", (w) => say(w, "last words")],
    ["Msg", (w) => void seen.push(rows(w))],
  ]);
  expect(outcomes.every((o) => o.ok)).toBe(true);
  expect(seen[1]).toBe(seen[0]);
});

test("an edit that changes the words does write them out (the check above can tell)", async () => {
  const target = await indexed("the census of wombats");
  const seen: number[] = [];
  await batch([
    ["Msg", (w) => say(w, "words before")],
    ["Index", index],
    ["Msg", (w) => void seen.push(rows(w))],
    ["Edit", (w) => editMessage(w, ann.uid, { gid, msgId: target, content: "the census of numbats" })],
    ["Msg", (w) => void seen.push(rows(w))],
    ["Delete", (w) => deleteMessage(w, ann.uid, { gid, msgId: target })],
  ]);
  expect(seen[1]).toBeGreaterThan(seen[0]!);
});
