// Uploaded files: their rows, who may read them, the messages that share
// them, the quota, and collection of what nobody shares. The bytes are in
// the blob store (src/blobs.ts); a row is written only once its bytes are
// durable under their sha256.
//
// Who may read a file: its uploader, and every current member of a group
// holding a message that shares it (kind File or Image, content = the file's
// id) and is not deleted. Anyone else is told the file does not exist.
import { AppError, badRequest, notFound } from "../errors";
import type { WriteCtx } from "../write/writer";
import type { Ctx } from "./context";
import type { MessageView } from "./views";
import type { Flow } from "./store";

/** A file id: nanoid's 21 characters. */
export const FILE_ID = /^[A-Za-z0-9_-]{21}$/;

export type FileView = { id: string; name: string; size: number; mime: string };
export type FileRow = { id: string; sha256: string; name: string; size: number; mime: string; uploaderUid: number; createdAt: number };

/** Unreferenced uploads older than this are collected. */
export const UNSHARED_TTL_MS = 86_400_000;

/** Whether a message of this kind and content shares a file (rim's Image with a URL does not). */
export const sharesFile = (kind: string, content: string) => (kind === "File" || kind === "Image") && FILE_ID.test(content);

// ---------------------------------------------------------------- types

export const IMAGE_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp", "image/avif"]);

