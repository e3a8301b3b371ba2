// Installing as any user: on a machine with only Node.js and npm, a normal
// user's `npm start`, `npm test` and `npm run build` bring Bun in from npm as a
// package of the project (scripts/ensure-bun.sh), never with `npm install -g`.
//
// The run: a copy of this checkout in a temp folder owned by an unprivileged
// user (when the suite runs as root: `nobody`, through setpriv), a PATH with
// node and npm and the basic tools but no bun, and HOME inside the temp folder.
//
// Kept fast on purpose, and why:
// - npm reads a copy of this machine's npm cache (npm_config_cache, offline
//   preferred): Bun's package (about 40 MB packed) is unpacked from there
//   instead of downloaded again. Without it in the cache, npm fetches it from
//   the registry, which is allowed, only slower.
// - node_modules is copied from this checkout, less its bun/bunx links, so
//   that no Bun is at hand and ensure-bun.sh must install one from npm; the
//   `bun install --frozen-lockfile` that follows then finds the other packages
//   in place instead of downloading 130 MB of them into an empty cache.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

const root = join(import.meta.dir, "..");
const pinned = (await Bun.file(join(root, "package.json")).json()).devDependencies.bun as string;
const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;
// What a plain machine's PATH offers besides node and npm (bun is left out on purpose).
const TOOLS = ["node", "npm", "npx", "bash", "sh", "env", "cat", "cp", "mv", "rm", "ln", "ls", "mkdir", "mktemp", "chmod", "dirname", "basename",
  "readlink", "realpath", "sort", "head", "tail", "grep", "sed", "tee", "tr", "wc", "cut", "uname", "id", "true", "false", "which"];

let work = "";
let checkout = "";
let env: Record<string, string> = {};

function sh(cmd: string[], cwd = root) {
  const p = Bun.spawnSync(cmd, { cwd, stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed: ${p.stderr.toString()}`);
  return p.stdout.toString();
}

/** Runs cmd in the copy as the unprivileged user, with only the test's environment. */
function asUser(cmd: string[], extraPath: string[] = []) {
  const prefix = isRoot ? ["/usr/bin/setpriv", `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", "--"] : [];
  const p = Bun.spawnSync([...prefix, ...cmd], {
    cwd: checkout,
    env: { ...env, PATH: [...extraPath, join(work, "bin")].join(":") },
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "rim-install-"));
  checkout = join(work, "rim");
  // The work tree as git sees it (tracked and new files), without what .gitignore leaves out.
  const files = sh(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"]).split("\0").filter(Boolean);
  for (const f of files) {
    if (!existsSync(join(root, f))) continue; // deleted in the work tree
    mkdirSync(dirname(join(checkout, f)), { recursive: true });
    copyFileSync(join(root, f), join(checkout, f));
  }
  sh(["cp", "-a", join(root, "node_modules"), join(checkout, "node_modules")]);
  for (const bin of ["bun", "bunx"]) rmSync(join(checkout, "node_modules", ".bin", bin), { force: true });

  const npmCache = sh(["npm", "config", "get", "cache"]).trim();
  mkdirSync(join(work, "npm-cache"));
  if (existsSync(join(npmCache, "_cacache"))) sh(["cp", "-a", join(npmCache, "_cacache"), join(work, "npm-cache", "_cacache")]);

  mkdirSync(join(work, "bin"));
  for (const tool of TOOLS) {
    const found = Bun.which(tool);
    if (found && !found.includes("bun")) symlinkSync(found, join(work, "bin", tool));
  }
  mkdirSync(join(work, "home"));
  // Two stand-ins a user might have on PATH that must not be taken for a usable Bun.
  for (const [name, body] of [["old", "echo 1.0.0"], ["broken", "exit 1"]] as const) {
    mkdirSync(join(work, name));
    writeFileSync(join(work, name, "bun"), `#!/bin/sh\n${body}\n`);
    chmodSync(join(work, name, "bun"), 0o755);
  }
  env = {
    HOME: join(work, "home"),
    LANG: "C.UTF-8",
    npm_config_cache: join(work, "npm-cache"),
    npm_config_prefer_offline: "true",
    npm_config_update_notifier: "false",
    npm_config_fund: "false",
    npm_config_audit: "false",
  };
  if (isRoot) sh(["chown", "-R", `${NOBODY}:${NOBODY}`, work]);
}, 120_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("as an unprivileged user with only node and npm on PATH", () => {
  test("the copy really has no Bun at hand, and the user cannot write where `npm install -g` would", () => {
    expect(asUser(["sh", "-c", "command -v bun || echo none"]).out.trim()).toBe("none");
    expect(existsSync(join(checkout, "node_modules", ".bin", "bun"))).toBe(false);
    expect(existsSync(join(checkout, ".tools"))).toBe(false);
    const prefix = asUser(["npm", "prefix", "-g"]).out.trim();
    if (isRoot) expect(asUser(["sh", "-c", `test -w '${prefix}/lib' && echo writable || echo read-only`]).out.trim()).toBe("read-only");
  });

  test("npm start installs the pinned Bun from npm into .tools/ of the project, then runs rim", () => {
    const r = asUser(["npm", "start", "--", "--version"]);
    expect(r.err).toContain(`installing Bun ${pinned} from npm into .tools/`);
    expect(r.err).not.toContain("EACCES");
    expect({ code: r.code, version: r.out.trim().split("\n").at(-1) }).toEqual({ code: 0, version: "0.1.0" });
    expect(asUser([join(checkout, ".tools/node_modules/.bin/bun"), "--version"]).out.trim()).toBe(pinned);
  }, 120_000);

  test.each([
    ["no bun on PATH", []],
    ["a bun older than the pinned one on PATH", ["old"]],
    ["a bun on PATH that does not run", ["broken"]],
  ])("then, with %s, the scripts use the project's Bun without installing again", (_label, extra) => {
    const r = asUser(["bash", "-c", "source scripts/ensure-bun.sh && command -v bun && bun --version"], extra.map((d) => join(work, d)));
    expect(r.code).toBe(0);
    expect(r.err).not.toContain("installing Bun");
    const [path, version] = r.out.trim().split("\n").slice(-2);
    expect(path!.startsWith(checkout + "/")).toBe(true);
    expect(version).toBe(pinned);
  }, 60_000);

  test("npm run build compiles dist/rim, which runs", () => {
    const r = asUser(["npm", "run", "build"]);
    expect(r.code).toBe(0);
    expect(asUser([join(checkout, "dist/rim"), "--version"]).out.trim()).toBe("0.1.0");
  }, 120_000);

  test("npm test runs the tests with that Bun and ends with the count", () => {
    const r = asUser(["npm", "test", "--", "tests/readme.test.ts"]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^[1-9]\d* passed, 0 failed$/m);
  }, 120_000);
});
