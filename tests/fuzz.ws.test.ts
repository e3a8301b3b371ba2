// Property tests over every WebSocket event (fast-check), on real sockets.
// Each case starts from a valid frame and makes it invalid: wrong types,
// missing and extra fields, huge and negative numbers, ids above 2^53, floats,
// NaN-ish text, lone surrogates, deep nesting, `__proto__`/`constructor`
// keys; or the frame is not a JSON object at all, binary, or (over a raw TCP
// socket) a text frame that is not UTF-8. Property: exactly one reply per
// frame, an error Ack with a 4xx code, in order; nothing is stored or pushed;
// the socket keeps its login; /health still answers.
//
// FUZZ_RUNS cases per target (default 200); `bun tests/fuzz-run.ts --long` runs 20000.
import { afterAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { isEmoji } from "../src/domain/changes";
import { sendMessage, sqlGet } from "./helpers";
import { fixture, group, serve, user, wakeOrDeadline } from "./helpers";
import { decodeFrames, type RawFrame } from "./hostile.kit";
import {
  applyOps, badUtf8, encode, fatalOps, hostile, HUGE, invalidFor, isId, isObject, isStr, MAX_ID, notAnObject, oneOf, params,
  Raw, RUNS, seen, show, snapshot, text, TIMEOUT, toV, wellFormed, withNoise, type Field, type V,
} from "./fuzz.kit";

const MAX_FRAME = 64 * 1024;
const s = await serve({ wsRate: 0, wsLoginTimeout: 3600, wsMaxFrame: MAX_FRAME });
afterAll(() => s.stop());

const A = await user(s.app, "wsfz_alice");
const B = await user(s.app, "wsfz_bob");
const C = await user(s.app, "wsfz_carol");
const G = await group(s.app, A, [B]); // A owns, B is a member
const H = await group(s.app, C, [B]); // A is not a member
const M = (await sendMessage(fixture(s.app), A.uid, { gid: G, kind: "Text", content: "hello", clientMsgId: "wsfz-m" })).message.id;
const MH = (await sendMessage(fixture(s.app), C.uid, { gid: H, kind: "Text", content: "elsewhere", clientMsgId: "wsfz-mh" })).message.id;
const NX = 999_999_999;

// ---------------------------------------------------------------- sockets

/** A socket that keeps every frame it receives, and a way to wait for one. */
class Sock {
  readonly got: any[] = [];
  closed: { code: number; reason: string } | null = null;
  private wake: (() => void) | null = null;
  name = "socket";
  [fc.toStringMethod]() {
    return this.name;
  }
  private constructor(readonly ws: WebSocket) {
    ws.onmessage = (ev) => {
      this.got.push(typeof ev.data === "string" ? JSON.parse(ev.data) : { binary: true });
      this.wake?.();
    };
    ws.onclose = (ev) => {
      this.closed = { code: ev.code, reason: ev.reason };
      this.wake?.();
    };
  }
  static async open(): Promise<Sock> {
    const ws = new WebSocket(s.wsUrl);
    await new Promise<void>((res, rej) => ((ws.onopen = () => res()), (ws.onerror = () => rej(new Error("socket error")))));
    return new Sock(ws);
  }
  /** Waits until pred holds of the frames received so far. */
  async until(pred: () => boolean, what: string, ms = 5000) {
    const end = performance.now() + ms;
    while (!pred()) {
      if (this.closed) throw new Error(`socket closed (${this.closed.code} ${this.closed.reason}) while waiting for ${what}`);
      const left = end - performance.now();
      if (left <= 0) throw new Error(`no ${what} within ${ms} ms`);
      const w = wakeOrDeadline(left);
      this.wake = w.wake;
      await w.woken;
      this.wake = null;
    }
  }
  async login(u: { uid: number; token: string }) {
    this.ws.send(JSON.stringify({ event: "Login", body: { kind: "Text", uid: u.uid, content: u.token, clientMsgId: "login" } }));
    await this.until(() => this.got.some((f) => f.clientMsgId === "login"), "login ack");
    const ack = this.got.splice(0).find((f) => f.clientMsgId === "login");
    if (ack.content !== "Ok") throw new Error("login failed " + JSON.stringify(ack));
  }
}

const alice = await Sock.open();
await alice.login(A);
alice.name = "alice (logged in)";
const anon = await Sock.open();
anon.name = "anonymous";
const bob = await Sock.open(); // a member of G and H: must never hear of any fuzz frame
await bob.login(B);
afterAll(() => [alice, anon, bob].forEach((x) => x.ws.close()));

let sentinels = 0;
let cases = 0;
let pushed = 0; // pushes bob got: only the valid messages of the bursts

/**
 * Sends one frame and, behind it, a Sync that proves the socket's state (logged in as A and a member
 * of G, or still anonymous). Returns the frames that arrived before the Sync's reply.
 */
async function exchange(sock: Sock, frame: string | Uint8Array<ArrayBuffer>): Promise<any[]> {
  const sentinel = `sentinel-${++sentinels}`;
  sock.got.length = 0;
  sock.ws.send(frame);
  sock.ws.send(JSON.stringify({ event: "Sync", body: { clientMsgId: sentinel, msgId: MAX_ID, gid: G } }));
  await sock.until(() => sock.got.some((f) => f.clientMsgId === sentinel), "the sentinel's reply");
  const at = sock.got.findIndex((f) => f.clientMsgId === sentinel);
  const reply = sock.got[at];
  if (sock === anon) expect(reply).toMatchObject({ content: "Error", code: 401 });
  else expect(reply).toEqual({ clientMsgId: sentinel, serverMsgId: MAX_ID, kind: "Ack", content: "Ok", more: false });
  return sock.got.slice(0, at);
}

/** What the server can tell of a frame's clientMsgId: the string (cut at 128) or null. */
function expectedClientMsgId(frame: unknown): string | null {
  const body = isObject(frame) ? (frame as any).body : undefined;
  return isObject(body) && typeof body.clientMsgId === "string" ? body.clientMsgId.slice(0, 128) : null;
}

/** The property: exactly one reply, an error Ack with a 4xx code; nothing stored, nothing pushed. */
async function refused(sock: Sock, frame: V | Uint8Array<ArrayBuffer>) {
  const before = await snapshot(s.app);
  const binary = frame instanceof Uint8Array;
  const replies = await exchange(sock, binary ? frame : text(frame));
  cases++;
  const where = `${sock === anon ? "anonymous" : "logged-in"} socket, frame ${show(frame)}`;
  if (replies.length !== 1) throw new Error(`${replies.length} replies on the ${where}: ${JSON.stringify(replies).slice(0, 500)}`);
  const r = replies[0];
  const cmid = binary ? null : expectedClientMsgId(seen(frame));
  try {
    expect(r).toEqual({ clientMsgId: cmid, serverMsgId: null, kind: "Ack", content: "Error", code: expect.any(Number), msg: expect.any(String) });
    expect(r.code).toBeGreaterThanOrEqual(400);
    expect(r.code).toBeLessThan(500);
    expect(r.msg.length).toBeGreaterThan(0);
  } catch (err) {
    throw new Error(`bad reply on the ${where}: ${JSON.stringify(r).slice(0, 300)}\n${(err as Error).message}`);
  }
  expect(await snapshot(s.app)).toEqual(before);
}

// ---------------------------------------------------------------- the events

const f = (path: (string | number)[], required: boolean, invalid: fc.Arbitrary<V>): Field => ({ path, required, invalid });
const id = (...semantic: V[]) => invalidFor(isId, ...semantic.map((x) => fc.constant(x)));
// Text with a lone surrogate is refused: stored, it would become U+FFFD and collide with another id.
const clientMsgId = f(["clientMsgId"], true, invalidFor((x) => isStr(1, 128)(x) && wellFormed(x), fc.constant(""), fc.constant("x".repeat(129)), fc.constant("id\uD800")));
const kindOpt = f(["kind"], false, invalidFor(oneOf("Text", "RichText", "Image"), fc.constant("text"), fc.constant("Notify")));
/** A uid that is not the socket's (403) or not an id (400). */
const uidNotMine = f(["uid"], false, id(B.uid, C.uid, NX));

let fresh = 0;
/** `loggedIn`: changes that only a logged-in socket must refuse (a uid that is not its own). */
type EventSpec = { event: string; base: () => Record<string, unknown>; fields: Field[]; loggedIn?: Field[] };
const EVENTS: EventSpec[] = [
  {
    event: "Login",
    base: () => ({ kind: "Text", uid: A.uid, content: A.token, clientMsgId: `fz${++fresh}` }),
    fields: [
      clientMsgId, kindOpt,
      f(["uid"], false, id(B.uid, NX)),
      f(["content"], true, invalidFor((x) => x === A.token || x === B.token, fc.constant(""), fc.constant("x".repeat(201)), fc.constant(A.token + "x"), fc.constant(A.token.slice(1)), fc.constant(B.token.toUpperCase()))),
    ],
  },
  {
    event: "Msg",
    base: () => ({ kind: "Text", uid: A.uid, gid: G, content: "hi", clientMsgId: `fz${++fresh}` }),
    fields: [
      clientMsgId, uidNotMine,
      f(["kind"], true, invalidFor(oneOf("Text", "RichText", "Image"), fc.constant("text"), fc.constant(""))),
      f(["gid"], true, id(H, NX)),
      // Content is any text up to the limit (32 KiB): only other types, or more, are refused.
      f(["content"], true, invalidFor((x) => wellFormed(x) && Buffer.byteLength(x) <= 32 * 1024, fc.constant(HUGE.k40), fc.constant("a\uDC00b"))),
      // A reply must answer a message of G (M, or one the bursts stored): the ids refused are another group's and unknown ones.
      f(["replyTo"], false, invalidFor((x) => x === null || (isId(x) && x !== MH && (x as number) < 1_000_000), fc.constant(MH), fc.constant(NX))),
    ],
  },
  {
    event: "Edit",
    base: () => ({ kind: "Text", uid: A.uid, gid: G, msgId: M, content: "edited", clientMsgId: `fz${++fresh}` }),
    fields: [
      clientMsgId, uidNotMine, kindOpt,
      f(["gid"], true, id(H, NX)),
      f(["msgId"], true, id(MH, NX)),
      f(["content"], true, invalidFor((x) => wellFormed(x) && Buffer.byteLength(x) <= 32 * 1024, fc.constant(HUGE.k40), fc.constant("a\uDC00b"))),
    ],
  },
  {
    event: "Delete",
    base: () => ({ kind: "Text", gid: G, msgId: M, clientMsgId: `fz${++fresh}` }),
    fields: [clientMsgId, uidNotMine, kindOpt, f(["gid"], true, id(H, NX)), f(["msgId"], true, id(MH, NX))],
  },
  {
    event: "React",
    base: () => ({ kind: "Text", gid: G, msgId: M, emoji: "👍", on: true, clientMsgId: `fz${++fresh}` }),
    fields: [
      clientMsgId, uidNotMine, kindOpt,
      f(["gid"], true, id(H, NX)),
      f(["msgId"], true, id(MH, NX)),
      f(["emoji"], true, invalidFor((x) => typeof x === "string" && isEmoji(x), fc.constant(""), fc.constant("x".repeat(33)), fc.constant("😀".repeat(33)), fc.constant("\u0000"), fc.constant("\uD83D"))),
      f(["on"], true, invalidFor((x) => typeof x === "boolean", fc.constant("true"), fc.constant(1), fc.constant(0))),
    ],
  },
  {
    event: "Typing",
    base: () => ({ kind: "Text", gid: G, clientMsgId: `fz${++fresh}` }),
    fields: [clientMsgId, uidNotMine, kindOpt, f(["gid"], true, id(H, NX))],
  },
  {
    event: "Ack",
    base: () => ({ kind: "Text", gid: G, msgId: M, clientMsgId: `fz${++fresh}` }),
    fields: [clientMsgId, uidNotMine, kindOpt, f(["gid"], true, id(H, NX)), f(["msgId"], true, id(MH, NX))],
  },
  {
    event: "Read",
    base: () => ({ kind: "Text", gid: G, msgId: M, clientMsgId: `fz${++fresh}` }),
    fields: [clientMsgId, uidNotMine, kindOpt, f(["gid"], true, id(H, NX)), f(["msgId"], true, id(MH, NX))],
  },
  {
    event: "Heart",
    base: () => ({ kind: "Text", content: "", clientMsgId: `fz${++fresh}` }),
    fields: [clientMsgId, kindOpt, f(["uid"], false, id())],
    // Allowed before Login with any uid; after it, a uid must be the socket's own.
    loggedIn: [uidNotMine],
  },
  {
    event: "Logout",
    base: () => ({ kind: "Text", uid: A.uid, content: "", clientMsgId: `fz${++fresh}` }),
    fields: [clientMsgId, kindOpt, uidNotMine],
  },
  {
    event: "Sync",
    base: () => ({ kind: "Text", msgId: 0, gid: G, clientMsgId: `fz${++fresh}` }),
    fields: [
      clientMsgId, uidNotMine, kindOpt,
      f(["msgId"], true, invalidFor((x) => x === 0 || isId(x))),
      f(["gid"], false, id(H, NX)),
    ],
  },
];

/** A frame of this event made invalid, with extra keys in its body and envelope. */
function eventFrame(e: EventSpec, loggedIn = true): fc.Arbitrary<V> {
  const fields = loggedIn ? [...e.fields, ...(e.loggedIn ?? [])] : e.fields;
  const known = [...new Set(fields.map((x) => String(x.path[0]))), "content", "kind"];
  return fc
    .tuple(fatalOps(fields), noiseText(known), noiseText(["event", "body"]))
    .map(([ops, extraBody, extraEnvelope]) => withNoise(toV({ event: e.event, body: withNoise(toV(applyOps(e.base(), ops)), extraBody) }), extraEnvelope));
}
/** Extra keys with hostile values that can travel in a text frame (no raw bytes). */
const noiseText = (known: string[]) => fc.array(fc.tuple(fc.oneof(fc.constantFrom("__proto__", "constructor", "prototype", "toString"), fc.string({ maxLength: 10 })).filter((k) => !known.includes(k)), hostile), { maxLength: 3 });

/** The envelope itself broken: unknown or missing event, body not an object, or no object at all. */
const envelopeFrame: fc.Arbitrary<V> = fc.oneof(
  fc.record({ event: invalidFor((x) => typeof x === "string" && ["Login", "Msg", "Read", "Heart", "Logout", "Ack", "Sync", "Edit", "Delete", "React", "Typing"].includes(x), fc.constantFrom<V>("login", "MSG", "Notify", "Msg ", "", "__proto__", "constructor", "toString", "edit", "Reacted", "Presence")), body: fc.oneof(fc.constant<V>(toV({ clientMsgId: "env" })), hostile) }).map((r) => toV(r)),
  fc.record({ event: fc.constantFrom<V>("Login", "Msg", "Read", "Heart", "Logout", "Ack", "Sync", "Edit", "Delete", "React", "Typing"), body: hostile.filter((v) => !isObject(seen(v))) }).map((r) => toV(r)),
  fc.constantFrom("Login", "Msg", "Heart", "Sync").map((event) => toV({ event })),
  fc.constant(toV({ body: { clientMsgId: "no-event" } })),
  notAnObject,
);

/** Frames that fit in --ws-max-frame (bigger ones close the socket: their own test). */
const fits = (v: V) => encode(v).length <= MAX_FRAME - 1024;
const onWhich = fc.oneof({ arbitrary: fc.constant(alice), weight: 4 }, { arbitrary: fc.constant(anon), weight: 1 });

// ---------------------------------------------------------------- the tests

describe(`WebSocket fuzz (${RUNS} cases per target)`, () => {
  for (const e of EVENTS) {
    test(`${e.event}: invalid frames get exactly one 4xx error Ack and change nothing`, async () => {
      const cases = onWhich.chain((sock) => eventFrame(e, sock === alice).filter(fits).map((frame) => ({ sock, frame })));
      await fc.assert(fc.asyncProperty(cases, async ({ sock, frame }) => refused(sock, frame)), params());
      expect((await fetch(s.url + "/health")).status).toBe(200);
    }, TIMEOUT);
  }

  test("a broken envelope, or no JSON object at all, gets one 4xx error Ack", async () => {
    await fc.assert(fc.asyncProperty(onWhich, envelopeFrame.filter(fits), async (sock, frame) => refused(sock, frame)), params());
  }, TIMEOUT);

  test("binary frames (JSON, UTF-8 or not) get one 4xx error Ack", async () => {
    const bytes = fc.oneof(
      badUtf8,
      fc.uint8Array({ maxLength: 256 }).map((b) => b as Uint8Array<ArrayBuffer>),
      eventFrame(EVENTS[1]!).filter(fits).map((v) => encode(v)),
      fc.constant(encode(toV({ event: "Heart", body: { clientMsgId: "binary" } }))),
    );
    await fc.assert(fc.asyncProperty(onWhich, bytes, async (sock, frame) => refused(sock, frame)), params());
  }, TIMEOUT);

  test("a frame over --ws-max-frame closes that socket with 1009, and nobody else notices", async () => {
    const big = fc.oneof(
      fc.constantFrom(HUGE.k70, HUGE.m1, HUGE.k900).map((content) => toV({ event: "Msg", body: { kind: "Text", gid: G, content, clientMsgId: "big" } })),
      fc.constant<V>(toV({ event: "Heart", body: { clientMsgId: "deep", pad: new Raw("[".repeat(40_000) + "]".repeat(40_000)) } })),
    );
    await fc.assert(
      fc.asyncProperty(big, fc.boolean(), async (frame, login) => {
        const before = await snapshot(s.app);
        const sock = await Sock.open();
        if (login) await sock.login(A);
        sock.ws.send(text(frame));
        await sock.until(() => sock.closed !== null, "close").catch(() => {});
        expect(sock.closed?.code).toBe(1009);
        expect(sock.got).toEqual([]);
        expect(await snapshot(s.app)).toEqual(before);
        cases++;
      }),
      { ...params(), numRuns: Math.max(10, Math.ceil(RUNS / 20)) },
    );
  }, TIMEOUT);

  test("a text frame that is not UTF-8 (raw TCP): the socket is closed, the server unharmed", async () => {
    const closes: Record<string, number> = {};
    await fc.assert(
      fc.asyncProperty(badUtf8, fc.boolean(), async (bytes, wrapped) => {
        const before = await snapshot(s.app);
        // Invalid bytes either alone or inside a JSON string of an otherwise fine Heart.
        const payload = wrapped ? concat(encode(toV({ event: "Heart", body: { clientMsgId: "x" } })).slice(0, -2), new TextEncoder().encode(',"pad":"'), bytes, new TextEncoder().encode('"}}')) : bytes;
        const out = await rawTextFrame(payload);
        closes[out.kind] = (closes[out.kind] ?? 0) + 1;
        // Either the socket is failed (RFC 6455: 1007) or the frame is answered with an error.
        if (out.kind === "reply") expect(out.frame).toMatchObject({ kind: "Ack", content: "Error", serverMsgId: null });
        else expect(["close 1007", "close 1002", "end"]).toContain(out.kind);
        expect(await snapshot(s.app)).toEqual(before);
        cases++;
      }),
      { ...params(), numRuns: Math.max(20, Math.ceil(RUNS / 5)) },
    );
    console.log("non-UTF-8 text frames:", JSON.stringify(closes));
  }, TIMEOUT);

  test("raw bytes after the handshake (broken framing, unmasked, reserved bits and opcodes): that socket only is dropped", async () => {
    const outcomes: Record<string, number> = {};
    const garbage = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 64 }),
      // A frame header with reserved bits, reserved opcodes, no mask, or a length beyond what follows.
      fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 16 })).map(([b0, b1, rest]) => new Uint8Array([b0, b1, ...rest])),
    );
    await fc.assert(
      fc.asyncProperty(garbage, async (bytes) => {
        const before = await snapshot(s.app);
        const out = await rawBytes(bytes as Uint8Array<ArrayBuffer>);
        outcomes[out.kind] = (outcomes[out.kind] ?? 0) + 1;
        if (out.kind === "reply") expect(out.frame).toMatchObject({ kind: "Ack", content: "Error", serverMsgId: null });
        expect(await snapshot(s.app)).toEqual(before);
        // The server is unharmed: the logged-in socket still gets its answers.
        const replies = await exchange(alice, JSON.stringify({ event: "Heart", body: { clientMsgId: "still-here" } }));
        expect(replies).toEqual([{ clientMsgId: "still-here", serverMsgId: null, kind: "Ack", content: "Ok" }]);
        cases++;
      }),
      // Each case opens a socket of its own: fewer runs here.
      { ...params(), numRuns: Math.max(10, Math.ceil(RUNS / 20)) },
    );
    console.log("raw bytes after the handshake:", JSON.stringify(outcomes));
  }, TIMEOUT);

  // Hand-picked framing, each outcome known: what a random byte string rarely hits (masked frames cut short).
  test.each([
    ["one byte of a header", "close 1002", [0x81]], // completed unmasked: refused
    ["a masked empty ping", "opcode 10", [0x89, 0x80, 0, 0, 0, 0]], // answered with a pong
    ["a masked empty pong", "nothing before the barrier", [0x8a, 0x80, 0, 0, 0, 0]], // ignored
    ["a masked text frame cut short in its payload", "reply", [0x81, 0x85, 0, 0, 0, 0, 0x7b]], // "{" + zeros: not JSON
    ["a masked text frame cut short in its length", "reply", [0x81, 0xfe, 0x00]], // length 0: not JSON
    ["a 2^40-byte frame declared", "close 1009", [0x81, 0xff, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]], // refused on its header
    ["a fragment left open", "close 1002", [0x01, 0x80, 0, 0, 0, 0]], // the barrier is not its continuation
    ["a reserved opcode", "close 1002", [0x83, 0x80, 0, 0, 0, 0]],
  ] as const)("raw bytes, hand-picked: %s → %s", async (_name, kind, bytes) => {
    const before = await snapshot(s.app);
    const out = await rawBytes(new Uint8Array(bytes));
    expect(out.kind).toBe(kind);
    if (kind === "reply") expect(out.frame).toMatchObject({ kind: "Ack", content: "Error", code: 400, serverMsgId: null });
    expect(await snapshot(s.app)).toEqual(before);
  });

  test("bursts of valid and invalid frames in one turn: one reply each, in order; only the valid ones take effect", async () => {
    let burstId = 0;
    const item = fc.oneof(
      { weight: 2, arbitrary: fc.string({ unit: "grapheme", maxLength: 30 }).map((content) => ({ valid: true as const, content })) },
      { weight: 3, arbitrary: fc.constantFrom(...EVENTS).chain((e) => eventFrame(e).filter(fits)).map((frame) => ({ valid: false as const, frame })) },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(item, { minLength: 2, maxLength: 20 }), async (burst) => {
        const before = await snapshot(s.app);
        const frames = burst.map((b) =>
          b.valid ? { ...b, clientMsgId: `burst-${++burstId}`, text: "" } : { ...b, clientMsgId: expectedClientMsgId(seen(b.frame)), text: text(b.frame) },
        );
        for (const f of frames) if (f.valid) f.text = JSON.stringify({ event: "Msg", body: { kind: "Text", gid: G, content: f.content, clientMsgId: f.clientMsgId } });
        const sentinel = `sentinel-${++sentinels}`;
        alice.got.length = 0;
        const pushesBefore = bob.got.length;
        // All in one go: the server reads them in one turn and commits them together.
        for (const f of frames) alice.ws.send(f.text);
        alice.ws.send(JSON.stringify({ event: "Heart", body: { clientMsgId: sentinel } }));
        await alice.until(() => alice.got.some((x) => x.clientMsgId === sentinel), "the sentinel's reply");
        const replies = alice.got.slice(0, alice.got.findIndex((x) => x.clientMsgId === sentinel));
        expect(replies.length).toBe(frames.length);
        const stored: { id: number; content: string }[] = [];
        frames.forEach((f, i) => {
          const r = replies[i];
          if (f.valid) {
            expect(r).toEqual({ clientMsgId: f.clientMsgId, serverMsgId: expect.any(Number), kind: "Ack", content: "Ok", seq: expect.any(Number) });
            stored.push({ id: r.serverMsgId, content: f.content! });
          } else {
            expect(r).toEqual({ clientMsgId: f.clientMsgId, serverMsgId: null, kind: "Ack", content: "Error", code: expect.any(Number), msg: expect.any(String) });
            expect(r.code >= 400 && r.code < 500).toBe(true);
          }
        });
        // Exactly the valid messages were stored, and pushed to the other member, in order.
        const after = await snapshot(s.app);
        expect(after.messages).toBe((before.messages as number) + stored.length);
        for (const k of ["users", "group_members", "friend_requests", "sessions", "invites"]) expect(after[k + "#"]).toBe(before[k + "#"]);
        for (const m of stored) {
          const row = await sqlGet(s.app, "SELECT content, sender_uid AS uid, group_id AS gid FROM messages WHERE id = ?", m.id);
          expect(row).toEqual({ content: m.content, uid: A.uid, gid: G });
        }
        await bob.until(() => bob.got.length >= pushesBefore + stored.length, "bob's pushes");
        expect(bob.got.slice(pushesBefore).map((p) => p.body?.msgId)).toEqual(stored.map((m) => m.id));
        cases += frames.length;
      }),
      { ...params(), numRuns: Math.max(20, Math.ceil(RUNS / 4)) },
    );
    pushed = bob.got.length;
  }, TIMEOUT);

  test("afterwards: /health answers, the sockets still work, only the valid burst messages were pushed", async () => {
    expect((await fetch(s.url + "/health")).status).toBe(200);
    expect(await exchange(alice, JSON.stringify({ event: "Heart", body: { clientMsgId: "last" } }))).toEqual([{ clientMsgId: "last", serverMsgId: null, kind: "Ack", content: "Ok" }]);
    // Bob heard of the valid messages of the bursts only.
    expect(bob.got.length).toBe(pushed);
    expect(bob.got.every((p) => p.event === "Msg" && p.body.uid === A.uid && p.body.clientMsgId.startsWith("burst-"))).toBe(true);
    const snap = await snapshot(s.app);
    expect({ users: snap.users, groups: snap.groups, messages: snap.messages }).toEqual({ users: 3, groups: 2, messages: 2 + pushed });
    console.log(`WebSocket fuzz: ${cases} cases`);
  });
});

