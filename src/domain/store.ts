// The storage seam. The domain speaks to storage only through a Store: one
// implementation per engine (db/sqlite-store.ts, db/pg/store.ts), each
// holding its own SQL. A domain function over storage is a generator (a
// Flow) that `yield*`s the store's operations:
//
//   const group = yield* ctx.store.groupForSender(gid, uid);
//
// An operation of the SQLite store completes without yielding (bun:sqlite is
// synchronous), so runSync drives a whole flow in one call: no promise, no
// extra turn of the event loop, one generator resumption per statement,
// which keeps the Msg path at its speed (docs/storage.md). An operation of
// the PostgreSQL store yields the promise of its query; runAsync awaits it
// and resumes the flow with the rows. One source of domain rules, two engines.
import type { GroupEventKind } from "./events";
import type { FileRow } from "./files";
import type { SearchTerm } from "./search";
import type { friendRequests, groupMembers, groups, invites, messages, users } from "../db/schema";

/** One storage operation, or a domain function over several: `yield*` it inside a Flow. */
export type Flow<T> = Generator<unknown, T, unknown>;
/** What a store's operation returns (the same thing, named for the store side). */
export type Op<T> = Flow<T>;

export type MessageRow = typeof messages.$inferSelect;
export type NewMessage = Omit<MessageRow, "id" | "seq" | "reactions" | "editedAt" | "deletedAt">;
// name_fold is the store's business: written from the name, matched by the directory, never read back.
export type UserRow = Omit<typeof users.$inferSelect, "nameFold">;
export type GroupRow = typeof groups.$inferSelect;
export type MemberRow = typeof groupMembers.$inferSelect;
export type FriendRequestRow = typeof friendRequests.$inferSelect;
export type InviteRow = typeof invites.$inferSelect;
/** A group_events row; payload is JSON. */
export type EventRow = { id: number; groupId: number; kind: GroupEventKind; actorUid: number; msgId: number | null; payload: string; createdAt: number };

/** A conversation of the chat list: its last message, the group, and what unread counts are made of. */
export type ChatRow = MessageRow & {
  readMsgId: number;
  gId: number;
  gName: string;
  gAvatar: string;
  gMode: number;
  gCreatorUid: number;
  gDirectKey: string | null;
  gLastSeq: number;
  /** The seq of the message the read cursor is on, if it is in the group. */
  cursorSeq: number | null;
  /** The member's own messages after the cursor. */
  ownAfter: number;
  /** Messages after the cursor that mention the member. */
  mentionsUnread: number;
};

export interface Store {
  /** Which engine: for the rare rule that differs (none in the domain yet). */
  readonly engine: "sqlite" | "postgres";

  // ---- groups
  groupById(gid: number): Op<GroupRow | null>;
  membership(gid: number, uid: number): Op<MemberRow | null>;
  /**
   * What a read or delivery receipt checks, in one look: whether the group
   * exists, uid's membership, whether the message is in the group.
   */
  receiptTarget(gid: number, uid: number, msgId: number): Op<{ group: boolean; member: MemberRow | null; message: boolean }>;
  /** The ids of the groups uid is in. */
  groupIdsOf(uid: number): Op<number[]>;

  /** The group of a direct chat between two people (its key), if there is one. */
  groupIdByDirectKey(key: string): Op<number | null>;
  insertGroup(g: { name: string; avatar: string; mode: number; creatorUid: number; directKey: string | null; createdAt: number }): Op<number>;
  /** Adds members; their read and delivered cursors start at `cursor`. */
  insertMembers(gid: number, members: { uid: number; role: number }[], joinedAt: number, cursor: number): Op<void>;
  /** Of these uids, the group's members with their roles. */
  membersAmong(gid: number, uids: number[]): Op<{ uid: number; role: number }[]>;
  /** Every member's uid. */
  memberIds(gid: number): Op<number[]>;
  /** Members with their user rows, by role (highest first), then who joined first. */
  membersWithUsers(gid: number): Op<{ role: number; readMsgId: number; user: UserRow }[]>;
  countOtherMembers(gid: number, uid: number): Op<number>;
  /** Removes these members, or every member (uids null). */
  deleteMembers(gid: number, uids: number[] | null): Op<void>;
  setRole(gid: number, uid: number, role: number): Op<void>;
  /** A value left null keeps the stored one. */
  renameGroup(gid: number, name: string | null, avatar: string | null): Op<void>;
  /** Marks it deleted and frees a direct chat's key. */
  markGroupDeleted(gid: number, at: number): Op<void>;
  /** The groups uid is in, by id. */
  groupsOf(uid: number): Op<GroupRow[]>;

