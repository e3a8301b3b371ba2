// OpenAPI 3.1 of every REST route, generated from the very zod schemas the
// routes validate with. A test checks that every Hono route is listed here.
import { z } from "zod";
import pkg from "../../package.json";
import * as s from "./schemas";

const user = z.object({ id: s.id, name: z.string(), avatar: z.string(), email: z.string().describe('"" unless the user is you'), account: z.string() }).meta({ id: "User" });
const group = z.object({ id: s.id, name: z.string(), avatar: z.string(), mode: z.number().int(), creatorUid: s.id }).meta({ id: "Group" });
const time = z.string().describe('server local time, "YYYY-MM-DD HH:MM:SS"');
const message = z
  .object({ id: s.id, kind: z.enum(["Text", "RichText", "Image"]), content: z.string(), gid: s.id, uid: s.id, client_msg_id: z.string(), seq: z.number().int(), createTime: time, updateTime: time })
  .meta({ id: "MessageInfo" });
const chatMessage = z.object({ group, msg: message, user, unread: z.number().int().nullable() }).meta({ id: "ChatMessage" });
const member = z.object({ role: z.number().int().describe("1 member, 2 admin, 3 owner"), user, readMsgId: z.number().int() });

type Doc = { method: "get" | "post"; path: string; summary: string; auth?: false; body?: z.ZodType; query?: z.ZodObject; data: z.ZodType };

export const ROUTE_DOCS: Doc[] = [
  { method: "post", path: "/api/user/create", summary: "Register (see --registration)", auth: false, body: s.createUserBody, data: s.id.describe("the new uid") },
  { method: "post", path: "/api/user/login", summary: "Log in; one token per login", auth: false, body: s.loginBody, data: z.string().describe("bearer token") },
  { method: "post", path: "/api/user/logout", summary: "Revoke this token and close its sockets", data: z.literal(true) },
  { method: "post", path: "/api/user/password", summary: "Change password; revokes your other tokens", body: s.passwordBody, data: z.literal(true) },
  { method: "post", path: "/api/user/invite", summary: "Create a single-use invite code", data: z.string() },
  { method: "get", path: "/api/user/directory", summary: "People whose account or name contains q (case-insensitive), prefix matches first; disabled users left out, emails blank", query: s.directoryQuery, data: z.array(user) },
  { method: "post", path: "/api/user/update", summary: "Change your name, avatar or email; returns your profile", body: s.profileBody, data: user },
  { method: "get", path: "/api/user/get", summary: "A user by id (the email only when it is you)", query: s.uidQuery, data: user },
  { method: "get", path: "/api/user/token", summary: "The user owning a token (the email only when it is you)", query: s.tokenQuery, data: user },
  { method: "get", path: "/api/user/search", summary: "A user by exact account, or null", query: s.accountQuery, data: user.nullable() },
  { method: "post", path: "/api/group/create", summary: "Create a group or direct chat (mode 1; returns the existing one)", body: s.createGroupBody, data: s.id.describe("gid") },
  { method: "post", path: "/api/group/update", summary: "Rename or change the avatar (admins)", body: s.updateGroupBody, data: z.literal(true) },
  { method: "get", path: "/api/group/get", summary: "Your groups (uid must be yours)", query: s.ownUidQuery, data: z.array(group) },
  { method: "get", path: "/api/group/user/get", summary: "Members of a group you are in", query: s.gidQuery, data: z.array(member) },
  { method: "post", path: "/api/group/user/change", summary: "Add (1, admins) or remove (2) members", body: s.changeMembersBody, data: z.literal(true) },
  { method: "post", path: "/api/group/leave", summary: "Leave a group (the owner transfers first: 409; alone, leaving deletes it)", body: s.gidBody, data: z.literal(true) },
  { method: "post", path: "/api/group/transfer", summary: "Owner: make a member the owner; you become an admin", body: s.transferBody, data: z.literal(true) },
  { method: "post", path: "/api/group/role", summary: "Owner: make a member an admin (2) or an admin a member (1)", body: s.roleBody, data: z.literal(true) },
  { method: "post", path: "/api/group/delete", summary: "Owner: delete the group; members get GroupDeleted", body: s.gidBody, data: z.literal(true) },
  { method: "get", path: "/api/admin/users", summary: "Admin: users, newest first, searchable by account or name", query: s.adminUsersQuery, data: z.object({ users: z.array(user.extend({ admin: z.boolean(), disabled: z.boolean(), createTime: time })), total: z.number().int() }) },
  { method: "post", path: "/api/admin/user/disable", summary: "Admin: disable a user (revokes tokens, closes sockets)", body: s.uidBody, data: z.literal(true) },
  { method: "post", path: "/api/admin/user/enable", summary: "Admin: enable a user", body: s.uidBody, data: z.literal(true) },
  { method: "post", path: "/api/admin/user/password", summary: "Admin: set a user's password (revokes tokens, closes sockets)", body: s.adminPasswordBody, data: z.literal(true) },
  { method: "get", path: "/api/admin/invites", summary: "Admin: invites, newest first, with their status", data: z.array(z.object({ id: s.id, createdBy: s.id.nullable(), createTime: time, expireTime: time, usedBy: s.id.nullable(), status: z.enum(["live", "used", "expired"]) })) },
  { method: "post", path: "/api/admin/invite/create", summary: "Admin: a single-use invite code and its link", data: z.object({ code: z.string(), link: z.string() }) },
  { method: "post", path: "/api/admin/invite/revoke", summary: "Admin: revoke a live invite", body: s.inviteIdBody, data: z.literal(true) },
  { method: "get", path: "/api/admin/settings", summary: "Admin: the registration policy and who may invite", data: z.object({ registration: z.enum(["open", "invite", "closed"]), inviters: z.enum(["members", "admins"]) }) },
  { method: "post", path: "/api/admin/settings", summary: "Admin: change them (kept across restarts)", body: s.settingsBody, data: z.object({ registration: z.enum(["open", "invite", "closed"]), inviters: z.enum(["members", "admins"]) }) },
  { method: "get", path: "/api/admin/stats", summary: "Admin: counts of users, groups, messages, sessions, sockets", data: z.record(z.string(), z.number()) },
  { method: "get", path: "/api/message/search", summary: "Messages of your groups matching every word of q (any order, any case, words by prefix; CJK by any substring of 2+ characters), newest first, each with an HTML snippet (matches in <mark>, the rest escaped)", query: s.searchQuery, data: z.array(message.extend({ snippet: z.string() })) },
  { method: "post", path: "/api/message/chat/list", summary: "Your conversations, newest activity first, with unread counts", body: s.chatListBody, data: z.array(chatMessage) },
  { method: "post", path: "/api/message/history", summary: "A page of a group's messages, ascending within the page", body: s.historyBody, data: z.array(chatMessage) },
  { method: "post", path: "/api/message/group/read", summary: "Move your read cursor to the group's newest message", body: s.groupReadBody, data: z.literal(true) },
  { method: "post", path: "/api/friend/add", summary: "Ask someone to be friends", body: s.friendAddBody, data: z.literal(true) },
  { method: "get", path: "/api/friend/list", summary: "0 pending (dir=in: sent to you), 1 friends, 2 rejected", query: s.friendListQuery, data: z.array(user) },
  { method: "post", path: "/api/friend/status/modify", summary: "Confirm (1) or reject (2) a request fid sent you", body: s.friendModifyBody, data: z.literal(true) },
];

