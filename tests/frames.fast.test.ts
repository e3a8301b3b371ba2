// The hand-written Msg check (fastMsg, the socket's hot path) against the zod
// schemas it stands in for (envelope, then bodies.Msg), over a fuzzed corpus
// of JSON texts as a socket delivers them: both accept exactly the same
// frames, and for those fastMsg returns exactly zod's body. The same for
// fastChange (Edit, Delete, React).
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { MAX_ID } from "../src/domain/context";
import { bodies, envelope, EVENTS, fastChange, fastMsg, msgAck, msgPush, okAck } from "../src/protocol/frames";
import { msgBody } from "../src/push";
import { selectList } from "../src/db/columns";
import { messages } from "../src/db/schema";
import { RUNS, SEED } from "./fuzz.kit";
import { group, makeApp, user, fixture, sqlGet } from "./helpers";
import { sendMessage } from "./helpers";
import { messageView } from "../src/domain/views";

/** What the schemas make of a frame: the Msg body, or null when they refuse it (or it is another event). */
function viaZod(frame: unknown): unknown {
  const env = envelope.safeParse(frame);
  if (!env.success || env.data.event !== "Msg") return null;
  const body = bodies.Msg.safeParse(env.data.body);
  return body.success ? body.data : null;
}

const LONE = ["\uD800", "\uDFFF", "a\uDC00b", "\uD83D", "x\uDE00"];
const text = fc.oneof(
  fc.string({ maxLength: 140 }),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 }), // may hold lone surrogates
  fc.constantFrom("", "a", "x".repeat(127), "x".repeat(128), "x".repeat(129), "😀".repeat(64), "😀".repeat(65), ...LONE),
  fc.tuple(fc.string({ maxLength: 10 }), fc.constantFrom(...LONE), fc.string({ maxLength: 10 })).map(([a, b, c]) => a + b + c),
);
// Number literals as JSON text, to reach what JSON.parse makes of them (1e400 is Infinity, 2^53 + 1 rounds).
const numberLiteral = fc.oneof(
  fc.constantFrom("0", "-0", "1", "1.0", "1.5", "-1", "2", "1e0", "1e3", "1e400", "-1e400", "9007199254740991", "9007199254740992", "9007199254740993", "0.1e1", "5e-324"),
  fc.integer({ min: -10, max: 10_000 }).map(String),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)),
  fc.constant(String(MAX_ID)),
);
const json = (v: unknown) => JSON.stringify(v);
const anyValue = fc.oneof(
  numberLiteral,
  text.map(json),
  fc.constantFrom("null", "true", "false", "[]", "{}", '"1"', '["Text"]', '{"a":1}'),
  fc.jsonValue({ maxDepth: 2 }).map(json),
);
const idValue = fc.oneof({ weight: 3, arbitrary: numberLiteral }, { weight: 1, arbitrary: anyValue });
const kindValue = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom("Text", "RichText", "Image").map(json) },
  { weight: 1, arbitrary: fc.constantFrom("text", "TEXT", "Text ", "", "Video").map(json) },
  { weight: 1, arbitrary: anyValue },
);
const textValue = fc.oneof({ weight: 3, arbitrary: text.map(json) }, { weight: 1, arbitrary: anyValue });

/** An object as JSON text from [key, value-text] entries: keys may repeat and may be __proto__ or constructor. */
const objectText = (entries: [string, string][]) => `{${entries.map(([k, v]) => `${json(k)}:${v}`).join(",")}}`;
const field = (key: string, value: fc.Arbitrary<string>, presence = 0.9) =>
  fc.option(value.map((v): [string, string] => [key, v]), { freq: Math.round(1 / (1 - presence)) - 1 }).map((e) => (e ? [e] : []));
