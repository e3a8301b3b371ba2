// Headers of the web client and of TLS: /app/ and its files get the same
// security headers as /api plus a Content-Security-Policy that allows only the
// app's own files (tests/browser.test.ts runs the app under it in Chromium);
// HSTS only when a trusted proxy says the client came over TLS; the client's
// address read through trusted proxies only (--trust-proxy).
import { afterAll, describe, expect, test } from "bun:test";
import { parseConfig } from "../src/config";
import { isAddressList, parseAddressList, resolveClient } from "../src/net";
import { call, makeApp, serve, type TestApp } from "./helpers";

const apps: TestApp[] = [];
afterAll(() => apps.forEach((a) => a.close()));
const app = async (overrides = {}) => {
  const a = await makeApp(overrides);
  apps.push(a);
  return a;
};

const SAME_AS_API = ["x-content-type-options", "x-frame-options", "referrer-policy", "cross-origin-opener-policy", "x-permitted-cross-domain-policies", "x-xss-protection", "origin-agent-cluster"];

describe("the web client's pages and files", () => {
  test("the page (every client route) and each file it loads carry the API's security headers and the app's CSP", async () => {
    const a = await app();
    const api = await call(a, "GET", "/api/openapi.json");
    for (const path of ["/app", "/app/", "/app/c/12"]) {
      const page = await call(a, "GET", path, { headers: { Host: "chat.example.com" } });
      expect(page.status).toBe(200);
      expect(page.headers.get("content-type")).toContain("text/html");
      const files = [...String(page.body).matchAll(/(?:src|href)="(\/[^"]+)"/g)].map((m) => m[1]!);
      expect(files.some((f) => f.endsWith(".js")) && files.some((f) => f.endsWith(".css"))).toBe(true);
      for (const r of [page, ...(await Promise.all(files.map((f) => call(a, "GET", f, { headers: { Host: "chat.example.com" } }))))]) {
        expect(r.status).toBe(200);
        for (const h of SAME_AS_API) expect({ h, v: r.headers.get(h) }).toEqual({ h, v: api.headers.get(h) });
        expect(r.headers.get("x-frame-options")).toBe("DENY");
        const csp = r.headers.get("content-security-policy")!;
        for (const directive of ["default-src 'self'", "script-src 'self'", "style-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"]) {
          expect(csp.split("; ")).toContain(directive);
        }
        expect(csp).toContain("connect-src 'self' ws://chat.example.com wss://chat.example.com");
        expect(csp).not.toContain("unsafe");
      }
    }
  });

  test("the page has no inline script or style for the CSP to refuse", async () => {
    const html = String((await call(await app(), "GET", "/app/")).body);
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/<style|\sstyle="/);
  });

  test("files are served with Bun's content types and caching; an ETag gets 304", async () => {
    const a = await app();
    const html = String((await call(a, "GET", "/app/")).body);
    const js = html.match(/src="(\/[^"]+\.js)"/)![1]!;
    const r = await call(a, "GET", js);
    expect(r.headers.get("content-type")).toContain("javascript");
    expect(r.headers.get("cache-control")).toContain("immutable");
    const again = await call(a, "GET", js, { headers: { "If-None-Match": r.headers.get("etag")! } });
    expect(again.status).toBe(304);
    expect((await call(a, "GET", "/app/")).headers.get("cache-control")).toBe("no-cache");
  });

  test.each([
    ["a file the bundle does not have", "/chunk-doesnotexist.js"],
    ["a source file", "/main.tsx"],
    ["a path outside the bundle", "/../package.json"],
    ["the database", "/rim.db"],
  ])("%s is 404", async (_label, path) => {
    const r = await call(await app(), "GET", path);
    expect(r.status).toBe(404);
    expect(r.body).toMatchObject({ ok: false, code: 404 });
  });

  test("a Host header that is not a host adds nothing to the policy", async () => {
    const r = await call(await app(), "GET", "/app/", { headers: { Host: "evil.example; script-src *" } });
    expect(r.headers.get("content-security-policy")).not.toContain("evil");
  });

  test("the real server serves the same (the bundle is read once per process)", async () => {
    const s = await serve();
    try {
      const page = await fetch(s.url + "/app/");
      expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
      expect(page.headers.get("x-frame-options")).toBe("DENY");
    } finally {
      await s.stop();
    }
  });
});