  /** Bytes of every upload of uid. */
  usedBytes(uid: number): Op<number>;
  insertFile(f: FileRow): Op<void>;
  /**
   * Deletes the rows of uploads made before `before` that no not-deleted
   * message shares and no user or group has as its avatar; returns how many.
   */
  deleteUnsharedFiles(before: number): Op<number>;
  /** The sha256 of every file row (the blobs still named). */
  fileShas(): Op<string[]>;
  /** Which of these sha256 a file row names. */
  namedShas(shas: string[]): Op<string[]>;

  // ---- search
  /**
   * How the search index is kept. "inline": insertMessage indexes the message in its own statement
   * (PostgreSQL). "batched": insertMessage leaves it out and indexPending (domain/search.ts) indexes the
   * messages stored since, many to a transaction, later (SQLite: FTS5 writes a segment of its own for
   * every transaction, which cost a message more than the rest of its storage; BENCHMARKS.md run 7).
   */
  readonly searchIndexing: "inline" | "batched";
  /** Batched: the highest message id offered to the index; every message above it is not in it yet. */
  searchIndexedUpTo(): Op<number>;
  /** Batched: whether stored messages wait to be indexed. */
  searchBacklog(): Op<boolean>;
  /** Batched: up to `limit` messages above the watermark, oldest first. */
  unindexedMessages(limit: number): Op<{ id: number; groupId: number; kind: string; content: string; deletedAt: number | null }[]>;
  /** Batched: adds these indexed bodies (domain/search.ts indexedBody) and moves the watermark to `upTo`. */
  indexBatch(items: { id: number; body: string }[], upTo: number): Op<void>;
  /** Drops a message from the search index. */
  unindexMessage(msgId: number): Op<void>;
  /**
   * Messages in uid's groups (or in gid, one of them) whose indexed body has
   * every term (a word by prefix, a CJK run as its pairs in a row) and one of
   * the group tokens, newest first, below beforeId.
   */
  searchMessages(q: { terms: SearchTerm[]; groupTokens: string[]; uid: number; gid?: number; beforeId?: number; limit: number }): Op<MessageRow[]>;

  // ---- users
  userById(uid: number): Op<UserRow | null>;
  /** The user with this account, whatever its case. */
  userByAccount(account: string): Op<UserRow | null>;
  /** The new user's id, or null (nothing stored) if the account is taken, whatever its case. nameFold: foldName(name) (domain/fold.ts). */
  insertUser(u: { name: string; nameFold: string; avatar: string; email: string; account: string; passwordHash: string; createdAt: number }): Op<number | null>;
  setPasswordHash(uid: number, passwordHash: string): Op<void>;
  setDisabledAt(uid: number, at: number | null): Op<void>;
  setLastSeen(uid: number, at: number): Op<void>;
  /** Of these users, those who share a group with uid, with when they were last seen. */
  sharingAGroup(uid: number, uids: number[]): Op<{ uid: number; lastSeenAt: number | null }[]>;
  /** Which of these ids name a user (enabled ones only, if asked). */
  existingUserIds(uids: number[], enabledOnly: boolean): Op<number[]>;

  // ---- administration
  /** Users, newest first, optionally those whose lowercased account or folded name (name_fold) is LIKE `like` (backslash escapes); and how many match. */
  listUsers(like: string | null, limit: number, offset: number): Op<{ rows: UserRow[]; total: number }>;
  setAdmin(uid: number, admin: boolean): Op<void>;
  /** The newest invites. */
  listInvites(limit: number): Op<InviteRow[]>;
  /** Makes an unused invite expire at `at`; false if there is no unused one with that id. */
  expireInvite(id: number, at: number): Op<boolean>;

  // ---- friends
  /** The request between two people, whichever asked. */
  friendRequestBetween(a: number, b: number): Op<FriendRequestRow | null>;
  /** The request `from` sent `to` that is still pending. */
  pendingFriendRequest(from: number, to: number): Op<FriendRequestRow | null>;
  insertFriendRequest(applicantUid: number, targetUid: number, status: number, at: number): Op<void>;
  setFriendRequestStatus(id: number, status: number, at: number): Op<void>;
  deleteFriendRequest(id: number): Op<void>;
  /** The users on the other side of uid's requests with this status: those uid asked, those who asked uid (incoming), or both (null). */
  friendRequestUsers(uid: number, status: number, side: "outgoing" | "incoming" | "either"): Op<UserRow[]>;

