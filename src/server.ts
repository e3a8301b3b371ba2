// Starts the listeners: HTTP + /ws on the main port, and optionally rim's
// legacy WebSocket port (any path, any Origin). Stops them gracefully.
import type { Server } from "bun";
import type { App as SqliteApp, ServingApp as App } from "./app";
import { AppError, errorEnvelope } from "./errors";
import { createHttpApp } from "./http/app";
import type { SocketData } from "./ws/hub";
import { createSocketHandlers, newSocketData } from "./ws/server";
import { collectFiles, type Collected } from "./domain/files";
import { onOneNode, RIM_COLLECT_LOCK } from "./db/pg/one-node";
import type { PgApp } from "./app";
import { startCheckpoints } from "./db/checkpoints";
import { lastRevocationId, purgeExpiredSessions, revocationsAfter } from "./domain/sessions";
import { redactUrl } from "./db/pg/open";
import { catchUpSearch, INDEX_EVERY_MS } from "./search-indexer";

export type Running = { server: Server<SocketData>; legacy: Server<SocketData> | null; url: string; stop(): Promise<void> };

/** Origins allowed to open a socket: a list, "*", or (empty) the server's own host. */
export function originAllowed(allow: string, origin: string | null, host: string | null): boolean {
  if (!origin) return true; // native clients send none
  const list = allow.split(",").map((s) => s.trim()).filter(Boolean);
  if (list.includes("*")) return true;
  if (list.length > 0) return list.includes(origin);
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}

/** A listener that could not bind its port: the CLI prints the message alone and exits 1. */
export class ListenError extends Error {}

/**
 * Binds one listener. Bun sets SO_REUSEPORT by default in production mode, so a
 * second `rim serve` on a busy port would listen too (on its own database) and
 * the kernel would split connections between the two: every listener passes
 * reusePort: false, and a busy port is reported by its number.
 */
function listen(host: string, port: number, flag: string, start: () => Server<SocketData>): Server<SocketData> {
  try {
    return start();
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    if (code === "EADDRINUSE") throw new ListenError(`port ${port} is already in use${flag}`);
    if (code === "EACCES") throw new ListenError(`port ${port}: permission denied${flag}`);
    if (code === "EADDRNOTAVAIL") throw new ListenError(`address ${host} is not available on this machine (--host)`);
    throw err;
  }
}

const refuse = (status: 400 | 403 | 500, msg: string) =>
  Response.json(errorEnvelope(new AppError(status === 400 ? "bad_request" : status === 403 ? "forbidden" : "internal", msg)), { status });

// A request whose Host header makes no URL (`Host: a b`, or HTTP/1.0 without one): Bun leaves req.url a bare path.
const BAD_HOST = "Host: missing or not a valid host";
const hasValidUrl = (req: Request) => URL.canParse(req.url);

/**
 * What Bun does with an error thrown by a fetch handler: logged (through the
 * logger, never Bun's own stack dump on stderr) and answered with the envelope.
 */
export function unexpected(app: App, listener: string) {
  return (err: Error) => {
    app.log.error("http.unhandled", { listener, error: String(err?.stack ?? err) });
    app.metrics.inc("rim_errors_total", { transport: "http", code: 500 });
    return refuse(500, "internal error");
  };
}

