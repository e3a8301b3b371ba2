// The WebSocket protocol as data, shared by the socket transport and the API docs: one zod schema per client event, and the shapes of the server's frames.
// Field names and casing are rim's: a rim client must work unchanged.
import { z } from "zod";
import { MAX_ID } from "../domain/context";
import { EMOJI_MAX, isEmoji } from "../domain/changes";
import { MESSAGE_KINDS } from "../domain/messages";

export const EVENTS = ["Login", "Msg", "Read", "Heart", "Logout", "Ack", "Sync", "Edit", "Delete", "React", "Typing"] as const;
export type EventName = (typeof EVENTS)[number];

const id = z.number().int().min(1).max(MAX_ID);
// Text that is not well-formed Unicode (a lone surrogate) is stored as U+FFFD,
// so two different clientMsgIds would collide and the second message be lost.
const wellFormed = (s: string) => !/\p{Cs}/u.test(s);
const unicode = z.string().refine(wellFormed, { message: "must be well-formed Unicode (no lone surrogates)" });
const clientMsgId = unicode.min(1, "required").max(128);
/** A reaction: 1-32 characters, no control characters (shared with REST: http/message-changes.ts). */
export const emoji = () =>
  z.string().refine(isEmoji, { message: `must be 1-${EMOJI_MAX} characters, no control characters` }).describe(`an emoji: 1-${EMOJI_MAX} characters (code points)`);
const common = { clientMsgId, uid: id.optional(), kind: z.enum(MESSAGE_KINDS).optional() };

export const envelope = z.object({
  event: z.string().refine((e): e is EventName => (EVENTS as readonly string[]).includes(e), { message: "unknown event" }),
  body: z.record(z.string(), z.unknown()),
});

export const bodies = {
  // rim's demo client also sends a gid with Login: ignored.
  Login: z.object({ ...common, content: z.string().min(1, "must be a token").max(200) }),
  Msg: z.object({
    ...common,
    kind: z.enum(MESSAGE_KINDS),
    gid: id,
    content: unicode,
    replyTo: id.nullable().optional().describe("the msgId of a message of the same group this one answers"),
  }),
  Ack: z.object({ ...common, gid: id, msgId: id }),
  Read: z.object({ ...common, gid: id, msgId: id }),
  Heart: z.object(common),
  Logout: z.object(common),
  Sync: z.object({ ...common, msgId: z.number().int().min(0).max(MAX_ID), gid: id.optional() }),
  Edit: z.object({ ...common, gid: id, msgId: id, content: unicode }),
  Delete: z.object({ ...common, gid: id, msgId: id }),
  React: z.object({ ...common, gid: id, msgId: id, emoji: emoji(), on: z.boolean() }),
  Typing: z.object({ ...common, gid: id }),
} satisfies Record<EventName, z.ZodType>;

export type Bodies = { [E in EventName]: z.output<(typeof bodies)[E]> };

export type OkAck = { clientMsgId: string; serverMsgId: number | null; kind: "Ack"; content: "Ok"; [extra: string]: unknown };

export const okAck = (clientMsgId: string, serverMsgId: number | null, extra: Record<string, unknown> = {}): OkAck => ({
  clientMsgId,
  serverMsgId,
  kind: "Ack",
  content: "Ok",
  ...extra,
});

export { msgPush } from "../push";
