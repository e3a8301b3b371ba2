// POST /api/message/edit, /delete, /react: the REST side of the socket's
// Edit, Delete and React. Each is one job on the write path; the reply is
// the updated MessageInfo, sent once the change is durable and announced.
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import type { ServingApp as App } from "../app";
import { announceChange, deleteMessage, editMessage, reactToMessage, type Change } from "../domain/changes";
import type { WriteCtx } from "../write/writer";
import { emoji } from "../protocol/frames";
import { callerUid, reply, replyWritten } from "./context";
import { BEARER, jsonBody, MessageInfo, replies, RestRoutes } from "./openapi";
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
  const route = (path: string, summary: string, body: z.ZodType) =>
    createRoute({ method: "post", path, summary, security: BEARER, request: jsonBody(body), responses: replies(MessageInfo) });
  return new RestRoutes()
    .openapi(route("/edit", "Edit your message (not a deleted one); keeps its msgId and seq; members get Notify Edited", editBody), async (c) => {
      const b = c.req.valid("json") as z.output<typeof editBody>;
      const me = callerUid(c);
      const message = await app.write(function* (w) {
        return done(w, yield* editMessage(w, me, b));
      });
      return replyWritten(c, message);
    })
    .openapi(route("/delete", "Delete a message (its sender, or the group's owner or an admin); members get Notify Deleted", deleteBody), async (c) => {
      const b = c.req.valid("json") as z.output<typeof deleteBody>;
      const me = callerUid(c);
      const message = await app.write(function* (w) {
        return done(w, yield* deleteMessage(w, me, b));
      });
      return replyWritten(c, message);
    })
    .openapi(route("/react", "Add (on: true) or take back (on: false) your reaction; idempotent; members get Notify Reacted", reactBody), async (c) => {
      const b = c.req.valid("json") as z.output<typeof reactBody>;
      const me = callerUid(c);
      const message = await app.write(function* (w) {
        return done(w, yield* reactToMessage(w, me, b));
      });
      return replyWritten(c, message);
    });
}
