// Shared pieces of the fuzz tests (tests/fuzz.http.test.ts, tests/fuzz.ws.test.ts):
// a JSON value model that can hold what JSON.stringify cannot write (raw number
// literals such as 1e400 or 2^53+1, raw bytes that are not UTF-8, duplicate and
// `__proto__` keys), hostile values, and the database snapshot that proves
// nothing was written.
//
// FUZZ_RUNS sets the cases per target (default 200, the CI slice);
// FUZZ_RUNS=20000 (or `bun tests/fuzz-run.ts --long`) is the long mode.
// FUZZ_SEED replays a run.
import type { App } from "../src/app";
import { cluster, sqlAll, then, type Maybe } from "./helpers";
import fc from "fast-check";

export const RUNS = Number(process.env.FUZZ_RUNS ?? 200);
export const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
/** A per-test timeout that grows with the number of runs. */
export const TIMEOUT = 30_000 + RUNS * 40;
export const params = (): fc.Parameters<unknown> => ({ numRuns: RUNS, ...(SEED !== undefined ? { seed: SEED } : {}), endOnFailure: true });

export const MAX_ID = Number.MAX_SAFE_INTEGER;

const clip = (s: string) => (s.length > 200 ? `${s.slice(0, 120)}…(${s.length} chars)…${s.slice(-40)}` : s);

/** Raw JSON text, written as is (number literals JSON.stringify cannot produce, deep nesting). */
export class Raw {
  constructor(readonly text: string) {}
  [fc.toStringMethod]() {
    return `Raw(${clip(JSON.stringify(this.text))})`;
  }
}
/** Raw bytes spliced into the encoded text: may be invalid UTF-8. */
export class Bytes {
  constructor(readonly bytes: Uint8Array) {}
  [fc.toStringMethod]() {
    return `Bytes(${[...this.bytes].map((b) => b.toString(16).padStart(2, "0")).join(" ")})`;
  }
}
/** A JSON object as key/value pairs: keeps `__proto__` as a plain key, and duplicates. */
export class Obj {
  constructor(readonly pairs: [string, V][]) {}
  [fc.toStringMethod]() {
    return clip(new TextDecoder().decode(encode(this)));
  }
}

/** Shows a value in a failure report without flooding it. */
export const show = (v: V | Uint8Array) => clip(new TextDecoder().decode(v instanceof Uint8Array ? v : encode(v)));
export const isObject = (x: unknown) => x !== null && typeof x === "object" && !Array.isArray(x);
export type V = null | boolean | number | string | Raw | Bytes | Obj | V[];

function chunks(v: V, out: (string | Uint8Array)[]) {
  if (v instanceof Raw) out.push(v.text);
  else if (v instanceof Bytes) {
    out.push('"');
    out.push(v.bytes);
    out.push('"');
  } else if (v instanceof Obj) {
    out.push("{");
    v.pairs.forEach(([k, x], i) => {
      out.push((i ? "," : "") + JSON.stringify(k) + ":");
      chunks(x, out);
    });
    out.push("}");
  } else if (Array.isArray(v)) {
    out.push("[");
    v.forEach((x, i) => {
      if (i) out.push(",");
      chunks(x, out);
    });
    out.push("]");
  } else out.push(JSON.stringify(v) ?? "null");
}

