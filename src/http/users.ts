import { Hono } from "hono";
import type { App } from "../app";
import { forbidden } from "../errors";
import { createInvite } from "../domain/invites";
import { revokeSession, resolveToken } from "../domain/sessions";
import { changePassword, getUser, login, registerUser, searchUser } from "../domain/users";
import { accountQuery, createUserBody, loginBody, passwordBody, tokenQuery, uidQuery } from "./schemas";
import { clientIp, readBody, readQuery, reply, type Env } from "./context";

export function userRoutes(app: App) {
  return new Hono<Env>()
    .post("/create", async (c) => {
      const b = await readBody(c, createUserBody);
      const policy = app.config.registration;
      if (policy === "closed") throw forbidden("registration is closed; ask the operator for an account");
      if (policy === "invite" && !b.invite) throw forbidden("invite: registration needs an invite code");
      const uid = await registerUser(app, { ...b, name: b.name || b.account }, policy === "invite" ? b.invite : undefined, clientIp(c));
      app.log.info("user.created", { uid });
      return reply(c, uid);
    })
    .post("/login", async (c) => {
      const b = await readBody(c, loginBody);
      const { token, userId } = await login(app, b.account, b.password, clientIp(c));
      app.log.info("user.login", { uid: userId });
      return reply(c, token);
    })
    .post("/invite", (c) => reply(c, createInvite(app, c.get("session").userId, app.config.inviteTtlDays)))
    .post("/logout", (c) => {
      const session = c.get("session");
      revokeSession(app, session.sessionId);
      app.hub.closeSessions([session.tokenHash], "logged out");
      return reply(c, true);
    })
    .post("/password", async (c) => {
      const b = await readBody(c, passwordBody);
      const session = c.get("session");
      const revoked = await changePassword(app, session.userId, session.sessionId, b.oldPassword, b.newPassword, clientIp(c));
      app.hub.closeSessions(revoked, "password changed");
      app.log.info("user.password_changed", { uid: session.userId, revoked: revoked.length });
      return reply(c, true);
    })
    .get("/get", (c) => reply(c, getUser(app, readQuery(c, uidQuery).uid, c.get("session").userId)))
    .get("/token", (c) => {
      const { token } = readQuery(c, tokenQuery);
      return reply(c, getUser(app, resolveToken(app, token).userId, c.get("session").userId));
    })
    .get("/search", (c) => reply(c, searchUser(app, readQuery(c, accountQuery).account)));
}
