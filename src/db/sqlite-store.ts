// The SQLite store (domain/store.ts): the SQL of the embedded engine, written
// out and prepared once per connection (on first use), where drizzle's
// builder would render and prepare every query anew, which cost ~80% of the
// server's CPU under load (bench/, BENCHMARKS.md). Every operation completes
// at once (bun:sqlite is synchronous): its generator returns without
// yielding, so runSync drives a domain flow over it in one call.
import type { Database, SQLQueryBindings, Statement } from "bun:sqlite";
import type { FileRow } from "../domain/files";
import type { SearchTerm } from "../domain/search";
import type { ChatRow, EventRow, FriendRequestRow, GroupRow, InviteRow, MemberRow, MessageRow, NewMessage, Op, Store, UserRow } from "../domain/store";
import { selectList } from "./columns";
import { friendRequests, groupMembers, groups, invites, messages, users } from "./schema";

const MESSAGE_COLUMNS = selectList(messages);
// Rows as the domain's UserRow: name_fold is only matched.
const USER_COLUMNS = (alias?: string) => selectList(users, alias, ["nameFold"]);
const FILE_COLUMNS = "id, sha256, name, size, mime, uploader_uid AS uploaderUid, created_at AS createdAt";
// The predicate of the partial index messages_file_idx (db/schema.ts), written out exactly so the planner uses it.
const SHARES = (alias: string) => `${alias}.kind IN ('File', 'Image') AND length(${alias}.content) = 21`;

