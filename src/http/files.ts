// Files over REST: upload (the body streams to disk), download (to the
// uploader and to members of a group a message shared it in; 404 to anyone
// else), and the cookie with which the web client's <img> may download
// without a Bearer header.
import { createHmac, timingSafeEqual } from "node:crypto";
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import type { ServingApp as App } from "../app";
import { checkFileName, quotaError, readableFile, recordUpload, sniffImage, uploadType, usedBytes } from "../domain/files";
import type { Session } from "../domain/sessions";
import { AppError, badRequest, errorEnvelope } from "../errors";
import { HEAD_BYTES } from "../blobs";
import { reply, type Ctx } from "./context";
import { BEARER, FileInfo, replies, RestRoutes } from "./openapi";

export const UPLOAD_PATH = "/api/file/upload";

/** The upload streams its body with its own limit (--max-upload): the JSON body limit of /api does not apply to it. */
export const isUpload = (c: { req: { method: string; path: string } }) => c.req.method === "POST" && c.req.path === UPLOAD_PATH;

const errors = (({ 200: _, ...rest }) => rest)(replies(z.null()));
const bytes = (description: string) => ({ description, content: { "application/octet-stream": { schema: z.string().meta({ format: "binary" }) } } });

const uploadRoute = createRoute({
  method: "post",
  path: "/upload",
  summary: "Upload a file: the body is its raw bytes (streamed to disk, at most --max-upload), Content-Type its type; counts in --upload-quota",
  security: BEARER,
  request: {
    query: z.object({ name: z.string().optional().describe("the file's name: 1-255 characters, no path separators or control characters") }),
    body: { required: true, content: { "application/octet-stream": { schema: z.string().meta({ format: "binary" }) } } },
  },
  responses: replies(FileInfo),
});

const downloadRoute = createRoute({
  method: "get",
  path: "/{id}",
  summary: "Download a file: to its uploader and members of a group where a message shares it (404 to anyone else); the rim_file cookie may stand in for the token",
  // The rim_file cookie (securitySchemes.fileCookie) may stand in for the token here.
  security: BEARER,
  request: { params: z.object({ id: z.string().max(64).describe("the file's id") }) },
  responses: {
    ...errors,
    200: bytes("the file: images inline, anything else as an attachment; ETag, Accept-Ranges"),
    206: bytes("the byte range asked for (Range, If-Range)"),
    304: { description: "If-None-Match matched the ETag" },
    416: { description: "the range is past the end" },
  },
});

const cookieRoute = createRoute({
  method: "post",
  path: "/cookie",
  summary: "Set the HttpOnly rim_file cookie, with which <img> may download files (this session's, on every node)",
  security: BEARER,
  responses: replies(z.literal(true)),
});

export function fileRoutes(app: App) {
  return new RestRoutes()
    .openapi(uploadRoute, async (c) => {
      const me = c.get("session").userId;
      const name = checkFileName(c.req.query("name"));
      const max = app.config.maxUpload;
      const quota = app.config.uploadQuota;
      // Refused before a byte is read when the announced length says so.
      const announced = c.req.header("Content-Length");
      const length = announced === undefined ? null : /^\d{1,16}$/.test(announced) ? Number(announced) : NaN;
      if (Number.isNaN(length)) throw badRequest("Content-Length: not a number of bytes");
      if (length !== null && length > max) throw new AppError("too_large", `body: the file is larger than ${max} bytes (--max-upload)`);
      if (length === 0) throw badRequest("body: the file is empty");
      if (quota > 0 && (await app.read(usedBytes(app, me))) + (length ?? 1) > quota) throw quotaError(quota);

      const received = await app.files.receive(c.req.raw, length, max);
      try {
        if (quota > 0 && (await app.read(usedBytes(app, me))) + received.size > quota) throw quotaError(quota);
        const mime = uploadType(c.req.header("Content-Type"), received.head);
        await received.commit();
        // The row only once the bytes are durable under their name; the quota is checked again inside the write.
        const file = await app.write((w) =>
          recordUpload(w, { id: w.newId(), sha256: received.sha256, name, size: received.size, mime, uploaderUid: me }, quota),
        );
        app.log.info("file.uploaded", { uid: me, id: file.id, size: file.size });
        return reply(c, file);
      } finally {
        await received.release();
      }
    })
    .openapi(cookieRoute, (c) => {
      const session = c.get("session");
      const now = app.clock();
      const value = signCookie(app, session.sessionId, session.expiresAt);
      const secure = c.req.url.startsWith("https:") || c.req.header("X-Forwarded-Proto") === "https";
      const maxAge = Math.max(0, Math.floor((session.expiresAt - now) / 1000));
      c.header("Set-Cookie", `${COOKIE}=${value}; Path=/api/file/; Max-Age=${maxAge}; HttpOnly; SameSite=Strict${secure ? "; Secure" : ""}`);
      return reply(c, true);
    })
    .openapi(downloadRoute, async (c) => {
      const file = await app.read(readableFile(app, c.get("session").userId, c.req.param("id") ?? ""));
      const blob = Bun.file(app.files.path(file.sha256));
      if (!(await blob.exists())) {
        app.log.error("file.missing", { id: file.id, sha256: file.sha256 });
        throw new AppError("internal", "the file's bytes are missing");
      }
      const etag = `"${file.sha256}"`;
      // Inline only what the bytes show to be an image; anything else is a download of no runnable type.
      const image = sniffImage(new Uint8Array(await blob.slice(0, HEAD_BYTES).arrayBuffer()));
      const headers = new Headers({
        ETag: etag,
        "Cache-Control": "private, no-cache",
        "Accept-Ranges": "bytes",
        "Content-Type": image ?? "application/octet-stream",
        "Content-Disposition": disposition(image ? "inline" : "attachment", file.name),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cross-Origin-Resource-Policy": "same-origin",
      });
      if (matchesEtag(c.req.header("If-None-Match"), etag)) return new Response(null, { status: 304, headers });
      const ifRange = c.req.header("If-Range");
      const range = ifRange === undefined || ifRange === etag ? parseRange(c.req.header("Range"), file.size) : null;
      if (range === "unsatisfiable") {
        headers.set("Content-Range", `bytes */${file.size}`);
        headers.set("Content-Type", "application/json");
        headers.delete("Content-Disposition");
        const e = errorEnvelope(new AppError("bad_request", "range: not satisfiable"));
        return new Response(JSON.stringify({ ...e, code: 416 }), { status: 416, headers });
      }
      if (range) {
        headers.set("Content-Range", `bytes ${range.start}-${range.end}/${file.size}`);
        headers.set("Content-Length", String(range.end - range.start + 1));
        return new Response(blob.slice(range.start, range.end + 1), { status: 206, headers });
      }
      headers.set("Content-Length", String(file.size));
      // A slice, even of the whole: Bun answers Range itself for a plain file body, and the rules here are ours.
      return new Response(blob.slice(0, file.size), { status: 200, headers });
    });
}

