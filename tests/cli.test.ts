// The rim command line as people expect it, spawned for real: a database that
// is not there is refused (never created empty), restore makes its folder,
// `rim user` alone lists its commands, --help shows what each flag accepts,
// and a bad value names the flag and what it must be.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { envName, flagName, kindOf, OPTIONS } from "../src/config";
import { tempDir } from "./helpers";

const root = join(import.meta.dir, "..");
const main = join(root, "src/main.ts");
const tmp = tempDir("rim-cli2-");
afterAll(() => tmp.cleanup());

const cheap = ["--argon2-memory", "256", "--argon2-time", "1"];
function rim(args: string[], opts: { env?: Record<string, string>; cwd?: string } = {}) {
  // A clean environment: no RIM_* of the caller leaks in.
  const p = Bun.spawnSync(["bun", main, ...args], { cwd: opts.cwd ?? tmp.dir, env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? "/", ...opts.env } });
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
}

describe("a command that reads a database refuses a missing one, and creates nothing", () => {
  test.each([
    ["stats", ["stats"]],
    ["user create", ["user", "create", "--account", "ann", "--password", "secret12"]],
    ["user reset-password", ["user", "reset-password", "--account", "ann", "--password", "secret12"]],
    ["user disable", ["user", "disable", "--account", "ann"]],
    ["user enable", ["user", "enable", "--account", "ann"]],
    ["invite", ["invite"]],
    ["backup", ["backup", "copy.db"]],
  ])("%s", (_label, args) => {
    const cwd = join(tmp.dir, "empty-" + args.join("-"));
    Bun.spawnSync(["mkdir", "-p", cwd]);
    for (const db of ["typo.db", "nowhere/typo.db"]) {
      const r = rim([...args, "--db", db, ...cheap], { cwd });
      expect({ code: r.code, err: r.err, out: r.out }).toEqual({ code: 1, err: `rim: no database at ${db}\n`, out: "" });
    }
    const r = rim(args, { cwd, env: { RIM_DB: "env-typo.db" } });
    expect(r.err).toBe("rim: no database at env-typo.db\n");
    expect(readdirSync(cwd)).toEqual([]);
  });

  test("after migrate creates it, the same commands work", () => {
    const db = join(tmp.dir, "real", "rim.db");
    expect(rim(["migrate", "--db", db]).out).toContain("applied");
    expect(rim(["user", "create", "--account", "ann", "--password", "secret12", "--db", db, ...cheap])).toMatchObject({ code: 0 });
    expect(JSON.parse(rim(["stats", "--db", db]).out)).toMatchObject({ users: 1 });
    expect(rim(["invite", "--db", db]).out.trim()).toMatch(/^[\w-]{16}$/);
    expect(rim(["backup", join(tmp.dir, "real", "copy.db"), "--db", db]).code).toBe(0);
  });
});

test("restore creates the folder of the target database", () => {
  const db = join(tmp.dir, "src", "rim.db");
  const backup = join(tmp.dir, "src", "backup.db");
  rim(["migrate", "--db", db]);
  rim(["user", "create", "--account", "kept", "--password", "secret12", "--db", db, ...cheap]);
  expect(rim(["backup", backup, "--db", db]).code).toBe(0);
  const target = join(tmp.dir, "new", "deeper", "rim.db");
  expect(existsSync(join(tmp.dir, "new"))).toBe(false);
  const r = rim(["restore", backup, "--db", target]);
  expect(r).toMatchObject({ code: 0, err: "" });
  expect(JSON.parse(rim(["stats", "--db", target]).out)).toMatchObject({ users: 1 });
  // A missing backup is still refused, and makes no folder.
  const missing = rim(["restore", join(tmp.dir, "no-such-backup.db"), "--db", join(tmp.dir, "other", "rim.db")]);
  expect(missing.code).toBe(1);
  expect(missing.err).toContain("no backup at");
  expect(existsSync(join(tmp.dir, "other"))).toBe(false);
});

describe("rim user", () => {
  const COMMANDS = ["create", "reset-password", "disable", "enable"];
  test("alone, lists its commands (and needs no database)", () => {
    const r = rim(["user", "--db", "typo.db"]);
    expect(r.code).toBe(0);
    for (const c of COMMANDS) expect(r.out).toContain(`  ${c} --account A`);
    expect(existsSync(join(tmp.dir, "typo.db"))).toBe(false);
  });

  test("an unknown command is refused with the list", () => {
    const r = rim(["user", "frobnicate"]);
    expect(r.code).toBe(2);
    expect(r.err.split("\n")[0]).toBe("rim: unknown user command frobnicate");
    for (const c of COMMANDS) expect(r.err).toContain(`  ${c} --account A`);
  });
});

describe("--help", () => {
  const help = rim(["--help"]);
  const line = (key: string) => help.out.split("\n").find((l) => l.trimStart().startsWith(flagName(key) + " ")) ?? "";

  test("exits 0 with one line per flag, naming its variable", () => {
    expect(help.code).toBe(0);
    for (const key of Object.keys(OPTIONS)) expect(line(key)).toContain(envName(key));
  });

  test.each(Object.keys(OPTIONS).filter((k) => kindOf(k as keyof typeof OPTIONS).kind === "enum"))("lists the allowed values of %s", (key) => {
    const k = kindOf(key as keyof typeof OPTIONS);
    if (k.kind !== "enum") throw new Error("not an enum");
    expect(line(key)).toContain(`${flagName(key)} <${k.values.join("|")}>`);
  });

  test.each([
    ["sync", "--sync <full|normal>"],
    ["registration", "--registration <open|invite|closed>"],
    ["logLevel", "--log-level <debug|info|warn|error|silent>"],
    ["port", "--port <0-65535>"],
    ["bodyLimit", "--body-limit <1024-…>"],
  ])("%s reads %s", (key, shown) => expect(line(key)).toContain(shown));
});

describe("a bad value names the flag and the kind of value expected", () => {
  test.each<[string[], Record<string, string>, string]>([
    [["--port", "abc"], {}, "rim: --port must be an integer from 0 to 65535"],
    [["serve", "--port=70000"], {}, "rim: --port must be an integer from 0 to 65535"],
    [["stats"], { RIM_PORT: "abc" }, "rim: RIM_PORT must be an integer from 0 to 65535"],
    [["--sync", "sometimes"], {}, "rim: --sync must be one of full, normal"],
    [["--registration", "maybe"], {}, "rim: --registration must be one of open, invite, closed"],
    [["--body-limit", "10"], {}, "rim: --body-limit must be an integer of at least 1024"],
    [["--db="], {}, "rim: --db must be a SQLite file or a postgres://USER@HOST:PORT/DB URL"],
    [["--nope"], {}, "rim: unknown flag --nope"],
  ])("%p %p", (args, env, first) => {
    const r = rim(args, { env });
    expect(r.code).toBe(2);
    expect(r.err).toBe(`${first}\nTry 'rim --help'.\n`);
    expect(r.err).not.toContain("Invalid input");
  });
});
