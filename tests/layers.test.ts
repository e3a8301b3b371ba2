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