// ---------------------------------------------------------------- a raw WebSocket client

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A masked client frame (RFC 6455 §5.2). */
function clientFrame(opcode: number, payload: Uint8Array): Uint8Array<ArrayBuffer> {
  const mask = crypto.getRandomValues(new Uint8Array(4));
  const len = payload.length;
  const head = len < 126 ? [0x80 | opcode, 0x80 | len] : [0x80 | opcode, 0x80 | 126, len >> 8, len & 0xff];
  const body = payload.map((b, i) => b ^ mask[i % 4]!);
  return concat(new Uint8Array(head), mask, body);
}

type RawOutcome = { kind: string; frame?: any };

/** Opens a socket over plain TCP, sends one text frame with these bytes, and reports what came back. */
function rawTextFrame(payload: Uint8Array): Promise<RawOutcome> {
  return rawBytes(clientFrame(0x1, payload));
}

/**
 * The bytes that finish the frame `bytes` leave unfinished (none when they end on a frame boundary):
 * zeros for the rest of its header, then for the rest of its payload, unless the header declares more
 * than the server accepts (it refuses such a frame on its header alone, RFC 6455 §10.4).
 */
function completion(bytes: Uint8Array, maxPayload: number): Uint8Array<ArrayBuffer> {
  for (let at = 0; ; ) {
    const left = bytes.length - at;
    if (left === 0) return new Uint8Array(0);
    const b1 = left >= 2 ? bytes[at + 1]! : 0;
    const ext = (b1 & 0x7f) === 126 ? 2 : (b1 & 0x7f) === 127 ? 8 : 0;
    const headLen = 2 + ext + (b1 & 0x80 ? 4 : 0);
    const head = new Uint8Array(headLen);
    head.set(bytes.subarray(at, at + Math.min(left, headLen)));
    const view = new DataView(head.buffer);
    const len = ext === 2 ? view.getUint16(2) : ext === 8 ? Number(view.getBigUint64(2)) : b1 & 0x7f;
    if (left >= headLen + len) {
      at += headLen + len;
      continue;
    }
    const missingHead = Math.max(0, headLen - left);
    const missingPayload = len > maxPayload ? 0 : headLen + len - Math.max(left, headLen);
    return new Uint8Array(missingHead + missingPayload);
  }
}

