// POST /api/message/edit, /delete, /react: the REST side of the socket's
// Edit, Delete and React. Each is one job on the write path; the reply is
// the updated MessageInfo, sent once the change is durable and announced.
import { Hono } from "hono";
import { z } from "zod";
import type { App } from "../app";
import { announceChange, deleteMessage, editMessage, reactToMessage } from "../domain/changes";
import { emoji } from "../ws/frames";
import { callerUid, readBody, reply, type Env } from "./context";
import { id } from "./schemas";

export const editBody = z.object({ gid: id, msgId: id, content: z.string() });
export const deleteBody = z.object({ gid: id, msgId: id });
export const reactBody = z.object({ gid: id, msgId: id, emoji: emoji(), on: z.boolean() });

export function messageChangeRoutes(app: App) {
  return new Hono<Env>()
    .post("/edit", async (c) => {
      const b = await readBody(c, editBody);
      const me = callerUid(c);
      const message = await app.write((w) => {
        const change = editMessage(w, me, b);
        announceChange(w, change);
        return change.message;
      });
      return reply(c, message);
    })
    .post("/delete", async (c) => {
      const b = await readBody(c, deleteBody);
      const me = callerUid(c);
      const message = await app.write((w) => {
        const change = deleteMessage(w, me, b);
        announceChange(w, change);
        return change.message;
      });
      return reply(c, message);
    })
    .post("/react", async (c) => {
      const b = await readBody(c, reactBody);
      const me = callerUid(c);
      const message = await app.write((w) => {
        const change = reactToMessage(w, me, b);
        announceChange(w, change);
        return change.message;
      });
      return reply(c, message);
    });
}
