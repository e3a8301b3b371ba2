// /api/admin/: server administration for users whose is_admin flag is set.
// Everyone else gets 403 on every route, checked before any input is read.
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import type { ServingApp as App } from "../app";
import { listInvites, listUsers, requireServerAdmin, revokeInvite, setUserDisabled, setUserPassword } from "../domain/admin";
import { createInvite } from "../domain/invites";
import { currentSettings, INVITERS, REGISTRATION, saveSettings } from "../domain/settings";
import { databaseStats } from "../domain/stats";
import { hashPassword } from "../domain/users";
import { callerUid, reply, replyWritten } from "./context";
import { BEARER, jsonBody, replies, RestRoutes, time, User } from "./openapi";
import { adminPasswordBody, adminUsersQuery, id, inviteIdBody, settingsBody, uidBody } from "./schemas";

export const settingsOf = (app: App) => app.read(currentSettings(app, { registration: app.config.registration, inviters: "members" }));

const AdminUser = User.extend({ admin: z.boolean(), disabled: z.boolean(), createTime: time });
const Invite = z.object({ id, createdBy: id.nullable(), createTime: time, expireTime: time, usedBy: id.nullable(), status: z.enum(["live", "used", "expired"]) });
const Settings = z.object({ registration: z.enum(REGISTRATION), inviters: z.enum(INVITERS) });
const ok = replies(z.literal(true));
const route = <R extends Parameters<typeof createRoute>[0]>(r: R) => createRoute({ ...r, security: BEARER });

export function adminRoutes(app: App) {
  const routes = new RestRoutes();
  routes.use(async (c, next) => {
    await app.read(requireServerAdmin(app, callerUid(c)));
    await next();
  });
  return routes
    .openapi(route({ method: "get", path: "/users", summary: "Admin: users, newest first, searchable by account or name", request: { query: adminUsersQuery }, responses: replies(z.object({ users: z.array(AdminUser), total: z.number().int() })) }), async (c) =>
      reply(c, await app.read(listUsers(app, c.req.valid("query")))),
    )
    .openapi(route({ method: "post", path: "/user/disable", summary: "Admin: disable a user (revokes tokens, closes sockets)", request: jsonBody(uidBody), responses: ok }), async (c) => {
      const b = c.req.valid("json");
      const me = callerUid(c);
      await app.write((w) => setUserDisabled(w, me, b.uid, true));
      return replyWritten(c, true);
    })
    .openapi(route({ method: "post", path: "/user/enable", summary: "Admin: enable a user", request: jsonBody(uidBody), responses: ok }), async (c) => {
      const b = c.req.valid("json");
      const me = callerUid(c);
      await app.write((w) => setUserDisabled(w, me, b.uid, false));
      return replyWritten(c, true);
    })
    .openapi(route({ method: "post", path: "/user/password", summary: "Admin: set a user's password (revokes tokens, closes sockets)", request: jsonBody(adminPasswordBody), responses: ok }), async (c) => {
      const b = c.req.valid("json");
      const hash = await hashPassword(app, b.password);
      await app.write((w) => setUserPassword(w, b.uid, hash));
      return replyWritten(c, true);
    })
    .openapi(route({ method: "get", path: "/invites", summary: "Admin: invites, newest first, with their status", responses: replies(z.array(Invite)) }), async (c) => reply(c, await app.read(listInvites(app))))
    .openapi(route({ method: "post", path: "/invite/create", summary: "Admin: a single-use invite code and its link", responses: replies(z.object({ code: z.string(), link: z.string() })) }), async (c) => {
      const me = callerUid(c);
      const code = await app.write((w) => createInvite(w, me, app.config.inviteTtlDays));
      return replyWritten(c, { code, link: `/app/#invite=${code}` });
    })
    .openapi(route({ method: "post", path: "/invite/revoke", summary: "Admin: revoke a live invite", request: jsonBody(inviteIdBody), responses: ok }), async (c) => {
      const b = c.req.valid("json");
      await app.write((w) => revokeInvite(w, b.id));
      return replyWritten(c, true);
    })
    .openapi(route({ method: "get", path: "/settings", summary: "Admin: the registration policy and who may invite", responses: replies(Settings) }), async (c) => reply(c, await settingsOf(app)))
    .openapi(route({ method: "post", path: "/settings", summary: "Admin: change them (kept across restarts; they override --registration)", request: jsonBody(settingsBody), responses: replies(Settings) }), async (c) => {
      const b = c.req.valid("json");
      await app.write((w) => saveSettings(w, b));
      app.log.info("admin.settings_changed", { uid: callerUid(c), ...b });
      return reply(c, await settingsOf(app));
    })
    .openapi(route({ method: "get", path: "/stats", summary: "Admin: counts of users, groups, messages, sessions, sockets", responses: replies(z.record(z.string(), z.number())) }), async (c) =>
      reply(c, { ...(await app.read(databaseStats(app))), socketsOpen: app.hub.socketCount(), usersOnline: app.hub.onlineUsers() }),
    );
}
