// A group's life after creation: members leave, the owner hands it over,
// names admins, deletes it. Each is a change in the group's log (Notify
// MemberRemoved, RoleChanged, GroupDeleted), replayed by Sync.
import { Hono } from "hono";
import type { App } from "../app";
import { changeRole, deleteGroup, leaveGroup, transferGroup } from "../domain/groups";
import { callerUid, readBody, reply, type Env } from "./context";
import { gidBody, roleBody, transferBody } from "./schemas";

export function groupLifecycleRoutes(app: App) {
  return new Hono<Env>()
    .post("/leave", async (c) => {
      const b = await readBody(c, gidBody);
      const me = callerUid(c);
      await app.write((w) => leaveGroup(w, me, b.gid));
      return reply(c, true);
    })
    .post("/transfer", async (c) => {
      const b = await readBody(c, transferBody);
      const me = callerUid(c);
      await app.write((w) => transferGroup(w, me, b.gid, b.uid));
      return reply(c, true);
    })
    .post("/role", async (c) => {
      const b = await readBody(c, roleBody);
      const me = callerUid(c);
      await app.write((w) => changeRole(w, me, b.gid, b.uid, b.role));
      return reply(c, true);
    })
    .post("/delete", async (c) => {
      const b = await readBody(c, gidBody);
      const me = callerUid(c);
      await app.write((w) => deleteGroup(w, me, b.gid));
      return reply(c, true);
    });
}
