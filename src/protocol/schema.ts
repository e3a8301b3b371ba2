// JSON Schema of every WebSocket frame, generated from the zod frame schemas.
import { z } from "zod";
import { MESSAGE_KINDS } from "../domain/messages";
import { bodies, EVENTS } from "./frames";

const id = z.number().int().min(1);
const time = z.string().describe('server local time, "YYYY-MM-DD HH:MM:SS"');

/** A stored message as pushed: rim's fields, then the additions rim's clients ignore. */
const msgBody = z.object({
  kind: z.enum(MESSAGE_KINDS),
  uid: id,
  gid: id,
  content: z.string().describe('"" once deleted; File: the file\'s id; Image: the file\'s id or a URL'),
  clientMsgId: z.string(),
  msgId: id,
  seq: id,
  createTime: time,
  replyTo: id.nullable().describe("the msgId (same group) it answers, or null"),
  mentions: z.array(id).describe("uids of the members it mentions; [] once deleted"),
  editedAt: time.nullable().describe("time of the last edit, or null"),
  deleted: z.boolean(),
  reactions: z.array(z.object({ emoji: z.string(), uids: z.array(id) })).describe("in the order each emoji was first used; [] when none"),
  file: z
    .object({ id: z.string(), name: z.string(), size: z.number().int(), mime: z.string() })
    .optional()
    .describe("a message sharing an uploaded file: GET /api/file/{id}"),
});

const serverFrames = {
  Ack: z.object({
    clientMsgId: z.string(),
    serverMsgId: id.nullable().describe("Msg: the message id; Edit / Delete / React: the change's eventId (null for a React that changed nothing); Read: msgId; Sync: the last id sent; else null"),
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
  MsgPush: z.object({ event: z.literal("Msg"), body: msgBody }),
  Notify: z.object({
    event: z.literal("Notify"),
    body: z.looseObject({
      kind: z.literal("Text"),
      uid: id.describe("who did it"),
      gid: id,
      content: z.enum(["Read", "MemberAdded", "MemberRemoved", "GroupUpdated", "RoleChanged", "GroupDeleted", "Edited", "Deleted", "Reacted", "Typing", "Presence"]),
      clientMsgId: z.literal(""),
      msgId: id.nullable().describe("Read: read up to; Edited / Deleted / Reacted: the message changed; else null"),
      eventId: id.optional().describe("changes of the group's log (MemberAdded, MemberRemoved, GroupUpdated, RoleChanged, GroupDeleted, Edited, Deleted, Reacted): their id, which Sync replays in order; Read, Typing and Presence have none"),
      uids: z.array(id).optional().describe("MemberAdded / MemberRemoved / GroupDeleted"),
      group: z.object({ id, name: z.string(), avatar: z.string(), mode: z.number().int(), creatorUid: id }).optional().describe("GroupUpdated"),
      roles: z.array(z.object({ uid: id, role: z.number().int() })).optional().describe("RoleChanged"),
      message: msgBody.optional().describe("Edited / Deleted / Reacted: the message after the change, shaped like a Msg push body (Sync: as it is now)"),
      online: z.boolean().optional().describe("Presence: the user's first socket logged in (true) or last one closed (false)"),
    }),
  }),
  // A Notify of no user and no group: a cluster node may have missed pushes (docs/protocol.md, "Resync").
  Resync: z.object({
    event: z.literal("Notify"),
    body: z.object({
      kind: z.literal("Text"),
      uid: z.literal(0),
      gid: z.literal(0),
      content: z.literal("Resync").describe("Sync from your cursor: this server may have missed pushes (cluster only)"),
      clientMsgId: z.literal(""),
      msgId: z.null(),
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
