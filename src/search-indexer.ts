// Search indexing in batches, for a store that keeps its index "batched"
// (SQLite, domain/store.ts searchIndexing): messages are stored without their
// index entries, and these write jobs put them in, up to SEARCH_BATCH to a job. The
// server runs one every INDEX_EVERY_MS while messages wait, and a search runs
// one first, so a search answers for every message stored before it.
import type { ServingApp } from "./app";
import { indexPending, searchBacklog } from "./domain/search";

// FTS5 writes a segment of its own for each transaction: a batch of a few hundred costs a message about
// half what indexing it in its own commit did (BENCHMARKS.md run 7). Few enough (≈ 0.5–2 ms of indexing)
// that the messages committed behind it do not wait long: batches of 1000 every 100 ms put the open-loop
// ack p99 up by 0.6 ms, 256 every 25 ms did not.
export const SEARCH_BATCH = 256;
export const INDEX_EVERY_MS = 25;

/** Indexes every message stored before the call; resolves once they are in the index (durably, like any write). */
export async function catchUpSearch(app: ServingApp): Promise<void> {
  if (app.store.searchIndexing !== "batched") return;
  while (await app.read(searchBacklog(app))) {
    // Fewer than a batch: everything stored before the call is in (what came after is the next call's).
    if ((await app.write((w) => indexPending(w, SEARCH_BATCH))) < SEARCH_BATCH) return;
  }
}