describe("HSTS only when the client came over TLS, as a trusted proxy says", () => {
  test.each<[string, string, string, Record<string, string>, boolean]>([
    ["plain HTTP, no proxy header", "loopback", "127.0.0.1", {}, false],
    ["the local proxy says https", "loopback", "127.0.0.1", { "X-Forwarded-Proto": "https" }, true],
    ["the local proxy over IPv6 says https", "loopback", "::1", { "X-Forwarded-Proto": "https" }, true],
    ["in capitals, after a second proxy's http", "loopback", "127.0.0.1", { "X-Forwarded-Proto": "HTTPS, http" }, true],
    ["the local proxy says http", "loopback", "127.0.0.1", { "X-Forwarded-Proto": "http" }, false],
    ["a listed proxy range says https", "10.0.0.0/8", "10.1.2.3", { "X-Forwarded-Proto": "https" }, true],
    ["hostile: any client can write the header", "loopback", "203.0.113.9", { "X-Forwarded-Proto": "https" }, false],
    ["hostile: loopback is not trusted when a range is given", "10.0.0.0/8", "127.0.0.1", { "X-Forwarded-Proto": "https" }, false],
    ["--trust-proxy none", "none", "127.0.0.1", { "X-Forwarded-Proto": "https" }, false],
  ])("%s", async (_label, trustProxy, ip, headers, hsts) => {
    const a = await app({ trustProxy });
    for (const path of ["/api/openapi.json", "/app/", "/health"]) {
      const r = await call(a, "GET", path, { ip, headers });
      expect({ path, hsts: r.headers.get("strict-transport-security") }).toEqual({ path, hsts: hsts ? "max-age=15552000; includeSubDomains" : null });
    }
  });

  test("the real server sends none over plain HTTP", async () => {
    const s = await serve();
    try {
      expect((await fetch(s.url + "/health")).headers.get("strict-transport-security")).toBeNull();
      // Its loopback client is trusted by default, like a proxy on the same machine.
      expect((await fetch(s.url + "/health", { headers: { "X-Forwarded-Proto": "https" } })).headers.get("strict-transport-security")).toContain("max-age=");
    } finally {
      await s.stop();
    }
  });
});

describe("the client's address, through trusted proxies only", () => {
  const trusted = parseAddressList("loopback, 10.0.0.0/8");
  const headers = (xff?: string) => new Headers(xff === undefined ? {} : { "X-Forwarded-For": xff });
  test.each<[string, string, string | undefined, string]>([
    ["a direct client", "198.51.100.7", undefined, "198.51.100.7"],
    ["hostile: a direct client's own X-Forwarded-For is ignored", "198.51.100.7", "1.2.3.4", "198.51.100.7"],
    ["behind the local proxy", "127.0.0.1", "198.51.100.7", "198.51.100.7"],
    ["hostile: a client's forged first entry is skipped", "127.0.0.1", "1.2.3.4, 198.51.100.7", "198.51.100.7"],
    ["through two trusted proxies", "127.0.0.1", "198.51.100.7, 10.0.0.2", "198.51.100.7"],
    ["an IPv6 client in brackets with a port", "127.0.0.1", "[2001:db8::1]:443", "2001:db8::1"],
    ["an IPv4 client with a port", "127.0.0.1", "198.51.100.7:5555", "198.51.100.7"],
    ["hostile: garbage stops the walk at the last checked hop", "127.0.0.1", "198.51.100.7, not-an-ip", "127.0.0.1"],
    ["a trusted proxy without the header is the client", "127.0.0.1", undefined, "127.0.0.1"],
    ["an IPv4-mapped loopback peer is loopback", "::ffff:127.0.0.1", "198.51.100.7", "198.51.100.7"],
  ])("%s", (_label, peer, xff, ip) => {
    expect(resolveClient(trusted, peer, headers(xff)).ip).toBe(ip);
  });

  test("the per-address login throttle counts each client behind the proxy, not the proxy", async () => {
    const a = await app({ loginMaxPerIp: 2 });
    const fail = (xff: string, ip = "127.0.0.1") => call(a, "POST", "/api/user/login", { ip, body: { account: "nobody" + Math.random(), password: "x" }, headers: { "X-Forwarded-For": xff } });
    expect((await fail("198.51.100.1")).status).toBe(401);
    expect((await fail("198.51.100.1")).status).toBe(401);
    expect((await fail("198.51.100.1")).status).toBe(429);
    expect((await fail("198.51.100.2")).status).toBe(401); // another client behind the same proxy
    // A direct client cannot escape its own count by writing the header.
    for (const xff of ["1.1.1.1", "2.2.2.2"]) expect((await fail(xff, "203.0.113.5")).status).toBe(401);
    expect((await fail("3.3.3.3", "203.0.113.5")).status).toBe(429);
  });
});

describe("--trust-proxy", () => {
  test.each([["loopback"], ["none"], [""], ["10.0.0.0/8, 192.168.1.5"], ["::1, fd00::/8"], ["loopback,172.16.0.0/12"]])("accepts %p", (spec) => {
    expect(isAddressList(spec)).toBe(true);
    expect(parseConfig(["--trust-proxy", spec], {}).config.trustProxy).toBe(spec);
  });
  test.each([["localhost"], ["10.0.0.0/33"], ["::1/129"], ["1.2.3"], ["*"], ["10.0.0.0/8; rm -rf /"]])("refuses %p, naming the flag", (spec) => {
    expect(() => parseConfig(["--trust-proxy", spec], {})).toThrow("--trust-proxy must be a comma-separated list of IP addresses or ranges");
  });
  test("defaults to loopback: a proxy on the same machine", () => {
    expect(parseConfig([], {}).config.trustProxy).toBe("loopback");
  });
});
