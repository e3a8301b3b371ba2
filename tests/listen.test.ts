// One port, one server. Bun's listeners set SO_REUSEPORT by default in
// production mode, so a second `rim serve --port N` used to listen beside the
// first (each on its own database) and the kernel split the clients between
// them. Every listener now refuses a busy port: `rim serve` exits 1 with one
// line naming the port, and no stack trace.
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { createServer, type Server as NetServer } from "node:net";
import { join } from "node:path";
import { closeApp, createApp } from "../src/app";
import { startServer } from "../src/server";
class ListenError extends Error {}
import { CHEAP, spawnRim, type RimProcess } from "./cli.kit";
import { tempDir, testConfig } from "./helpers";

const tmp = tempDir("rim-listen-");
afterAll(() => tmp.cleanup());

const holders: { stop(): unknown }[] = [];
const children: RimProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) c.proc.kill("SIGKILL");
  for (const h of holders.splice(0)) await h.stop();
});

let dbs = 0;
function rim(args: string[]): RimProcess {
  const child = spawnRim(["serve", "--host", "127.0.0.1", "--db", join(tmp.dir, `rim${++dbs}.db`), ...CHEAP, ...args]);
  children.push(child);
  return child;
}

/** A listener that agrees to share its port (SO_REUSEPORT), as every rim did before. */
function holdSharing(): number {
  const s = Bun.serve({ hostname: "127.0.0.1", port: 0, reusePort: true, development: false, fetch: () => new Response("holder") });
  holders.push({ stop: () => s.stop(true) });
  return s.port!;
}

/** A plain listener of another program (node:net, no SO_REUSEPORT). */
async function holdPlain(): Promise<number> {
  const s: NetServer = createServer();
  await new Promise<void>((res) => s.listen(0, "127.0.0.1", res));
  holders.push({ stop: () => new Promise<void>((res) => s.close(() => res())) });
  return (s.address() as { port: number }).port;
}

/** Another `rim serve` on a port of its choosing; its port once it listens. */
async function holdRim(): Promise<number> {
  const first = rim(["--port", "0"]);
  const url = await first.listening;
  if (!url) throw new Error("the first server did not start:\n" + first.lines.join("\n"));
  return Number(new URL(url).port);
}

/** Runs `rim serve` with args and waits for it to either listen (the fault) or exit. */
async function refused(args: string[]): Promise<{ code: number; stderr: string[] }> {
  const second = rim(args);
  const url = await second.listening;
  if (url) {
    second.proc.kill("SIGKILL");
    throw new Error(`rim serve ${args.join(" ")} listened on ${url} although its port is taken`);
  }
  // The logger's start-up lines (a fresh database's migrations) are not the error under test: the rest must be one line.
  const logged = /^\d{4}-\d\d-\d\dT\S+ (DEBUG|INFO) /;
  return { code: await second.exited, stderr: second.lines.filter((l) => !logged.test(l)) };
}

describe("rim serve on a port another process holds", () => {
  test.each([
    ["another rim serve", "--port", holdRim, ""],
    ["a listener sharing the port (SO_REUSEPORT)", "--port", async () => holdSharing(), ""],
    ["a plain listener of another program", "--port", holdPlain, ""],
    ["the legacy port, held by a sharing listener", "--legacy-ws-port", async () => holdSharing(), " (--legacy-ws-port)"],
    ["the legacy port, held by a plain listener", "--legacy-ws-port", holdPlain, " (--legacy-ws-port)"],
  ] as const)("%s: exit 1 and one line naming the port", async (_label, flag, hold, suffix) => {
    const port = await hold();
    const args = flag === "--port" ? ["--port", String(port)] : ["--port", "0", "--legacy-ws-port", String(port)];
    const { code, stderr } = await refused(args);
    expect({ code, stderr }).toEqual({ code: 1, stderr: [`rim: port ${port} is already in use${suffix}`] });
  }, 20_000);

  test("the first server keeps the port and serves on", async () => {
    const first = rim(["--port", "0"]);
    const url = (await first.listening)!;
    expect(url).toBeString();
    const { code } = await refused(["--port", new URL(url).port]);
    expect(code).toBe(1);
    const res = await fetch(url + "/health");
    expect(res.status).toBe(200);
    expect(await first.stop()).toBe(0);
  }, 20_000);
});

describe("startServer", () => {
  test("a busy legacy port lets go of the main port it had already bound", () => {
    const probe = Bun.serve({ hostname: "127.0.0.1", port: 0, reusePort: false, fetch: () => new Response("") });
    const mainPort = probe.port!;
    probe.stop(true);
    const legacyPort = holdSharing();
    const app = createApp(testConfig({ port: mainPort, legacyWsPort: legacyPort }));
    try {
      expect(() => startServer(app)).toThrow(new ListenError(`port ${legacyPort} is already in use (--legacy-ws-port)`));
      // The main port is free again: this process can bind it alone.
      const again = Bun.serve({ hostname: "127.0.0.1", port: mainPort, reusePort: false, fetch: () => new Response("") });
      expect(again.port).toBe(mainPort);
      again.stop(true);
    } finally {
      closeApp(app);
    }
  });
});