const SQL = {
  sessionById:
    "SELECT s.id, s.user_id AS userId, s.token_hash AS tokenHash, s.expires_at AS expiresAt, u.disabled_at AS disabledAt " +
    "FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ? AND s.expires_at > ?",
  ping: "SELECT 1",
  messagesStored: "SELECT coalesce(sum(last_seq), 0) AS n FROM groups",
  messageById: `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE id = ?`,
  editMessage: "UPDATE messages SET content = ?, mentions = ?, edited_at = ?, updated_at = ? WHERE id = ?",
  deleteMessage: "UPDATE messages SET content = '', mentions = NULL, reactions = NULL, deleted_at = ?, updated_at = ? WHERE id = ?",
  deleteReactions: "DELETE FROM message_reactions WHERE message_id = ?",
  deleteMentions: "DELETE FROM message_mentions WHERE message_id = ?",
  holds: "SELECT 1 AS x FROM message_reactions WHERE message_id = ? AND emoji = ? AND uid = ?",
  // The emoji's first use orders it (ord): every holder's row carries the same one, else it is this
  // change's id. Read apart from the INSERT (inside it, as a subquery on the table being written, it
  // cost ≈ 50 µs), and any holder's row will do (min() over them cost 3 µs more).
  firstUse: "SELECT ord FROM message_reactions WHERE message_id = ? AND emoji = ? LIMIT 1",
  reactAdd: "INSERT INTO message_reactions (message_id, emoji, uid, created_at, ord) VALUES (?, ?, ?, ?, ?)",
  reactRemove: "DELETE FROM message_reactions WHERE message_id = ? AND emoji = ? AND uid = ?",
  setReactions: "UPDATE messages SET reactions = ? WHERE id = ?",
  // Both cursors move in one statement; each only forward.
  moveBoth:
    "UPDATE group_members SET read_msg_id = max(read_msg_id, ?1), delivered_msg_id = max(delivered_msg_id, ?1) " +
    "WHERE group_id = ?2 AND user_id = ?3 AND (read_msg_id < ?1 OR delivered_msg_id < ?1)",
  moveDelivered: "UPDATE group_members SET delivered_msg_id = ?1 WHERE group_id = ?2 AND user_id = ?3 AND delivered_msg_id < ?1",
  unread: "SELECT count(*) AS n FROM messages WHERE group_id = ? AND id > ? AND sender_uid != ?",
  // The whole page in one statement. Unread = the messages after the read cursor
  // (seqs are dense per group, so the group's last seq less the cursor message's
  // seq) less the caller's own among them (index messages_group_sender_idx). The
  // per-conversation count it replaces walked every unread message: ~15 ms for
  // a page of 20 at 1M messages (bench/, BENCHMARKS.md). Unread mentions come
  // from message_mentions' primary key (uid, group, message): a range count.
  chatList: `SELECT gm.read_msg_id AS readMsgId,
  g.id AS gId, g.name AS gName, g.avatar AS gAvatar, g.mode AS gMode, g.creator_uid AS gCreatorUid, g.direct_key AS gDirectKey, g.last_seq AS gLastSeq,
  ${selectList(messages, "m")},
  (SELECT c.seq FROM messages c WHERE c.id = gm.read_msg_id AND c.group_id = g.id) AS cursorSeq,
  (SELECT count(*) FROM messages o WHERE o.group_id = g.id AND o.sender_uid = gm.user_id AND o.id > gm.read_msg_id) AS ownAfter,
  (SELECT count(*) FROM message_mentions mm WHERE mm.uid = gm.user_id AND mm.group_id = g.id AND mm.message_id > gm.read_msg_id) AS mentionsUnread
FROM group_members gm JOIN groups g ON g.id = gm.group_id JOIN messages m ON m.id = g.last_msg_id
WHERE gm.user_id = ? ORDER BY g.last_msg_id DESC LIMIT ? OFFSET ?`,
  usedBytes: "SELECT coalesce(sum(size), 0) AS n FROM files WHERE uploader_uid = ?",
  insertFile: "INSERT INTO files (id, sha256, name, size, mime, uploader_uid, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
  deleteUnshared:
    "DELETE FROM files WHERE id IN (SELECT f.id FROM files f WHERE f.created_at < ? AND NOT EXISTS " +
    `(SELECT 1 FROM messages m WHERE m.content = f.id AND ${SHARES("m")} AND m.deleted_at IS NULL) ` +
    // A picture in use as an avatar stays.
    "AND NOT EXISTS (SELECT 1 FROM users u WHERE u.avatar = '/api/file/' || f.id) AND NOT EXISTS (SELECT 1 FROM groups g WHERE g.avatar = '/api/file/' || f.id)) RETURNING id",
  fileShas: "SELECT DISTINCT sha256 FROM files",
  namedShas: "SELECT DISTINCT sha256 FROM files WHERE sha256 IN (SELECT value FROM json_each(?))",
  unindex: "DELETE FROM message_search WHERE rowid = ?",
  listUsers: `SELECT ${USER_COLUMNS()} FROM users ORDER BY id DESC LIMIT ? OFFSET ?`,
  listUsersLike: `SELECT ${USER_COLUMNS()} FROM users WHERE lower(account) LIKE ?1 ESCAPE '\\' OR name_fold LIKE ?1 ESCAPE '\\' ORDER BY id DESC LIMIT ?2 OFFSET ?3`,
  countUsers: "SELECT count(*) AS n FROM users",
  countUsersLike: "SELECT count(*) AS n FROM users WHERE lower(account) LIKE ?1 ESCAPE '\\' OR name_fold LIKE ?1 ESCAPE '\\'",
  setAdmin: "UPDATE users SET is_admin = ? WHERE id = ?",
  listInvites: `SELECT ${selectList(invites)} FROM invites ORDER BY id DESC LIMIT ?`,
  expireInvite: "UPDATE invites SET expires_at = ? WHERE id = ? AND used_at IS NULL RETURNING id",
  friendBetween: `SELECT ${selectList(friendRequests)} FROM friend_requests WHERE (applicant_uid = ?1 AND target_uid = ?2) OR (applicant_uid = ?2 AND target_uid = ?1)`,
  friendPending: `SELECT ${selectList(friendRequests)} FROM friend_requests WHERE applicant_uid = ? AND target_uid = ? AND status = 0`,
  insertFriend: "INSERT INTO friend_requests (applicant_uid, target_uid, status, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)",
  setFriendStatus: "UPDATE friend_requests SET status = ?, updated_at = ? WHERE id = ?",
  deleteFriend: "DELETE FROM friend_requests WHERE id = ?",
  friendUsers:
    `SELECT ${USER_COLUMNS("u")} FROM friend_requests f JOIN users u ON u.id = CASE WHEN f.applicant_uid = ?1 THEN f.target_uid ELSE f.applicant_uid END ` +
    "WHERE f.status = ?2 AND ((?3 != 'incoming' AND f.applicant_uid = ?1) OR (?3 != 'outgoing' AND f.target_uid = ?1)) ORDER BY u.id",
  // Prefix matches of the account, then of the name, then anything containing q; disabled users never.
  directory: `SELECT id, name, avatar, account FROM users
  WHERE disabled_at IS NULL AND (lower(account) LIKE ?1 ESCAPE '\\' OR name_fold LIKE ?1 ESCAPE '\\')
  ORDER BY CASE WHEN lower(account) LIKE ?2 ESCAPE '\\' THEN 0 WHEN name_fold LIKE ?2 ESCAPE '\\' THEN 1 ELSE 2 END, lower(account)
  LIMIT ?3`,
  profile: "UPDATE users SET name = coalesce(?2, name), name_fold = coalesce(?3, name_fold), avatar = coalesce(?4, avatar), email = coalesce(?5, email) WHERE id = ?1",
  setting: "SELECT value FROM settings WHERE key = ?",
  saveSetting: "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
  stats:
    "SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM groups) AS groups, (SELECT count(*) FROM messages) AS messages, " +
    "(SELECT count(*) FROM sessions WHERE expires_at > ?) AS sessions, (SELECT coalesce(max(id), 0) FROM messages) AS lastMessageId",
  userById: `SELECT ${USER_COLUMNS()} FROM users WHERE id = ?`,
  // Through the lower(account) unique index.
  userByAccount: `SELECT ${USER_COLUMNS()} FROM users WHERE lower(account) = lower(?)`,
  insertUser: "INSERT INTO users (name, name_fold, avatar, email, account, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
  setPassword: "UPDATE users SET password_hash = ? WHERE id = ?",
  setDisabled: "UPDATE users SET disabled_at = ? WHERE id = ?",
  lastSeen: "UPDATE users SET last_seen_at = ? WHERE id = ?",
  sharing:
    "SELECT DISTINCT u.id AS uid, u.last_seen_at AS lastSeenAt FROM group_members mine JOIN group_members theirs ON theirs.group_id = mine.group_id " +
    "JOIN users u ON u.id = theirs.user_id WHERE mine.user_id = ? AND theirs.user_id IN (SELECT value FROM json_each(?))",
  insertSession: "INSERT INTO sessions (token_hash, user_id, created_at, expires_at, last_used_at) VALUES (?, ?, ?, ?, ?)",
  deleteSession: "DELETE FROM sessions WHERE id = ?",
  deleteUserSessions: "DELETE FROM sessions WHERE user_id = ? AND id != ? RETURNING token_hash AS tokenHash",
  insertRevocation: "INSERT INTO revocations (token_hash, reason, created_at) VALUES (?, ?, ?)",
  purgeRevocations: "DELETE FROM revocations WHERE created_at < ?",
  purgeSessions: "DELETE FROM sessions WHERE expires_at < ? RETURNING id",
  revocationsAfter: "SELECT id, token_hash AS tokenHash, reason FROM revocations WHERE id > ? ORDER BY id LIMIT ?",
  lastRevocation: "SELECT coalesce(max(id), 0) AS n FROM revocations",
  insertInvite: "INSERT INTO invites (code_hash, created_by, created_at, expires_at) VALUES (?, ?, ?, ?)",
  redeemInvite: "UPDATE invites SET used_by = ?, used_at = ? WHERE code_hash = ? AND used_at IS NULL AND expires_at > ? RETURNING id",
  inviteIsLive: "SELECT id FROM invites WHERE code_hash = ? AND used_at IS NULL AND expires_at > ?",
  // The messages table's AUTOINCREMENT counter is the one sequence: bumping it
  // reserves an id no message will take (SQLite documents sqlite_sequence as
  // writable with ordinary statements). The bump is a plain `seq + 1`: every
  // event id comes from it, so it is never behind the log (only the first one,
  // with no row yet, looks at the log). A `max(seq, …)` here, with a subquery
  // or a parameter, made FTS5 write out the terms of the batch's messages so
  // far as a segment of their own (measured; SQLite runs such a statement in a
  // savepoint of its own, and FTS5 flushes on every savepoint): ≈ 15-35 µs,
  // and more segments to merge. Bumped, then read (RETURNING cost ≈ 2 µs more).
  bumpSeq: "UPDATE sqlite_sequence SET seq = seq + 1 WHERE name = 'messages'",
  readSeq: "SELECT seq FROM sqlite_sequence WHERE name = 'messages'",
  firstSeq: "INSERT INTO sqlite_sequence (name, seq) VALUES ('messages', (SELECT coalesce(max(id), 0) FROM group_events) + 1)",
  insertEvent: "INSERT INTO group_events (id, group_id, kind, actor_uid, msg_id, payload, created_at, client_msg_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
  eventByClientId:
    "SELECT id, group_id AS groupId, kind, actor_uid AS actorUid, msg_id AS msgId, payload, created_at AS createdAt FROM group_events WHERE actor_uid = ? AND client_msg_id = ?",
  departure: "INSERT INTO departures (user_id, group_id, event_id) VALUES (?, ?, ?) ON CONFLICT (user_id, group_id) DO UPDATE SET event_id = excluded.event_id",
  byDirectKey: "SELECT id FROM groups WHERE direct_key = ?",
  insertGroup: "INSERT INTO groups (name, avatar, mode, creator_uid, direct_key, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
  insertMember: "INSERT INTO group_members (group_id, user_id, role, joined_at, read_msg_id, delivered_msg_id) VALUES (?, ?, ?, ?, ?, ?)",
  membersAmong: "SELECT user_id AS uid, role FROM group_members WHERE group_id = ? AND user_id IN (SELECT value FROM json_each(?))",
  memberIds: "SELECT user_id AS uid FROM group_members WHERE group_id = ?",
  membersWithUsers:
    `SELECT m.role, m.read_msg_id AS readMsgId, ${USER_COLUMNS("u")} FROM group_members m JOIN users u ON u.id = m.user_id ` +
    "WHERE m.group_id = ? ORDER BY m.role DESC, m.joined_at ASC, u.id ASC",
  countOthers: "SELECT count(*) AS n FROM group_members WHERE group_id = ? AND user_id != ?",
  deleteMembers: "DELETE FROM group_members WHERE group_id = ? AND user_id IN (SELECT value FROM json_each(?))",
  deleteAllMembers: "DELETE FROM group_members WHERE group_id = ?",
  setRole: "UPDATE group_members SET role = ? WHERE group_id = ? AND user_id = ?",
  rename: "UPDATE groups SET name = coalesce(?1, name), avatar = coalesce(?2, avatar) WHERE id = ?3",
  markDeleted: "UPDATE groups SET deleted_at = ?, direct_key = NULL WHERE id = ?",
  groupsOf: `SELECT ${selectList(groups, "g")} FROM group_members m JOIN groups g ON g.id = m.group_id WHERE m.user_id = ? ORDER BY g.id`,
  existingUsers: "SELECT id FROM users WHERE id IN (SELECT value FROM json_each(?))",
  enabledUsers: "SELECT id FROM users WHERE id IN (SELECT value FROM json_each(?)) AND disabled_at IS NULL",
  groupIds: "SELECT group_id AS gid FROM group_members WHERE user_id = ?",
  // The user's disabled_at as a subquery, not a JOIN: with Bun's SQLite (3.54) a join with bound
  // parameters costs ≈ 6 µs more per run (7.6 against 1.6 µs; BENCHMARKS.md; an EXISTS is turned
  // into a join too). disabledAt keeps the inner join's meaning: NULL when the user is gone (no
  // session then), 0 when not disabled.
  session:
    "SELECT s.id, s.user_id AS userId, s.expires_at AS expiresAt, s.last_used_at AS lastUsedAt, " +
    "(SELECT coalesce(u.disabled_at, 0) FROM users u WHERE u.id = s.user_id) AS disabledAt " +
    "FROM sessions s WHERE s.token_hash = ? AND s.expires_at > ?",
  touch: "UPDATE sessions SET last_used_at = ? WHERE id = ?",
  messagesSince: `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE group_id IN (SELECT value FROM json_each(?)) AND id > ? AND id <= ? ORDER BY id LIMIT ?`,
  eventsSince:
    "SELECT id, group_id AS groupId, kind, actor_uid AS actorUid, msg_id AS msgId, payload, created_at AS createdAt FROM group_events " +
    "WHERE group_id IN (SELECT value FROM json_each(?)) AND id > ? AND id <= ? ORDER BY id LIMIT ?",
  departuresSince:
    "SELECT d.group_id AS gid, d.event_id AS eventId FROM departures d WHERE d.user_id = ? AND d.event_id > ? " +
    "AND NOT EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = d.group_id AND m.user_id = ?)",
  group: `SELECT ${selectList(groups)} FROM groups WHERE id = ?`,
  membership: `SELECT ${selectList(groupMembers)} FROM group_members WHERE group_id = ? AND user_id = ?`,
  earlier: `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE sender_uid = ? AND client_msg_id = ?`,
  // Membership, then the group's last seq: two statements through their primary keys cost less
  // than the one LEFT JOIN with bound parameters that did both (≈ 1 µs against ≈ 6 µs, measured).
  isMember: "SELECT 1 AS x FROM group_members WHERE group_id = ? AND user_id = ?",
  lastSeq: "SELECT last_seq AS lastSeq FROM groups WHERE id = ?",
  insert:
    "INSERT INTO messages (group_id, seq, sender_uid, kind, content, client_msg_id, created_at, updated_at, reply_to, mentions) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sender_uid, client_msg_id) DO NOTHING",
  bump: "UPDATE groups SET last_seq = ?, last_msg_id = ? WHERE id = ?",
  replyTarget: "SELECT deleted_at AS deletedAt FROM messages WHERE id = ? AND group_id = ?",
  page: `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE group_id = ? ORDER BY id DESC LIMIT ? OFFSET ?`,
  pageBefore: `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE group_id = ? AND id < ? ORDER BY id DESC LIMIT ?`,
  inGroup: "SELECT id FROM messages WHERE id = ? AND group_id = ?",
  memberAccounts: "SELECT u.id AS uid, lower(u.account) AS account FROM group_members m JOIN users u ON u.id = m.user_id WHERE m.group_id = ?",
  clearMentions: "DELETE FROM message_mentions WHERE message_id = ?",
  addMention: "INSERT OR IGNORE INTO message_mentions (uid, group_id, message_id) VALUES (?, ?, ?)",
  index: "INSERT INTO message_search (rowid, body) VALUES (?, ?)",
  // Search indexing in batches (domain/search.ts indexPending); migration 0012 made the watermark.
  searchUpTo: "SELECT CAST(value AS INTEGER) AS n FROM settings WHERE key = 'search_indexed_upto'",
  searchBacklog:
    "SELECT (SELECT coalesce(max(id), 0) FROM messages) > (SELECT CAST(value AS INTEGER) FROM settings WHERE key = 'search_indexed_upto') AS behind",
  // No watermark row (a database the migration did not reach): the comparison is NULL, nothing waits.
  unindexed:
    "SELECT id, group_id AS groupId, kind, content, deleted_at AS deletedAt FROM messages " +
    "WHERE id > (SELECT CAST(value AS INTEGER) FROM settings WHERE key = 'search_indexed_upto') ORDER BY id LIMIT ?",
  setSearchUpTo: "UPDATE settings SET value = ? WHERE key = 'search_indexed_upto'",
  file: `SELECT ${FILE_COLUMNS} FROM files WHERE id = ?`,
  userAvatar: "SELECT 1 AS ok FROM users WHERE avatar = ? AND disabled_at IS NULL LIMIT 1",
  groupAvatar: "SELECT 1 AS ok FROM groups g JOIN group_members gm ON gm.group_id = g.id AND gm.user_id = ? WHERE g.avatar = ? LIMIT 1",
  shared:
    "SELECT 1 AS ok FROM messages m JOIN group_members gm ON gm.group_id = m.group_id AND gm.user_id = ? " +
    `WHERE m.content = ? AND ${SHARES("m")} AND m.deleted_at IS NULL LIMIT 1`,
  filesByIds: "SELECT id, name, size, mime FROM files WHERE id IN (SELECT value FROM json_each(?))",
  usersByIds: "SELECT id, name, avatar, account FROM users WHERE id IN (SELECT value FROM json_each(?))",
} as const;

