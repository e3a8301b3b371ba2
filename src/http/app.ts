// The Hono app: envelope on every reply, one error mapping, bearer auth,
// body limit. Routes stay thin: parse, then call the domain, writes through
// the one write path (app.write), and reply once that is durable.
import { Hono } from "hono";
import { OpenAPIHono } from "@hono/zod-openapi";
import { cors } from "hono/cors";
import { secureHeaders } from "hono/secure-headers";
import type { ServingApp as App } from "../app";
import { resolveToken, touchSession } from "../domain/sessions";
import { AppError, errorEnvelope, toAppError, unauthorized } from "../errors";
import { bodyLimit } from "./body-limit";
import { fileCookieSession, fileRoutes, isUpload } from "./files";
import { friendRoutes } from "./friends";
import { groupRoutes } from "./groups";
import { groupLifecycleRoutes } from "./group-lifecycle";
import { adminRoutes } from "./admin";
import { peopleRoutes } from "./people";
import { searchRoutes } from "./search";
import { messageRoutes } from "./messages";
import { messageChangeRoutes } from "./message-changes";
import { presenceRoutes } from "./presence";
import { userRoutes } from "./users";
import type { Env } from "./context";
import { DOCS_CSP, DOCS_HTML } from "./docs";
import { webRoutes } from "./web";
import { parseAddressList, resolveClient } from "../net";
import { openApiDocument } from "./openapi";
import { wsJsonSchema } from "../protocol/schema";

/** Replies that are data, not pages: nothing in them may run, load or be framed. */
const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
const HSTS = "max-age=15552000; includeSubDomains";

const PUBLIC = new Set(["/api/user/login", "/api/user/create", "/api/openapi.json", "/api/ws-schema.json"]);

export function createHttpApp(app: App) {
  const http = new OpenAPIHono<Env>();

  http.onError((err, c) => {
    const e = err instanceof AppError ? err : toAppError(err);
    if (e.status === 500) app.log.error("http.error", { path: c.req.path, error: String((err as Error)?.stack ?? err) });
    app.metrics.inc("rim_errors_total", { transport: "http", code: e.status });
    if (e.retryAfter) c.header("Retry-After", String(e.retryAfter));
    return c.json(errorEnvelope(e), e.status);
  });
  http.notFound((c) => c.json(errorEnvelope(new AppError("not_found", "no such route")), 404));

  // Who is asking (the client behind a trusted proxy) and whether over TLS, for the throttles and HSTS.
  const trusted = parseAddressList(app.config.trustProxy);
  http.use("*", async (c, next) => {
    c.set("client", resolveClient(trusted, c.env?.ip ?? "unknown", c.req.raw.headers));
    await next();
  });
  http.use("*", async (c, next) => {
    const started = performance.now();
    await next();
    // The path only: a query string may carry a token (user/token?token=).
    const quiet = c.req.path === "/health" || c.req.path === "/metrics";
    app.log[quiet ? "debug" : "info"]("http.request", { method: c.req.method, path: c.req.path, status: c.res.status, ms: +(performance.now() - started).toFixed(1) });
  });
  // The same headers on every reply, the web client's included. HSTS only when the client came over TLS:
  // sent over plain HTTP it is ignored at best, and pins a site that has no TLS at worst.
  http.use("*", secureHeaders({ crossOriginResourcePolicy: false, strictTransportSecurity: false, xFrameOptions: "DENY" }));
  http.use("*", async (c, next) => {
    await next();
    if (!c.res.headers.has("Content-Security-Policy")) c.res.headers.set("Content-Security-Policy", API_CSP);
    if (c.get("client").https) c.res.headers.set("Strict-Transport-Security", HSTS);
  });
  const allowed = app.config.corsOrigins.split(",").map((o) => o.trim()).filter(Boolean);
  if (allowed.length) {
    http.use("/api/*", cors({ origin: allowed.includes("*") ? "*" : allowed, allowHeaders: ["Authorization", "Content-Type"], maxAge: 600 }));
  }

  // A browser opening the root goes to the web client; anything else still gets rim's greeting.
  http.get("/", (c) => ((c.req.header("Accept") ?? "").includes("text/html") ? c.redirect("/app/", 302) : c.text("hello rim")));
  http.get("/health", async (c) => {
    await app.read(app.store.ping());
    return c.json({ status: "ok", uptime: Math.round(process.uptime()) });
  });

  if (app.config.metrics === "on") {
    http.get("/metrics", async (c) => {
      const want = app.config.metricsToken;
      if (want && c.req.header("Authorization") !== `Bearer ${want}`) throw unauthorized("metrics token required");
      const stored = await app.read(app.store.messagesStored());
      const body = app.metrics.render({
        rim_ws_sockets: app.hub.socketCount(),
        rim_users_online: app.hub.onlineUsers(),
        rim_messages: stored,
      });
      return c.text(body, 200, { "Content-Type": "text/plain; version=0.0.4" });
    });
  }

  // Every route takes --body-limit, but the file upload: its body streams to disk under --max-upload (http/files.ts).
  const limitBody = bodyLimit(() => app.config.bodyLimit);
  http.use("*", (c, next) => (isUpload(c) ? next() : limitBody(c, next)));
  http.use("/api/*", async (c, next) => {
    await next();
    // A reply never shows what is not yet durable: it leaves once every write that has run before it is (usually at
    // once), or, answered by its own write (replyWritten), as soon as that write is.
    if (!c.get("answeredByWrite")) await app.writer.settled();
  });
  http.use("/api/*", async (c, next) => {
    // rim's demo client sends a stale Authorization header on login and create: ignore it there.
    if (!PUBLIC.has(c.req.path)) {
      const header = c.req.header("Authorization") ?? "";
      const token = header.startsWith("Bearer ") ? header.slice(7).trim() : "";
      if (!token) {
        // A file's download may instead carry the web client's HttpOnly cookie (POST /api/file/cookie), for <img>.
        const viaCookie = await fileCookieSession(app, c);
        if (!viaCookie) throw unauthorized();
        c.set("session", viaCookie);
        return next();
      }
      const session = await app.read(resolveToken(app, token));
      // last_used_at is bookkeeping: touched on the write path, nobody waits for it.
      if (session.stale) app.write((w) => touchSession(w, session.sessionId)).catch(() => {});
      c.set("session", session);
    }
    await next();
  });

  // Built once, on first request: generating JSON Schema is not free.
  let openapi: unknown, wsSchema: unknown;
  http.get("/api/openapi.json", (c) => c.json((openapi ??= openApiDocument(http))));
  http.get("/api/ws-schema.json", (c) => c.json((wsSchema ??= wsJsonSchema())));
  http.get("/docs", (c) => {
    c.header("Content-Security-Policy", DOCS_CSP);
    return c.html(DOCS_HTML);
  });

  http.route("/api/user", userRoutes(app));
  http.route("/api/user", peopleRoutes(app));
  http.route("/api/group", groupRoutes(app));
  http.route("/api/group", groupLifecycleRoutes(app));
  http.route("/api/user", presenceRoutes(app));
  http.route("/api/message", messageRoutes(app));
  http.route("/api/message", messageChangeRoutes(app));
  http.route("/api/message", searchRoutes(app));
  http.route("/api/friend", friendRoutes(app));
  http.route("/api/admin", adminRoutes(app));
  http.route("/api/file", fileRoutes(app));
  webRoutes(http);
  return http;
}