/** The bytes on the wire. */
export function encode(v: V): Uint8Array<ArrayBuffer> {
  const parts: (string | Uint8Array)[] = [];
  chunks(v, parts);
  const enc = new TextEncoder();
  const bufs = parts.map((p) => (typeof p === "string" ? enc.encode(p) : p));
  const out = new Uint8Array(bufs.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of bufs) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/** The text on the wire (for values without raw bytes). */
export function text(v: V): string {
  const parts: (string | Uint8Array)[] = [];
  chunks(v, parts);
  if (parts.some((p) => typeof p !== "string")) throw new Error("text() of raw bytes");
  return parts.join("");
}

const UNPARSABLE = Symbol("unparsable");
/** What a JSON parser on the other side would see (UNPARSABLE if it cannot). */
export function seen(v: V): unknown {
  if (typeof v === "string" || typeof v === "boolean" || v === null) return v;
  if (typeof v === "number") return Number.isFinite(v) ? v + 0 : null; // -0 is written as 0; NaN and ±Infinity as null
  try {
    return JSON.parse(new TextDecoder().decode(encode(v)));
  } catch {
    return UNPARSABLE;
  }
}

/** A plain value (objects, arrays, V leaves) as a V. */
export function toV(x: unknown): V {
  if (x instanceof Raw || x instanceof Bytes || x instanceof Obj) return x;
  if (Array.isArray(x)) return x.map(toV);
  if (x !== null && typeof x === "object") return new Obj(Object.entries(x).map(([k, y]) => [k, toV(y)]));
  return x as V;
}

// ---------------------------------------------------------------- hostile values

const BIG = (n: number, unit = "x") => unit.repeat(Math.ceil(n / unit.length)).slice(0, n);
/** Strings around the limits: over the 64 KiB frame, over the 1 MiB body, just under it. */
export const HUGE = { k40: BIG(40_000), k70: BIG(70_000), m1: BIG(1_100_000), k900: BIG(900_000, "é") };

export const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));

export const weirdString: fc.Arbitrary<string> = fc.oneof(
  {
    arbitrary: fc.constantFrom(
      "", " ", "NaN", "-NaN", "Infinity", "-Infinity", "1e400", "0x10", "0", "-1", "1.5", "1e3", " 7 ", "null", "true", "undefined",
      "__proto__", "constructor", "prototype", "[object Object]", "\u0000", "\uFEFF", "\u202E", "' OR 1=1 --", "%00", "%FF", "\\", '"', "<script>",
      "\uD800", "\uDFFF", "a\uD800b", "\uDBFF\uDBFF", "😀", "\u{10FFFF}",
    ),
    weight: 4,
  },
  { arbitrary: fc.string({ unit: "binary", maxLength: 40 }), weight: 3 },
  { arbitrary: fc.string({ unit: fc.oneof(loneSurrogate, fc.string({ unit: "grapheme", minLength: 1, maxLength: 1 })), maxLength: 20 }), weight: 2 },
  { arbitrary: fc.string({ minLength: 65, maxLength: 300 }), weight: 1 },
);

/** Strings over the frame limit, over the body limit, and just under it (costly: drawn rarely). */
export const hugeString: fc.Arbitrary<string> = fc.constantFrom(HUGE.k70, HUGE.m1, HUGE.k900);

export const weirdNumber: fc.Arbitrary<V> = fc.oneof(
  fc.constantFrom<V>(
    0, -1, 1.5, -0.5, 0.1, 2 ** 53, 2 ** 63, -(2 ** 53), 1e308, -1e308, Number.MIN_VALUE, 2 ** 32, 2 ** 31, NaN,
    new Raw("9007199254740992"), new Raw("9007199254740993"), new Raw("18446744073709551616"), new Raw("1e400"), new Raw("-1e400"),
    new Raw("-0"), new Raw("1e-400"), new Raw("123456789012345678901234567890"), new Raw("1.0000000000000002"),
  ),
  fc.integer({ min: -(2 ** 31), max: 0 }),
  fc.double(),
  fc.bigInt({ min: 2n ** 53n, max: 2n ** 80n }).map((b) => new Raw(b.toString())),
);

/** Structures that are hard to parse or walk. */
export const deepValue: fc.Arbitrary<V> = fc.constantFrom<V>(
  new Raw("[".repeat(1000) + "]".repeat(1000)),
  new Raw("[".repeat(100_000) + "]".repeat(100_000)),
  new Raw('{"a":'.repeat(5000) + "1" + "}".repeat(5000)),
  new Raw('{"__proto__":'.repeat(2000) + "{}" + "}".repeat(2000)),
);