// ---------------------------------------------------------------- headers

/** RFC 6266: an ASCII fallback and the UTF-8 name (the name has no control characters: checked at upload). */
function disposition(type: "inline" | "attachment", name: string): string {
  const fallback = name.replace(/[^\x20-\x7e]|["\\%]/g, "_");
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (ch) => "%" + ch.charCodeAt(0).toString(16).toUpperCase());
  return `${type}; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}

function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(",").some((t) => {
    const tag = t.trim();
    return tag === "*" || tag === etag || tag === "W/" + etag;
  });
}

/** One byte range (RFC 9110): its bounds, "unsatisfiable", or null to send the whole file (no range, several, or malformed). */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | "unsatisfiable" | null {
  if (!header) return null;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m || (m[1] === "" && m[2] === "")) return null;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  if (m[2] !== "" && Number(m[2]) < start) return null; // not a valid range: ignored
  if (start >= size) return "unsatisfiable";
  return { start, end: m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1) };
}

// ---------------------------------------------------------------- the cookie of <img>

const COOKIE = "rim_file";
// The key is the files folder's (blobs.ts): the same on every node that shares the folder, kept across restarts,
// and in no database: a cookie outlives its session nowhere, and a copy of the database cannot forge one.
const mac = (app: App, data: string) => createHmac("sha256", app.files.signingKey()).update(data).digest("base64url");

function signCookie(app: App, sessionId: number, expiresAt: number): string {
  const data = `${sessionId}.${expiresAt}`;
  return `${data}.${mac(app, "rim-file:" + data)}`;
}

/**
 * The session a download's `rim_file` cookie stands for, or null. Only for
 * GET /api/file/:id: the cookie reads files, nothing else. Signed with the
 * files folder's key (good on every node), bound to its session: a logout, a password change or a
 * disabled account ends it at once.
 */
export async function fileCookieSession(app: App, c: Ctx): Promise<Session | null> {
  if ((c.req.method !== "GET" && c.req.method !== "HEAD") || !/^\/api\/file\/[^/]+$/.test(c.req.path)) return null;
  const cookie = (c.req.header("Cookie") ?? "").split(";").map((p) => p.trim()).find((p) => p.startsWith(COOKIE + "="));
  const m = cookie && /^(\d{1,16})\.(\d{1,16})\.([A-Za-z0-9_-]{43})$/.exec(cookie.slice(COOKIE.length + 1));
  if (!m) return null;
  const want = Buffer.from(mac(app, `rim-file:${m[1]}.${m[2]}`));
  if (!timingSafeEqual(want, Buffer.from(m[3]!))) return null;
  const now = app.clock();
  if (Number(m[2]) <= now) return null;
  const row = await app.read(app.store.sessionById(Number(m[1]), now));
  if (!row || row.disabledAt) return null;
  return { sessionId: row.id, userId: row.userId, tokenHash: row.tokenHash, expiresAt: row.expiresAt, stale: false };
}