  // ---- people, settings, stats
  /** Answers if the database does (health checks). */
  ping(): Op<void>;
  /** Messages stored: the sum of every group's last seq (seqs are dense per group), without scanning them. */
  messagesStored(): Op<number>;
  /** Enabled users whose lowercased account or folded name (name_fold) is LIKE `contains`, those starting so first (`starts`), then by account. */
  directory(contains: string, starts: string, limit: number): Op<{ id: number; name: string; avatar: string; account: string }[]>;
  /** A new name comes with its fold (domain/fold.ts foldName), stored together. */
  updateProfile(uid: number, change: { name?: { text: string; fold: string }; avatar?: string; email?: string }): Op<void>;
  setting(key: string): Op<string | null>;
  saveSetting(key: string, value: string): Op<void>;
  stats(now: number): Op<{ users: number; groups: number; messages: number; sessions: number; lastMessageId: number }>;

  // ---- group events (one id sequence with messages)
  /** Appends a change to a group's log with the next id of the shared sequence; returns the id. */
  insertEvent(e: { gid: number; kind: GroupEventKind; actor: number; msgId: number | null; payload: string; createdAt: number; clientMsgId: string | null }): Op<number>;
  /** The change this actor already made with this clientMsgId. */
  eventByClientMsgId(actor: number, clientMsgId: string): Op<EventRow | null>;
  /** Remembers that these users left the group at this event (replaces an earlier departure). */
  recordDepartures(gid: number, uids: number[], eventId: number): Op<void>;

  // ---- sessions
  /** The session of a token (by its hash) unexpired at `now`; disabledAt 0 for an enabled user, null when the user is gone. */
  sessionByTokenHash(tokenHash: string, now: number): Op<{ id: number; userId: number; expiresAt: number; lastUsedAt: number; disabledAt: number | null } | null>;
  touchSession(sessionId: number, now: number): Op<void>;
  /** A session by its id, unexpired at `now`, with its user's disabled_at (the file cookie names a session by id). */
  sessionById(sessionId: number, now: number): Op<{ id: number; userId: number; tokenHash: string; expiresAt: number; disabledAt: number | null } | null>;
  insertSession(s: { tokenHash: string; userId: number; createdAt: number; expiresAt: number }): Op<void>;
  deleteSession(sessionId: number): Op<void>;
  /** Deletes the user's sessions but, optionally, one; returns their token hashes. */
  deleteUserSessions(uid: number, keepSessionId: number | null): Op<string[]>;
  insertRevocations(tokenHashes: string[], reason: string, at: number): Op<void>;
  /** Drops revocations made before `revokedBefore` and sessions expired at `now`; returns how many sessions. */
  purgeSessions(now: number, revokedBefore: number): Op<number>;
  revocationsAfter(afterId: number, limit: number): Op<{ id: number; tokenHash: string; reason: string }[]>;
  lastRevocationId(): Op<number>;

  // ---- invites (by the hash of their code)
  insertInvite(i: { codeHash: string; createdBy: number | null; createdAt: number; expiresAt: number }): Op<void>;
  /** Marks a live (unused, unexpired) code used by uid; false if there is none. */
  redeemInvite(codeHash: string, uid: number, now: number): Op<boolean>;
  inviteIsLive(codeHash: string, now: number): Op<boolean>;

  // ---- sync: what a client missed (afterId < id <= upTo, ascending, at most limit)
  messagesSince(gids: number[], afterId: number, upTo: number, limit: number): Op<MessageRow[]>;
  eventsSince(gids: number[], afterId: number, upTo: number, limit: number): Op<EventRow[]>;
  /** Groups uid was removed from (and is not back in) after afterId, with the id of that removal. */
  departuresSince(uid: number, afterId: number): Op<{ gid: number; eventId: number }[]>;

  // ---- read and delivered cursors (each only moves forward)
  /** Moves both cursors of uid in gid up to msgId. */
  moveReadCursor(gid: number, uid: number, msgId: number): Op<void>;
  /** Moves the delivered cursor up to msgId; whether it moved. */
  moveDeliveredCursor(gid: number, uid: number, msgId: number): Op<boolean>;
  /** Messages of the group after afterId that others sent. */
  unreadCount(gid: number, uid: number, afterId: number): Op<number>;
  /** A page of uid's conversations with a message, newest activity first, with what the chat list counts. */
  chatListPage(uid: number, limit: number, offset: number): Op<ChatRow[]>;

