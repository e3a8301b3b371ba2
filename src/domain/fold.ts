// Text folded for matching, the same on both engines because it is done here,
// in JS: SQLite's lower() and LIKE fold ASCII letters only, and PostgreSQL's
// depend on its collation. Names are stored beside their fold (users.name_fold),
// written with every name; a query is folded the same way and matched with LIKE.

// FTS5's unicode61 tokenizer (remove_diacritics 2) drops the marks on these scripts' letters; PostgreSQL's message
// index does the same with this (db/pg/search.ts), and names are folded alike, so "emile" finds "Émile" everywhere.
// Letters that are not a letter plus a mark (ø, ł, đ) stay themselves, as in FTS5.
const DIACRITIC = /([\p{Script=Latin}\p{Script=Greek}\p{Script=Cyrillic}])\p{Mn}+/gu;
export const foldDiacritics = (token: string) => token.normalize("NFD").replace(DIACRITIC, "$1").normalize("NFC");

/**
 * A name or a name query as matched: compatibility forms unified (NFKC: fullwidth letters, ligatures), lower case in
 * every script, diacritics dropped, and the two letters whose lower case depends on where they stand or has no
 * upper one spelled one way (final ς as σ, ß as ss, so "STRASSE" and "Straße" meet).
 */
export const foldName = (s: string) => foldDiacritics(s.normalize("NFKC").toLowerCase()).replace(/ς/g, "σ").replace(/ß/g, "ss");

/** q as LIKE's literal text (backslash escapes): after folding, which can turn a fullwidth ％ or ＿ into a wildcard. */
export const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => "\\" + c);
