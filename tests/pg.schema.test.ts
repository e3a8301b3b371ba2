// The PostgreSQL storage's foundation, on a real PostgreSQL (tests/services.ts):
// its embedded migrations apply once however many nodes start together, its
// schema is the SQLite one table by table and column by column, messages and
// group events share one id sequence, and search finds what FTS5 finds.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { getTableConfig as pgTableConfig, type PgColumn } from "drizzle-orm/pg-core";
import { getTableConfig as sqliteTableConfig, type SQLiteColumn } from "drizzle-orm/sqlite-core";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { EMBEDDED, renderMigrationsModule } from "../scripts/embed-migrations";
import { closePostgres, openPostgres } from "../src/db/pg/open";
import { migratePostgres } from "../src/db/pg/migrate";
import { tsqueryLiteral, tsvectorLiteral, type SearchTerm } from "../src/db/pg/search";
import { indexedBody } from "../src/domain/search";
import { MIGRATIONS } from "../src/db/pg/migrations.gen";
import * as pg from "../src/db/pg/schema";
import { schema as sqliteSchema } from "../src/db/schema";
import { pgStore } from "../src/db/pg/store";
import { listUsers } from "../src/domain/admin";
import type { Ctx } from "../src/domain/context";
import { directory } from "../src/domain/people";
import { runAsync } from "../src/domain/store";
import { freshDatabase } from "./services";
import { FOUND_AFTER_UPGRADE, NAMES_BEFORE_FOLD } from "./name-fold.cases";

const ROOT = join(import.meta.dir, "..");
const TAGS = MIGRATIONS.map((m) => m.tag);

let db: Awaited<ReturnType<typeof freshDatabase>>;
let sql: SQL;
beforeAll(async () => {
  db = await freshDatabase();
  sql = new SQL(db.url, { max: 2 });
});
afterAll(async () => {
  await sql?.close();
  await db?.drop();
});

const tables = async (s: SQL) =>
  (await s`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`).map((r: { table_name: string }) => r.table_name);

describe("migratePostgres", () => {
  test("applies every migration to an empty database, records them, and then applies nothing", async () => {
    expect(await tables(sql)).toEqual([]);
    expect(await migratePostgres(sql)).toEqual(TAGS);
    expect(await tables(sql)).toEqual([...Object.values(pg.schema).map((t) => pgTableConfig(t).name), "message_search"].sort());
    const book = await sql`SELECT hash, created_at FROM drizzle.__drizzle_migrations ORDER BY id`;
    expect(book.map((r: { created_at: string }) => Number(r.created_at))).toEqual(MIGRATIONS.map((m) => m.when));
    expect(book.map((r: { hash: string }) => r.hash)).toEqual(MIGRATIONS.map((m) => new Bun.CryptoHasher("sha256").update(m.sql).digest("hex")));
    await sql`INSERT INTO users (account, name, password_hash, created_at) VALUES ('keep', 'Keep', 'h', 1)`;
    expect(await migratePostgres(sql)).toEqual([]);
    expect(await sql`SELECT account FROM users`).toEqual([{ account: "keep" }]);
    expect((await sql`SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations`)[0].n).toBe(MIGRATIONS.length);
  });

  test("ten nodes migrating one fresh database at once apply the migrations exactly once", async () => {
    const fresh = await freshDatabase();
    const nodes = Array.from({ length: 10 }, () => new SQL(fresh.url, { max: 1 }));
    try {
      const applied = await Promise.all(nodes.map((n) => migratePostgres(n)));
      expect(applied.filter((a) => a.length > 0)).toEqual([TAGS]);
      expect(applied.filter((a) => a.length === 0)).toHaveLength(9);
      expect((await nodes[0]!`SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations`)[0].n).toBe(MIGRATIONS.length);
    } finally {
      await Promise.all(nodes.map((n) => n.close()));
      await fresh.drop();
    }
  });

  test("a failing migration leaves nothing behind (one transaction)", async () => {
    const fresh = await freshDatabase();
    const node = new SQL(fresh.url, { max: 1 });
    try {
      const broken = [...MIGRATIONS, { tag: "9999_broken", when: Number.MAX_SAFE_INTEGER, sql: "CREATE TABLE half (x int);\n--> statement-breakpoint\nSELECT no_such_function()" }];
      await expect(migratePostgres(node, broken)).rejects.toThrow(/no_such_function/);
      expect(await tables(node)).toEqual([]);
    } finally {
      await node.close();
      await fresh.drop();
    }
  });
});