export const hostileKey = fc.oneof(
  fc.constantFrom("__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "valueOf", "__defineGetter__", "", " ", "0", "-1", "\uD800"),
  fc.string({ maxLength: 12 }),
);

/** Any hostile JSON value, nested a little. */
export const hostile: fc.Arbitrary<V> = fc.letrec<{ v: V; leaf: V }>((tie) => ({
  leaf: fc.oneof(
    { arbitrary: weirdString, weight: 12 },
    { arbitrary: weirdNumber, weight: 12 },
    { arbitrary: fc.constantFrom<V>(null, true, false), weight: 4 },
    { arbitrary: deepValue, weight: 1 },
    { arbitrary: hugeString, weight: 1 },
  ),
  v: fc.oneof(
    { maxDepth: 3, depthIdentifier: "hostile" },
    { arbitrary: tie("leaf"), weight: 6 },
    { arbitrary: fc.array(tie("v"), { maxLength: 4 }), weight: 1 },
    { arbitrary: fc.array(fc.tuple(hostileKey, tie("v")), { maxLength: 4 }).map((pairs): V => new Obj(pairs)), weight: 1 },
  ),
})).v;

/** Hostile values that a predicate (what the field accepts) rejects. */
export const invalidFor = (accepts: (x: unknown) => boolean, ...extra: fc.Arbitrary<V>[]): fc.Arbitrary<V> =>
  fc.oneof({ arbitrary: hostile, weight: 3 * Math.max(1, extra.length) }, ...extra.map((arbitrary) => ({ arbitrary, weight: 2 }))).filter((v) => !accepts(seen(v)));

export const isId = (x: unknown) => typeof x === "number" && Number.isInteger(x) && x >= 1 && x <= MAX_ID;
/** Text without lone surrogates: the server refuses the rest (stored, they would turn into U+FFFD). */
export const wellFormed = (x: unknown): x is string => typeof x === "string" && !/\p{Cs}/u.test(x);
export const isStr = (min: number, max: number, re?: RegExp) => (x: unknown) =>
  wellFormed(x) && x.length >= min && x.length <= max && (!re || re.test(x));
export const oneOf = (...ok: unknown[]) => (x: unknown) => ok.some((o) => Object.is(o, x) || o === x);

/** Bytes that are not UTF-8: stray continuation bytes, overlong forms, encoded surrogates, 0xFF. */
export const badUtf8: fc.Arbitrary<Uint8Array<ArrayBuffer>> = fc
  .tuple(
    fc.uint8Array({ maxLength: 8 }),
    fc.constantFrom([0xff], [0xfe], [0x80], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0xf0, 0x9f, 0x98]),
    fc.uint8Array({ maxLength: 8 }),
  )
  .map(([a, bad, b]) => new Uint8Array([...a, ...bad, ...b]) as Uint8Array<ArrayBuffer>)
  // The random bytes around may complete the broken sequence: keep only what a strict decoder refuses.
  .filter((bytes) => {
    try {
      new TextDecoder("utf-8", { fatal: true }).decode(bytes);
      return false;
    } catch {
      return true;
    }
  });

/** Whole bodies / frames that are not a JSON object. */
export const notAnObject: fc.Arbitrary<V> = fc.oneof(
  fc.constantFrom<V>(
    new Raw(""), new Raw(" "), new Raw("{"), new Raw("}"), new Raw("{,}"), new Raw('{"a":1,}'), new Raw("{'a':1}"), new Raw("NaN"), new Raw("undefined"),
    new Raw('{"a":NaN}'), new Raw('{"a":Infinity}'), new Raw("[1,2"), new Raw('"unterminated'), new Raw("\uFEFF[]"), new Raw("{}{}"), new Raw("nul"),
    new Raw("/* */ {}"), null, true, false, 0, -1, "a string", [], [new Obj([])], new Raw('"\\ud800"'),
  ),
  weirdNumber,
  weirdString,
  fc.array(hostile, { maxLength: 3 }),
  deepValue.filter((v) => v instanceof Raw && v.text.startsWith("[")),
);

// ---------------------------------------------------------------- corrupting a valid input

export type Path = (string | number)[];
/** One input field: where it is, and values it must refuse (type-level and, where known, semantic ones). */
export type Field = { path: Path; required: boolean; invalid: fc.Arbitrary<V> };
export type Op = { path: Path; del: boolean; value: V };