const extraKeys = fc.array(
  fc.tuple(fc.oneof(fc.constantFrom("__proto__", "constructor", "toString", "hasOwnProperty", "uid", "gid", "kind", "content", "clientMsgId", "msgId", "event", "body"), fc.string({ maxLength: 8 })), anyValue),
  { maxLength: 3 },
);
const bodyText = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .tuple(field("clientMsgId", textValue), field("uid", idValue, 0.4), field("kind", kindValue), field("gid", idValue), field("content", textValue), extraKeys, fc.boolean())
      .map(([a, b, c, d, e, extra, extraFirst]) => objectText(extraFirst ? [...extra, ...a, ...b, ...c, ...d, ...e] : [...a, ...b, ...c, ...d, ...e, ...extra])),
  },
  { weight: 1, arbitrary: anyValue },
);
const eventText = fc.oneof(
  { weight: 6, arbitrary: fc.constant(json("Msg")) },
  { weight: 1, arbitrary: fc.constantFrom(...EVENTS, "msg", "MSG", "Msg ", "").map(json) },
  { weight: 1, arbitrary: anyValue },
);
const frameText = fc.oneof(
  {
    weight: 10,
    arbitrary: fc
      .tuple(field("event", eventText, 0.95), field("body", bodyText, 0.95), extraKeys)
      .map(([e, b, extra]) => objectText([...e, ...b, ...extra])),
  },
  { weight: 1, arbitrary: anyValue },
);

const numRuns = Math.max(20_000, RUNS);

describe("fastMsg agrees with the zod schemas", () => {
  test(`same verdict, same body, over ${numRuns} fuzzed frames`, () => {
    let accepted = 0;
    fc.assert(
      fc.property(frameText, (raw) => {
        const frame = JSON.parse(raw);
        const fast = fastMsg(frame);
        const zod = viaZod(frame);
        if (zod === null) expect(fast).toBeNull();
        else {
          accepted++;
          expect(fast).toStrictEqual(zod as any);
          expect(Object.keys(fast!)).toEqual(Object.keys(zod as object));
        }
      }),
      { numRuns, ...(SEED !== undefined ? { seed: SEED } : {}) },
    );
    // The corpus must exercise both sides, not only refusals.
    expect(accepted).toBeGreaterThan(numRuns / 50);
  }, 120_000);

  test("cases at the edges", () => {
    const msg = (body: Record<string, unknown>) => ({ event: "Msg", body: { kind: "Text", gid: 1, content: "hi", clientMsgId: "c1", ...body } });
    const cases: unknown[] = [
      msg({}),
      msg({ uid: 7 }),
      msg({ uid: null }),
      msg({ gid: 0 }),
      msg({ gid: MAX_ID }),
      msg({ gid: MAX_ID + 1 }),
      msg({ gid: 1.5 }),
      msg({ gid: "1" }),
      msg({ gid: Infinity }),
      msg({ gid: NaN }),
      msg({ clientMsgId: "" }),
      msg({ clientMsgId: "x".repeat(128) }),
      msg({ clientMsgId: "x".repeat(129) }),
      msg({ clientMsgId: "\uD800" }),
      msg({ content: "a\uDC00" }),
      msg({ content: "😀" }),
      msg({ content: "" }),
      msg({ kind: "Image" }),
      msg({ kind: "Sticker" }),
      msg({ extra: 1, msgId: 3 }),
      { event: "Msg", body: [] },
      { event: "Msg", body: null },
      { event: "Msg" },
      { event: "Read", body: { kind: "Text", gid: 1, content: "hi", clientMsgId: "c1" } },
      [],
      null,
      "Msg",
      JSON.parse('{"event":"Msg","body":{"__proto__":{"gid":1},"kind":"Text","gid":1,"content":"hi","clientMsgId":"c1"}}'),
      JSON.parse('{"event":"Msg","body":{"constructor":1,"kind":"Text","gid":1,"content":"hi","clientMsgId":"c1"}}'),
      JSON.parse('{"event":"Msg","body":{"kind":"Text","gid":1,"gid":0,"content":"hi","clientMsgId":"c1"}}'),
    ];
    for (const frame of cases) {
      const zod = viaZod(frame);
      const fast = fastMsg(frame);
      if (zod === null) expect(fast).toBeNull();
      else expect(fast).toStrictEqual(zod as any);
    }
    expect(fastMsg(msg({ uid: 7 }))).toStrictEqual({ clientMsgId: "c1", uid: 7, kind: "Text", gid: 1, content: "hi" });
  });
});

