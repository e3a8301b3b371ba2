// The request body limit: rim's 413 envelope at any size, in bounded memory.
//
// Bun's own cap (maxRequestBodySize) answers a bare 413 without the envelope,
// so server.ts lifts it and the limit is enforced here, per route:
// - a Content-Length above the limit is refused before a byte of the body is read;
// - a chunked body is counted while it streams and cut off at the limit,
//   so no more than the limit is ever held in memory.
// The unread rest of a refused body is never read either: the reply closes the
// connection (otherwise Bun would parse those bytes as the next request).
import type { MiddlewareHandler } from "hono";
import { AppError } from "../errors";
import type { Env } from "./context";

/** The largest body a request to `path` may carry, in bytes. */
export type LimitFor = (path: string) => number;

export function bodyLimit(limitFor: LimitFor): MiddlewareHandler<Env> {
  return async (c, next) => {
    const body = c.req.raw.body;
    if (!body) return next();
    const limit = limitFor(c.req.path);
    const tooLarge = () => {
      c.header("Connection", "close");
      return new AppError("too_large", `body: larger than ${limit} bytes`);
    };
    const length = c.req.header("Content-Length");
    if (length !== undefined && c.req.header("Transfer-Encoding") === undefined) {
      // Bun has checked that it is a number, and delivers exactly that many bytes.
      if (Number(length) > limit) throw tooLarge();
      return next();
    }
    const reader = body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        reader.cancel().catch(() => {});
        throw tooLarge();
      }
      chunks.push(value);
    }
    c.req.raw = new Request(c.req.raw, { body: Buffer.concat(chunks, size) });
    return next();
  };
}
