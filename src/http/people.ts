// The directory and one's own profile, under /api/user.
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import type { ServingApp as App } from "../app";
import { directory, updateProfile } from "../domain/people";
import { callerUid, reply, replyWritten } from "./context";
import { BEARER, jsonBody, replies, RestRoutes, User } from "./openapi";
import { directoryQuery, profileBody } from "./schemas";

export function peopleRoutes(app: App) {
  return new RestRoutes()
    .openapi(createRoute({ method: "get", path: "/directory", summary: "People whose account or name contains q (case-insensitive), prefix matches first; disabled users left out, emails blank", security: BEARER, request: { query: directoryQuery }, responses: replies(z.array(User)) }), async (c) => {
      const q = c.req.valid("query");
      return reply(c, await app.read(directory(app, q.q, q.limit)));
    })
    .openapi(createRoute({ method: "post", path: "/update", summary: "Change your name, avatar or email; returns your profile", security: BEARER, request: jsonBody(profileBody), responses: replies(User) }), async (c) => {
      const b = c.req.valid("json");
      const me = callerUid(c);
      return replyWritten(c, await app.write((w) => updateProfile(w, me, b)));
    });
}
