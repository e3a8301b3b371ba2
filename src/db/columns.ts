// The SELECT list of a table with drizzle's property names as aliases, so a
// hand-written hot query (prepared once through Database.query) returns
// the same row shape as db.select().from(table), and follows the schema.
import { getTableColumns } from "drizzle-orm";
import type { SQLiteTable } from "drizzle-orm/sqlite-core";

export function selectList(table: SQLiteTable, alias?: string, omit: string[] = []): string {
  const prefix = alias ? `${alias}.` : "";
  return Object.entries(getTableColumns(table))
    .filter(([key]) => !omit.includes(key))
    .map(([key, col]) => `${prefix}"${col.name}" AS "${key}"`)
    .join(", ");
}