// Names are matched by their fold (users.name_fold, domain/fold.ts), which SQL cannot compute: the migration adds the
// column, and migratePostgres folds in JS every name without a fold, under its lock, at the upgrade and each start after.
describe("upgrading a database with users: their names are found in any case and script", () => {
  const BEFORE = MIGRATIONS.slice(0, MIGRATIONS.findIndex((m) => m.tag.endsWith("_name_fold")));
  let old: Awaited<ReturnType<typeof freshDatabase>>;
  let node: SQL;
  beforeAll(async () => {
    old = await freshDatabase();
    node = new SQL(old.url, { max: 2 });
    await migratePostgres(node, BEFORE);
    for (const [account, name] of NAMES_BEFORE_FOLD) await node`INSERT INTO users (account, name, password_hash, created_at) VALUES (${account}, ${name}, 'h', 1)`;
    expect((await migratePostgres(node)).some((tag) => tag.endsWith("_name_fold"))).toBe(true);
  });
  afterAll(async () => {
    await node?.close();
    await old?.drop();
  });
  const ctx = () => ({ store: pgStore(node) }) as unknown as Ctx;
  const found = async (q: string) => (await runAsync(directory(ctx(), q, 10))).map((u) => u.account);
  const listed = async (q: string) => (await runAsync(listUsers(ctx(), { q, page: 1, size: 10 }))).users.map((u) => u.account);

  test.each(FOUND_AFTER_UPGRADE)("%p finds %p after the upgrade, in the directory and the admin's list", async (q, accounts) => {
    expect(await found(q)).toEqual([...accounts]);
    expect(await listed(q)).toEqual([...accounts]);
  });

  test("a name an old node writes without its fold, or renames without refolding (a rolling upgrade), is refolded when a node next starts", async () => {
    await node`INSERT INTO users (account, name, password_hash, created_at) VALUES ('p6', 'Łukasz', 'h', 1)`;
    await node`UPDATE users SET name = 'Émilie' WHERE account = 'p1'`;
    expect([await found("łukasz"), await found("émilie")]).toEqual([[], []]);
    expect(await migratePostgres(node)).toEqual([]);
    expect([await found("ŁUKASZ"), await found("EMILIE")]).toEqual([["p6"], ["p1"]]);
  });
});

describe("the embedded PostgreSQL migrations are in step with drizzle-pg/", () => {
  test.each(EMBEDDED.map((e) => [e.module, e.folder, e.module] as const))("%s is what scripts/embed-migrations.ts renders (run `bun run db:generate`)", (_label, folder, module) => {
    expect(readFileSync(join(ROOT, module), "utf8")).toBe(renderMigrationsModule(ROOT, folder, module));
  });

  test("every drizzle-pg/*.sql file is embedded, as it is on disk", () => {
    const files = readdirSync(join(ROOT, "drizzle-pg")).filter((f) => f.endsWith(".sql")).map((f) => f.replace(/\.sql$/, "")).sort();
    expect(files).toEqual([...TAGS].sort());
    for (const m of MIGRATIONS) expect(m.sql).toBe(readFileSync(join(ROOT, "drizzle-pg", `${m.tag}.sql`), "utf8"));
  });
});

// SQLite's integer affinity is 64-bit: ids, times, sizes and cursors are bigint in PostgreSQL; small enumerations integer.
const SMALL_INTEGERS = new Set(["groups.mode", "group_members.role", "friend_requests.status"]);

function expectedPgType(table: string, c: SQLiteColumn): string {
  if (c.columnType === "SQLiteText") return "PgText";
  if (c.columnType === "SQLiteBoolean") return "PgBoolean";
  if (c.columnType === "SQLiteInteger") return SMALL_INTEGERS.has(`${table}.${c.name}`) ? "PgInteger" : "PgBigInt53";
  throw new Error(`no PostgreSQL counterpart decided for ${table}.${c.name} (${c.columnType})`);
}

