import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import type { ServingApp as App } from "../app";
import { addMembers, createGroup, listGroupsOf, listMembers, removeMembers, updateGroup } from "../domain/groups";
import { changeMembersBody, createGroupBody, gidQuery, id, ownUidQuery, updateGroupBody } from "./schemas";
import { callerUid, reply, replyWritten } from "./context";
import { BEARER, Group, jsonBody, Member, replies, RestRoutes } from "./openapi";

export function groupRoutes(app: App) {
  return new RestRoutes()
    .openapi(createRoute({ method: "post", path: "/create", summary: "Create a group or direct chat (mode 1; returns the existing one)", security: BEARER, request: jsonBody(createGroupBody), responses: replies(id.describe("gid")) }), async (c) => {
      const b = c.req.valid("json");
      const me = callerUid(c, b.group.creatorUid);
      const { gid } = await app.write((w) => createGroup(w, me, { ...b.group, members: b.users }));
      return replyWritten(c, gid);
    })
    .openapi(createRoute({ method: "post", path: "/update", summary: "Rename or change the avatar (admins)", security: BEARER, request: jsonBody(updateGroupBody), responses: replies(z.literal(true)) }), async (c) => {
      const b = c.req.valid("json");
      const me = callerUid(c);
      await app.write((w) => updateGroup(w, me, { gid: b.id, name: b.name, avatar: b.avatar }));
      return replyWritten(c, true);
    })
    .openapi(createRoute({ method: "get", path: "/get", summary: "Your groups (uid must be yours)", security: BEARER, request: { query: ownUidQuery }, responses: replies(z.array(Group)) }), async (c) => reply(c, await app.read(listGroupsOf(app, callerUid(c, c.req.valid("query").uid)))))
    .openapi(createRoute({ method: "get", path: "/user/get", summary: "Members of a group you are in", security: BEARER, request: { query: gidQuery }, responses: replies(z.array(Member)) }), async (c) => reply(c, await app.read(listMembers(app, callerUid(c), c.req.valid("query").gid))))
    .openapi(createRoute({ method: "post", path: "/user/change", summary: "Add (1, admins) or remove (2) members", security: BEARER, request: jsonBody(changeMembersBody), responses: replies(z.literal(true)) }), async (c) => {
      const b = c.req.valid("json");
      const me = callerUid(c);
      await app.write((w) => (b.opType === 1 ? addMembers(w, me, b.gid, b.uids) : removeMembers(w, me, b.gid, b.uids)));
      return replyWritten(c, true);
    });
}
