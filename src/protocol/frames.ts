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

const KINDS: ReadonlySet<unknown> = new Set(MESSAGE_KINDS);
const isId = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 1;
const isText = (v: unknown): v is string => typeof v === "string" && v.isWellFormed();
/** clientMsgId's 1..128, counted as zod counts: in code points (a well-formed string's pairs count once). */
function idLengthOk(s: string): boolean {
  if (s.length <= 128) return s.length >= 1;
  if (s.length > 256) return false;
  let points = 0;
  for (let i = 0; i < s.length; i++) if ((s.charCodeAt(i) & 0xfc00) !== 0xdc00) points++;
  return points <= 128;
}

/**
 * The Msg frame checked by hand, for the hot path: `envelope` then
 * `bodies.Msg`, written out. The schemas above stay the source of truth:
 * this accepts only frames they accept and returns the body they return (key
 * for key, unknown keys dropped; tests/frames.fast.test.ts holds the two
 * together over a fuzzed corpus). null: not a valid Msg, the schemas decide
 * and word the error. `isWellFormed()` is the `wellFormed` refinement
 * (no lone surrogate).
 */
export function fastMsg(frame: unknown): Bodies["Msg"] | null {
  if (typeof frame !== "object" || frame === null || Array.isArray(frame)) return null;
  const { event, body } = frame as { event?: unknown; body?: unknown };
  if (event !== "Msg" || typeof body !== "object" || body === null || Array.isArray(body)) return null;
  const { clientMsgId, uid, kind, gid, content, replyTo } = body as Record<string, unknown>;
  if (!isText(clientMsgId) || !idLengthOk(clientMsgId)) return null;
  if (!KINDS.has(kind) || !isId(gid) || !isText(content)) return null;
  if (uid !== undefined && !isId(uid)) return null;
  if (replyTo !== undefined && replyTo !== null && !isId(replyTo)) return null;
  const out: Bodies["Msg"] = uid === undefined ? { clientMsgId, kind: kind as Bodies["Msg"]["kind"], gid, content } : { clientMsgId, uid, kind: kind as Bodies["Msg"]["kind"], gid, content };
  // The schema keeps a replyTo given (null included) and leaves out one not given.
  if (replyTo !== undefined) out.replyTo = replyTo as number | null;
  return out;
}

export type FastChange = { event: "Edit"; body: Bodies["Edit"] } | { event: "Delete"; body: Bodies["Delete"] } | { event: "React"; body: Bodies["React"] };

/**
 * Edit, Delete and React frames checked by hand, as fastMsg checks Msg (the
 * same contract: only frames the schemas accept, exactly the body they
 * return, key order included; tests/frames.fast.test.ts). null: the schemas
 * decide and word the error.
 */
export function fastChange(frame: unknown): FastChange | null {
  if (typeof frame !== "object" || frame === null || Array.isArray(frame)) return null;
  const { event, body } = frame as { event?: unknown; body?: unknown };
  if ((event !== "Edit" && event !== "Delete" && event !== "React") || typeof body !== "object" || body === null || Array.isArray(body)) return null;
  const b = body as Record<string, unknown>;
  const { clientMsgId, uid, kind, gid, msgId } = b;
  if (!isText(clientMsgId) || !idLengthOk(clientMsgId)) return null;
  if (uid !== undefined && !isId(uid)) return null;
  if (kind !== undefined && !KINDS.has(kind)) return null;
  if (!isId(gid) || !isId(msgId)) return null;
  // The schema's key order: clientMsgId, uid, kind, then the event's own.
  const out: Record<string, unknown> = { clientMsgId };
  if (uid !== undefined) out.uid = uid;
  if (kind !== undefined) out.kind = kind;
  out.gid = gid;
  out.msgId = msgId;
  if (event === "Edit") {
    if (!isText(b.content)) return null;
    out.content = b.content;
  } else if (event === "React") {
    const { emoji, on } = b;
    if (typeof emoji !== "string" || !isEmoji(emoji) || typeof on !== "boolean") return null;
    out.emoji = emoji;
    out.on = on;
  }
  return { event, body: out } as FastChange;
}

export type OkAck = { clientMsgId: string; serverMsgId: number | null; kind: "Ack"; content: "Ok"; [extra: string]: unknown };

export const okAck = (clientMsgId: string, serverMsgId: number | null, extra: Record<string, unknown> = {}): OkAck => ({
  clientMsgId,
  serverMsgId,
  kind: "Ack",
  content: "Ok",
  ...extra,
});

/** JSON.stringify(okAck(clientMsgId, serverMsgId, { seq })), written out: the Msg's reply, once per message. */
export const msgAck = (clientMsgId: string, serverMsgId: number, seq: number) =>
  `{"clientMsgId":${JSON.stringify(clientMsgId)},"serverMsgId":${serverMsgId},"kind":"Ack","content":"Ok","seq":${seq}}`;

export { msgPush } from "../push";
