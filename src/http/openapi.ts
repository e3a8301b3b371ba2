// The OpenAPI wiring of the REST routes, in one place. Each route is declared
// once, beside its handler, with @hono/zod-openapi's createRoute: its zod
// request schemas are what the route validates with, its response schemas are
// what the handler's reply is type-checked against, and /api/openapi.json is
// generated from those declarations (there is no second table to keep true).
import { OpenAPIHono, type RouteConfig } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { z } from "zod";
import pkg from "../../package.json";
import { MESSAGE_KINDS } from "../domain/messages";
import { readBody, readQuery, type Env } from "./context";
import { id } from "./schemas";

// ---------------------------------------------------------------- the shapes of replies

export const time = z.string().describe('server local time, "YYYY-MM-DD HH:MM:SS"');
export const User = z.object({ id, name: z.string(), avatar: z.string(), email: z.string().describe('"" unless the user is you'), account: z.string() }).meta({ id: "User" });
export const Group = z.object({ id, name: z.string(), avatar: z.string(), mode: z.number().int(), creatorUid: id }).meta({ id: "Group" });
export const Reaction = z.object({ emoji: z.string(), uids: z.array(id).describe("who holds it, in the order they reacted") }).meta({ id: "Reaction" });
export const FileInfo = z
  .object({ id: z.string().describe("21 characters"), name: z.string(), size: z.number().int(), mime: z.string().describe("sniffed for images, else the Content-Type sent") })
  .meta({ id: "FileInfo" });
export const MessageInfo = z
  .object({
    id,
    kind: z.string().meta({ enum: [...MESSAGE_KINDS] }),
    content: z.string().describe('"" once deleted; File: the file\'s id; Image: the file\'s id or a URL'),
    gid: id,
    uid: id,
    client_msg_id: z.string(),
    seq: z.number().int(),
    createTime: time,
    updateTime: time,
    file: FileInfo.optional().describe("a message that shares an uploaded file"),
    replyTo: id.nullable().describe("the msgId (same group) this message answers, or null"),
    mentions: z.array(id).describe("uids of the members it mentions (@account, case-insensitive; @all: every member); [] once deleted"),
    editedAt: time.nullable().describe("time of the last edit, or null"),
    deleted: z.boolean(),
    reactions: z.array(Reaction).describe("in the order each emoji was first used; [] when none"),
  })
  .meta({ id: "MessageInfo" });
export const ChatMessage = z.object({ group: Group, msg: MessageInfo, user: User, unread: z.number().int().nullable() }).meta({ id: "ChatMessage" });
export const ChatListItem = ChatMessage.extend({ mentions: z.number().int().describe("unread messages of this chat that mention you") }).meta({ id: "ChatListItem" });
export const Presence = z.object({ uid: id, online: z.boolean(), lastSeen: time.nullable().describe("when their last socket closed, or null") }).meta({ id: "Presence" });
export const Member = z.object({ role: z.number().int().describe("1 member, 2 admin, 3 owner"), user: User, readMsgId: z.number().int() });

// ---------------------------------------------------------------- pieces of createRoute

/** No token needed (the default is bearerAuth on every route). */
export const PUBLIC: RouteConfig["security"] = [];
export const BEARER: RouteConfig["security"] = [{ bearerAuth: [] }];

/** A JSON request body validated by `schema`; the handler reads it with c.req.valid("json"). */
export const jsonBody = <S extends z.ZodType>(schema: S) => ({ body: { required: true, content: { "application/json": { schema } } } });

/** The envelope {ok, code, msg, data} around a reply's data. */
export const envelope = <D extends z.ZodType>(data: D) => z.object({ ok: z.literal(true), code: z.literal(200), msg: z.null(), data });
const errorEnvelope = z.object({ ok: z.literal(false), code: z.number().int().describe("the HTTP status"), msg: z.string().describe("why, naming the field"), data: z.null() });
const error = (description: string) => ({ description, content: { "application/json": { schema: errorEnvelope } } });

/** The replies of a route: 200 with `data` in the envelope, and the error envelope of every status rim answers with. */
export const replies = <D extends z.ZodType>(data: D) => ({
  200: { description: "ok: true, code 200", content: { "application/json": { schema: envelope(data) } } },
  400: error("invalid input; msg names the field"),
  401: error("login required"),
  403: error("not allowed"),
  404: error("no such user, group or message"),
  409: error("conflict (account taken, duplicate request)"),
  413: error("body too large"),
  429: error("too many attempts; see Retry-After"),
});

// ---------------------------------------------------------------- the router

/** A failed validation by any validator OpenAPIHono runs: thrown, so the one error mapping (toAppError) makes it the 400 envelope naming the field. */
const defaultHook = (result: { success: boolean; error?: unknown }) => {
  if (!result.success) throw result.error;
};

/**
 * The REST routes of one prefix. `.openapi(route, handler)` registers the route
 * in the OpenAPI document and answers it; the request body and query are read
 * as rim always has (readBody, readQuery: JSON whatever the Content-Type,
 * "body: must be JSON", no lone surrogates, the first of repeated query keys)
 * and handed to the handler through c.req.valid("json") / c.req.valid("query").
 * OpenAPIHono's own body and query validators would answer differently (415
 * for a text/plain body, "Malformed JSON in request body", arrays for repeated
 * keys), so they are not attached; a body of another type (an upload's raw
 * bytes) is documented only; any other part of a request a route
 * declares is still validated by OpenAPIHono, failures through defaultHook.
 */
export class RestRoutes extends OpenAPIHono<Env> {
  constructor() {
    super({ defaultHook });
    const declare = this.openapi;
    this.openapi = ((route: RouteConfig, handler: never, hook?: never) => {
      const { middleware, hide, ...documented } = route;
      if (!hide) this.openAPIRegistry.registerPath(documented);
      const { body, query, ...others } = route.request ?? {};
      // A JSON body is read and validated here; any other (the raw bytes of an upload) is only documented, its route reads it.
      const json = (body?.content["application/json"] as { schema?: z.ZodType } | undefined)?.schema;
      const input: MiddlewareHandler<Env> = async (c, next) => {
        if (json) c.req.addValidatedData("json", (await readBody(c, json)) as object);
        if (query) c.req.addValidatedData("query", readQuery(c, query as z.ZodType) as object);
        await next();
      };
      const own = middleware === undefined ? [] : Array.isArray(middleware) ? middleware : [middleware];
      return declare({ ...route, hide: true, request: others, middleware: [...own, input] }, handler, hook);
    }) as typeof declare;
  }
}

/** The OpenAPI 3.1 document of every route declared on `http` (and the apps routed into it). */
export function openApiDocument(http: OpenAPIHono<Env>) {
  http.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", { type: "http", scheme: "bearer" });
  http.openAPIRegistry.registerComponent("securitySchemes", "fileCookie", { type: "apiKey", in: "cookie", name: "rim_file", description: "set by POST /api/file/cookie; accepted by GET /api/file/{id} only" });
  return http.getOpenAPI31Document({
    openapi: "3.1.0",
    info: {
      title: "rim REST API",
      version: pkg.version,
      description: "Every reply is the envelope {ok, code, msg, data}; the HTTP status equals code. The WebSocket protocol is described by /api/ws-schema.json and docs/protocol.md.",
    },
    servers: [{ url: "/" }],
    security: BEARER,
  });
}
