import type { Context } from "hono";
import type { z } from "zod";
import type { ServingApp as App } from "../app";
import type { Session } from "../domain/sessions";
import type { ClientInfo } from "../net";
import { AppError, badRequest, forbidden, okEnvelope } from "../errors";

export type Env = {
  /** client: the address and TLS of whoever is asking, read through a trusted proxy (net.ts). */
  Variables: { session: Session; client: ClientInfo; answeredByWrite?: true };
  Bindings: { ip?: string };
};
export type Ctx = Context<Env>;
export type { App };

/**
 * Whether a Content-Type is JSON in UTF-8: `application/json`, with at most a
 * utf-8 charset. A browser's cross-site form post can only send
 * application/x-www-form-urlencoded, multipart/form-data or text/plain
 * without a preflight, so refusing them keeps such posts from logging in or
 * registering in a victim's browser.
 */
export function isJsonType(header: string | undefined): boolean {
  if (!header) return false;
  const [type, ...params] = header.split(";").map((p) => p.trim().toLowerCase());
  if (type !== "application/json") return false;
  return params.every((p) => p === "" || /^charset\s*=\s*"?utf-8"?$/.test(p));
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The JSON body parsed by a zod schema: 415 unless it is declared JSON, 400 naming the field otherwise. */
export async function readBody<S extends z.ZodType>(c: Ctx, schema: S): Promise<z.output<S>> {
  if (!isJsonType(c.req.header("content-type"))) {
    throw new AppError("unsupported_media_type", "body: Content-Type must be application/json");
  }
  // A read error (the body limit) goes on to its middleware.
  const bytes = await c.req.arrayBuffer();
  let text: string;
  try {
    // fatal: bytes that are not UTF-8 are refused, not turned into U+FFFD (what was sent is what is stored).
    text = utf8.decode(bytes);
  } catch {
    throw badRequest("body: must be UTF-8");
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw badRequest("body: must be JSON");
  }
  if (!wellFormed(raw)) throw badRequest("body: text must be well-formed Unicode (no lone surrogates)");
  return schema.parse(raw);
}

/**
 * Whether every string (and key) in a parsed body is well-formed Unicode. A lone
 * surrogate (JSON "\ud800") would be stored as U+FFFD: not what was sent, and
 * two different texts would become one. Iterative: bodies may nest deeply.
 */
function wellFormed(root: unknown): boolean {
  const lone = /\p{Cs}/u;
  const stack = [root];
  while (stack.length) {
    const v = stack.pop();
    if (typeof v === "string") {
      if (lone.test(v)) return false;
    } else if (v !== null && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) {
        if (lone.test(k)) return false;
        stack.push(x);
      }
    }
  }
  return true;
}

export function readQuery<S extends z.ZodType>(c: Ctx, schema: S): z.output<S> {
  return schema.parse(c.req.query());
}

export const reply = <const T>(c: Ctx, data: T) => c.json(okEnvelope(data), 200);

/**
 * The reply of a write route answered by its own write's result (or a constant),
 * with nothing read after that write settled. The write path settles jobs in
 * commit order, so once its write is durable and announced, so is every write
 * committed before it, which is all its reads could have seen: the API
 * middleware need not wait for writes committed since (under a stream of
 * messages, the next fsync).
 */
export function replyWritten<const T>(c: Ctx, data: T) {
  c.set("answeredByWrite", true);
  return reply(c, data);
}

/** A uid in a body or query may only name the caller; left out, it means the caller. */
export function callerUid(c: Ctx, claimed?: number): number {
  const uid = c.get("session").userId;
  if (claimed !== undefined && claimed !== uid) throw forbidden("uid: may only name yourself");
  return uid;
}

/** The client's address: the peer's, or the one a trusted proxy forwarded for (--trust-proxy). */
export const clientIp = (c: Ctx) => c.get("client")?.ip ?? c.env?.ip ?? "unknown";
