import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import type { ServingApp as App } from "../app";
import { listFriends, requestFriend, respondToFriend } from "../domain/friends";
import { friendAddBody, friendListQuery, friendModifyBody } from "./schemas";
import { callerUid, reply, replyWritten } from "./context";
import { BEARER, jsonBody, replies, RestRoutes, User } from "./openapi";

export function friendRoutes(app: App) {
  return new RestRoutes()
    .openapi(createRoute({ method: "post", path: "/add", summary: "Ask someone to be friends", security: BEARER, request: jsonBody(friendAddBody), responses: replies(z.literal(true)) }), async (c) => {
      const b = c.req.valid("json");
      const me = callerUid(c, b.uid);
      await app.write((w) => requestFriend(w, me, b.fid));
      return replyWritten(c, true);
    })
    .openapi(createRoute({ method: "get", path: "/list", summary: "0 pending (dir=in: sent to you), 1 friends, 2 rejected", security: BEARER, request: { query: friendListQuery }, responses: replies(z.array(User)) }), async (c) => {
      const q = c.req.valid("query");
      return reply(c, await app.read(listFriends(app, callerUid(c), q.status, q.dir === "in")));
    })
    .openapi(createRoute({ method: "post", path: "/status/modify", summary: "Confirm (1) or reject (2) a request fid sent you", security: BEARER, request: jsonBody(friendModifyBody), responses: replies(z.literal(true)) }), async (c) => {
      const b = c.req.valid("json");
      const me = callerUid(c, b.uid);
      await app.write((w) => respondToFriend(w, me, b.fid, b.status));
      return replyWritten(c, true);
    });
}
