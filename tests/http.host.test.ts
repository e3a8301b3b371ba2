// A Host header that makes no URL (`Host: a b`, an HTTP/1.0 request without
// one) used to throw in the fetch handler: a bare 500 "Something went wrong!"
// and Bun's stack dump on stderr, around the logger. Now: a 400 envelope on
// both ports, and every line on stderr is one of the logger's.
//
// Against a real `rim serve` (JSON logs, debug level) so that whatever the
// process writes to stderr is seen.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { CHEAP, spawnRim, type RimProcess } from "./cli.kit";
import { freePort } from "./ws.kit";
import { rawRequest } from "./raw-http.kit";
import { makeApp, tempDir } from "./helpers";
import { createLogger } from "../src/log";
import { unexpected } from "../src/server";

const tmp = tempDir("rim-host-");
let server: RimProcess;
let port: number;
let legacyPort: number;

beforeAll(async () => {
  legacyPort = freePort();
  server = spawnRim(["serve", "--host", "127.0.0.1", "--port", "0", "--legacy-ws-port", String(legacyPort), "--db", join(tmp.dir, "rim.db"), "--log-format", "json", "--log-level", "debug", ...CHEAP]);
  const url = await server.listening;
  if (!url) throw new Error("server did not start:\n" + server.lines.join("\n"));
  port = Number(new URL(url).port);
});
afterAll(async () => {
  server.proc.kill("SIGKILL");
  await server.exited;
  tmp.cleanup();
});

const BAD_HOST = { ok: false, code: 400, msg: "Host: missing or not a valid host", data: null };
const WS_UPGRADE = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";

type Case = [name: string, listener: "main" | "legacy", status: number, body: unknown, request: string];

const CASES: Case[] = [
  // happy: a valid Host, in HTTP/1.1 and HTTP/1.0
  ["HTTP/1.1 with a Host", "main", 401, { ok: false, code: 401, msg: "login required", data: null }, "GET /api/user/get?uid=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"],
  ["HTTP/1.0 with a Host", "main", 401, { ok: false, code: 401, msg: "login required", data: null }, "GET /api/user/get?uid=1 HTTP/1.0\r\nHost: chat.example.com\r\n\r\n"],
  // error: a Host that makes no URL, or none at all
  ["Host: a b", "main", 400, BAD_HOST, "GET /health HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n"],
  ["Host: a b on /api", "main", 400, BAD_HOST, "POST /api/user/login HTTP/1.1\r\nHost: a b\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"],
  ["HTTP/1.0 without Host", "main", 400, BAD_HOST, "GET /health HTTP/1.0\r\n\r\n"],
  ["HTTP/1.0 without Host on /api", "main", 400, BAD_HOST, "GET /api/user/get?uid=1 HTTP/1.0\r\n\r\n"],
  ["an empty Host", "main", 400, BAD_HOST, "GET /health HTTP/1.1\r\nHost: \r\nConnection: close\r\n\r\n"],
  // hostile: hosts that are almost URLs
  ["Host: [::1 (unclosed bracket)", "main", 400, BAD_HOST, "GET /health HTTP/1.1\r\nHost: [::1\r\nConnection: close\r\n\r\n"],
  ["Host: a:99999 (port out of range)", "main", 400, BAD_HOST, "GET /health HTTP/1.1\r\nHost: a:99999\r\nConnection: close\r\n\r\n"],
  ["Host: %zz", "main", 400, BAD_HOST, "GET /health HTTP/1.1\r\nHost: %zz\r\nConnection: close\r\n\r\n"],
  ["an absolute-form target with a bad Host", "main", 400, BAD_HOST, "GET http://x/health HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n"],
  ["a WebSocket upgrade with a bad Host", "main", 400, BAD_HOST, `GET /ws HTTP/1.1\r\nHost: a b\r\n${WS_UPGRADE}\r\n`],
  ["the legacy port, Host: a b", "legacy", 400, BAD_HOST, "GET / HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n"],
  ["the legacy port, HTTP/1.0 without Host", "legacy", 400, BAD_HOST, "GET / HTTP/1.0\r\n\r\n"],
  ["the legacy port, an upgrade with a bad Host", "legacy", 400, BAD_HOST, `GET /any HTTP/1.1\r\nHost: a b\r\n${WS_UPGRADE}\r\n`],
];

describe("the Host header", () => {
  test.each(CASES)("%s (%s port) → %d", async (_name, listener, status, body, request) => {
    const reply = await rawRequest(listener === "main" ? port : legacyPort, request);
    expect(reply.status).toBe(status);
    expect(reply.headers["content-type"]).toStartWith("application/json");
    expect(JSON.parse(reply.body)).toEqual(body);
  });

  afterAll(() => {
    if (server.proc.exitCode !== null) console.error(server.lines.join("\n"));
  });

  // Runs after the table: everything those requests made the server write to stderr.
  test("nothing on stderr but the logger's lines: no stack trace, no 500", async () => {
    // A last request that is logged: once its line is on stderr, so is everything the table's requests made the server write.
    const marker = await rawRequest(port, "GET /api/marker-after-the-table HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    expect(marker.status).toBe(401);
    await server.line((l) => l.includes("/api/marker-after-the-table"));
    const notLogger = server.lines.filter((l) => {
      try {
        const j = JSON.parse(l);
        return typeof j.event !== "string" || typeof j.level !== "string";
      } catch {
        return true;
      }
    });
    expect(notLogger).toEqual([]);
    expect(server.lines.filter((l) => /"level":"error"|"status":5\d\d/.test(l))).toEqual([]);
    // Each refusal is logged (at debug), through the logger.
    expect(server.lines.filter((l) => l.includes('"event":"http.bad_host"')).length).toBe(CASES.filter((c) => c[2] === 400).length);
  });
});

describe("an error thrown by a fetch handler (Bun.serve's error hook)", () => {
  test("is logged through the logger with its stack and answered with the 500 envelope", async () => {
    const lines: string[] = [];
    const app = await makeApp();
    app.log = createLogger({ level: "info", format: "json", write: (l) => lines.push(l) });
    try {
      const res = unexpected(app, "main")(new Error("boom"));
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({ ok: false, code: 500, msg: "internal error", data: null });
      expect(lines.map((l) => JSON.parse(l))).toEqual([expect.objectContaining({ level: "error", event: "http.unhandled", listener: "main", error: expect.stringContaining("Error: boom") })]);
      expect(app.metrics.render({})).toContain('rim_errors_total{transport="http",code="500"} 1');
    } finally {
      app.close();
    }
  });
});
