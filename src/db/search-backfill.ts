// A step of SQLite's migrations that needs the server's own code: messages
// stored before search existed get indexed (domain/search.ts indexedBody), once.
// PostgreSQL databases are made with their search index (db/pg/search.ts).
import type { Database } from "bun:sqlite";
import { indexedBody } from "../domain/search";

/** Indexes the messages stored before the search migration, once, in one transaction. Returns how many. */
export function backfillSearchIndex(sqlite: Database, log: (n: number) => void = () => {}): number {
  const state = sqlite.query<{ value: string }, []>("SELECT value FROM settings WHERE key = 'search_backfill'").get();
  if (state?.value !== "pending") return 0;
  let n = 0;
  sqlite.transaction(() => {
    const index = sqlite.query<unknown, [number, string]>("INSERT INTO message_search (rowid, body) VALUES (?, ?)");
    const page = sqlite.query<{ id: number; gid: number; kind: string; content: string }, [number]>("SELECT id, group_id AS gid, kind, content FROM messages WHERE id > ? ORDER BY id LIMIT 5000");
    for (let after = 0; ; ) {
      const rows = page.all(after);
      if (rows.length === 0) break;
      for (const r of rows) {
        const body = indexedBody(r.gid, r.content, r.kind);
        if (body) index.run(r.id, body);
      }
      n += rows.length;
      after = rows[rows.length - 1]!.id;
    }
    sqlite.run("UPDATE settings SET value = 'done' WHERE key = 'search_backfill'");
    // Every message is in the index now: the batched indexing (domain/search.ts indexPending) goes on from the last.
    sqlite.run("UPDATE settings SET value = (SELECT coalesce(max(id), 0) FROM messages) WHERE key = 'search_indexed_upto'");
  })();
  if (n > 0) log(n);
  return n;
}
