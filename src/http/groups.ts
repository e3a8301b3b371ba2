import { Hono } from "hono";
import type { App } from "../app";
import { addMembers, createGroup, listGroupsOf, listMembers, removeMembers, updateGroup } from "../domain/groups";
import { changeMembersBody, createGroupBody, gidQuery, ownUidQuery, updateGroupBody } from "./schemas";
import { callerUid, readBody, readQuery, reply, type Env } from "./context";

export function groupRoutes(app: App) {
  return new Hono<Env>()
    .post("/create", async (c) => {
      const b = await readBody(c, createGroupBody);
      const me = callerUid(c, b.group.creatorUid);
      const { gid } = await app.write((w) => createGroup(w, me, { ...b.group, members: b.users }));
      return reply(c, gid);
    })
    .post("/update", async (c) => {
      const b = await readBody(c, updateGroupBody);
      const me = callerUid(c);
      await app.write((w) => updateGroup(w, me, { gid: b.id, name: b.name, avatar: b.avatar }));
      return reply(c, true);
    })
    .get("/get", (c) => reply(c, listGroupsOf(app, callerUid(c, readQuery(c, ownUidQuery).uid))))
    .get("/user/get", (c) => reply(c, listMembers(app, callerUid(c), readQuery(c, gidQuery).gid)))
    .post("/user/change", async (c) => {
      const b = await readBody(c, changeMembersBody);
      const me = callerUid(c);
      await app.write((w) => (b.opType === 1 ? addMembers(w, me, b.gid, b.uids) : removeMembers(w, me, b.gid, b.uids)));
      return reply(c, true);
    });
}