const shape = (cols: (SQLiteColumn | PgColumn)[]) => cols.map((c) => ({ name: c.name, notNull: c.notNull, primary: c.primary, unique: c.isUnique, hasDefault: c.hasDefault }));

describe("the PostgreSQL schema is the SQLite one", () => {
  test("the same tables under the same names", () => {
    expect(Object.keys(pg.schema).sort()).toEqual(Object.keys(sqliteSchema).sort());
  });

  test.each(Object.keys(sqliteSchema))("%s: the same columns, constraints, keys and indexes", (key) => {
    const lite = sqliteTableConfig(sqliteSchema[key as keyof typeof sqliteSchema]);
    const post = pgTableConfig(pg.schema[key as keyof typeof pg.schema]);
    expect(post.name).toBe(lite.name);
    // An INTEGER PRIMARY KEY has a default in SQLite (the next rowid); its counterpart an identity or the shared sequence.
    const pgShape = shape(post.columns).map((c) => ({ ...c, hasDefault: c.hasDefault || post.columns.find((x) => x.name === c.name)!.generatedIdentity !== undefined }));
    expect(pgShape).toEqual(shape(lite.columns));
    expect(post.columns.map((c) => `${c.name}:${c.columnType}`)).toEqual(lite.columns.map((c) => `${c.name}:${expectedPgType(lite.name, c)}`));
    const refs = (fks: { reference(): { columns: { name: string }[]; foreignTable: unknown; foreignColumns: { name: string }[] } ; onDelete?: string }[], nameOf: (t: unknown) => string) =>
      fks.map((fk) => { const r = fk.reference(); return `${r.columns.map((c) => c.name)}->${nameOf(r.foreignTable)}(${r.foreignColumns.map((c) => c.name)}) ${fk.onDelete ?? "no action"}`; }).sort();
    expect(refs(post.foreignKeys, (t) => pgTableConfig(t as never).name)).toEqual(refs(lite.foreignKeys, (t) => sqliteTableConfig(t as never).name));
    expect(post.primaryKeys.map((k) => k.columns.map((c) => c.name))).toEqual(lite.primaryKeys.map((k) => k.columns.map((c) => c.name)));
    const indexes = (list: { config: { name: string; unique: boolean; columns: unknown[]; where?: unknown } }[]) =>
      list.map((i) => ({ name: i.config.name, unique: i.config.unique, columns: i.config.columns.map((c) => (c as { name?: string }).name ?? "expression"), partial: i.config.where !== undefined })).sort((a, b) => a.name.localeCompare(b.name));
    expect(indexes(post.indexes as never)).toEqual(indexes(lite.indexes as never));
  });
});

describe("one id sequence for messages and group events", () => {
  test("interleaved messages and events take distinct, increasing ids, also from concurrent transactions", async () => {
    const pgDb = openPostgres(db.url, { max: 4 });
    try {
      const [u] = await pgDb.insert(pg.users).values({ account: "seq", name: "Seq", passwordHash: "h", createdAt: 1 }).returning();
      const [g] = await pgDb.insert(pg.groups).values({ name: "g", mode: 1, creatorUid: u!.id, createdAt: 1 }).returning();
      const ids: number[] = [];
      const message = async (seq: number) => {
        const [m] = await pgDb.insert(pg.messages).values({ groupId: g!.id, seq, senderUid: u!.id, kind: "Text", content: `m${seq}`, clientMsgId: `c${seq}`, createdAt: 1, updatedAt: 1 }).returning({ id: pg.messages.id });
        return m!.id;
      };
      const event = async (n: number) => {
        const [e] = await pgDb.insert(pg.groupEvents).values({ groupId: g!.id, kind: "GroupUpdated", actorUid: u!.id, payload: `{"n":${n}}`, createdAt: 1 }).returning({ id: pg.groupEvents.id });
        return e!.id;
      };
      // One after the other: every id is above the one before, whichever table took it.
      for (let i = 1; i <= 6; i++) ids.push(i % 2 ? await message(i) : await event(i));
      expect(ids.every((id, i) => i === 0 || id > ids[i - 1]!)).toBe(true);
      expect(typeof ids[0]).toBe("number");
      // At once, from four connections: all distinct, and none reused from the ones before.
      const concurrent = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? message(100 + i) : event(100 + i))));
      expect(new Set([...ids, ...concurrent]).size).toBe(ids.length + concurrent.length);
      expect(Math.min(...concurrent)).toBeGreaterThan(Math.max(...ids));
      const all = await pgDb.$client`SELECT id FROM messages UNION ALL SELECT id FROM group_events`;
      expect(all).toHaveLength(26);
    } finally {
      await closePostgres(pgDb);
    }
  });
});

