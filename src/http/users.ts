import { Hono } from "hono";
import type { App } from "../app";
import { forbidden } from "../errors";
import { createInvite } from "../domain/invites";
import { isAdmin } from "../domain/admin";
import { settingsOf } from "./admin";
import { revokeSession, resolveToken } from "../domain/sessions";
import { changePassword, getUser, login, registerUser, searchUser } from "../domain/users";
import { accountQuery, createUserBody, loginBody, passwordBody, tokenQuery, uidQuery } from "./schemas";
import { clientIp, readBody, readQuery, reply, type Env } from "./context";

export function userRoutes(app: App) {
  return new Hono<Env>()
    .post("/create", async (c) => {
      const b = await readBody(c, createUserBody);
      const policy = settingsOf(app).registration;
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
    .post("/invite", async (c) => {
      const me = c.get("session").userId;
      if (settingsOf(app).inviters === "admins" && !isAdmin(app, me)) throw forbidden("only server admins may create invites here");
      return reply(c, await app.write((w) => createInvite(w, me, app.config.inviteTtlDays)));
    })
    .post("/logout", async (c) => {
      const session = c.get("session");
      // Its sockets, here or in any process on this database, are closed once the revocation is durable.
      await app.write((w) => revokeSession(w, session));
      return reply(c, true);
    })
    .post("/password", async (c) => {
      const b = await readBody(c, passwordBody);
      const session = c.get("session");
      const revoked = await changePassword(app, session.userId, session.sessionId, b.oldPassword, b.newPassword, clientIp(c));
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
