import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import type { ServingApp as App } from "../app";
import { forbidden } from "../errors";
import { createInvite } from "../domain/invites";
import { isAdmin } from "../domain/admin";
import { settingsOf } from "./admin";
import { revokeSession, resolveToken } from "../domain/sessions";
import { changePassword, getUser, login, registerUser, searchUser } from "../domain/users";
import { accountQuery, createUserBody, id, loginBody, passwordBody, tokenQuery, uidQuery } from "./schemas";
import { clientIp, reply, replyWritten } from "./context";
import { BEARER, jsonBody, PUBLIC, replies, RestRoutes, User } from "./openapi";

export function userRoutes(app: App) {
  return new RestRoutes()
    .openapi(createRoute({ method: "post", path: "/create", summary: "Register (see --registration)", security: PUBLIC, request: jsonBody(createUserBody), responses: replies(id.describe("the new uid")) }), async (c) => {
      const b = c.req.valid("json");
      const policy = (await settingsOf(app)).registration;
      if (policy === "closed") throw forbidden("registration is closed; ask the operator for an account");
      if (policy === "invite" && !b.invite) throw forbidden("invite: registration needs an invite code");
      const uid = await registerUser(app, { ...b, name: b.name || b.account }, policy === "invite" ? b.invite : undefined, clientIp(c));
      app.log.info("user.created", { uid });
      return reply(c, uid);
    })
    .openapi(createRoute({ method: "post", path: "/login", summary: "Log in; one token per login", security: PUBLIC, request: jsonBody(loginBody), responses: replies(z.string().describe("bearer token")) }), async (c) => {
      const b = c.req.valid("json");
      const { token, userId } = await login(app, b.account, b.password, clientIp(c));
      app.log.info("user.login", { uid: userId });
      return reply(c, token);
    })
    .openapi(createRoute({ method: "post", path: "/invite", summary: "Create a single-use invite code", security: BEARER, responses: replies(z.string()) }), async (c) => {
      const me = c.get("session").userId;
      if ((await settingsOf(app)).inviters === "admins" && !(await app.read(isAdmin(app, me)))) throw forbidden("only server admins may create invites here");
      return replyWritten(c, await app.write((w) => createInvite(w, me, app.config.inviteTtlDays)));
    })
    .openapi(createRoute({ method: "post", path: "/logout", summary: "Revoke this token and close its sockets", security: BEARER, responses: replies(z.literal(true)) }), async (c) => {
      const session = c.get("session");
      // Its sockets, here or in any process on this database, are closed once the revocation is durable.
      await app.write((w) => revokeSession(w, session));
      return replyWritten(c, true);
    })
    .openapi(createRoute({ method: "post", path: "/password", summary: "Change password; revokes your other tokens", security: BEARER, request: jsonBody(passwordBody), responses: replies(z.literal(true)) }), async (c) => {
      const b = c.req.valid("json");
      const session = c.get("session");
      const revoked = await changePassword(app, session.userId, session.sessionId, b.oldPassword, b.newPassword, clientIp(c));
      app.log.info("user.password_changed", { uid: session.userId, revoked: revoked.length });
      return reply(c, true);
    })
    .openapi(createRoute({ method: "get", path: "/get", summary: "A user by id (the email only when it is you)", security: BEARER, request: { query: uidQuery }, responses: replies(User) }), async (c) => reply(c, await app.read(getUser(app, c.req.valid("query").uid, c.get("session").userId))))
    .openapi(createRoute({ method: "get", path: "/token", summary: "The user owning a token (the email only when it is you)", security: BEARER, request: { query: tokenQuery }, responses: replies(User) }), async (c) => {
      const { token } = c.req.valid("query");
      return reply(c, await app.read(getUser(app, (await app.read(resolveToken(app, token))).userId, c.get("session").userId)));
    })
    .openapi(createRoute({ method: "get", path: "/search", summary: "A user by exact account, or null", security: BEARER, request: { query: accountQuery }, responses: replies(User.or(z.null())) }), async (c) => reply(c, await app.read(searchUser(app, c.req.valid("query").account))));
}
