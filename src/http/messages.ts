import { Hono } from "hono";
import type { App } from "../app";
import { history } from "../domain/messages";
import { chatList, markGroupRead } from "../domain/reads";
import { notifyFrame } from "../push";
import { chatListBody, groupReadBody, historyBody } from "./schemas";
import { callerUid, readBody, reply, type Env } from "./context";

export function messageRoutes(app: App) {
  return new Hono<Env>()
    .post("/chat/list", async (c) => {
      const b = await readBody(c, chatListBody);
      return reply(c, chatList(app, callerUid(c, b.uid), b.page, b.size));
    })
    .post("/history", async (c) => {
      const b = await readBody(c, historyBody);
      // rim's demo client sends the other party's uid here: accepted and ignored.
      const me = callerUid(c);
      return reply(c, history(app, me, { gid: b.gid, page: b.page, size: b.size, beforeId: b.beforeId }));
    })
    .post("/group/read", async (c) => {
      const b = await readBody(c, groupReadBody);
      const me = callerUid(c, b.uid);
      await app.write((w) => {
        const upTo = markGroupRead(w, me, b.gid);
        if (upTo !== null) w.effects.push({ type: "publish", gid: b.gid, data: notifyFrame("Read", me, b.gid, upTo) });
      });
      return reply(c, true);
    });
}
