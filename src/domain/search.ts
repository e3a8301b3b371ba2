// Full-text search over messages. SQLite FTS5 with the unicode61 tokenizer
// (case and diacritics folded) holds each message's words; Chinese, Japanese
// and Korean have no spaces between words, so their runs are indexed as
// overlapping pairs of characters: a query of any 2 or more such characters
// is a phrase of pairs and finds any substring. The index is contentless
// (the text lives in messages) and kept in step on the write path: on
// SQLite in batches shortly after the messages commit (indexPending; a
// search first indexes what waits), on PostgreSQL in the message's own
// statement; edits and deletions re-index in their own transaction. Each
// message also carries its group as a token (§ and the gid, a character no
// query can contain), so "these words in the caller's groups" is one
// intersection of posting lists inside FTS5, however many other groups use
// the same words.
import { badRequest } from "../errors";
import type { Ctx } from "./context";
import type { Flow } from "./store";
import { groupIdsOf, memberOf } from "./groups";
import { messageView, type MessageView } from "./views";

// The prolonged sound mark (ー), iteration marks (々, ゝ, ヽ) and the like belong to no one script but sit inside CJK words.
const CJK_CLASS = "\\p{Script=Han}\\p{Script=Hiragana}\\p{Script=Katakana}\\p{Script=Hangul}\\u3005\\u3006\\u303B\\u309D\\u309E\\u30FC-\\u30FE";
const CJK = new RegExp(`[${CJK_CLASS}]`, "u");
const RUNS = new RegExp(`([${CJK_CLASS}]+)|([\\p{L}\\p{N}\\p{M}]+)`, "gu");

const fold = (s: string) => s.normalize("NFKC").toLowerCase();

function pairs(run: string): string[] {
  const chars = [...run];
  if (chars.length === 1) return chars;
  const out: string[] = [];
  for (let i = 0; i + 1 < chars.length; i++) out.push(chars[i]! + chars[i + 1]!);
  return out;
}

// A message is searched by its first 64 Ki characters of words: all of it at the default --max-content
// (32 KiB), and never a tsvector past PostgreSQL's 1 MB, which would refuse the message itself.
export const INDEXED_CHARS = 64 * 1024;

/** The text FTS5 indexes for a message: its words, and its CJK runs as character pairs, up to INDEXED_CHARS. */
export function indexText(content: string): string {
  const out: string[] = [];
  let length = 0;
  for (const m of fold(content).matchAll(RUNS)) {
    const text = m[1] ? pairs(m[1]).join(" ") : m[2]!;
    if (length + text.length > INDEXED_CHARS) break;
    out.push(text);
    length += text.length + 1;
  }
  return out.join(" ");
}

/** A query's term: a word (matched by prefix) or a CJK run (matched as its character pairs in a row). */
export type SearchTerm = { cjk: boolean; text: string; pairs: string[] };

function terms(q: string): SearchTerm[] {
  const out: SearchTerm[] = [];
  for (const m of fold(q).matchAll(RUNS)) out.push(m[1] ? { cjk: true, text: m[1], pairs: pairs(m[1]) } : { cjk: false, text: m[2]!, pairs: [] });
  return out;
}

/** The token every indexed body of the group carries. */
export const groupToken = (gid: number) => `§${gid}`;

/** What the index holds for a message, or null for a message not searched (not text, or no words). */
export function indexedBody(gid: number, content: string, kind = "Text"): string | null {
  if (kind !== "Text" && kind !== "RichText") return null;
  const text = indexText(content);
  return text ? `${text} ${groupToken(gid)}` : null;
}

/**
 * Indexes up to `limit` of the messages stored since the last batch (a store whose searchIndexing is
 * "batched"), as they are now: an edited one with its new words, a deleted one not at all. Returns how
 * many it took (`limit`: more may wait).
 */
export function* indexPending(ctx: Ctx, limit: number): Flow<number> {
  const rows = yield* ctx.store.unindexedMessages(limit);
  if (rows.length === 0) return 0;
  const items: { id: number; body: string }[] = [];
  for (const r of rows) {
    const body = r.deletedAt === null ? indexedBody(r.groupId, r.content, r.kind) : null;
    if (body) items.push({ id: r.id, body });
  }
  yield* ctx.store.indexBatch(items, rows[rows.length - 1]!.id);
  return rows.length;
}

