// The embedded migrations: applied from empty, never twice, atomic, in step
// with drizzle/ and with the Drizzle schema.
import { describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { getTableConfig } from "drizzle-orm/sqlite-core";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { renderMigrationsModule } from "../scripts/embed-migrations";
import { migrate } from "../src/db/migrate";
import { MIGRATIONS } from "../src/db/migrations.gen";
import { closeDatabase, openDatabase } from "../src/db/open";
import { schema } from "../src/db/schema";
import { sqliteStore } from "../src/db/sqlite-store";
import { listUsers } from "../src/domain/admin";
import type { Ctx } from "../src/domain/context";
import { directory } from "../src/domain/people";
import { runSync } from "../src/domain/store";
import { tempDir } from "./helpers";
import { FOUND_AFTER_UPGRADE, NAMES_BEFORE_FOLD } from "./name-fold.cases";

const ROOT = join(import.meta.dir, "..");
const journal = JSON.parse(readFileSync(join(ROOT, "drizzle/meta/_journal.json"), "utf8")) as { entries: { tag: string; when: number }[] };
const TAGS = journal.entries.map((e) => e.tag);
const tables = (db: Database) =>
  db.query<{ name: string }, []>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all().map((r) => r.name);

describe("migrate", () => {
  test("applies every migration to an empty database, in order", () => {
    const db = new Database(":memory:");
    expect(tables(db)).toEqual([]);
    expect(TAGS[0]).toBe("0000_init");
    expect(migrate(db)).toEqual(TAGS);
    expect(tables(db)).toEqual(
      expect.arrayContaining(["__drizzle_migrations", "friend_requests", "group_members", "groups", "messages", "sessions", "users"]),
    );
    const book = db.query<{ hash: string; created_at: number }, []>("SELECT hash, created_at FROM __drizzle_migrations ORDER BY id").all();
    expect(book.map((r) => Number(r.created_at))).toEqual(journal.entries.map((e) => e.when));
    expect(book.map((r) => r.hash)).toEqual(MIGRATIONS.map((m) => new Bun.CryptoHasher("sha256").update(m.sql).digest("hex")));
    db.close();
  });

  test("re-applying applies nothing and changes nothing", () => {
    const db = new Database(":memory:");
    migrate(db);
    db.run("INSERT INTO users (account, name, password_hash, created_at) VALUES ('keep', 'Keep', '$argon2id$x', 1)");
    const before = db.query("SELECT count(*) AS n FROM __drizzle_migrations").get();
    expect(migrate(db)).toEqual([]);
    expect(migrate(db)).toEqual([]);
    expect(db.query("SELECT count(*) AS n FROM __drizzle_migrations").get()).toEqual(before);
    expect(db.query("SELECT account FROM users").all()).toEqual([{ account: "keep" }]);
    db.close();
  });

  test("a database file opened twice (two starts) is migrated once, its data kept", () => {
    const { dir, cleanup } = tempDir();
    try {
      const file = join(dir, "nested", "rim.db"); // the folder is created
      const first = openDatabase(file, { sync: "full" });
      expect(migrate(first.$client)).toEqual(TAGS);
      first.$client.run("INSERT INTO users (account, name, password_hash, created_at) VALUES ('kept', 'K', 'h', 1)");
      closeDatabase(first);
      const second = openDatabase(file, { sync: "full" });
      expect(migrate(second.$client)).toEqual([]);
      expect(second.$client.query("SELECT account FROM users").all()).toEqual([{ account: "kept" }]);
      closeDatabase(second);
    } finally {
      cleanup();
    }
  });

  test("an older database gets only the newer migrations", () => {
    const db = new Database(":memory:");
    expect(migrate(db, MIGRATIONS.slice(0, 1))).toEqual(["0000_init"]);
    expect(migrate(db)).toEqual(TAGS.slice(1));
    expect(migrate(db)).toEqual([]);
    db.close();
  });

  test("a failing migration rolls back entirely", () => {
    const db = new Database(":memory:");
    migrate(db);
    const broken = [{ tag: "9999_broken", when: 9e15, sql: "CREATE TABLE half_done (a integer);\n--> statement-breakpoint\nTHIS IS NOT SQL;" }];
    expect(() => migrate(db, broken)).toThrow();
    expect(tables(db)).not.toContain("half_done");
    expect((db.query("SELECT count(*) AS n FROM __drizzle_migrations").get() as { n: number }).n).toBe(TAGS.length);
    db.close();
  });
});

describe("the embedded module is in step with drizzle/", () => {
  test("src/db/migrations.gen.ts is what scripts/embed-migrations.ts renders (run `bun run db:generate`)", () => {
    expect(readFileSync(join(ROOT, "src/db/migrations.gen.ts"), "utf8")).toBe(renderMigrationsModule(ROOT));
  });

  test("every drizzle/*.sql file is in the journal, and the embedded SQL is the file's", () => {
    const files = readdirSync(join(ROOT, "drizzle")).filter((f) => f.endsWith(".sql")).map((f) => f.replace(/\.sql$/, "")).sort();
    expect(files).toEqual([...TAGS].sort());
    expect(MIGRATIONS.map((m) => m.tag)).toEqual(TAGS);
    for (const m of MIGRATIONS) expect(m.sql).toBe(readFileSync(join(ROOT, "drizzle", `${m.tag}.sql`), "utf8"));
    const whens = MIGRATIONS.map((m) => m.when);
    expect(whens).toEqual([...whens].sort((x, y) => x - y));
  });

  test("the migrated database has every table, column and index of the Drizzle schema (run drizzle-kit generate)", () => {
    const db = new Database(":memory:");
    migrate(db);
    for (const table of Object.values(schema)) {
      const cfg = getTableConfig(table);
      const columns = db.query<{ name: string }, []>(`PRAGMA table_info("${cfg.name}")`).all().map((c) => c.name);
      expect({ table: cfg.name, columns: columns.sort() }).toEqual({ table: cfg.name, columns: cfg.columns.map((c) => c.name).sort() });
      const indexes = db.query<{ name: string }, []>(`PRAGMA index_list("${cfg.name}")`).all().map((i) => i.name);
      const wanted = [...cfg.indexes.map((i) => i.config.name), ...cfg.columns.filter((c) => c.isUnique).map((c) => c.uniqueName!)];
      expect({ table: cfg.name, indexes }).toEqual({ table: cfg.name, indexes: expect.arrayContaining(wanted) });
    }
    db.close();
  });
});

// Names are matched by their fold (users.name_fold, domain/fold.ts), which SQL cannot compute: the migration adds
// the column, and migrate() folds in JS every name without a fold, at the upgrade and at each start after.
describe("upgrading a database with users: their names are found in any case and script", () => {
  const found = (db: Database, q: string) => runSync(directory({ store: sqliteStore(db) } as unknown as Ctx, q, 10)).map((u) => u.account);
  const listed = (db: Database, q: string) => runSync(listUsers({ store: sqliteStore(db) } as unknown as Ctx, { q, page: 1, size: 10 })).users.map((u) => u.account);

  function olderDatabase(): Database {
    const db = new Database(":memory:");
    migrate(db, MIGRATIONS.slice(0, MIGRATIONS.findIndex((m) => m.tag.endsWith("_name_fold"))));
    for (const [account, name] of NAMES_BEFORE_FOLD) db.run("INSERT INTO users (account, name, password_hash, created_at) VALUES (?, ?, 'h', 1)", [account, name]);
    return db;
  }

  test.each(FOUND_AFTER_UPGRADE)("%p finds %p after the upgrade, in the directory and the admin's list", (q, accounts) => {
    const db = olderDatabase();
    expect(migrate(db).some((tag) => tag.endsWith("_name_fold"))).toBe(true);
    expect(found(db, q)).toEqual([...accounts]);
    expect(listed(db, q)).toEqual([...accounts]);
    db.close();
  });

  test("a name written since without its fold, or with another one (an older server after a rollback, an older foldName), is refolded at the next start", () => {
    const db = olderDatabase();
    migrate(db);
    db.run("INSERT INTO users (account, name, password_hash, created_at) VALUES ('p6', 'Łukasz', 'h', 1)");
    db.run("UPDATE users SET name = 'Émilie', name_fold = 'something else' WHERE account = 'p1'");
    expect([found(db, "łukasz"), found(db, "émilie")]).toEqual([[], []]);
    expect(migrate(db)).toEqual([]);
    expect([found(db, "ŁUKASZ"), found(db, "EMILIE")]).toEqual([["p6"], ["p1"]]);
    db.close();
  });
});

describe("openDatabase", () => {
  test("WAL, foreign keys and a busy timeout", () => {
    const { dir, cleanup } = tempDir();
    try {
      const db = openDatabase(join(dir, "p.db"), { sync: "full" });
      const pragma = (p: string) => Object.values(db.$client.query(`PRAGMA ${p}`).get() as object)[0];
      expect(pragma("journal_mode")).toBe("wal");
      expect(pragma("foreign_keys")).toBe(1);
      expect(pragma("busy_timeout")).toBe(5000);
      expect(pragma("synchronous")).toBe(2); // FULL
      closeDatabase(db);
      const normal = openDatabase(join(dir, "p.db"), { sync: "normal" });
      expect(Object.values(normal.$client.query("PRAGMA synchronous").get() as object)[0]).toBe(1);
      closeDatabase(normal);
    } finally {
      cleanup();
    }
  });
});