type Key = keyof typeof SQL;

/** FTS5's query: every term (a word by prefix, a CJK run as the phrase of its pairs), and one of the group tokens. */
function matchExpression(terms: SearchTerm[], groupTokens: string[]): string {
  const quote = (s: string) => `"${s.replace(/"/g, '""')}"`;
  const words = terms.map((t) => (t.cjk ? quote(t.pairs.join(" ")) : quote(t.text) + "*")).join(" AND ");
  return `(${words}) AND (${groupTokens.map(quote).join(" OR ")})`;
}

// users.is_admin is stored as 0/1; the row type (drizzle's) says boolean.
const asUser = (u: UserRow): UserRow => ({ ...u, isAdmin: Boolean(u.isAdmin) });

/**
 * The SQLite store, and its groups' last messages not written yet: a group's
 * `last_seq`/`last_msg_id` move once a batch rather than once a message (an
 * UPDATE and an index entry rewritten per message, ≈ 2 µs of ≈ 18 of its
 * storage). The writer flushes them before its COMMIT and before each
 * savepoint, and drops them when it rolls back; any other statement of the
 * store writes them out first, so no read ever sees a group row behind.
 */
export type SqliteStore = Store & { readonly lastMessages: HeldBack };

/** Writes held back to the end of a batch; `written` counts the rows their flushes changed (earlier jobs' writes, not the running job's). */
export type HeldBack = { flush(): void; discard(): void; readonly written: number };