const json = (schema: z.ZodType) => z.toJSONSchema(schema, { io: "input", unrepresentable: "any", target: "draft-2020-12" });

const envelope = (data: z.ZodType) => ({
  type: "object",
  required: ["ok", "code", "msg", "data"],
  properties: { ok: { type: "boolean" }, code: { type: "integer" }, msg: { type: ["string", "null"] }, data: json(data) },
});

const errorResponse = (description: string) => ({ description, content: { "application/json": { schema: envelope(z.null()) } } });

export function openApiDocument() {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of ROUTE_DOCS) {
    const parameters = r.query
      ? Object.entries(r.query.shape).map(([name, schema]) => ({ name, in: "query", required: !(schema as z.ZodType).safeParse(undefined).success, schema: json(schema as z.ZodType) }))
      : undefined;
    (paths[r.path] ??= {})[r.method] = {
      summary: r.summary,
      ...(r.auth === false ? { security: [] } : {}),
      ...(parameters ? { parameters } : {}),
      ...(r.body ? { requestBody: { required: true, content: { "application/json": { schema: json(r.body) } } } } : {}),
      responses: {
        200: { description: "ok: true, code 200", content: { "application/json": { schema: envelope(r.data) } } },
        400: errorResponse("invalid input; msg names the field"),
        401: errorResponse("login required"),
        403: errorResponse("not allowed"),
        404: errorResponse("no such user, group or message"),
        409: errorResponse("conflict (account taken, duplicate request)"),
        413: errorResponse("body too large"),
        429: errorResponse("too many attempts; see Retry-After"),
      },
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "rim REST API",
      version: pkg.version,
      description: 'Every reply is the envelope {ok, code, msg, data}; the HTTP status equals code. The WebSocket protocol is described by /api/ws-schema.json and docs/protocol.md.',
    },
    servers: [{ url: "/" }],
    components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
    security: [{ bearer: [] }],
    paths,
  };
}
