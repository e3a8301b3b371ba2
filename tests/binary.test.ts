// The compiled executable: built once, started from an empty folder with
// nothing beside it, on a temp database, and spoken to over HTTP and WebSocket.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { copyFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { MIGRATIONS as PG_MIGRATIONS } from "../src/db/pg/migrations.gen";
import { Client, tempDir } from "./helpers";
import { freshDatabase, servicesMissing } from "./services";

const root = join(import.meta.dir, "..");
const tmp = tempDir("rim-bin-");
const exe = join(tmp.dir, "rim");

beforeAll(() => {
  const build = Bun.spawnSync(["bun", "build", "src/main.ts", "--compile", "--minify", "--outfile", join(tmp.dir, "build", "rim")], { cwd: root });
  if (build.exitCode !== 0) throw new Error("build failed: " + build.stderr.toString());
  // Copied alone into an empty folder: it must carry its migrations.
  copyFileSync(join(tmp.dir, "build", "rim"), exe);
}, 120_000);
afterAll(() => tmp.cleanup());

const run = (args: string[]) => Bun.spawnSync([exe, ...args], { cwd: tmp.dir, env: { PATH: "/usr/bin:/bin" } });

test("--version and --help", () => {
  const v = run(["--version"]);
  expect(v.exitCode).toBe(0);
  expect(v.stdout.toString().trim()).toMatch(/^\d+\.\d+\.\d+$/);
  const h = run(["--help"]);
  expect(h.exitCode).toBe(0);
  expect(h.stdout.toString()).toContain("--legacy-ws-port");
  const bad = run(["serve", "--no-such-flag", "1"]);
  expect(bad.exitCode).toBe(2);
  expect(bad.stderr.toString()).toContain("unknown flag --no-such-flag");
});

test("migrate applies once, then has nothing to do", () => {
  const db = join(tmp.dir, "m", "rim.db");
  expect(run(["migrate", "--db", db]).stdout.toString()).toContain("applied 0000_init");
  expect(run(["migrate", "--db", db]).stdout.toString()).toContain("up to date");
});

// Without PostgreSQL installed (npm test as a user who cannot install it) this one is left out; CI has it.
test.skipIf(servicesMissing.includes("postgresql") && !process.env.CI)("migrates a PostgreSQL database from the migrations it carries, once", async () => {
  const pg = await freshDatabase();
  try {
    const first = run(["migrate", "--db", pg.url]);
    expect({ code: first.exitCode, out: first.stdout.toString() }).toEqual({ code: 0, out: `applied ${PG_MIGRATIONS.map((m) => m.tag).join(", ")}\n` });
    expect(run(["migrate", "--db", pg.url]).stdout.toString()).toBe("database is up to date\n");
  } finally {
    await pg.drop();
  }
});

test("serves REST and WebSocket from an empty folder on a fresh database", async () => {
  const dbFile = join(tmp.dir, "data", "chat.db");
  const started = performance.now();
  const proc = Bun.spawn([exe, "serve", "--host", "127.0.0.1", "--port", "0", "--db", dbFile, "--argon2-memory", "256", "--argon2-time", "1"], {
    cwd: tmp.dir,
    stderr: "pipe",
  });
  try {
    const url = await listeningUrl(proc.stderr);
    let health: Response | null = null;
    while (!health?.ok) health = await fetch(url + "/health").catch(() => null);
    const firstHealthMs = performance.now() - started;
    console.log(`compiled binary: first /health 200 after ${firstHealthMs.toFixed(0)} ms`);
    expect(existsSync(dbFile)).toBe(true);

    // The web client is embedded, and served with its headers.
    const page = await fetch(url + "/app/");
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
    const js = (await page.text()).match(/src="(\/[^"]+\.js)"/)![1]!;
    const bundle = await fetch(url + js);
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get("x-content-type-options")).toBe("nosniff");

    const post = (path: string, body: unknown, token?: string) =>
      fetch(url + path, { method: "POST", headers: { "Content-Type": "application/json", ...(token ? { Authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) }).then((r) => r.json() as Promise<any>);
    const uidA = (await post("/api/user/create", { account: "ann", password: "secret12", name: "Ann" })).data;
    const uidB = (await post("/api/user/create", { account: "bob", password: "secret12", name: "Bob" })).data;
    const tokenA = (await post("/api/user/login", { account: "ann", password: "secret12" })).data;
    const gid = (await post("/api/group/create", { group: { name: "", avatar: "", mode: 1 }, users: [{ uid: uidB, role: 1 }] }, tokenA)).data;
    expect(gid).toBe(1);

    const ws = await Client.open(url.replace("http", "ws") + "/ws");
    expect((await ws.request("Login", { content: tokenA, uid: uidA })).content).toBe("Ok");
    const ack = await ws.request("Msg", { gid, uid: uidA, content: "from the binary" });
    expect(ack).toMatchObject({ content: "Ok", serverMsgId: expect.any(Number), seq: 1 });
    ws.close();

    const list = await post("/api/message/chat/list", { page: 1, size: 10 }, tokenA);
    expect(list.data[0].msg.content).toBe("from the binary");
    expect(list.data[0].user.account).toBe("bob");
  } finally {
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
  }
});

/** Reads stderr until the listening line, then keeps draining it so the server never writes to a closed pipe. */
async function listeningUrl(stream: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let seen = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error("server exited before listening: " + seen);
    seen += decoder.decode(value);
    const m = seen.match(/server\.listening url="([^"]+)"/);
    if (m) {
      void (async () => { while (!(await reader.read()).done); })();
      return m[1]!;
    }
  }
}
