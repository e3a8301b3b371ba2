import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import type { ServingApp as App } from "../app";
import { history } from "../domain/messages";
import { chatList, markGroupRead } from "../domain/reads";
import { notifyFrame } from "../push";
import { chatListBody, groupReadBody, historyBody } from "./schemas";
import { callerUid, reply, replyWritten } from "./context";
import { BEARER, ChatListItem, ChatMessage, jsonBody, replies, RestRoutes } from "./openapi";

export function messageRoutes(app: App) {
  return new RestRoutes()
    .openapi(createRoute({ method: "post", path: "/chat/list", summary: "Your conversations, newest activity first, with unread counts and unread mentions", security: BEARER, request: jsonBody(chatListBody), responses: replies(z.array(ChatListItem)) }), async (c) => {
      const b = c.req.valid("json");
      return reply(c, await app.read(chatList(app, callerUid(c, b.uid), b.page, b.size)));
    })
    .openapi(createRoute({ method: "post", path: "/history", summary: "A page of a group's messages, ascending within the page", security: BEARER, request: jsonBody(historyBody), responses: replies(z.array(ChatMessage)) }), async (c) => {
      const b = c.req.valid("json");
      // rim's demo client sends the other party's uid here: accepted and ignored.
      const me = callerUid(c);
      return reply(c, await app.read(history(app, me, { gid: b.gid, page: b.page, size: b.size, beforeId: b.beforeId })));
    })
    .openapi(createRoute({ method: "post", path: "/group/read", summary: "Move your read cursor to the group's newest message", security: BEARER, request: jsonBody(groupReadBody), responses: replies(z.literal(true)) }), async (c) => {
      const b = c.req.valid("json");
      const me = callerUid(c, b.uid);
      await app.write(function* (w) {
        const upTo = yield* markGroupRead(w, me, b.gid);
        if (upTo !== null) w.effects.push({ type: "publish", gid: b.gid, data: notifyFrame("Read", me, b.gid, upTo) });
      });
      return replyWritten(c, true);
    });
}