export function startServer(app: App): Running {
  const http = createHttpApp(app);
  const websocket = createSocketHandlers(app);

  const server = listen(app.config.host, app.config.port, "", () => Bun.serve<SocketData>({
    hostname: app.config.host,
    port: app.config.port,
    reusePort: false,
    // Bun's own cap would answer a bare 413, without the envelope: bodies are limited per route, by
    // http/body-limit.ts, and uploads by the file store as they stream (--max-upload).
    maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    // The web client (/app/) is served by the Hono app, with its headers: see http/web.ts.
    development: false,
    fetch(req, srv) {
      const ip = srv.requestIP(req)?.address ?? "unknown";
      if (!hasValidUrl(req)) {
        app.log.debug("http.bad_host", { ip, listener: "main" });
        return refuse(400, BAD_HOST);
      }
      const url = new URL(req.url);
      if (url.pathname === "/ws") {
        if (!originAllowed(app.config.wsOrigins, req.headers.get("origin"), req.headers.get("host"))) return refuse(403, "origin not allowed");
        if (srv.upgrade(req, { data: newSocketData(ip, false) })) return undefined;
        return refuse(400, "expected a WebSocket upgrade");
      }
      return http.fetch(req, { ip });
    },
    error: unexpected(app, "main"),
    websocket,
  }));
  app.hub.attach(server);

  let legacy: Server<SocketData> | null = null;
  if (app.config.legacyWsPort) {
    // rim's demo client is served from another port, so any Origin is accepted here.
    try {
      legacy = listen(app.config.host, app.config.legacyWsPort, " (--legacy-ws-port)", () => Bun.serve<SocketData>({
        hostname: app.config.host,
        port: app.config.legacyWsPort,
        reusePort: false,
        fetch(req, srv) {
          const ip = srv.requestIP(req)?.address ?? "unknown";
          if (!hasValidUrl(req)) {
            app.log.debug("http.bad_host", { ip, listener: "legacy" });
            return refuse(400, BAD_HOST);
          }
          if (srv.upgrade(req, { data: newSocketData(ip, true) })) return undefined;
          return refuse(400, "expected a WebSocket upgrade");
        },
        error: unexpected(app, "legacy"),
        websocket,
      }));
    } catch (err) {
      // Half a server is no server: the main port is let go too.
      app.hub.detach(server);
      void server.stop(true);
      throw err;
    }
    app.hub.markLegacy(legacy);
    app.hub.attach(legacy);
  }

  const timers = startTimers(app);
  // The serving process checkpoints the WAL off the event loop (a CLI command on the same file keeps SQLite's own).
  const checkpoints = app.engine === "sqlite" ? sqliteCheckpoints(app as SqliteApp) : { stop: async () => {} };

  const url = `http://${app.config.host === "0.0.0.0" ? "127.0.0.1" : app.config.host}:${server.port}`;
  app.log.info("server.listening", { url, legacyWsPort: legacy?.port ?? 0, db: app.engine === "sqlite" ? app.config.db : redactUrl(app.config.db) });

  return {
    server,
    legacy,
    url,
    async stop() {
      // Stop accepting, commit what is queued (its acks go out), then say goodbye.
      timers.stop();
      const stopped = Promise.all([server.stop(), legacy?.stop()]);
      // After its checkpoint in progress, if any: the writes it held go on.
      await checkpoints.stop();
      // The acks of that last commit leave once it is durable: wait for them before closing.
      await app.writer.drained().catch(() => {});
      app.hub.closeAll(1001, "server shutting down");
      await stopped;
      // In a cluster, the departures of those sockets are being counted in Redis: their offline Notifies follow.
      if (app.shared.kind === "redis") {
        await app.shared.settled();
        await app.writer.drained().catch(() => {});
      }
      app.hub.detach(server);
      if (legacy) app.hub.detach(legacy);
    },
  };
}

function sqliteCheckpoints(app: SqliteApp) {
  return startCheckpoints(app.db.$client, app.config.db, {
    hold: () => app.writer.hold(),
    release: () => app.writer.release(),
    onError: (err) => app.log.error("db.checkpoint_failed", { error: String(err) }),
    restartFrames: app.config.walRestartFrames,
    onRestart(restarted, heldMs) {
      app.metrics.inc("rim_wal_restarts_total", { outcome: restarted ? "ok" : "busy" });
      app.metrics.inc("rim_write_held_seconds_total", undefined, heldMs / 1000);
    },
  });
}

// How often the server looks for revocations made by other processes and for
// sockets whose token expired: both close sockets within this bound.
const WATCH_MS = 250;
const PURGE_MS = 3_600_000;
// Uploads nobody shared for a day are collected: first a minute after start, then hourly.
const COLLECT_FIRST_MS = 60_000;
const COLLECT_MS = 3_600_000;
// On a cluster, blobs and part files written within this are left alone: another node may be between an
// upload's rename and its row, or still writing the part (an idle connection is cut off after Bun's idle timeout, 10 s).
const CLUSTER_FILES_GRACE_MS = 3_600_000;

