// The web client under /app/. Bun bundles src/web/index.html (into the
// executable with --compile, or from source on first use), but its HTML routes
// cannot add response headers. So the bundle is read once through a private
// listener and served from here, with the headers of every other reply and a
// Content-Security-Policy that allows only the app's own files.
import type { Context, Hono } from "hono";
import { AppError } from "../errors";
import webClient from "../web/index.html";
import type { Env } from "./context";

type File = { body: Uint8Array; type: string; etag: string | null; cache: string | null };
export type WebBundle = { page: File; assets: Map<string, File> };

/**
 * Same-origin scripts, styles and connections only; no inline script or style, no plugins, never inside a
 * frame. Images may also come from any https origin: a rim avatar is a URL the user chose (rim's data model).
 */
export function appCsp(host: string | undefined): string {
  // 'self' covers same-origin WebSockets in current browsers; the explicit ws/wss origin is for older ones.
  const ws = host && /^[\w.-]+(?::\d+)?$|^\[[0-9a-fA-F:.]+\](?::\d+)?$/.test(host) ? ` ws://${host} wss://${host}` : "";
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: https:",
    `connect-src 'self'${ws}`,
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}

// Root-level files the bundle refers to: <script src>, <link href>, url() in CSS, chunk imports in JS.
const REFS = /["'(](\/[\w.-]+\.(?:js|mjs|css|map|png|jpe?g|gif|svg|webp|ico|woff2?|ttf))["')]/g;
const ASSET = /^\/[\w.-]+\.(?:js|mjs|css|map|png|jpe?g|gif|svg|webp|ico|woff2?|ttf)$/;
const TEXT = /^(text\/|application\/(javascript|json))/;

/** Reads the page and every file it refers to from Bun's bundler, through a listener on an abstract unix socket (no port, no file). */
export async function loadWebBundle(bundle: unknown = webClient): Promise<WebBundle> {
  const unix = `\0rim-web-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const server = Bun.serve({ unix, development: false, routes: { "/app/": bundle as never }, fetch: () => new Response("not found", { status: 404 }) });
  try {
    const get = async (path: string): Promise<File> => {
      const res = await fetch("http://rim.internal" + path, { unix });
      if (!res.ok) throw new Error(`web client: ${path} answered ${res.status}`);
      const h = res.headers;
      return { body: new Uint8Array(await res.arrayBuffer()), type: h.get("content-type") ?? "application/octet-stream", etag: h.get("etag"), cache: h.get("cache-control") };
    };
    const page = await get("/app/");
    const assets = new Map<string, File>();
    const pending = [page];
    while (pending.length) {
      const file = pending.pop()!;
      if (!TEXT.test(file.type)) continue;
      for (const m of new TextDecoder().decode(file.body).matchAll(REFS)) {
        const path = m[1]!;
        if (assets.has(path)) continue;
        const asset = await get(path);
        assets.set(path, asset);
        pending.push(asset);
      }
    }
    return { page, assets };
  } finally {
    server.stop(true);
  }
}

// The bundle is the same for the whole process: read it once, on first use (about 10 ms).
let loading: Promise<WebBundle> | undefined;
function webBundle(): Promise<WebBundle> {
  loading ??= loadWebBundle().catch((err) => {
    loading = undefined; // try again on the next request
    throw err;
  });
  return loading;
}

function send(c: Context<Env>, file: File) {
  c.header("Content-Security-Policy", appCsp(c.req.header("host")));
  if (file.cache) c.header("Cache-Control", file.cache);
  if (file.etag) {
    c.header("ETag", file.etag);
    if (c.req.header("if-none-match") === file.etag) return c.body(null, 304);
  }
  c.header("Content-Type", file.type);
  return c.body(file.body as Uint8Array<ArrayBuffer>, 200);
}

/** GET /app, /app/* (the page: the client routes itself) and the bundle's files at the root. */
export function webRoutes(http: Hono<Env>) {
  const page = async (c: Context<Env>) => send(c, (await webBundle()).page);
  http.get("/app", page);
  http.get("/app/*", page);
  // Registered last, so it answers only GETs no other route took.
  http.get("/*", async (c) => {
    // Only a file name at the root sends us to the bundle (read on first use); anything else is simply not found.
    const file = ASSET.test(c.req.path) ? (await webBundle()).assets.get(c.req.path) : undefined;
    if (!file) throw new AppError("not_found", "no such route");
    return send(c, file);
  });
}