export function sqliteStore(sqlite: Database): SqliteStore {
  // Prepared on first use through the connection's query cache (finalized when it closes), then held.
  const prepared = new Map<Key, Statement>();
  const statement = <R = unknown, P extends SQLQueryBindings[] = SQLQueryBindings[]>(key: Key): Statement<R, P> => {
    let s = prepared.get(key);
    if (!s) prepared.set(key, (s = sqlite.query(SQL[key])));
    return s as unknown as Statement<R, P>;
  };
  // Each group's newest message of the batch so far, by gid.
  const lastOf = new Map<number, { seq: number; id: number }>();
  let written = 0;
  const flushLast = () => {
    const bump = statement<unknown, [number, number, number]>("bump");
    for (const [gid, last] of lastOf) written += bump.run(last.seq, last.id, gid).changes;
    lastOf.clear();
  };
  const q = <R = unknown, P extends SQLQueryBindings[] = SQLQueryBindings[]>(key: Key): Statement<R, P> => {
    if (lastOf.size) flushLast();
    return statement<R, P>(key);
  };
  // Typed handles for the statements of the Msg path, resolved once, so a message pays no Map lookup.
  let isMember: Statement<unknown, [number, number]> | undefined;
  let lastSeq: Statement<{ lastSeq: number }, [number]> | undefined;
  let insert: Statement<unknown, SQLQueryBindings[]> | undefined;
  let index: Statement<unknown, [number, string]> | undefined;

  return {
    engine: "sqlite",

    lastMessages: {
      flush: () => void (lastOf.size && flushLast()),
      discard: () => lastOf.clear(),
      get written() {
        return written;
      },
    },

    *groupById(gid: number): Op<GroupRow | null> {
      return q<GroupRow, [number]>("group").get(gid);
    },

    *membership(gid: number, uid: number): Op<MemberRow | null> {
      return q<MemberRow, [number, number]>("membership").get(gid, uid);
    },

    *receiptTarget(gid: number, uid: number, msgId: number) {
      const member = q<MemberRow, [number, number]>("membership").get(gid, uid);
      return {
        // A membership is a group's (its foreign key, ON DELETE CASCADE): the group row is read only for a non-member.
        group: member !== null || q<GroupRow, [number]>("group").get(gid) != null,
        member,
        message: q<{ id: number }, [number, number]>("inGroup").get(msgId, gid) != null,
      };
    },

    *groupIdByDirectKey(key: string) {
      return q<{ id: number }, [string]>("byDirectKey").get(key)?.id ?? null;
    },

    *insertGroup(g) {
      return q<{ id: number }, [string, string, number, number, string | null, number]>("insertGroup").get(g.name, g.avatar, g.mode, g.creatorUid, g.directKey, g.createdAt)!.id;
    },

    *insertMembers(gid, members, joinedAt, cursor) {
      const add = q<unknown, [number, number, number, number, number, number]>("insertMember");
      for (const m of members) add.run(gid, m.uid, m.role, joinedAt, cursor, cursor);
    },

    *membersAmong(gid, uids) {
      return q<{ uid: number; role: number }, [number, string]>("membersAmong").all(gid, JSON.stringify(uids));
    },

    *memberIds(gid) {
      return q<{ uid: number }, [number]>("memberIds").all(gid).map((r) => r.uid);
    },

    *membersWithUsers(gid) {
      return q<UserRow & { role: number; readMsgId: number }, [number]>("membersWithUsers")
        .all(gid)
        .map(({ role, readMsgId, ...user }) => ({ role, readMsgId, user: asUser(user as UserRow) }));
    },

    *countOtherMembers(gid, uid) {
      return q<{ n: number }, [number, number]>("countOthers").get(gid, uid)!.n;
    },

    *deleteMembers(gid, uids) {
      if (uids === null) q<unknown, [number]>("deleteAllMembers").run(gid);
      else q<unknown, [number, string]>("deleteMembers").run(gid, JSON.stringify(uids));
    },

    *setRole(gid, uid, role) {
      q<unknown, [number, number, number]>("setRole").run(role, gid, uid);
    },

    *renameGroup(gid, name, avatar) {
      q<unknown, [string | null, string | null, number]>("rename").run(name, avatar, gid);
    },

    *markGroupDeleted(gid, at) {
      q<unknown, [number, number]>("markDeleted").run(at, gid);
    },

    *groupsOf(uid) {
      return q<GroupRow, [number]>("groupsOf").all(uid);
    },

    *userById(uid) {
      const u = q<UserRow, [number]>("userById").get(uid);
      return u && asUser(u);
    },

    *userByAccount(account) {
      const u = q<UserRow, [string]>("userByAccount").get(account);
      return u && asUser(u);
    },

    *insertUser(u) {
      return q<{ id: number }, [string, string, string, string, string, string, number]>("insertUser").get(u.name, u.nameFold, u.avatar, u.email, u.account, u.passwordHash, u.createdAt)?.id ?? null;
    },

    *setPasswordHash(uid, passwordHash) {
      q<unknown, [string, number]>("setPassword").run(passwordHash, uid);
    },

    *setDisabledAt(uid, at) {
      q<unknown, [number | null, number]>("setDisabled").run(at, uid);
    },

    *setLastSeen(uid, at) {
      q<unknown, [number, number]>("lastSeen").run(at, uid);
    },

    *sharingAGroup(uid, uids) {
      return q<{ uid: number; lastSeenAt: number | null }, [number, string]>("sharing").all(uid, JSON.stringify(uids));
    },

    *insertSession(s) {
      q<unknown, [string, number, number, number, number]>("insertSession").run(s.tokenHash, s.userId, s.createdAt, s.expiresAt, s.createdAt);
    },

    *deleteSession(sessionId) {
      q<unknown, [number]>("deleteSession").run(sessionId);
    },

    *deleteUserSessions(uid, keepSessionId) {
      return q<{ tokenHash: string }, [number, number]>("deleteUserSessions").all(uid, keepSessionId ?? 0).map((r) => r.tokenHash);
    },

    *insertRevocations(tokenHashes, reason, at) {
      const add = q<unknown, [string, string, number]>("insertRevocation");
      for (const h of tokenHashes) add.run(h, reason, at);
    },

    *purgeSessions(now, revokedBefore) {
      q<unknown, [number]>("purgeRevocations").run(revokedBefore);
      return q<{ id: number }, [number]>("purgeSessions").all(now).length;
    },

    *revocationsAfter(afterId, limit) {
      return q<{ id: number; tokenHash: string; reason: string }, [number, number]>("revocationsAfter").all(afterId, limit);
    },

    *lastRevocationId() {
      return q<{ n: number }, []>("lastRevocation").get()!.n;
    },

    *insertInvite(i) {
      q<unknown, [string, number | null, number, number]>("insertInvite").run(i.codeHash, i.createdBy, i.createdAt, i.expiresAt);
    },

    *redeemInvite(codeHash, uid, now) {
      return q<{ id: number }, [number, number, string, number]>("redeemInvite").all(uid, now, codeHash, now).length > 0;
    },

    *inviteIsLive(codeHash, now) {
      return q<{ id: number }, [string, number]>("inviteIsLive").get(codeHash, now) !== null;
    },

    *listUsers(like, limit, offset) {
      const rows = like === null ? q<UserRow, [number, number]>("listUsers").all(limit, offset) : q<UserRow, [string, number, number]>("listUsersLike").all(like, limit, offset);
      const total = like === null ? q<{ n: number }, []>("countUsers").get()!.n : q<{ n: number }, [string]>("countUsersLike").get(like)!.n;
      // is_admin is stored as 0/1.
      return { rows: rows.map(asUser), total };
    },

    *setAdmin(uid, admin) {
      q<unknown, [number, number]>("setAdmin").run(admin ? 1 : 0, uid);
    },

    *listInvites(limit) {
      return q<InviteRow, [number]>("listInvites").all(limit);
    },

    *expireInvite(id, at) {
      return q<{ id: number }, [number, number]>("expireInvite").all(at, id).length > 0;
    },

    *friendRequestBetween(a, b) {
      return q<FriendRequestRow, [number, number]>("friendBetween").get(a, b);
    },

    *pendingFriendRequest(from, to) {
      return q<FriendRequestRow, [number, number]>("friendPending").get(from, to);
    },

    *insertFriendRequest(applicantUid, targetUid, status, at) {
      q<unknown, [number, number, number, number]>("insertFriend").run(applicantUid, targetUid, status, at);
    },

    *setFriendRequestStatus(id, status, at) {
      q<unknown, [number, number, number]>("setFriendStatus").run(status, at, id);
    },

    *deleteFriendRequest(id) {
      q<unknown, [number]>("deleteFriend").run(id);
    },

    *friendRequestUsers(uid, status, side) {
      return q<UserRow, [number, number, string]>("friendUsers").all(uid, status, side).map(asUser);
    },

    *directory(contains, starts, limit) {
      return q<{ id: number; name: string; avatar: string; account: string }, [string, string, number]>("directory").all(contains, starts, limit);
    },

    *updateProfile(uid, change) {
      const { name, avatar, email } = change;
      q<unknown, [number, string | null, string | null, string | null, string | null]>("profile").run(uid, name?.text ?? null, name?.fold ?? null, avatar ?? null, email ?? null);
    },

    *setting(key) {
      return q<{ value: string }, [string]>("setting").get(key)?.value ?? null;
    },

    *saveSetting(key, value) {
      q<unknown, [string, string]>("saveSetting").run(key, value);
    },

    *stats(now) {
      return q<{ users: number; groups: number; messages: number; sessions: number; lastMessageId: number }, [number]>("stats").get(now)!;
    },

    *sessionById(sessionId, now) {
      return q<{ id: number; userId: number; tokenHash: string; expiresAt: number; disabledAt: number | null }, [number, number]>("sessionById").get(sessionId, now);
    },

    *ping() {
      q("ping").get();
    },

    *messagesStored() {
      return q<{ n: number }, []>("messagesStored").get()!.n;
    },

    *messageById(id) {
      return q<MessageRow, [number]>("messageById").get(id);
    },

    *editMessageRow(id, content, mentions, at) {
      q<unknown, [string, string | null, number, number, number]>("editMessage").run(content, mentions, at, at, id);
    },

    *deleteMessageRow(id, at, had) {
      q<unknown, [number, number, number]>("deleteMessage").run(at, at, id);
      if (had.reactions) q<unknown, [number]>("deleteReactions").run(id);
      if (had.mentions) q<unknown, [number]>("deleteMentions").run(id);
    },

    *holdsReaction(msgId, emoji, uid) {
      return q<unknown, [number, string, number]>("holds").get(msgId, emoji, uid) !== null;
    },

    *addReaction(msgId, emoji, uid, at, ord) {
      const first = q<{ ord: number }, [number, string]>("firstUse").get(msgId, emoji)?.ord ?? ord;
      q<unknown, [number, string, number, number, number]>("reactAdd").run(msgId, emoji, uid, at, first);
    },

    *removeReaction(msgId, emoji, uid) {
      q<unknown, [number, string, number]>("reactRemove").run(msgId, emoji, uid);
    },

    *setReactions(msgId, reactions) {
      q<unknown, [string | null, number]>("setReactions").run(reactions, msgId);
    },

    *moveReadCursor(gid, uid, msgId) {
      q<unknown, [number, number, number]>("moveBoth").run(msgId, gid, uid);
    },

    *moveDeliveredCursor(gid, uid, msgId) {
      return q<unknown, [number, number, number]>("moveDelivered").run(msgId, gid, uid).changes > 0;
    },

    *unreadCount(gid, uid, afterId) {
      return q<{ n: number }, [number, number, number]>("unread").get(gid, afterId, uid)!.n;
    },

    *chatListPage(uid, limit, offset) {
      return q<ChatRow, [number, number, number]>("chatList").all(uid, limit, offset);
    },

    *usedBytes(uid) {
      return q<{ n: number }, [number]>("usedBytes").get(uid)!.n;
    },

    *insertFile(f) {
      q<unknown, [string, string, string, number, string, number, number]>("insertFile").run(f.id, f.sha256, f.name, f.size, f.mime, f.uploaderUid, f.createdAt);
    },

    *deleteUnsharedFiles(before) {
      return q<{ id: string }, [number]>("deleteUnshared").all(before).length;
    },

    *fileShas() {
      return q<{ sha256: string }, []>("fileShas").all().map((r) => r.sha256);
    },

    *namedShas(shas) {
      return q<{ sha256: string }, [string]>("namedShas").all(JSON.stringify(shas)).map((r) => r.sha256);
    },

    searchIndexing: "batched",

    *searchIndexedUpTo() {
      // No row (a database the migration did not reach): everything counts as indexed, so nothing is indexed twice.
      return q<{ n: number }, []>("searchUpTo").get()?.n ?? Number.MAX_SAFE_INTEGER;
    },

    *searchBacklog() {
      return q<{ behind: number | null }, []>("searchBacklog").get()?.behind === 1;
    },

    *unindexedMessages(limit) {
      return q<{ id: number; groupId: number; kind: string; content: string; deletedAt: number | null }, [number]>("unindexed").all(limit);
    },

    *indexBatch(items, upTo) {
      const add = (index ??= statement("index"));
      for (const it of items) add.run(it.id, it.body);
      q<unknown, [string]>("setSearchUpTo").run(String(upTo));
    },

    *unindexMessage(msgId) {
      q<unknown, [number]>("unindex").run(msgId);
    },

    *searchMessages(s) {
      // The FTS5 index holds each message's group as a token, so "these words in the caller's groups" is one intersection of posting lists.
      const sql =
        `SELECT ${selectList(messages, "m")} FROM message_search s JOIN messages m ON m.id = s.rowid ` +
        `WHERE message_search MATCH ?1 AND m.group_id IN (SELECT group_id FROM group_members WHERE user_id = ?2) ` +
        (s.gid !== undefined ? "AND m.group_id = ?3 " : "") +
        (s.beforeId !== undefined ? "AND s.rowid < ?4 " : "") +
        "ORDER BY s.rowid DESC LIMIT ?5";
      return sqlite.query<MessageRow, [string, number, number, number, number]>(sql).all(matchExpression(s.terms, s.groupTokens), s.uid, s.gid ?? 0, s.beforeId ?? 0, s.limit);
    },

    *existingUserIds(uids, enabledOnly) {
      return q<{ id: number }, [string]>(enabledOnly ? "enabledUsers" : "existingUsers").all(JSON.stringify(uids)).map((r) => r.id);
    },

    *insertEvent(e) {
      if (q("bumpSeq").run().changes === 0) q("firstSeq").run();
      const id = q<{ seq: number }, []>("readSeq").get()!.seq;
      q<unknown, SQLQueryBindings[]>("insertEvent").run(id, e.gid, e.kind, e.actor, e.msgId, e.payload, e.createdAt, e.clientMsgId);
      return id;
    },

    *eventByClientMsgId(actor, clientMsgId) {
      return q<EventRow, [number, string]>("eventByClientId").get(actor, clientMsgId);
    },

    *recordDepartures(gid, uids, eventId) {
      const add = q<unknown, [number, number, number]>("departure");
      for (const uid of uids) add.run(uid, gid, eventId);
    },

    *groupIdsOf(uid: number) {
      return q<{ gid: number }, [number]>("groupIds").all(uid).map((r) => r.gid);
    },

    *sessionByTokenHash(tokenHash: string, now: number) {
      return q<{ id: number; userId: number; expiresAt: number; lastUsedAt: number; disabledAt: number | null }, [string, number]>("session").get(tokenHash, now);
    },

    *touchSession(sessionId: number, now: number) {
      q<unknown, [number, number]>("touch").run(now, sessionId);
    },

    *messagesSince(gids: number[], afterId: number, upTo: number, limit: number) {
      return q<MessageRow, [string, number, number, number]>("messagesSince").all(JSON.stringify(gids), afterId, upTo, limit);
    },

    *eventsSince(gids: number[], afterId: number, upTo: number, limit: number) {
      return q<EventRow, [string, number, number, number]>("eventsSince").all(JSON.stringify(gids), afterId, upTo, limit);
    },

    *departuresSince(uid: number, afterId: number) {
      return q<{ gid: number; eventId: number }, [number, number, number]>("departuresSince").all(uid, afterId, uid);
    },

    *messageBySenderClientId(senderUid: number, clientMsgId: string): Op<MessageRow | null> {
      return q<MessageRow, [number, string]>("earlier").get(senderUid, clientMsgId);
    },

    *groupForSender(gid: number, uid: number) {
      const member = (isMember ??= statement("isMember")).get(gid, uid) !== null;
      const found = (lastSeq ??= statement("lastSeq")).get(gid);
      return found ? { member, lastSeq: lastOf.get(gid)?.seq ?? found.lastSeq } : null;
    },

    *replyTarget(msgId: number, gid: number) {
      const row = q<{ deletedAt: number | null }, [number, number]>("replyTarget").get(msgId, gid);
      return row ? { deleted: row.deletedAt !== null } : null;
    },

    *insertMessage(m: NewMessage, seenLastSeq: number) {
      // Not indexed here: indexPending does it later, in batches (searchIndexing).
      const seq = seenLastSeq + 1;
      const inserted = (insert ??= statement("insert")).run(m.groupId, seq, m.senderUid, m.kind, m.content, m.clientMsgId, m.createdAt, m.updatedAt, m.replyTo, m.mentions);
      if (inserted.changes === 0) return null;
      const id = Number(inserted.lastInsertRowid);
      // The group row moves when the batch flushes (lastMessages).
      lastOf.set(m.groupId, { seq, id });
      return { id, seq };
    },

    *messagesPage(gid: number, size: number, at: { beforeId: number } | { offset: number }) {
      return "beforeId" in at
        ? q<MessageRow, [number, number, number]>("pageBefore").all(gid, at.beforeId, size)
        : q<MessageRow, [number, number, number]>("page").all(gid, size, at.offset);
    },

    *memberAccounts(gid: number) {
      return q<{ uid: number; account: string }, [number]>("memberAccounts").all(gid);
    },

    *storeMentions(msgId: number, gid: number, uids: number[], replace: boolean) {
      if (replace) q<unknown, [number]>("clearMentions").run(msgId);
      const add = q<unknown, [number, number, number]>("addMention");
      for (const uid of uids) add.run(uid, gid, msgId);
    },

    *indexMessage(msgId: number, _gid: number, body: string) {
      (index ??= statement("index")).run(msgId, body);
    },

    *fileById(id: string) {
      return q<FileRow, [string]>("file").get(id);
    },

    *avatarVisibleTo(uid: number, avatarUrl: string) {
      return q<{ ok: number }, [string]>("userAvatar").get(avatarUrl) !== null || q<{ ok: number }, [number, string]>("groupAvatar").get(uid, avatarUrl) !== null;
    },

    *fileSharedWith(uid: number, fileId: string) {
      return q<{ ok: number }, [number, string]>("shared").get(uid, fileId) !== null;
    },

    *filesByIds(ids: string[]) {
      return q<Pick<FileRow, "id" | "name" | "size" | "mime">, [string]>("filesByIds").all(JSON.stringify(ids));
    },

    *usersByIds(uids: number[]) {
      return q<{ id: number; name: string; avatar: string; account: string }, [string]>("usersByIds").all(JSON.stringify(uids));
    },
  };
}