/** The image type the first bytes bear out, or null. Never SVG: it is a document that runs scripts. */
export function sniffImage(b: Uint8Array): string | null {
  const at = (i: number, ...bytes: number[]) => bytes.every((x, k) => b[i + k] === x);
  const ascii = (i: number, n: number) => String.fromCharCode(...b.subarray(i, i + n));
  if (at(0, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return "image/png";
  if (at(0, 0xff, 0xd8, 0xff)) return "image/jpeg";
  if (ascii(0, 6) === "GIF87a" || ascii(0, 6) === "GIF89a") return "image/gif";
  if (ascii(0, 4) === "RIFF" && ascii(8, 4) === "WEBP") return "image/webp";
  if (ascii(4, 4) === "ftyp" && ["avif", "avis"].includes(ascii(8, 4))) return "image/avif";
  return null;
}

const MIME = /^\s*([a-z0-9][a-z0-9!#$&^_.+-]{0,63})\/([a-z0-9][a-z0-9!#$&^_.+-]{0,63})\s*(?:;.*)?$/i;

/**
 * The type recorded for an upload: the sniffed one for an image; else the
 * Content-Type sent (its type/subtype), but never an image type the bytes do
 * not bear out (an "image/png" that is HTML, or SVG, is recorded as
 * application/octet-stream).
 */
export function uploadType(contentType: string | undefined, head: Uint8Array): string {
  const sniffed = sniffImage(head);
  if (sniffed) return sniffed;
  const m = MIME.exec(contentType ?? "");
  const declared = m ? `${m[1]}/${m[2]}`.toLowerCase() : "application/octet-stream";
  return declared.startsWith("image/") ? "application/octet-stream" : declared;
}

/** A file's name: 1-255 characters, no path separators, no control or bidi-override characters. */
export function checkFileName(raw: string | undefined): string {
  if (raw === undefined || raw === "") throw badRequest("name: required, 1-255 characters");
  if (/\p{Cs}/u.test(raw)) throw badRequest("name: must be well-formed Unicode (no lone surrogates)");
  if ([...raw].length > 255) throw badRequest("name: at most 255 characters");
  if (/[/\\]/.test(raw)) throw badRequest("name: may not contain a path separator (/ or \\)");
  if (/[\p{Cc}\u200e\u200f\u202a-\u202e\u2066-\u2069]/u.test(raw)) throw badRequest("name: may not contain control characters");
  if (raw === "." || raw === "..") throw badRequest("name: may not be . or ..");
  return raw;
}

// ---------------------------------------------------------------- rows and access

export const fileView = (f: Pick<FileRow, "id" | "name" | "size" | "mime">): FileView => ({ id: f.id, name: f.name, size: f.size, mime: f.mime });

export function* findFile(ctx: Ctx, id: string): Flow<FileRow | null> {
  if (!FILE_ID.test(id)) return null;
  return yield* ctx.store.fileById(id);
}

/** Whether uid may read the file: the uploader, or a member of a group holding a not-deleted message that shares it. */
export function* canReadFile(ctx: Ctx, uid: number, file: Pick<FileRow, "id" | "uploaderUid">): Flow<boolean> {
  if (file.uploaderUid === uid) return true;
  // A profile picture is for everyone to see; a group's picture for its members.
  if (yield* ctx.store.avatarVisibleTo(uid, avatarUrl(file.id))) return true;
  return yield* ctx.store.fileSharedWith(uid, file.id);
}

/** How a profile or group refers to an uploaded picture as its avatar. */
export const avatarUrl = (id: string) => `/api/file/${id}`;
const AVATAR_FILE = /^\/api\/file\/([A-Za-z0-9_-]{21})$/;

/**
 * An avatar that names an uploaded file must name a picture the caller
 * uploaded: setting it makes the file visible to whoever sees the avatar, so
 * nobody may publish a file someone else shared with them. Any other avatar
 * (rim's URL) passes as it is.
 */
export function* checkAvatar(ctx: Ctx, uid: number, avatar: string): Flow<void> {
  const m = AVATAR_FILE.exec(avatar);
  if (!m) {
    if (avatar.startsWith("/api/file/")) throw badRequest("avatar: not a file of this server");
    return;
  }
  const file = yield* findFile(ctx, m[1]!);
  if (!file || file.uploaderUid !== uid) throw badRequest("avatar: upload the picture yourself first (POST /api/file/upload)");
  if (!IMAGE_TYPES.has(file.mime)) throw badRequest("avatar: that file is not an image");
}

/** The file, if uid may read it; 404 otherwise (not 403: an id tells nothing about whether it exists). */
export function* readableFile(ctx: Ctx, uid: number, id: string): Flow<FileRow> {
  const file = yield* findFile(ctx, id);
  if (!file || !(yield* canReadFile(ctx, uid, file))) throw notFound("file not found");
  return file;
}

/**
 * The file a message of this kind and content would share, checked for its
 * sender: null for a message that shares none (Text, rim's Image with a URL);
 * 400 for a File whose content is no file id or an Image whose file is no
 * image; 404 for a file the sender may not read.
 */
export function* fileToShare(ctx: Ctx, senderUid: number, kind: string, content: string): Flow<FileRow | null> {
  if (kind === "File" && !FILE_ID.test(content)) throw badRequest("content: a File message's content is the id of an uploaded file");
  if (!sharesFile(kind, content)) return null;
  const file = yield* readableFile(ctx, senderUid, content);
  if (kind === "Image" && !IMAGE_TYPES.has(file.mime)) throw badRequest("content: that file is not an image; send it with kind File");
  return file;
}

/** Bytes of uploads the user has stored (every upload counts, even of bytes stored before). */
export function* usedBytes(ctx: Ctx, uid: number): Flow<number> {
  return yield* ctx.store.usedBytes(uid);
}

export function quotaError(quota: number) {
  return new AppError("too_large", `quota: your uploads would exceed ${quota} bytes (--upload-quota)`);
}

export type NewUpload = { id: string; sha256: string; name: string; size: number; mime: string; uploaderUid: number };

/**
 * Records an upload whose bytes are durable; 413 if it takes the uploader over the quota. On the write path,
 * where collection unlinks too (one job at a time, cluster-wide on PostgreSQL): bytes another node's
 * collection took between the rename and this job are a 500 to retry, never a row without its bytes.
 */
export function* recordUpload(w: WriteCtx, f: NewUpload, quota: number): Flow<FileView> {
  if (quota > 0 && (yield* usedBytes(w, f.uploaderUid)) + f.size > quota) throw quotaError(quota);
  if (w.files.modifiedAt(f.sha256) === null) throw new AppError("internal", "could not store, try again");
  yield* w.store.insertFile({ ...f, createdAt: w.clock() });
  return fileView(f);
}

/** Adds `file` to the views of messages that share one (one query for the lot; none for a page without files). */
export function* attachFiles<T extends MessageView>(ctx: Ctx, views: T[]): Flow<T[]> {
  let ids: string[] | null = null;
  for (const v of views) if (sharesFile(v.kind, v.content)) (ids ??= []).push(v.content);
  if (!ids) return views;
  const rows = yield* ctx.store.filesByIds([...new Set(ids)]);
  const byId = new Map(rows.map((r) => [r.id, fileView(r)]));
  for (const v of views) {
    const f = sharesFile(v.kind, v.content) ? byId.get(v.content) : undefined;
    if (f) v.file = f;
  }
  return views;
}

// ---------------------------------------------------------------- collection

export type CollectOptions = {
  /** Rows of uploads older than this (by the app's clock) that nothing shares are deleted. */
  maxAgeMs?: number;
  /**
   * Blobs and part files last written less than this long ago are kept: on a cluster, where another node
   * may be between an upload's rename and its row, or still writing its part (0: one process, whose own
   * pins and start-up sweep suffice).
   */
  graceMs?: number;
  /** The file system's wall clock, against which modification times are read. */
  wallClock?: () => number;
};

export type Collected = { rows: number; blobs: number; parts: number };

/** How many blobs one job of the blob pass looks at: each job holds the write path (cluster-wide on PostgreSQL). */
const BLOBS_PER_JOB = 500;

/**
 * Deletes the rows of uploads older than maxAgeMs (by the app's clock) that
 * nothing shares, then unlinks every blob no row names, no upload of this
 * process has pinned and, with a grace, not written within it; with a grace
 * also part files not written within it. Rows are deleted and blobs unlinked
 * in jobs of the write path, whose jobs run one at a time (on PostgreSQL
 * under the ids lock, cluster-wide), so no row naming a blob can be written
 * between a job's check and its unlink, and a message sharing a file is
 * either in before its row is judged or finds the row gone.
 */
export async function collectFiles(ctx: Ctx, opts: CollectOptions = {}): Promise<Collected> {
  const { maxAgeMs = UNSHARED_TTL_MS, graceMs = 0, wallClock = Date.now } = opts;
  const rows = await ctx.write((w) => w.store.deleteUnsharedFiles(w.clock() - maxAgeMs));
  const old = (sha: string) => {
    if (graceMs === 0) return true;
    const at = ctx.files.modifiedAt(sha);
    return at !== null && at < wallClock() - graceMs;
  };
  // Listed and narrowed outside the write path (a folder may be large); checked again inside.
  const named = new Set(await ctx.read(ctx.store.fileShas()));
  const candidates = ctx.files.list().filter((sha) => !named.has(sha) && !ctx.files.pinned(sha) && old(sha));
  let blobs = 0;
  for (let i = 0; i < candidates.length; i += BLOBS_PER_JOB) {
    const some = candidates.slice(i, i + BLOBS_PER_JOB);
    blobs += await ctx.write(function* (w) {
      const namedNow = new Set(yield* w.store.namedShas(some));
      let n = 0;
      for (const sha of some) if (!namedNow.has(sha) && !w.files.pinned(sha) && old(sha) && w.files.removeSync(sha)) n++;
      return n;
    });
  }
  const parts = graceMs === 0 ? 0 : ctx.files.sweepPartials(wallClock() - graceMs);
  return { rows, blobs, parts };
}
