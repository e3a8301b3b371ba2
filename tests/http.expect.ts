// Assertions shared by the REST tests: the envelope, the status equal to its
// code, and the exact wire shapes of rim.
import { expect } from "bun:test";
import type { Reply } from "./helpers";

export const TIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;
export const USER_KEYS = ["account", "avatar", "email", "id", "name"];
export const GROUP_KEYS = ["avatar", "creatorUid", "id", "mode", "name"];
// rim's MessageInfo plus additions: `seq` (the per-group sequence number), and replyTo, mentions, editedAt, deleted, reactions.
export const MESSAGE_KEYS = ["client_msg_id", "content", "createTime", "deleted", "editedAt", "gid", "id", "kind", "mentions", "reactions", "replyTo", "seq", "uid", "updateTime"];
// A chat list entry; `mentions` (unread messages mentioning you) is an addition. History entries have no `mentions`.
export const CHAT_KEYS = ["group", "mentions", "msg", "unread", "user"];
export const HISTORY_KEYS = ["group", "msg", "unread", "user"];

/** Every reply: exactly {ok, code, msg, data}, the HTTP status equal to code. */
export function expectEnvelope(r: Reply): void {
  expect(typeof r.body).toBe("object");
  expect(Object.keys(r.body).sort()).toEqual(["code", "data", "msg", "ok"]);
  expect(r.status).toBe(r.body.code);
  expect(r.body.ok).toBe(r.body.code === 200);
}

/** A success: 200, msg null; returns data. */
export function ok<T = any>(r: Reply): T {
  expectEnvelope(r);
  if (r.status !== 200) throw new Error(`expected 200, got ${r.status}: ${r.body.msg}`);
  expect(r.body.msg).toBeNull();
  return r.body.data as T;
}

/** A failure with this status and a msg containing `fragment` (a string or a pattern). */
export function fails(r: Reply, status: number, fragment: string | RegExp): void {
  expectEnvelope(r);
  expect({ status: r.status, msg: r.body.msg }).toMatchObject({ status, msg: typeof fragment === "string" ? expect.stringContaining(fragment) : expect.stringMatching(fragment) });
  expect(r.body.data).toBeNull();
}

export function expectUser(u: any, want: Partial<Record<(typeof USER_KEYS)[number], unknown>> = {}): void {
  expect(Object.keys(u).sort()).toEqual(USER_KEYS);
  expect(u).toMatchObject(want);
}

export function expectGroup(g: any, want: Record<string, unknown> = {}): void {
  expect(Object.keys(g).sort()).toEqual(GROUP_KEYS);
  expect(g).toMatchObject(want);
}

export function expectMessage(m: any, want: Record<string, unknown> = {}): void {
  expect(Object.keys(m).sort()).toEqual(MESSAGE_KEYS);
  expect(m.createTime).toMatch(TIME);
  expect(m.updateTime).toMatch(TIME);
  expect(m).toMatchObject(want);
}

export function expectChat(c: any, keys = CHAT_KEYS): void {
  expect(Object.keys(c).sort()).toEqual(keys);
  expectGroup(c.group);
  expectMessage(c.msg);
  expectUser(c.user);
}
