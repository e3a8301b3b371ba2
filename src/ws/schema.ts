// JSON Schema of every WebSocket frame, generated from the zod frame schemas.
import { z } from "zod";
import { MESSAGE_KINDS } from "../domain/messages";
import { bodies, EVENTS } from "./frames";

const id = z.number().int().min(1);

const serverFrames = {
  Ack: z.object({
    clientMsgId: z.string(),
    serverMsgId: id.nullable(),
    kind: z.literal("Ack"),
    content: z.literal("Ok"),
    seq: z.number().int().optional().describe("Msg: the message's per-group sequence number"),
    more: z.boolean().optional().describe("Sync: whether another page follows"),
  }),
  ErrorAck: z.object({
    clientMsgId: z.string().nullable().describe("echoed, or null when the frame was unreadable"),
    serverMsgId: z.null(),
    kind: z.literal("Ack"),
    content: z.literal("Error"),
    code: z.union([400, 401, 403, 404, 409, 413, 429, 500].map((c) => z.literal(c)) as [z.ZodLiteral<number>, ...z.ZodLiteral<number>[]]),
    msg: z.string(),
  }),
  MsgPush: z.object({
    event: z.literal("Msg"),
    body: z.object({
      kind: z.enum(MESSAGE_KINDS),
      uid: id,
      gid: id,
      content: z.string().describe("File: the file's id; Image: the file's id or a URL"),
      clientMsgId: z.string(),
      msgId: id,
      seq: id,
      createTime: z.string(),
      file: z
        .object({ id: z.string(), name: z.string(), size: z.number().int(), mime: z.string() })
        .optional()
        .describe("a message sharing an uploaded file: GET /api/file/{id}"),
    }),
  }),
  Notify: z.object({
    event: z.literal("Notify"),
    body: z.looseObject({
      kind: z.literal("Text"),
      uid: id.describe("who did it"),
      gid: id,
      content: z.enum(["Read", "MemberAdded", "MemberRemoved", "GroupUpdated", "RoleChanged", "GroupDeleted"]),
      clientMsgId: z.literal(""),
      msgId: id.nullable(),
      eventId: id.optional().describe("a change's id in the sequence message ids come from (all but Read); Sync replays it"),
      uids: z.array(id).optional().describe("MemberAdded / MemberRemoved / GroupDeleted"),
      group: z.object({ id, name: z.string(), avatar: z.string(), mode: z.number().int(), creatorUid: id }).optional().describe("GroupUpdated"),
      roles: z.array(z.object({ uid: id, role: z.number().int() })).optional().describe("RoleChanged"),
    }),
  }),
};

export function wsJsonSchema() {
  const json = (s: z.ZodType) => z.toJSONSchema(s, { io: "input", unrepresentable: "any" });
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    title: "rim WebSocket frames",
    description: "Client frames are {event, body}; every one gets exactly one Ack or ErrorAck. See docs/protocol.md.",
    client: Object.fromEntries(EVENTS.map((e) => [e, json(z.object({ event: z.literal(e), body: bodies[e] }))])),
    server: Object.fromEntries(Object.entries(serverFrames).map(([k, v]) => [k, json(v)])),
  };
}
