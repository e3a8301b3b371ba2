// OpenAPI 3.1 of every REST route, generated from the very zod schemas the
// routes validate with. A test checks that every Hono route is listed here.
import { z } from "zod";
import pkg from "../../package.json";
import { MESSAGE_KINDS } from "../domain/messages";
import * as s from "./schemas";

const user = z.object({ id: s.id, name: z.string(), avatar: z.string(), email: z.string(), account: z.string() }).meta({ id: "User" });
const group = z.object({ id: s.id, name: z.string(), avatar: z.string(), mode: z.number().int(), creatorUid: s.id }).meta({ id: "Group" });
const time = z.string().describe('server local time, "YYYY-MM-DD HH:MM:SS"');
const fileInfo = z
  .object({ id: z.string().describe("21 characters"), name: z.string(), size: z.number().int(), mime: z.string().describe("sniffed for images, else the Content-Type sent") })
  .meta({ id: "FileInfo" });
const message = z
  .object({
    id: s.id,
    kind: z.enum(MESSAGE_KINDS),
    content: z.string().describe("File: the file's id; Image: the file's id or a URL"),
    gid: s.id,
    uid: s.id,
    client_msg_id: z.string(),
    seq: z.number().int(),
    createTime: time,
    updateTime: time,
    file: fileInfo.optional().describe("a message that shares an uploaded file"),
  })
  .meta({ id: "MessageInfo" });
const chatMessage = z.object({ group, msg: message, user, unread: z.number().int().nullable() }).meta({ id: "ChatMessage" });
const member = z.object({ role: z.number().int().describe("1 member, 2 admin, 3 owner"), user, readMsgId: z.number().int() });

type Doc = {
  method: "get" | "post";
  /** OpenAPI's form: /api/file/{id} for Hono's /api/file/:id. */
  path: string;
  summary: string;
  auth?: false;
  body?: z.ZodType;
  query?: z.ZodObject;
  params?: z.ZodObject;
  data: z.ZodType;
  /** The body is the raw bytes of a file (the upload). */
  upload?: true;
  /** The reply is the raw bytes of a file, not the envelope (the download); the rim_file cookie may stand in for the token. */
  download?: true;
};

const fileIdParam = z.object({ id: z.string().describe("the file's id") });

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
  { method: "post", path: "/api/message/chat/list", summary: "Your conversations, newest activity first, with unread counts", body: s.chatListBody, data: z.array(chatMessage) },
  { method: "post", path: "/api/message/history", summary: "A page of a group's messages, ascending within the page", body: s.historyBody, data: z.array(chatMessage) },
  { method: "post", path: "/api/message/group/read", summary: "Move your read cursor to the group's newest message", body: s.groupReadBody, data: z.literal(true) },
  { method: "post", path: "/api/friend/add", summary: "Ask someone to be friends", body: s.friendAddBody, data: z.literal(true) },
  {
    method: "post",
    path: "/api/file/upload",
    summary: "Upload a file: the body is its bytes (up to --max-upload), Content-Type its type; 413 over the limit or the quota, 400 empty or a bad name",
    query: s.uploadQuery,
    upload: true,
    data: fileInfo,
  },
  {
    method: "get",
    path: "/api/file/{id}",
    summary:
      "A file's bytes, to its uploader and to members of a group a message shared it in (404 to anyone else). ETag, If-None-Match (304), Range (206, 416); images inline, anything else as an attachment of type application/octet-stream",
    params: fileIdParam,
    download: true,
    data: z.string(),
  },
  {
    method: "post",
    path: "/api/file/cookie",
    summary: "Sets the HttpOnly cookie rim_file (Path=/api/file/, SameSite=Strict) with which GET /api/file/{id} works without a token: for <img> in the web client. Ends with the session, and with a server restart",
    data: z.literal(true),
  },
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

const binary = { type: "string", format: "binary" };

const downloadResponses = {
  200: { description: "the file; images (sniffed from the bytes) inline, anything else an attachment", content: { "image/*": { schema: binary }, "application/octet-stream": { schema: binary } } },
  206: { description: "the range asked for (Content-Range)", content: { "application/octet-stream": { schema: binary } } },
  304: { description: "If-None-Match matched the ETag" },
  416: errorResponse("range not satisfiable (Content-Range: bytes */size)"),
};

export function openApiDocument() {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of ROUTE_DOCS) {
    const param = (where: "query" | "path") => ([name, schema]: [string, unknown]) => ({
      name,
      in: where,
      required: where === "path" || !(schema as z.ZodType).safeParse(undefined).success,
      schema: json(schema as z.ZodType),
    });
    const parameters = [...Object.entries(r.params?.shape ?? {}).map(param("path")), ...Object.entries(r.query?.shape ?? {}).map(param("query"))];
    const requestBody = r.upload
      ? { required: true, description: "the file's bytes; Content-Type its type", content: { "application/octet-stream": { schema: binary } } }
      : r.body
        ? { required: true, content: { "application/json": { schema: json(r.body) } } }
        : undefined;
    (paths[r.path] ??= {})[r.method] = {
      summary: r.summary,
      ...(r.auth === false ? { security: [] } : r.download ? { security: [{ bearer: [] }, { fileCookie: [] }] } : {}),
      ...(parameters.length ? { parameters } : {}),
      ...(requestBody ? { requestBody } : {}),
      responses: {
        ...(r.download ? downloadResponses : { 200: { description: "ok: true, code 200", content: { "application/json": { schema: envelope(r.data) } } } }),
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
    components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" }, fileCookie: { type: "apiKey", in: "cookie", name: "rim_file" } } },
    security: [{ bearer: [] }],
    paths,
  };
}