  // ---- messages
  /** The message this sender already sent with this clientMsgId (idempotent resends). */
  messageBySenderClientId(senderUid: number, clientMsgId: string): Op<MessageRow | null>;
  /**
   * The group a sender writes to: null if there is no such group; else whether
   * the sender is a member, and the group's last seq as this transaction sees it.
   */
  groupForSender(gid: number, uid: number): Op<{ member: boolean; lastSeq: number } | null>;
  /** Whether the message exists in this group, and whether it was deleted; null if not there. */
  replyTarget(msgId: number, gid: number): Op<{ deleted: boolean } | null>;
  /**
   * Stores a message with the group's next seq and makes it the group's last;
   * null (and nothing stored) if the sender already used this clientMsgId.
   * `lastSeq` is groupForSender's, read in the same transaction: the SQLite
   * store (one writer) takes lastSeq + 1; a store with concurrent writers
   * takes the next seq under the group row's lock instead, so seqs stay dense.
   * `searchBody` (domain/search.ts indexedBody), if any, goes into the search
   * index with it (on PostgreSQL, all of it is one statement); a "batched"
   * store is handed null and indexes the message later.
   */
  insertMessage(m: NewMessage, lastSeq: number, searchBody: string | null): Op<{ id: number; seq: number } | null>;
  messageById(id: number): Op<MessageRow | null>;
  /** A new content, its mentions (JSON or null), edited at `at`. */
  editMessageRow(id: number, content: string, mentions: string | null, at: number): Op<void>;
  /** Leaves a tombstone: no content, mentions or reactions (the rows of those it had go too), deleted at `at`. */
  deleteMessageRow(id: number, at: number, had: { reactions: boolean; mentions: boolean }): Op<void>;
  /** Whether uid holds this reaction on the message. */
  holdsReaction(msgId: number, emoji: string, uid: number): Op<boolean>;
  /** Adds uid's reaction; its order is the emoji's first use on the message, or `ord` if this is it. */
  addReaction(msgId: number, emoji: string, uid: number, at: number, ord: number): Op<void>;
  removeReaction(msgId: number, emoji: string, uid: number): Op<void>;
  /** The message's reactions summary (the wire's, as JSON, or null for none). */
  setReactions(msgId: number, reactions: string | null): Op<void>;
  /** A page of the group's messages, newest first: before an id, or at an offset. */
  messagesPage(gid: number, size: number, at: { beforeId: number } | { offset: number }): Op<MessageRow[]>;

  // ---- mentions and search
  /** The group's members with their accounts lowercased. */
  memberAccounts(gid: number): Op<{ uid: number; account: string }[]>;
  /** Records who a message mentions (what chat/list counts); `replace` clears the earlier ones first. */
  storeMentions(msgId: number, gid: number, uids: number[], replace: boolean): Op<void>;
  /** Adds a message's indexed body (domain/search.ts indexedBody) to the search index. */
  indexMessage(msgId: number, gid: number, body: string): Op<void>;

  // ---- files
  fileById(id: string): Op<FileRow | null>;
  /** Whether a picture is the avatar of an enabled user, or of a group uid is in. */
  avatarVisibleTo(uid: number, avatarUrl: string): Op<boolean>;
  /** Whether a not-deleted message of a group uid is in shares the file. */
  fileSharedWith(uid: number, fileId: string): Op<boolean>;
  /** id, name, size and mime of these files (those that exist). */
  filesByIds(ids: string[]): Op<Pick<FileRow, "id" | "name" | "size" | "mime">[]>;

  // ---- users
  usersByIds(uids: number[]): Op<Pick<UserRow, "id" | "name" | "avatar" | "account">[]>;
}

/**
 * Runs a flow whose operations all complete at once (the SQLite store's):
 * its value, or its error thrown. A flow that yields (waits on an engine
 * that answers later) is a bug here.
 */
export function runSync<T>(flow: Flow<T>): T {
  const r = flow.next();
  if (r.done) return r.value;
  flow.return(undefined as T);
  throw new Error("runSync: the flow waited on its store (an asynchronous store needs runAsync)");
}

/** Whether a value is a flow (a generator), as a job that was converted to the seam returns. */
export function isFlow(value: unknown): value is Flow<unknown> {
  return typeof value === "object" && value !== null && typeof (value as Flow<unknown>).next === "function" && typeof (value as Flow<unknown>).throw === "function";
}

/** Runs a flow over a store that answers later (PostgreSQL): each yielded promise is awaited and its value handed back. */
export async function runAsync<T>(flow: Flow<T>): Promise<T> {
  let r = flow.next();
  while (!r.done) {
    let value: unknown;
    try {
      value = await r.value;
    } catch (err) {
      r = flow.throw(err);
      continue;
    }
    r = flow.next(value);
  }
  return r.value;
}
