// The layers the code follows: transports describe effects and the write path
// carries them out, so the REST transport never reaches into the socket one
// (nor the domain into either), and only src/db/ speaks to SQLite directly
// through bun:sqlite.
import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const SRC = join(import.meta.dir, "../src");
const files = (dir: string): string[] =>
  readdirSync(join(SRC, dir), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith(".ts") || e.name.endsWith(".tsx") ? [join(dir, e.name)] : []));
const imports = (file: string) => [...readFileSync(join(SRC, file), "utf8").matchAll(/^import (type )?[^;]*? from "([^"]+)"/gm)].map((m) => ({ type: !!m[1], from: m[2]! }));

test.each([
  ["http", "../ws/"],
  ["domain", "../http/"],
  ["domain", "../ws/server"],
  ["write", "../http/"],
] as const)("nothing in src/%s imports %s", (dir, forbidden) => {
  const offenders = files(dir).flatMap((f) => imports(f).filter((i) => i.from.startsWith(forbidden)).map((i) => `${f}: ${i.from}`));
  expect(offenders).toEqual([]);
});

test("bun:sqlite is imported only under src/db/, the write path and the startup that owns the connection", () => {
  const allowed = /^(db\/|write\/writer\.ts|db\.ts)/;
  const offenders = files(".").filter((f) => !allowed.test(f.replace(/^\.\//, ""))).flatMap((f) => imports(f).filter((i) => i.from === "bun:sqlite" && !i.type).map(() => f));
  expect(offenders).toEqual([]);
});

test.each([
  ["Bun's SQL client (PostgreSQL)", "SQL", /^db\/pg\//],
  ["Bun's Redis client", "RedisClient", /^bus\//],
] as const)("%s is used only under its own folder", (_label, name, allowed) => {
  const offenders = files(".").filter((f) => !allowed.test(f.replace(/^\.\//, ""))).filter((f) => new RegExp(`import \\{[^}]*\\b${name}\\b[^}]*\\} from "bun"`).test(readFileSync(join(SRC, f), "utf8")));
  expect(offenders).toEqual([]);
});

// A flow (a domain function over the storage seam, domain/store.ts) does nothing until it is run:
// every call of one must be consumed (yield*, runSync, ctx.read, returned, or handed to ctx.write).
test("every call of a domain flow in src/ is run", () => {
  const flows = new Set(files("domain").flatMap((f) => [...readFileSync(join(SRC, f), "utf8").matchAll(/^export function\* (\w+)/gm)].map((m) => m[1]!)));
  // What comes before the call, up to it and without the spaces or line breaks in between.
  const consumed = /(yield\*|runSync\(|\.read\(|=>|=> \(|\breturn|\bfunction\*?|\?|:|\.|\*)$/;
  // The stores name their operations like the flows over them; the web client is another program.
  const skip = /^(db\/|web\/|domain\/store\.ts)/;
  const offenders = files(".").filter((f) => !skip.test(f.replace(/^\.\//, ""))).flatMap((f) => {
    const text = readFileSync(join(SRC, f), "utf8");
    return [...text.matchAll(/\b(\w+)\(/g)]
      .filter((m) => flows.has(m[1]!) && !consumed.test(text.slice(Math.max(0, m.index! - 40), m.index!).trimEnd()))
      .map((m) => text.slice(text.lastIndexOf("\n", m.index!) + 1, text.indexOf("\n", m.index!)).trim())
      // A method of the same name being defined (hub.leaveGroup) is no call.
      .filter((line) => !/^\w+\([^)]*\)\s*(:[^{]*)?\{$/.test(line))
      .map((line) => `${f}: ${line}`);
  });
  expect(offenders).toEqual([]);
});

// The storage seam (docs/storage.md): the domain speaks to storage through ctx.store only. A file
// listed here would be one not converted yet (none is left); the list only ever shrinks.
const NOT_CONVERTED = new Set<string>([]);

test("the domain reaches storage only through the store: no bun:sqlite, no drizzle query, no ctx.db, but in files not converted yet", () => {
  const offenders = files("domain")
    .filter((f) => !NOT_CONVERTED.has(f.replace(/^\.\//, "")))
    .flatMap((f) => {
      const text = readFileSync(join(SRC, f), "utf8");
      const found = [
        /from "bun:sqlite"/.test(text) && "bun:sqlite",
        /\$client/.test(text) && "$client",
        /\b(ctx|w|app)\.db\b/.test(text) && ".db",
        imports(f).some((i) => i.from === "drizzle-orm" && !i.type) && "drizzle-orm",
      ].filter(Boolean);
      return found.map((what) => `${f}: ${what}`);
    });
  expect(offenders).toEqual([]);
});

test("the converted domain files are the ones listed: a file converted leaves NOT_CONVERTED", () => {
  const stillDirect = files("domain").filter((f) => /\$client|\b(ctx|w)\.db\b/.test(readFileSync(join(SRC, f), "utf8"))).map((f) => f.replace(/^\.\//, ""));
  expect(stillDirect.sort()).toEqual([...NOT_CONVERTED].sort());
});

test.each(["http", "ws", "write/apply.ts", "write/effects.ts"])("nothing in src/%s speaks SQL: storage is the store's", (dir) => {
  const list = dir.endsWith(".ts") ? [dir] : files(dir);
  const offenders = list.filter((f) => /\$client|\b(app|ctx|w)\.db\b/.test(readFileSync(join(SRC, f), "utf8")));
  expect(offenders).toEqual([]);
});
