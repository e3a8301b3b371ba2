// A group's life after creation: members leave, the owner hands it over,
// names admins, deletes it. Each is a change in the group's log (Notify
// MemberRemoved, RoleChanged, GroupDeleted), replayed by Sync.
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import type { ServingApp as App } from "../app";
import { changeRole, deleteGroup, leaveGroup, transferGroup } from "../domain/groups";
import { callerUid, reply, replyWritten } from "./context";
import { BEARER, jsonBody, replies, RestRoutes } from "./openapi";
import { gidBody, roleBody, transferBody } from "./schemas";

export function groupLifecycleRoutes(app: App) {
  return new RestRoutes()
    .openapi(createRoute({ method: "post", path: "/leave", summary: "Leave a group (the owner transfers first: 409; alone, leaving deletes it)", security: BEARER, request: jsonBody(gidBody), responses: replies(z.literal(true)) }), async (c) => {
      const b = c.req.valid("json");
      const me = callerUid(c);
      await app.write((w) => leaveGroup(w, me, b.gid));
      return replyWritten(c, true);
    })
    .openapi(createRoute({ method: "post", path: "/transfer", summary: "Owner: make a member the owner; you become an admin", security: BEARER, request: jsonBody(transferBody), responses: replies(z.literal(true)) }), async (c) => {
      const b = c.req.valid("json");
      const me = callerUid(c);
      await app.write((w) => transferGroup(w, me, b.gid, b.uid));
      return replyWritten(c, true);
    })
    .openapi(createRoute({ method: "post", path: "/role", summary: "Owner: make a member an admin (2) or an admin a member (1)", security: BEARER, request: jsonBody(roleBody), responses: replies(z.literal(true)) }), async (c) => {
      const b = c.req.valid("json");
      const me = callerUid(c);
      await app.write((w) => changeRole(w, me, b.gid, b.uid, b.role));
      return replyWritten(c, true);
    })
    .openapi(createRoute({ method: "post", path: "/delete", summary: "Owner: delete the group; members get GroupDeleted, then nothing more of it", security: BEARER, request: jsonBody(gidBody), responses: replies(z.literal(true)) }), async (c) => {
      const b = c.req.valid("json");
      const me = callerUid(c);
      await app.write((w) => deleteGroup(w, me, b.gid));
      return replyWritten(c, true);
    });
}