/**
 * Opens a socket over plain TCP, completes the upgrade, writes these bytes, and reports the first thing
 * that comes back. No waiting for silence: the bytes are followed by whatever finishes their last frame
 * and then by a Heart, a barrier. The server answers frames in order, so what these bytes cause comes
 * before the Heart's reply ("nothing" when the Heart's reply comes first), unless the server closes.
 */
async function rawBytes(bytes: Uint8Array<ArrayBuffer>): Promise<RawOutcome> {
  const port = s.running.server.port!;
  let buf = new Uint8Array(0);
  let ended = false;
  let wake: (() => void) | null = null;
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      data(_s, chunk) {
        buf = concat(buf, chunk);
        wake?.();
      },
      close() {
        ended = true;
        wake?.();
      },
      error() {
        ended = true;
        wake?.();
      },
    },
  });
  // Re-checks pred on each chunk received and at the end of the connection; `ms` only bounds the wait.
  const waitFor = async (pred: () => boolean, what: string, ms = 5000) => {
    const end = performance.now() + ms;
    while (!pred() && !ended) {
      const left = end - performance.now();
      if (left <= 0) throw new Error(`raw socket: no ${what} within ${ms} ms`);
      const w = wakeOrDeadline(left);
      wake = w.wake;
      await w.woken;
      wake = null;
    }
  };
  try {
    const key = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64");
    socket.write(`GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    await waitFor(() => new TextDecoder().decode(buf).includes("\r\n\r\n"), "upgrade");
    const head = new TextDecoder().decode(buf);
    if (!head.startsWith("HTTP/1.1 101")) throw new Error("no upgrade: " + head.slice(0, 100));
    buf = buf.slice(head.indexOf("\r\n\r\n") + 4);
    const barrier = JSON.stringify({ event: "Heart", body: { clientMsgId: "raw-barrier" } });
    socket.write(concat(bytes, completion(bytes, MAX_FRAME), clientFrame(0x1, new TextEncoder().encode(barrier))));
    const frames = () => decodeFrames(Buffer.from(buf)).frames;
    const isBarrier = (f: RawFrame) => f.opcode === 0x1 && f.payload.toString().includes('"raw-barrier"');
    await waitFor(() => frames().some((f) => f.opcode === 0x8 || isBarrier(f)), "close or reply to the barrier");
    const first = frames()[0];
    if (!first) return { kind: "end" };
    if (first.opcode === 0x8) return { kind: `close ${first.payload.length >= 2 ? first.payload.readUInt16BE(0) : "none"}` };
    if (isBarrier(first)) return { kind: "nothing before the barrier" };
    if (first.opcode === 0x1) return { kind: "reply", frame: JSON.parse(first.payload.toString()) };
    return { kind: `opcode ${first.opcode}` };
  } finally {
    socket.end();
  }
}
