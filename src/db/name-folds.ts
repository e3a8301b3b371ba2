// Users' name_fold kept equal to foldName(name) (domain/fold.ts): the fold is
// JS, which a migration's SQL cannot run, so every start refolds the names
// whose fold is not their name's. That fills the column once it is added
// (…_name_fold), repairs a name an older server wrote since without its fold
// (after a rollback; on PostgreSQL an old node during a rolling upgrade,
// docs/deploy.md), and refolds every name at the first start of a release
// whose foldName folds differently.
import type { Database } from "bun:sqlite";
import { foldName } from "../domain/fold";

/** True when these migrations include the one that adds users.name_fold (so the column is there). */
export const hasNameFold = (migrations: { tag: string }[]) => migrations.some((m) => m.tag.endsWith("_name_fold"));

export const NAMES = "SELECT id, name, name_fold AS fold FROM users";

type Folded = { id: number; name: string; fold: string };

/** The users whose fold is not their name's, with the right one. */
export const staleFolds = (rows: Folded[]): Folded[] =>
  rows.flatMap((r) => {
    const fold = foldName(r.name);
    return fold === r.fold ? [] : [{ id: Number(r.id), name: r.name, fold }];
  });

/** Refolds the names whose fold is stale, in one transaction; returns how many. */
export function refoldNames(sqlite: Database): number {
  const stale = staleFolds(sqlite.query<Folded, []>(NAMES).all());
  if (stale.length === 0) return 0;
  // "AND name = ?": a name another process changed meanwhile was folded by its writer.
  const set = sqlite.query<unknown, [string, number, string]>("UPDATE users SET name_fold = ? WHERE id = ? AND name = ?");
  sqlite.transaction(() => stale.forEach((r) => set.run(r.fold, r.id, r.name))).immediate();
  return stale.length;
}
