// Full-text search over messages. SQLite FTS5 with the unicode61 tokenizer
// (case and diacritics folded) holds each message's words; Chinese, Japanese
// and Korean have no spaces between words, so their runs are indexed as
// overlapping pairs of characters: a query of any 2 or more such characters
// is a phrase of pairs and finds any substring. The index is contentless
// (the text lives in messages) and kept in step on the write path, in the
// same transaction as the message (sendMessage, edits, deletions). Each
// message also carries its group as a token (§ and the gid, a character no
// query can contain), so "these words in the caller's groups" is one
// intersection of posting lists inside FTS5, however many other groups use
// the same words.
import { badRequest } from "../errors";
import { selectList } from "../db/columns";
import { messages } from "../db/schema";
import type { Ctx } from "./context";
import { groupIdsOf, requireMember } from "./groups";
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

/** The text FTS5 indexes for a message: its words, and its CJK runs as character pairs. */
export function indexText(content: string): string {
  const out: string[] = [];
  for (const m of fold(content).matchAll(RUNS)) out.push(m[1] ? pairs(m[1]).join(" ") : m[2]!);
  return out.join(" ");
}

type Term = { cjk: boolean; text: string };

function terms(q: string): Term[] {
  const out: Term[] = [];
  for (const m of fold(q).matchAll(RUNS)) out.push(m[1] ? { cjk: true, text: m[1] } : { cjk: false, text: m[2]! });
  return out;
}

const groupToken = (gid: number) => `§${gid}`;

/** Every term must match, in any order: a word by prefix, a CJK run as a substring; and one of the groups. */
function matchExpression(ts: Term[], gids: number[]): string {
  const quote = (s: string) => `"${s.replace(/"/g, '""')}"`;
  const words = ts.map((t) => (t.cjk ? quote(pairs(t.text).join(" ")) : quote(t.text) + "*")).join(" AND ");
  return `(${words}) AND (${gids.map((g) => quote(groupToken(g))).join(" OR ")})`;
}

const SQL_INDEX = "INSERT INTO message_search (rowid, body) VALUES (?, ?)";
const SQL_UNINDEX = "DELETE FROM message_search WHERE rowid = ?";

/** What the index holds for a message, or null for a message not searched (not text, or no words). */
export function indexedBody(gid: number, content: string, kind = "Text"): string | null {
  if (kind !== "Text" && kind !== "RichText") return null;
  const text = indexText(content);
  return text ? `${text} ${groupToken(gid)}` : null;
}

export function indexMessage(ctx: Ctx, id: number, gid: number, content: string, kind = "Text"): void {
  const body = indexedBody(gid, content, kind);
  if (body) ctx.db.$client.query(SQL_INDEX).run(id, body);
}

/**
 * Re-indexes an edited message, or drops a deleted one (content ""). An edit that leaves its
 * words as they were (punctuation, case) leaves the index alone: a delete from FTS5 makes it
 * write out the terms of the batch's messages so far as a segment of their own (≈ 20 µs, and
 * more segments to merge), and so does re-adding an older rowid.
 */
export function reindexMessage(ctx: Ctx, id: number, gid: number, before: string, after: string, kind = "Text"): void {
  const old = indexedBody(gid, before, kind);
  const body = indexedBody(gid, after, kind);
  if (old === body) return;
  const sqlite = ctx.db.$client;
  if (old !== null) sqlite.query(SQL_UNINDEX).run(id);
  if (body !== null) sqlite.query(SQL_INDEX).run(id, body);
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const CONTEXT = 40;

/** The part of content around the first match, HTML-escaped, every match wrapped in <mark>. */
export function snippet(content: string, ts: Term[]): string {
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

const COLUMNS = selectList(messages, "m");

/** Messages matching q in the caller's groups (or one of them), newest first. */
export function searchMessages(ctx: Ctx, uid: number, q: { q: string; gid?: number; limit: number; beforeId?: number }): SearchHit[] {
  const ts = terms(q.q);
  if ([...q.q.trim()].length < 2 || ts.length === 0) throw badRequest("q: at least 2 characters, letters or digits");
  if (q.gid !== undefined) requireMember(ctx, q.gid, uid);
  const gids = q.gid !== undefined ? [q.gid] : groupIdsOf(ctx, uid);
  if (gids.length === 0) return [];
  const sql =
    `SELECT ${COLUMNS} FROM message_search s JOIN messages m ON m.id = s.rowid ` +
    `WHERE message_search MATCH ?1 AND m.group_id IN (SELECT group_id FROM group_members WHERE user_id = ?2) ` +
    (q.gid !== undefined ? "AND m.group_id = ?3 " : "") +
    (q.beforeId !== undefined ? "AND s.rowid < ?4 " : "") +
    "ORDER BY s.rowid DESC LIMIT ?5";
  const rows = ctx.db.$client
    .query<typeof messages.$inferSelect, [string, number, number, number, number]>(sql)
    .all(matchExpression(ts, gids), uid, q.gid ?? 0, q.beforeId ?? 0, q.limit);
  return rows.map((r) => ({ ...messageView(r), snippet: snippet(r.content, ts) }));
}

export const isCjk = (s: string) => CJK.test(s);

/** Indexes the messages stored before the search migration, once, in one transaction. Returns how many. */
export function backfillSearchIndex(ctx: Ctx, log: (n: number) => void = () => {}): number {
  const sqlite = ctx.db.$client;
  const state = sqlite.query<{ value: string }, []>("SELECT value FROM settings WHERE key = 'search_backfill'").get();
  if (state?.value !== "pending") return 0;
  let n = 0;
  sqlite.transaction(() => {
    const page = sqlite.query<{ id: number; gid: number; kind: string; content: string }, [number]>("SELECT id, group_id AS gid, kind, content FROM messages WHERE id > ? ORDER BY id LIMIT 5000");
    for (let after = 0; ; ) {
      const rows = page.all(after);
      if (rows.length === 0) break;
      for (const r of rows) indexMessage(ctx, r.id, r.gid, r.content, r.kind);
      n += rows.length;
      after = rows[rows.length - 1]!.id;
    }
    sqlite.run("UPDATE settings SET value = 'done' WHERE key = 'search_backfill'");
  })();
  if (n > 0) log(n);
  return n;
}
