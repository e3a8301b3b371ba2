// Users' name_fold where it is missing: the fold is JS (domain/fold.ts), which a
// migration's SQL cannot run. Every start does it for the names without one,
// so it fills the column once it is added (…_name_fold) and then any name an
// older server wrote since (a rollback and back; on PostgreSQL an old node of a
// rolling upgrade, docs/deploy.md). A name always has a fold: NFKC never
// empties a string, and a name is never blank.
import type { Database } from "bun:sqlite";
import { foldName } from "../domain/fold";

/** True when these migrations include the one that adds users.name_fold (so the column is there). */
export const hasNameFold = (migrations: { tag: string }[]) => migrations.some((m) => m.tag.endsWith("_name_fold"));

/** The folds of these users' names, for the rows to update. */
export const foldsOf = (rows: { id: number; name: string }[]) => rows.map((r) => ({ id: Number(r.id), fold: foldName(r.name) }));

export const UNFOLDED = "SELECT id, name FROM users WHERE name_fold = '' AND name <> ''";

/** Folds the names without a fold, in one transaction; returns how many. */
export function foldMissingNames(sqlite: Database): number {
  const rows = foldsOf(sqlite.query<{ id: number; name: string }, []>(UNFOLDED).all());
  if (rows.length === 0) return 0;
  const set = sqlite.query<unknown, [string, number]>("UPDATE users SET name_fold = ? WHERE id = ?");
  // A name changed meanwhile (another process) was folded by its writer: the guard leaves it.
  sqlite.transaction(() => rows.forEach((r) => set.run(r.fold, r.id))).immediate();
  return rows.length;
}
