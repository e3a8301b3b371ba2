// POST /api/message/edit, /delete, /react: the REST side of the socket's
// Edit, Delete and React. Each is one job on the write path; the reply is
// the updated MessageInfo, sent once the change is durable and announced.
import { Hono } from "hono";
import { z } from "zod";
import type { App } from "../app";
import { announceChange, deleteMessage, editMessage, reactToMessage, type Change } from "../domain/changes";
import type { WriteCtx } from "../write/writer";
import { emoji } from "../ws/frames";
import { callerUid, readBody, reply, type Env } from "./context";
import { id } from "./schemas";

export const editBody = z.object({ gid: id, msgId: id, content: z.string() });
export const deleteBody = z.object({ gid: id, msgId: id });
export const reactBody = z.object({ gid: id, msgId: id, emoji: emoji(), on: z.boolean() });

export function messageChangeRoutes(app: App) {
  /** Announces the change once durable, counts it, and gives the route its reply. */
  const done = (w: WriteCtx, change: Change) => {
    announceChange(w, change);
    if (change.event) app.metrics.inc("rim_message_changes_total", { kind: change.event.kind });
    return change.message;
  };
  return new Hono<Env>()
    .post("/edit", async (c) => {
      const b = await readBody(c, editBody);
      const me = callerUid(c);
      const message = await app.write((w) => done(w, editMessage(w, me, b)));
      return reply(c, message);
    })
    .post("/delete", async (c) => {
      const b = await readBody(c, deleteBody);
      const me = callerUid(c);
      const message = await app.write((w) => done(w, deleteMessage(w, me, b)));
      return reply(c, message);
    })
    .post("/react", async (c) => {
      const b = await readBody(c, reactBody);
      const me = callerUid(c);
      const message = await app.write((w) => done(w, reactToMessage(w, me, b)));
      return reply(c, message);
    });
}