describe("search on PostgreSQL: the tokens FTS5 gets, as tsvector and tsquery literals over a GIN index", () => {
  const pairs = (run: string) => {
    const c = [...run];
    return c.length === 1 ? c : c.slice(0, -1).map((x, i) => x + c[i + 1]);
  };
  const word = (text: string): SearchTerm => ({ cjk: false, text, pairs: [] });
  const cjk = (text: string): SearchTerm => ({ cjk: true, text, pairs: pairs(text) });
  const MESSAGES: [number, string][] = [
    [1, "Hello World, the café opens at nine"],
    [1, "東京都に住んでいます"],
    [2, "hello from the other group"],
    [2, "京都と東京"],
    [1, "it's a quote ' and a \\ backslash"],
  ];

  test.each<[string, SearchTerm[], number[], number[]]>([
    ["a word by prefix, in the caller's group only", [word("hel")], [1], [0]],
    ["a word in both groups", [word("hello")], [1, 2], [0, 2]],
    ["diacritics and case folded as FTS5 does", [word("cafe")], [1], [0]],
    ["diacritics folded in the (already lower-cased) query too", [word("café")], [1], [0]],
    ["every term must match", [word("hello"), word("nine")], [1, 2], [0]],
    ["a CJK run is a phrase of pairs: 東京都 is not 京都 and 東京 apart", [cjk("東京都")], [1, 2], [1]],
    ["a CJK pair anywhere", [cjk("京都")], [1, 2], [1, 3]],
    ["a quote and a backslash are plain characters", [word("quote")], [1], [4]],
    ["nothing outside the caller's groups", [word("group")], [1], []],
  ])("%s", async (_label, terms, gids, want) => {
    const fresh = await freshDatabase();
    const node = new SQL(fresh.url, { max: 1 });
    try {
      await migratePostgres(node);
      const [u] = await node`INSERT INTO users (account, name, password_hash, created_at) VALUES ('s', 'S', 'h', 1) RETURNING id`;
      for (const gid of [1, 2]) await node`INSERT INTO groups (id, name, mode, creator_uid, created_at) VALUES (${gid}, 'g', 1, ${u.id}, 1)`;
      const ids: number[] = [];
      for (const [i, [gid, content]] of MESSAGES.entries()) {
        const [m] = await node`INSERT INTO messages (group_id, seq, sender_uid, kind, content, client_msg_id, created_at, updated_at) VALUES (${gid}, ${i + 1}, ${u.id}, 'Text', ${content}, ${"c" + i}, 1, 1) RETURNING id`;
        ids.push(Number(m.id));
        const body = indexedBody(gid, content)!;
        await node`INSERT INTO message_search (message_id, group_id, body) VALUES (${m.id}, ${gid}, ${tsvectorLiteral(body)}::tsvector)`;
      }
      const query = tsqueryLiteral(terms, gids.map((g) => `§${g}`));
      const found = await node`SELECT message_id FROM message_search WHERE body @@ ${query}::tsquery ORDER BY message_id`;
      expect(found.map((r: { message_id: string }) => ids.indexOf(Number(r.message_id)))).toEqual(want);
      // The GIN index answers it (sequential scans off, the plan still works: the index can serve the query).
      await node`SET enable_seqscan = off`;
      const plan = (await node.unsafe(`EXPLAIN SELECT message_id FROM message_search WHERE body @@ '${query.replace(/'/g, "''")}'::tsquery`)).map((r: { "QUERY PLAN": string }) => r["QUERY PLAN"]).join("\n");
      expect(plan).toContain("message_search_body_idx");
    } finally {
      await node.close();
      await fresh.drop();
    }
  });
});
