import { Hono } from "hono";
import type { App } from "../app";
import { addMembers, createGroup, listGroupsOf, listMembers, removeMembers, updateGroup } from "../domain/groups";
import { changeMembersBody, createGroupBody, gidQuery, ownUidQuery, updateGroupBody } from "./schemas";
import { callerUid, readBody, readQuery, reply, type Env } from "./context";
import { announce } from "../ws/notify";

export function groupRoutes(app: App) {
  return new Hono<Env>()
    .post("/create", async (c) => {
      const b = await readBody(c, createGroupBody);
      const me = callerUid(c, b.group.creatorUid);
      const { gid, created, memberIds } = createGroup(app, me, { ...b.group, members: b.users });
      if (created) announce.membersAdded(app, gid, me, memberIds);
      return reply(c, gid);
    })
    .post("/update", async (c) => {
      const b = await readBody(c, updateGroupBody);
      const me = callerUid(c);
      const group = updateGroup(app, me, { gid: b.id, name: b.name, avatar: b.avatar });
      announce.groupUpdated(app, group, me);
      return reply(c, true);
    })
    .get("/get", (c) => reply(c, listGroupsOf(app, callerUid(c, readQuery(c, ownUidQuery).uid))))
    .get("/user/get", (c) => reply(c, listMembers(app, callerUid(c), readQuery(c, gidQuery).gid)))
    .post("/user/change", async (c) => {
      const b = await readBody(c, changeMembersBody);
      const me = callerUid(c);
      if (b.opType === 1) {
        const added = addMembers(app, me, b.gid, b.uids);
        if (added.length) announce.membersAdded(app, b.gid, me, added);
      } else {
        const removed = removeMembers(app, me, b.gid, b.uids);
        if (removed.length) announce.membersRemoved(app, b.gid, me, removed);
      }
      return reply(c, true);
    });
}