/** 1-2 fatal changes: a required field left out, or any field given a value it refuses. */
export function fatalOps(fields: Field[]): fc.Arbitrary<Op[]> {
  const op = fc.integer({ min: 0, max: fields.length - 1 }).chain((i) => {
    const f = fields[i]!;
    const set = f.invalid.map((value): Op => ({ path: f.path, del: false, value }));
    return f.required ? fc.oneof({ arbitrary: set, weight: 4 }, { arbitrary: fc.constant<Op>({ path: f.path, del: true, value: null }), weight: 1 }) : set;
  });
  return fc.array(op, { minLength: 1, maxLength: 2 });
}

const under = (p: Path, q: Path) => q.length < p.length && q.every((s, i) => p[i] === s);

/** Applies ops to a copy of base (a plain object); an op under an already replaced or removed path is skipped. */
export function applyOps(base: unknown, ops: Op[]): unknown {
  const root = structuredClone(base) as any;
  const done: Path[] = [];
  for (const op of ops) {
    if (done.some((d) => under(op.path, d) || JSON.stringify(d) === JSON.stringify(op.path))) continue;
    let node = root;
    for (const s of op.path.slice(0, -1)) node = node[s];
    const last = op.path[op.path.length - 1]!;
    if (op.del) {
      if (Array.isArray(node)) node.splice(Number(last), 1);
      else delete node[last];
    } else node[last] = op.value;
    done.push(op.path);
  }
  return root;
}

/** Extra keys (never one of the schema's) with hostile values, spliced into the top-level object. */
export function withNoise(v: V, noise: [string, V][]): V {
  if (!(v instanceof Obj) || noise.length === 0) return v;
  return new Obj([...v.pairs, ...noise]);
}
export const noise = (known: string[]) =>
  fc.array(
    fc.tuple(
      hostileKey.filter((k) => !known.includes(k)),
      fc.oneof({ arbitrary: hostile, weight: 5 }, { arbitrary: badUtf8.map((b) => new Bytes(b)), weight: 1 }),
    ),
    { maxLength: 3 },
  );

// ---------------------------------------------------------------- the database

export type Snapshot = Record<string, number | string>;
// Every column of every table that requests may change; sessions without last_used_at (a successful
// token check may refresh it, which is bookkeeping, not a write the request asked for).
const TABLES: Record<string, string> = {
  users: "SELECT * FROM users ORDER BY id",
  groups: "SELECT * FROM groups ORDER BY id",
  group_members: "SELECT * FROM group_members ORDER BY group_id, user_id",
  messages: "SELECT * FROM messages ORDER BY id",
  friend_requests: "SELECT * FROM friend_requests ORDER BY id",
  sessions: "SELECT id, token_hash, user_id, created_at, expires_at FROM sessions ORDER BY id",
  invites: "SELECT * FROM invites ORDER BY id",
  files: "SELECT * FROM files ORDER BY id",
  group_events: "SELECT * FROM group_events ORDER BY id",
  message_reactions: "SELECT * FROM message_reactions ORDER BY message_id, ord, uid",
  message_mentions: "SELECT * FROM message_mentions ORDER BY uid, group_id, message_id",
};

/** Row count and a hash of the contents of each table: equal snapshots mean nothing was written. */
export function snapshot(app: App): Maybe<Snapshot> {
  // Every table at once on SQLite; on the cluster, PostgreSQL's answers awaited together.
  const tables = Object.entries(TABLES).map(([t, sql]) => then(sqlAll(app, sql), (rows) => [t, rows] as const));
  const build = (all: (readonly [string, unknown[]])[]) => {
    const out: Snapshot = {};
    for (const [t, rows] of all) {
      out[t] = rows.length;
      out[t + "#"] = Bun.hash(JSON.stringify(rows)).toString(16);
    }
    return out;
  };
  return cluster ? Promise.all(tables).then(build) : build(tables as (readonly [string, unknown[]])[]);
}
