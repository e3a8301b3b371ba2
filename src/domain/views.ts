// The wire shapes of rim, built from rows. Field names and casing are the
// contract with rim clients; never add a password or hash here.
import type { groups, messages, users } from "../db/schema";
import type { FileView } from "./files";
import { formatTime } from "../time";

type UserRow = typeof users.$inferSelect;
type GroupRow = typeof groups.$inferSelect;
type MessageRow = typeof messages.$inferSelect;

export type UserView = { id: number; name: string; avatar: string; email: string; account: string };
export type GroupView = { id: number; name: string; avatar: string; mode: number; creatorUid: number };
export type MessageView = {
  id: number;
  kind: string;
  content: string;
  gid: number;
  uid: number;
  client_msg_id: string;
  seq: number;
  createTime: string;
  updateTime: string;
  /** A message that shares an uploaded file (kind File or Image, content its id). */
  file?: FileView;
  /** The message of the same group this one answers, or null. */
  replyTo: number | null;
  /** Uids of the members it mentions ([] once deleted). */
  mentions: number[];
  /** The time of the last edit, or null. */
  editedAt: string | null;
  /** Deleted: content is "", mentions and reactions []. */
  deleted: boolean;
  /** Each emoji with who holds it, in the order each emoji was first used. */
  reactions: Reaction[];
};

export type Reaction = { emoji: string; uids: number[] };

const NONE: never[] = [];

/**
 * A user as anyone may see them. The email is private: always "" here, in
 * every user-shaped reply (members, friends, chat list, history, search).
 * Only its owner reads it, through selfView (user/token, user/get of oneself).
 */
export const userView = (u: Pick<UserRow, "id" | "name" | "avatar" | "account">): UserView => ({
  id: u.id,
  name: u.name,
  avatar: u.avatar,
  email: "",
  account: u.account,
});

/** A user as they see themselves: with their email. */
export const selfView = (u: Pick<UserRow, "id" | "name" | "avatar" | "email" | "account">): UserView => ({ ...userView(u), email: u.email });

export const groupView = (g: Pick<GroupRow, "id" | "name" | "avatar" | "mode" | "creatorUid">): GroupView => ({
  id: g.id,
  name: g.name,
  avatar: g.avatar,
  mode: g.mode,
  creatorUid: g.creatorUid,
});

export const messageView = (m: MessageRow): MessageView => ({
  id: m.id,
  kind: m.kind,
  content: m.content,
  gid: m.groupId,
  uid: m.senderUid,
  client_msg_id: m.clientMsgId,
  seq: m.seq,
  createTime: formatTime(m.createdAt),
  updateTime: formatTime(m.updatedAt),
  replyTo: m.replyTo ?? null,
  // JSON columns: null (the common case) costs no parse.
  mentions: m.mentions === null ? NONE : (JSON.parse(m.mentions) as number[]),
  editedAt: m.editedAt === null ? null : formatTime(m.editedAt),
  deleted: m.deletedAt !== null,
  reactions: m.reactions === null ? NONE : (JSON.parse(m.reactions) as Reaction[]),
});
