// OpenAPI 3.1 of every REST route, generated from the very zod schemas the
// routes validate with. A test checks that every Hono route is listed here.
import { z } from "zod";
import pkg from "../../package.json";
import * as s from "./schemas";
import { deleteBody, editBody, reactBody } from "./message-changes";
import { presenceQuery } from "./presence";

const user = z.object({ id: s.id, name: z.string(), avatar: z.string(), email: z.string(), account: z.string() }).meta({ id: "User" });
const group = z.object({ id: s.id, name: z.string(), avatar: z.string(), mode: z.number().int(), creatorUid: s.id }).meta({ id: "Group" });
const time = z.string().describe('server local time, "YYYY-MM-DD HH:MM:SS"');
const reaction = z.object({ emoji: z.string(), uids: z.array(s.id).describe("who holds it, in the order they reacted") }).meta({ id: "Reaction" });
const message = z
  .object({
    id: s.id,
    kind: z.enum(["Text", "RichText", "Image"]),
    content: z.string().describe('"" once deleted'),
    gid: s.id,
    uid: s.id,
    client_msg_id: z.string(),
    seq: z.number().int(),
    createTime: time,
    updateTime: time,
    replyTo: s.id.nullable().describe("the msgId (same group) this message answers, or null"),
    mentions: z.array(s.id).describe("uids of the members it mentions (@account, case-insensitive; @all: every member); [] once deleted"),
    editedAt: time.nullable().describe("time of the last edit, or null"),
    deleted: z.boolean(),
    reactions: z.array(reaction).describe("in the order each emoji was first used; [] when none"),
  })
  .meta({ id: "MessageInfo" });
const chatMessage = z.object({ group, msg: message, user, unread: z.number().int().nullable() }).meta({ id: "ChatMessage" });
const chatListItem = chatMessage
  .extend({ mentions: z.number().int().describe("unread messages of this chat that mention you") })
  .meta({ id: "ChatListItem" });
const presence = z.object({ uid: s.id, online: z.boolean(), lastSeen: time.nullable().describe("when their last socket closed, or null") }).meta({ id: "Presence" });
const member = z.object({ role: z.number().int().describe("1 member, 2 admin, 3 owner"), user, readMsgId: z.number().int() });

type Doc = { method: "get" | "post"; path: string; summary: string; auth?: false; body?: z.ZodType; query?: z.ZodObject; data: z.ZodType };

export const ROUTE_DOCS: Doc[] = [
  { method: "post", path: "/api/user/create", summary: "Register (see --registration)", auth: false, body: s.createUserBody, data: s.id.describe("the new uid") },
  { method: "post", path: "/api/user/login", summary: "Log in; one token per login", auth: false, body: s.loginBody, data: z.string().describe("bearer token") },
  { method: "post", path: "/api/user/logout", summary: "Revoke this token and close its sockets", data: z.literal(true) },
  { method: "post", path: "/api/user/password", summary: "Change password; revokes your other tokens", body: s.passwordBody, data: z.literal(true) },
  { method: "post", path: "/api/user/invite", summary: "Create a single-use invite code", data: z.string() },
  { method: "get", path: "/api/user/get", summary: "A user by id", query: s.uidQuery, data: user },
  { method: "get", path: "/api/user/token", summary: "The user owning a token", query: s.tokenQuery, data: user },
  { method: "get", path: "/api/user/search", summary: "A user by exact account (email blanked), or null", query: s.accountQuery, data: user.nullable() },
  { method: "post", path: "/api/group/create", summary: "Create a group or direct chat (mode 1; returns the existing one)", body: s.createGroupBody, data: s.id.describe("gid") },
  { method: "post", path: "/api/group/update", summary: "Rename or change the avatar (admins)", body: s.updateGroupBody, data: z.literal(true) },
  { method: "get", path: "/api/group/get", summary: "Your groups (uid must be yours)", query: s.ownUidQuery, data: z.array(group) },
  { method: "get", path: "/api/group/user/get", summary: "Members of a group you are in", query: s.gidQuery, data: z.array(member) },
  { method: "post", path: "/api/group/user/change", summary: "Add (1, admins) or remove (2) members", body: s.changeMembersBody, data: z.literal(true) },
  { method: "get", path: "/api/user/presence", summary: "Online state and last seen of users sharing a group with you (others left out)", query: presenceQuery, data: z.array(presence) },
  { method: "post", path: "/api/message/chat/list", summary: "Your conversations, newest activity first, with unread counts and unread mentions", body: s.chatListBody, data: z.array(chatListItem) },
  { method: "post", path: "/api/message/history", summary: "A page of a group's messages, ascending within the page", body: s.historyBody, data: z.array(chatMessage) },
  { method: "post", path: "/api/message/edit", summary: "Edit your message (the sender only; not a deleted one; --max-content): msgId and seq stay", body: editBody, data: message },
  { method: "post", path: "/api/message/delete", summary: "Delete a message (its sender, or the group's owner or an admin): content becomes \"\"", body: deleteBody, data: message },
  { method: "post", path: "/api/message/react", summary: "Add (on: true) or remove (on: false) your reaction; idempotent", body: reactBody, data: message },
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