/** Whether stored messages wait for indexPending. */
export function* searchBacklog(ctx: Ctx): Flow<boolean> {
  return yield* ctx.store.searchBacklog();
}

/**
 * Re-indexes an edited message, or drops a deleted one (content ""). An edit that leaves its
 * words as they were (punctuation, case) leaves the index alone: a delete from FTS5 makes it
 * write out the terms of the batch's messages so far as a segment of their own (≈ 20 µs, and
 * more segments to merge), and so does re-adding an older rowid.
 */
export function* reindexMessage(ctx: Ctx, id: number, gid: number, before: string, after: string, kind = "Text"): Flow<void> {
  // Not indexed yet: indexPending will index it as it is then (or not at all, deleted).
  if (ctx.store.searchIndexing === "batched" && id > (yield* ctx.store.searchIndexedUpTo())) return;
  const old = indexedBody(gid, before, kind);
  const body = indexedBody(gid, after, kind);
  if (old === body) return;
  if (old !== null) yield* ctx.store.unindexMessage(id);
  if (body !== null) yield* ctx.store.indexMessage(id, gid, body);
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const CONTEXT = 40;

/** The part of content around the first match, HTML-escaped, every match wrapped in <mark>. */
export function snippet(content: string, ts: SearchTerm[]): string {
  // Matching on the folded text keeps offsets only where folding keeps length; fall back to the original case-insensitively.
  const alternatives = ts.map((t) => escapeRe(t.text)).sort((a, b) => b.length - a.length);
  const re = new RegExp(alternatives.join("|"), "giu");
  const first = re.exec(content);
  let from = 0;
  let to = Math.min(content.length, CONTEXT * 3);
  // A short message is its own snippet; a long one is cut around its first match.
  if (first && content.length > CONTEXT * 3) {
    from = Math.max(0, first.index - CONTEXT);
    to = Math.min(content.length, first.index + first[0].length + CONTEXT * 2);
  }
  // Never cut a surrogate pair in half.
  if (from > 0 && /[\uDC00-\uDFFF]/.test(content[from]!)) from--;
  if (to < content.length && /[\uD800-\uDBFF]/.test(content[to - 1]!)) to++;
  const part = content.slice(from, to);
  let html = "";
  let last = 0;
  re.lastIndex = 0;
  for (const m of part.matchAll(re)) {
    html += escapeHtml(part.slice(last, m.index)) + "<mark>" + escapeHtml(m[0]) + "</mark>";
    last = m.index! + m[0].length;
  }
  html += escapeHtml(part.slice(last));
  return (from > 0 ? "…" : "") + html + (to < content.length ? "…" : "");
}

export type SearchHit = MessageView & { snippet: string };

export type SearchQuery = { q: string; gid?: number; limit: number; beforeId?: number };
export type SearchScope = { ts: SearchTerm[]; gids: number[] };

/** The query's terms and the groups it searches; refuses a query too short (400) or a group not the caller's (403/404). */
export function* searchScope(ctx: Ctx, uid: number, q: SearchQuery): Flow<SearchScope> {
  const ts = terms(q.q);
  if ([...q.q.trim()].length < 2 || ts.length === 0) throw badRequest("q: at least 2 characters, letters or digits");
  if (q.gid !== undefined) yield* memberOf(ctx, q.gid, uid);
  return { ts, gids: q.gid !== undefined ? [q.gid] : yield* groupIdsOf(ctx, uid) };
}

/** Messages matching q within a scope searchScope gave (the store still keeps to uid's groups), newest first. */
export function* searchWithin(ctx: Ctx, uid: number, q: SearchQuery, { ts, gids }: SearchScope): Flow<SearchHit[]> {
  if (gids.length === 0) return [];
  const rows = yield* ctx.store.searchMessages({ terms: ts, groupTokens: gids.map(groupToken), uid, gid: q.gid, beforeId: q.beforeId, limit: q.limit });
  return rows.map((r) => ({ ...messageView(r), snippet: snippet(r.content, ts) }));
}

/** Messages matching q in the caller's groups (or one of them), newest first. */
export function* searchMessages(ctx: Ctx, uid: number, q: SearchQuery): Flow<SearchHit[]> {
  return yield* searchWithin(ctx, uid, q, yield* searchScope(ctx, uid, q));
}

export const isCjk = (s: string) => CJK.test(s);