/** What the schemas make of an Edit, Delete or React frame: { event, body }, or null when they refuse it (or it is another event). */
function changeViaZod(frame: unknown): unknown {
  const env = envelope.safeParse(frame);
  if (!env.success) return null;
  const event = env.data.event;
  if (event !== "Edit" && event !== "Delete" && event !== "React") return null;
  const body = bodies[event].safeParse(env.data.body);
  return body.success ? { event, body: body.data } : null;
}

const emojiValue = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom("👍", "❤️", "👨‍👩‍👧", "ok", "x".repeat(32), "😀".repeat(32)).map(json) },
  { weight: 1, arbitrary: fc.constantFrom("", "x".repeat(33), "😀".repeat(33), "a\u0000", "\n", "\uD800", "a\uDC00").map(json) },
  { weight: 1, arbitrary: text.map(json) },
  { weight: 1, arbitrary: anyValue },
);
const onValue = fc.oneof({ weight: 3, arbitrary: fc.constantFrom("true", "false") }, { weight: 1, arbitrary: anyValue });
const changeBodyText = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .tuple(
        field("clientMsgId", textValue),
        field("uid", idValue, 0.4),
        field("kind", kindValue, 0.5),
        field("gid", idValue),
        field("msgId", idValue),
        field("content", textValue, 0.6),
        field("emoji", emojiValue, 0.8),
        field("on", onValue, 0.8),
        extraKeys,
        fc.boolean(),
      )
      .map(([a, b, c, d, e, f, g, h, extra, extraFirst]) => objectText(extraFirst ? [...extra, ...a, ...b, ...c, ...d, ...e, ...f, ...g, ...h] : [...h, ...a, ...b, ...c, ...d, ...e, ...f, ...g, ...extra])),
  },
  { weight: 1, arbitrary: anyValue },
);
const changeEventText = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom("Edit", "Delete", "React").map(json) },
  { weight: 1, arbitrary: fc.constantFrom(...EVENTS, "edit", "REACT", "React ", "").map(json) },
  { weight: 1, arbitrary: anyValue },
);
const changeFrameText = fc.oneof(
  {
    weight: 10,
    arbitrary: fc
      .tuple(field("event", changeEventText, 0.95), field("body", changeBodyText, 0.95), extraKeys)
      .map(([e, b, extra]) => objectText([...e, ...b, ...extra])),
  },
  { weight: 1, arbitrary: anyValue },
);

