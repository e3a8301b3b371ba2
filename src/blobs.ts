// The bytes of uploaded files, on disk beside the database (--files DIR,
// default files/ next to the db file). Content-addressed: a file's bytes live
// at DIR/<first two hex digits>/<sha256>, so the same bytes are stored once.
//
// An upload streams into DIR/tmp/<random>.part (written by Bun natively:
// memory stays flat whatever the size), is hashed by reading it back through
// one buffer, fsynced, then renamed to its sha256 and the folder fsynced. A crash leaves at most a
// .part file, never a half file under a real name; the .part files of a
// crashed server are swept when it starts again. Rows (domain/files.ts) are
// written only after the rename, so a row always has its bytes.
//
// The folder also holds cookie.key, the key that signs the download cookie
// (http/files.ts): every node of a cluster shares the folder, so a cookie
// minted on one node is good on all; a copy of the database holds nothing to
// forge one with, and whoever can read the key can read every file already.
//
// Garbage collection (domain/files.ts collectFiles) may unlink a blob no row
// names; an upload pins its sha256 from before the rename until its row is
// committed (or refused), so a blob on its way to a row is never collected by
// its own process. Pins are no help to the other nodes of a cluster: there a
// blob is collected only once its modification time is old (an upload's blob
// keeps its part file's, and bytes found stored already are touched), and the
// row's job checks its bytes are still there (domain/files.ts recordUpload).
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, fsyncSync, linkSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeSync } from "node:fs";
import { open, rename, rm, stat, unlink, utimes } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { nanoid } from "nanoid";
import { AppError, badRequest } from "./errors";

/** The first bytes of an upload, kept for sniffing its type. */
export const HEAD_BYTES = 32;

const SHA = /^[0-9a-f]{64}$/;

/** The download cookie's signing key, beside the blobs. */
const KEY_FILE = "cookie.key";
const KEY_BYTES = 32;

export type Received = {
  sha256: string;
  size: number;
  /** The first HEAD_BYTES bytes (fewer for a smaller file). */
  head: Uint8Array;
  /** Moves the fsynced temporary file to its sha256 name (or drops it: those bytes are stored already), and fsyncs the folder. */
  commit(): Promise<void>;
  /** Unpins the sha256 and removes the temporary file if it is still there. Always call it, commit or not. */
  release(): Promise<void>;
};

export type BlobStore = ReturnType<typeof createBlobStore>;

/** The folder of the files: --files, else files/ beside the database; a database in memory gets a temporary folder. */
export function filesDir(config: { db: string; files: string }): string | null {
  if (config.files) return config.files;
  if (config.db === ":memory:") return null;
  return join(dirname(config.db), "files");
}

