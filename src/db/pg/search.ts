// Search on PostgreSQL: the message_search table holds, per message, a
// tsvector of exactly the tokens SQLite's FTS5 index gets from
// domain/search.ts (indexedBody: folded words, CJK runs as overlapping
// character pairs, and the §gid group token). They are written as tsvector
// and tsquery literals, never through to_tsvector/to_tsquery, so no
// text-search configuration splits, stems or drops them: the two engines
// index the same tokens and answer the same queries, prefix words (`'wor':*`)
// and CJK runs as phrases of pairs (`'東京' <-> '京都'`), within the caller's
// groups (`& ('§1' | '§2')`), all inside one GIN index.

// FTS5's unicode61 tokenizer (remove_diacritics 2) folds diacritics itself, after domain/search.ts
// tokenized: here that is done to every lexeme, for the letters it folds (Latin, Greek, Cyrillic).
const DIACRITIC = /([\p{Script=Latin}\p{Script=Greek}\p{Script=Cyrillic}])\p{Mn}+/gu;
export const foldDiacritics = (token: string) => token.normalize("NFD").replace(DIACRITIC, "$1").normalize("NFC");

// PostgreSQL refuses a lexeme over 2046 bytes ("word is too long"), and with it the statement that stores the
// message: a longer word is indexed by its first 2046 bytes, which a search (at most 200 characters, by prefix) still finds.
const MAX_LEXEME_BYTES = 2046;

/** The token cut to at most MAX_LEXEME_BYTES of UTF-8, at a character's start. */
function clip(token: string): string {
  // A UTF-16 unit is at most 3 bytes of UTF-8: most tokens are known short without encoding them.
  if (token.length * 3 <= MAX_LEXEME_BYTES) return token;
  const bytes = Buffer.from(token);
  if (bytes.length <= MAX_LEXEME_BYTES) return token;
  let end = MAX_LEXEME_BYTES;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString();
}

/** A lexeme, folded, clipped and quoted for a tsvector/tsquery literal. */
const lexeme = (token: string) => `'${clip(foldDiacritics(token)).replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;

// tsvector positions stop at 16383.
const MAX_POSITION = 16383;

/** The tsvector literal of an indexed body (space-separated tokens), each token at its position. */
export function tsvectorLiteral(body: string): string {
  return body
    .split(" ")
    .filter((t) => t !== "")
    .map((t, i) => `${lexeme(t)}:${Math.min(i + 1, MAX_POSITION)}`)
    .join(" ");
}

export type SearchTerm = { cjk: boolean; text: string; pairs: string[] };

/** The tsquery literal of "every term (a word by prefix, a CJK run as a phrase of its pairs), in one of these groups". */
export function tsqueryLiteral(terms: SearchTerm[], groupTokens: string[]): string {
  const words = terms.map((t) => (t.cjk ? `(${t.pairs.map(lexeme).join(" <-> ")})` : `${lexeme(t.text)}:*`));
  return `(${words.join(" & ")}) & (${groupTokens.map(lexeme).join(" | ")})`;
}