describe("fastChange agrees with the zod schemas", () => {
  test(`same verdict, same event and body, over ${numRuns} fuzzed frames`, () => {
    const accepted = { Edit: 0, Delete: 0, React: 0 };
    fc.assert(
      fc.property(changeFrameText, (raw) => {
        const frame = JSON.parse(raw);
        const fast = fastChange(frame);
        const zod = changeViaZod(frame) as { event: keyof typeof accepted; body: object } | null;
        if (zod === null) expect(fast).toBeNull();
        else {
          accepted[zod.event]++;
          expect(fast).toStrictEqual(zod as any);
          expect(Object.keys(fast!.body)).toEqual(Object.keys(zod.body));
        }
      }),
      { numRuns, ...(SEED !== undefined ? { seed: SEED } : {}) },
    );
    // The corpus must exercise every event's acceptance, not only refusals.
    for (const n of Object.values(accepted)) expect(n).toBeGreaterThan(numRuns / 1000);
  }, 120_000);

  test("cases at the edges", () => {
    const base = { gid: 1, msgId: 2, clientMsgId: "c1" };
    const cases: unknown[] = [
      { event: "Edit", body: { ...base, content: "hi" } },
      { event: "Edit", body: { ...base, content: "hi", uid: 7, kind: "Text" } },
      { event: "Edit", body: { ...base, content: "hi", kind: "Sticker" } },
      { event: "Edit", body: { ...base, content: "a\uDC00" } },
      { event: "Edit", body: { ...base } },
      { event: "Edit", body: { ...base, content: "hi", msgId: 0 } },
      { event: "Delete", body: { ...base } },
      { event: "Delete", body: { ...base, content: "ignored", emoji: "👍" } },
      { event: "Delete", body: { ...base, msgId: MAX_ID + 1 } },
      { event: "React", body: { ...base, emoji: "👍", on: true } },
      { event: "React", body: { ...base, emoji: "👍", on: "true" } },
      { event: "React", body: { ...base, emoji: "", on: false } },
      { event: "React", body: { ...base, emoji: "😀".repeat(33), on: false } },
      { event: "React", body: { ...base, emoji: "a\u0007", on: false } },
      { event: "React", body: { ...base, emoji: "👍" } },
      { event: "React", body: [] },
      { event: "React" },
      JSON.parse('{"event":"React","body":{"__proto__":{"on":true},"gid":1,"msgId":2,"clientMsgId":"c1","emoji":"👍","on":false}}'),
      JSON.parse('{"event":"Edit","body":{"gid":1,"msgId":2,"msgId":0,"clientMsgId":"c1","content":"x"}}'),
      { event: "Msg", body: { ...base, kind: "Text", content: "hi" } },
    ];
    for (const frame of cases) {
      const zod = changeViaZod(frame);
      const fast = fastChange(frame);
      if (zod === null) expect(fast).toBeNull();
      else expect(fast).toStrictEqual(zod as any);
    }
    expect(fastChange({ event: "React", body: { ...base, emoji: "👍", on: true, extra: 1 } })).toStrictEqual({ event: "React", body: { clientMsgId: "c1", gid: 1, msgId: 2, emoji: "👍", on: true } });
  });
});

describe("frames written out by hand are JSON.stringify's bytes", () => {
  const anyText = fc.oneof(fc.string(), fc.string({ unit: "binary" }), fc.string({ unit: "grapheme" }), fc.constantFrom('"', "\\", "\u2028", "\u0000", "</script>", "\uD800"));
  const id = fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.constantFrom(MAX_ID, 2 ** 31, 2 ** 32 + 1));

  test("msgPush and msgAck", () => {
    const extras = fc.record({
        replyTo: fc.option(id, { nil: null }),
        mentions: fc.array(id, { maxLength: 3 }),
        editedAt: fc.option(anyText, { nil: null }),
        deleted: fc.boolean(),
        reactions: fc.array(fc.record({ emoji: anyText, uids: fc.array(id, { maxLength: 3 }) }), { maxLength: 2 }),
        file: fc.option(fc.record({ id: anyText, name: anyText, size: id, mime: anyText }), { nil: undefined }),
      });
    fc.assert(
      fc.property(anyText, anyText, anyText, anyText, id, id, id, id, extras, (kind, content, clientMsgId, createTime, uid, gid, msgId, seq, x) => {
        const m = { id: msgId, kind, content, gid, uid, client_msg_id: clientMsgId, seq, createTime, updateTime: createTime, ...x };
        if (m.file === undefined) delete m.file;
        expect(msgPush(m)).toBe(JSON.stringify({ event: "Msg", body: msgBody(m) }));
        expect(msgAck(clientMsgId, msgId, seq)).toBe(JSON.stringify(okAck(clientMsgId, msgId, { seq })));
      }),
      { numRuns: Math.max(2_000, RUNS), ...(SEED !== undefined ? { seed: SEED } : {}) },
    );
  });

  test("sendMessage's view is messageView of the row it stored", async () => {
    const app = await makeApp();
    try {
      const a = await user(app, "fv_a");
      const gid = await group(app, a, []);
      const sent = await sendMessage(fixture(app), a.uid, { gid, kind: "Text", content: "héllo 😀", clientMsgId: "fv-1" });
      const row = await sqlGet(app, `SELECT ${selectList(messages)} FROM messages WHERE id = ?`, sent.message.id) as any;
      expect(sent.message).toStrictEqual(messageView(row));
      expect(Object.keys(sent.message)).toEqual(Object.keys(messageView(row)));
    } finally {
      app.close();
    }
  });
});