export function createBlobStore(configured: string | null) {
  // A database in memory has no folder beside it: its files go to a temporary folder, removed on close.
  let dir = configured;
  let owned = false;
  const root = () => {
    if (dir === null) {
      dir = mkdtempSync(join(tmpdir(), "rim-files-"));
      owned = true;
    }
    return dir;
  };
  const tmp = () => join(root(), "tmp");
  const pins = new Map<string, number>();
  let key: Buffer | null = null;
  let ready = false;
  const ensure = () => {
    if (!ready) mkdirSync(tmp(), { recursive: true });
    ready = true;
  };

  const store = {
    get dir() {
      return root();
    },
    path(sha256: string): string {
      return join(root(), sha256.slice(0, 2), sha256);
    },

    /**
     * Streams a request body into a temporary file, fsynced, and hashes it.
     * Bun writes the body to the file natively: no chunk passes through the
     * JavaScript heap, so memory stays flat whatever the size (chunks read in
     * JavaScript pile up until a collection: +20 MB and more per 25 MiB). A
     * Content-Length is checked against `limit` by the caller before a byte
     * is read; a body without one is bounded by the server's
     * maxRequestBodySize while it streams and refused past `limit` once
     * written (413). Then the file is read back through one small buffer to
     * hash it. An empty body is 400. The sha256 is pinned against collection
     * until release().
     */
    async receive(req: Request, length: number | null, limit: number): Promise<Received> {
      ensure();
      const part = join(tmp(), nanoid() + ".part");
      // Created first, so the file is private (0600) whatever the umask.
      await (await open(part, "wx", 0o600)).close();
      let digest: { sha256: string; size: number; head: Uint8Array };
      try {
        // With a Content-Length (checked against the limit before this), Bun writes the body natively; without one
        // (chunked), it is counted on the way and cut off at the limit, so no body larger than that ever lands.
        const written = length !== null ? await Bun.write(part, req).catch(cutOff) : await writeCounted(part, req, limit).catch(cutOff);
        if (length !== null && written !== length) throw badRequest("body: its length is not its Content-Length");
        if (written > limit) throw tooLarge(limit);
        digest = await hashAndSync(part);
        if (digest.size === 0) throw badRequest("body: the file is empty");
      } catch (err) {
        await unlink(part).catch(() => {});
        throw err;
      }
      const { sha256, size, head } = digest;
      pins.set(sha256, (pins.get(sha256) ?? 0) + 1);
      let released = false;
      return {
        sha256,
        size,
        head,
        async commit() {
          const target = store.path(sha256);
          if (existsSync(target)) {
            // Those bytes are stored already: keep the one copy (pinned, so this process's collection leaves it
            // alone; touched, so another node's sees it young).
            await unlink(part);
            const now = new Date();
            await utimes(target, now, now).catch(() => {});
            return;
          }
          mkdirSync(dirname(target), { recursive: true });
          await rename(part, target);
          await fsyncDir(dirname(target));
        },
        async release() {
          if (released) return;
          released = true;
          const n = (pins.get(sha256) ?? 1) - 1;
          if (n > 0) pins.set(sha256, n);
          else pins.delete(sha256);
          await rm(part, { force: true });
        },
      };
    },

    /** Whether an upload holds this sha256 between its rename and its row. */
    pinned(sha256: string): boolean {
      return pins.has(sha256);
    },

    /** When the blob was last written or touched (the file system's wall clock, ms), or null if it is not there. */
    modifiedAt(sha256: string): number | null {
      try {
        return statSync(store.path(sha256)).mtimeMs;
      } catch {
        return null;
      }
    },

    async exists(sha256: string): Promise<boolean> {
      return stat(store.path(sha256)).then(
        (s) => s.isFile(),
        () => false,
      );
    },

    /**
     * The key that signs download cookies: read from the folder, or made there by the first node that needs
     * it. Made under a name of its own and hard-linked into place, which fails if another node's got there
     * first: then that one is read, so every node ends with the same key.
     */
    signingKey(): Buffer {
      if (key) return key;
      const path = join(root(), KEY_FILE);
      if (!existsSync(path)) {
        mkdirSync(root(), { recursive: true });
        const mine = `${path}.${nanoid()}`;
        const fd = openSync(mine, "wx", 0o600);
        try {
          writeSync(fd, randomBytes(KEY_BYTES));
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        try {
          linkSync(mine, path);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
        } finally {
          unlinkSync(mine);
        }
      }
      const read = readFileSync(path);
      if (read.length !== KEY_BYTES) throw new Error(`${path} is not a key of ${KEY_BYTES} bytes: remove it (every download cookie then needs renewing)`);
      return (key = read);
    },

    /** Every sha256 stored. */
    list(): string[] {
      const d = root();
      if (!existsSync(d)) return [];
      const out: string[] = [];
      for (const shard of readdirSync(d)) {
        if (!/^[0-9a-f]{2}$/.test(shard)) continue;
        for (const name of readdirSync(join(d, shard))) if (SHA.test(name) && name.startsWith(shard)) out.push(name);
      }
      return out;
    },

    /** Unlinks a blob (synchronously: the caller checked it is unreferenced and unpinned in the same turn). */
    removeSync(sha256: string): boolean {
      try {
        unlinkSync(store.path(sha256));
        return true;
      } catch {
        return false;
      }
    },

    /** Writes bytes under their sha256 the way an upload does (restore). */
    async put(sha256: string, chunks: Iterable<Uint8Array>): Promise<void> {
      ensure();
      const target = store.path(sha256);
      if (existsSync(target)) return;
      const part = join(tmp(), nanoid() + ".part");
      const fh = await open(part, "wx", 0o600);
      const hasher = new Bun.CryptoHasher("sha256");
      try {
        for (const c of chunks) {
          hasher.update(c);
          for (let off = 0; off < c.byteLength; ) off += (await fh.write(c, off, c.byteLength - off)).bytesWritten;
        }
        await fh.sync();
      } finally {
        await fh.close();
      }
      if (hasher.digest("hex") !== sha256) {
        await unlink(part);
        throw new Error(`the bytes of ${sha256} do not hash to it`);
      }
      mkdirSync(dirname(target), { recursive: true });
      await rename(part, target);
      await fsyncDir(dirname(target));
    },

    /**
     * Removes the .part files a crashed server left: every one at the start of a server that has the folder
     * to itself, only those last written before `before` (the file system's wall clock, ms) where other nodes
     * may be uploading into it (an upload writes its part until it is renamed).
     */
    sweepPartials(before?: number): number {
      if (dir === null || !existsSync(tmp())) return 0;
      let n = 0;
      for (const name of readdirSync(tmp())) {
        const path = join(tmp(), name);
        if (before !== undefined) {
          try {
            if (statSync(path).mtimeMs >= before) continue;
          } catch {
            continue; // gone meanwhile: renamed by its upload, or removed
          }
        }
        rmSync(path, { force: true, recursive: true });
        n++;
      }
      return n;
    },

    close() {
      if (owned && dir) rmSync(dir, { recursive: true, force: true });
    },
  };
  return store;
}

/** The client went away (or stalled past the idle timeout) mid-body: its fault, not the server's. */
function cutOff(err: unknown): never {
  if (err instanceof AppError) throw err;
  throw badRequest("body: the upload was cut off");
}

const tooLarge = (limit: number) => new AppError("too_large", `body: the file is larger than ${limit} bytes (--max-upload)`);

const READ_BUFFER = 512 * 1024;

/** Reads the file back through one buffer (no allocation per chunk) to hash it, then fsyncs it. */
async function hashAndSync(path: string): Promise<{ sha256: string; size: number; head: Uint8Array }> {
  const fh = await open(path, "r+");
  try {
    const hasher = new Bun.CryptoHasher("sha256");
    const buf = Buffer.allocUnsafe(READ_BUFFER);
    let size = 0;
    let head: Uint8Array | null = null;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, READ_BUFFER, size);
      if (bytesRead === 0) break;
      head ??= buf.subarray(0, Math.min(HEAD_BYTES, bytesRead)).slice();
      hasher.update(buf.subarray(0, bytesRead));
      size += bytesRead;
    }
    await fh.sync();
    return { sha256: hasher.digest("hex"), size, head: head ?? new Uint8Array(0) };
  } finally {
    await fh.close();
  }
}

async function fsyncDir(path: string) {
  const fh = await open(path, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Streams a body without a Content-Length to a file, refusing it (413) as soon as it passes the limit. */
async function writeCounted(path: string, req: Request, limit: number): Promise<number> {
  const sink = Bun.file(path).writer({ highWaterMark: 1 << 20 });
  let written = 0;
  try {
    if (req.body) {
      for await (const chunk of req.body) {
        written += chunk.byteLength;
        if (written > limit) throw tooLarge(limit);
        sink.write(chunk);
        // Bounded memory: the sink's buffer goes to disk before the next chunk is read.
        await sink.flush();
      }
    }
  } finally {
    await sink.end();
  }
  return written;
}
