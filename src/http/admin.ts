// /api/admin/: server administration for users whose is_admin flag is set.
// Everyone else gets 403 on every route, checked before any input is read.
import { Hono } from "hono";
import type { App } from "../app";
import { listInvites, listUsers, requireServerAdmin, revokeInvite, setUserDisabled, setUserPassword } from "../domain/admin";
import { createInvite } from "../domain/invites";
import { currentSettings, saveSettings } from "../domain/settings";
import { databaseStats } from "../domain/stats";
import { hashPassword } from "../domain/users";
import { callerUid, readBody, readQuery, reply, type Env } from "./context";
import { adminPasswordBody, adminUsersQuery, inviteIdBody, settingsBody, uidBody } from "./schemas";

export const settingsOf = (app: App) => currentSettings(app, { registration: app.config.registration, inviters: "members" });

export function adminRoutes(app: App) {
  return new Hono<Env>()
    .use(async (c, next) => {
      requireServerAdmin(app, callerUid(c));
      await next();
    })
    .get("/users", (c) => reply(c, listUsers(app, readQuery(c, adminUsersQuery))))
    .post("/user/disable", async (c) => {
      const b = await readBody(c, uidBody);
      const me = callerUid(c);
      await app.write((w) => setUserDisabled(w, me, b.uid, true));
      return reply(c, true);
    })
    .post("/user/enable", async (c) => {
      const b = await readBody(c, uidBody);
      const me = callerUid(c);
      await app.write((w) => setUserDisabled(w, me, b.uid, false));
      return reply(c, true);
    })
    .post("/user/password", async (c) => {
      const b = await readBody(c, adminPasswordBody);
      const hash = await hashPassword(app, b.password);
      await app.write((w) => setUserPassword(w, b.uid, hash));
      return reply(c, true);
    })
    .get("/invites", (c) => reply(c, listInvites(app)))
    .post("/invite/create", async (c) => {
      const me = callerUid(c);
      const code = await app.write((w) => createInvite(w, me, app.config.inviteTtlDays));
      return reply(c, { code, link: `/app/#invite=${code}` });
    })
    .post("/invite/revoke", async (c) => {
      const b = await readBody(c, inviteIdBody);
      await app.write((w) => revokeInvite(w, b.id));
      return reply(c, true);
    })
    .get("/settings", (c) => reply(c, settingsOf(app)))
    .post("/settings", async (c) => {
      const b = await readBody(c, settingsBody);
      await app.write((w) => saveSettings(w, b));
      app.log.info("admin.settings_changed", { uid: callerUid(c), ...b });
      return reply(c, settingsOf(app));
    })
    .get("/stats", (c) => reply(c, { ...databaseStats(app), socketsOpen: app.hub.socketCount(), usersOnline: app.hub.onlineUsers() }));
}
