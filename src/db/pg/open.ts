// A PostgreSQL database through Bun's built-in client and drizzle's bun-sql
// driver. Durable means committed with synchronous_commit on (the server's
// default, insisted on here), as --sync full is on SQLite.
import { SQL } from "bun";
import { drizzle, type BunSQLDatabase } from "drizzle-orm/bun-sql";
import { schema } from "./schema";

export type PgDb = BunSQLDatabase<typeof schema> & { $client: SQL };

export type PgOptions = {
  /** Connections in the pool. */
  max?: number;
  /** Seconds to wait for a connection before failing. */
  connectTimeout?: number;
};

/** Opens a pool on the database at `url` (postgres://USER@HOST:PORT/DB); connections open on first use. */
export function openPostgres(url: string, { max = 10, connectTimeout = 10 }: PgOptions = {}): PgDb {
  const client = new SQL(url, { max, connectionTimeout: connectTimeout, connection: { synchronous_commit: "on", application_name: "rim" } });
  return drizzle({ client, schema }) as PgDb;
}

export async function closePostgres(db: PgDb): Promise<void> {
  await db.$client.close();
}

/** The URL with its password hidden, for logs and messages. */
export function redactUrl(url: string): string {
  const u = URL.parse(url);
  if (!u) return url;
  if (u.password) u.password = "***";
  return u.toString();
}
