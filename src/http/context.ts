import type { Context } from "hono";
import type { z } from "zod";
import type { App } from "../app";
import type { Session } from "../domain/sessions";
import { badRequest, forbidden, okEnvelope } from "../errors";

export type Env = {
  Variables: { session: Session };
  Bindings: { ip?: string };
};
export type Ctx = Context<Env>;
export type { App };

/** The JSON body parsed by a zod schema; 400 naming the field otherwise. */
export async function readBody<S extends z.ZodType>(c: Ctx, schema: S): Promise<z.output<S>> {
  let raw: unknown;
  try {
    raw = await c.req.json();
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

/** A uid in a body or query may only name the caller; left out, it means the caller. */
export function callerUid(c: Ctx, claimed?: number): number {
  const uid = c.get("session").userId;
  if (claimed !== undefined && claimed !== uid) throw forbidden("uid: may only name yourself");
  return uid;
}

export const clientIp = (c: Ctx) => c.env?.ip ?? "unknown";