/**
 * One collection of unshared uploads (domain/files.ts collectFiles). On PostgreSQL one node of the cluster
 * at a time collects, under an advisory lock; a node that finds it held skips its turn (null). On a
 * node without a shared --files folder, nothing: it would judge its own folder only.
 */
export function collectUploads(app: App): Promise<Collected | null> {
  if (app.engine === "sqlite") return collectFiles(app);
  if (!app.config.files) return Promise.resolve(null);
  return onOneNode((app as PgApp).db.$client, RIM_COLLECT_LOCK, () => collectFiles(app, { graceMs: CLUSTER_FILES_GRACE_MS }));
}

/**
 * The server's own clockwork: sockets outliving their token are closed
 * (4001); revocations another process made on this database (the CLI's
 * disable or reset-password) close this server's sockets on those tokens;
 * expired sessions are purged; messages stored since are put in the search
 * index (search-indexer.ts); uploads nobody shared are collected.
 */
function startTimers(app: App) {
  // No upload of this server runs yet: a .part file is what a crashed server left. On a cluster, other nodes
  // may be writing theirs into the shared folder: only parts untouched for the grace are left-overs.
  const swept = app.files.sweepPartials(app.engine === "sqlite" ? undefined : Date.now() - CLUSTER_FILES_GRACE_MS);
  if (swept) app.log.warn("files.partials_removed", { count: swept });
  // Revocations made before this server started are not its business (its sockets are all newer).
  let seen: number | null = null;
  let polling = false;
  const poll = async () => {
    let after: number = seen ?? (seen = await app.read(lastRevocationId(app)));
    for (;;) {
      const rows: { id: number; tokenHash: string; reason: string }[] = await app.read(revocationsAfter(app, after));
      if (rows.length === 0) break;
      seen = after = rows[rows.length - 1]!.id;
      // Applied in write order, after what this server has already announced.
      void app.writer.settled().then(() => {
        for (const r of rows) app.hub.closeSessions([r.tokenHash], r.reason);
      });
    }
  };
  // On PostgreSQL a poll may outlast the interval (or PostgreSQL be away): one at a time.
  const tick = () => {
    if (polling) return;
    polling = true;
    poll()
      .catch((err) => app.log.error("revocations.poll_failed", { error: String(err) }))
      .finally(() => (polling = false));
  };
  // The starting point is taken now (on SQLite at once), before anything can be revoked.
  tick();
  const watch = setInterval(() => {
    app.hub.closeExpired(app.clock());
    tick();
  }, WATCH_MS);
  const purge = setInterval(() => {
    app.write((w) => purgeExpiredSessions(w)).then(
      (n) => n && app.log.info("sessions.purged", { count: n }),
      (err) => app.log.error("sessions.purge_failed", { error: String(err) }),
    );
  }, PURGE_MS);
  let indexing = false;
  const indexer = setInterval(() => {
    if (indexing) return;
    indexing = true;
    catchUpSearch(app)
      .catch((err) => app.log.error("search.index_failed", { error: String(err) }))
      .finally(() => (indexing = false));
  }, INDEX_EVERY_MS);
  const collect = () =>
    collectUploads(app).then(
      (r) => r && (r.rows || r.blobs || r.parts) && app.log.info("files.collected", r),
      (err) => app.log.error("files.collect_failed", { error: String(err) }),
    );
  let collector: ReturnType<typeof setInterval> | undefined;
  const first = setTimeout(() => {
    void collect();
    collector = setInterval(collect, COLLECT_MS);
    collector.unref();
  }, COLLECT_FIRST_MS);
  watch.unref();
  purge.unref();
  indexer.unref();
  first.unref();
  return {
    stop() {
      clearInterval(watch);
      clearInterval(purge);
      clearInterval(indexer);
      clearTimeout(first);
      clearInterval(collector);
    },
  };
}
