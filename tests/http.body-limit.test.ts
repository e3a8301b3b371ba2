// --body-limit at any size: every reply is rim's envelope, and memory stays
// bounded. Before, Bun's maxRequestBodySize (the limit + 64 KiB) answered
// bigger bodies itself with a bare 413; now a Content-Length above the limit
// is refused before a byte is read, a chunked body is cut off at the limit,
// and the reply closes the connection so the rest is never read.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { CHEAP, peakRss, spawnRim, type RimProcess } from "./cli.kit";
import { serve, tempDir } from "./helpers";
import { rawExchange, rawRequest, parseReply, streamBody } from "./raw-http.kit";

const LIMIT = 2048;
const MB = 1024 * 1024;

const tooLarge = (limit: number) => ({ ok: false, code: 413, msg: `body: larger than ${limit} bytes`, data: null });

/** A JSON body of exactly n bytes: `{}` and spaces (valid JSON, so the route itself answers). */
const jsonOf = (n: number) => "{}" + " ".repeat(n - 2);
const chunked = (body: string) => `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
const post = (path: string, headers: string) => `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n${headers}`;
const withLength = (path: string, body: string) => post(path, `Content-Length: ${body.length}\r\n\r\n`) + body;
const withChunks = (path: string, body: string) => post(path, "Transfer-Encoding: chunked\r\n\r\n") + chunked(body);

describe("the body limit, over a real socket (--body-limit 2048)", () => {
  let s: Awaited<ReturnType<typeof serve>>;
  let port: number;
  beforeAll(async () => {
    s = await serve({ bodyLimit: LIMIT });
    port = s.running.server.port!;
  });
  afterAll(() => s.stop());

  // The route's own answer to `{}`: it got the body.
  const reached = { ok: false, code: 400, msg: expect.stringContaining("account"), data: null };

  type Case = [name: string, status: number, body: unknown, closes: boolean, request: string];
  const CASES: Case[] = [
    // happy: up to the limit, the route reads the body
    ["a small body, Content-Length", 400, reached, false, withLength("/api/user/login", "{}")],
    ["a small body, chunked", 400, reached, false, withChunks("/api/user/login", "{}")],
    ["exactly the limit, Content-Length", 400, reached, false, withLength("/api/user/login", jsonOf(LIMIT))],
    ["exactly the limit, chunked", 400, reached, false, withChunks("/api/user/login", jsonOf(LIMIT))],
    // error: one byte over, and far over
    ["one byte over, Content-Length", 413, tooLarge(LIMIT), true, withLength("/api/user/login", jsonOf(LIMIT + 1))],
    ["one byte over, chunked", 413, tooLarge(LIMIT), true, withChunks("/api/user/login", jsonOf(LIMIT + 1))],
    ["over the limit before any token check", 413, tooLarge(LIMIT), true, withLength("/api/group/create", jsonOf(LIMIT + 1))],
    // Only the head is sent: a reply proves the body was refused before it was read.
    ["Content-Length: 100 MB, no body sent", 413, tooLarge(LIMIT), true, post("/api/user/login", `Content-Length: ${100 * MB}\r\n\r\n`)],
    ["Content-Length: 100 MB on a route that takes no body", 413, tooLarge(LIMIT), true, post("/health", `Content-Length: ${100 * MB}\r\n\r\n`)],
    ["Content-Length: 2^53 - 1", 413, tooLarge(LIMIT), true, post("/api/user/login", `Content-Length: ${Number.MAX_SAFE_INTEGER}\r\n\r\n`)],
    ["a chunk header of 100 MB, no data sent", 413, tooLarge(LIMIT), true, post("/api/user/login", "Transfer-Encoding: chunked\r\n\r\n") + (100 * MB).toString(16) + "\r\n" + "x".repeat(LIMIT + 1)],
  ];

  test.each(CASES)("%s → %d", async (_name, status, body, closes, request) => {
    const reply = await rawRequest(port, request);
    expect(reply.status).toBe(status);
    expect(JSON.parse(reply.body)).toEqual(body);
    // A refused body's unread rest must not be read as the next request: the connection ends with the reply.
    expect(reply.headers.connection === "close").toBe(closes);
  });

  // Framing no HTTP parser may guess at is refused by Bun's own parser before rim sees the request:
  // a bare 400 and a closed connection (no envelope can be had there), and the server carries on.
  test.each([
    ["a Content-Length that is not a number", post("/api/user/login", "Content-Length: abc\r\n\r\n{}")],
    ["a negative Content-Length", post("/api/user/login", "Content-Length: -1\r\n\r\n{}")],
    ["two different Content-Lengths", post("/api/user/login", "Content-Length: 2\r\nContent-Length: 5000\r\n\r\n{}")],
    ["Content-Length with Transfer-Encoding", post("/api/user/login", "Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n") + chunked("{}")],
    ["an unknown Transfer-Encoding", post("/api/user/login", "Transfer-Encoding: gzip\r\n\r\n{}")],
  ])("hostile framing: %s → 400 from the parser, server unharmed", async (_name, request) => {
    const raw = await rawExchange(port, request);
    expect(parseReply(raw).status).toBe(400);
    expect(parseReply(raw).headers.connection).toBe("close");
    expect((await rawRequest(port, withLength("/api/user/login", "{}"))).status).toBe(400);
  });
});

describe("100 MB bodies against a real rim serve (--body-limit 1 MiB)", () => {
  const tmp = tempDir("rim-body-");
  let server: RimProcess;
  let port: number;
  beforeAll(async () => {
    server = spawnRim(["serve", "--host", "127.0.0.1", "--port", "0", "--db", join(tmp.dir, "rim.db"), ...CHEAP]);
    const url = await server.listening;
    if (!url) throw new Error("server did not start:\n" + server.lines.join("\n"));
    port = Number(new URL(url).port);
    // Warm up: a body just under the limit, so that the baseline includes what one accepted body costs.
    expect((await rawRequest(port, withChunks("/api/user/login", jsonOf(MB)))).status).toBe(400);
    expect((await rawRequest(port, withLength("/api/user/login", jsonOf(MB)))).status).toBe(400);
  });
  afterAll(async () => {
    server.proc.kill("SIGKILL");
    await server.exited;
    tmp.cleanup();
  });

  test.each([
    ["chunked", true],
    ["with its Content-Length", false],
  ] as const)("streamed %s: the 413 envelope, most of it never sent, peak memory far below 100 MB", async (_name, isChunked) => {
    const before = await peakRss(server.proc.pid);
    const total = 100 * MB;
    const head = post("/api/user/create", isChunked ? "Transfer-Encoding: chunked\r\n\r\n" : `Content-Length: ${total}\r\n\r\n`);
    const { reply, sent } = await streamBody(port, head, total, isChunked);
    expect(reply.status).toBe(413);
    expect(JSON.parse(reply.body)).toEqual(tooLarge(MB));
    expect(reply.headers.connection).toBe("close");
    // One reply, then the connection closed: the rest of the body was not taken for another request.
    expect(reply.raw.match(/HTTP\/1\.1 \d{3}/g)).toHaveLength(1);
    // The server stopped reading near the limit: what was written is bounded by the socket buffers, not the body.
    expect(sent).toBeLessThan(total / 4);
    const grown = (await peakRss(server.proc.pid)) - before;
    expect(grown).toBeLessThan(32 * MB);
    // And it serves on.
    expect((await rawRequest(port, withLength("/api/user/login", "{}"))).status).toBe(400);
  }, 60_000);
});
