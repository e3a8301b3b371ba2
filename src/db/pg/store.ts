// The PostgreSQL store (domain/store.ts): the same operations as the SQLite
// store, in PostgreSQL's SQL, through Bun's SQL client. Each operation is a
// generator that yields the promise of its query and returns the rows
// converted (bigint columns come back from hand-written queries as strings),
// so runAsync drives a domain flow over it, one await per statement. A store
// is bound to one connection or transaction (`sql`): the write path's will be
// its batch's transaction.
//
// Where the engines differ:
// - Concurrent writers on other nodes: a message's seq is taken under the
//   group row's lock (UPDATE … RETURNING), so per-group seqs stay dense and
//   ordered however many nodes write; a resend (ON CONFLICT DO NOTHING)
//   gives its seq back under the same lock.
// - Ids come from the rim_ids sequence (the column's default), shared with
//   group_events. Sequence values are handed out in call order but commit in
//   any order across nodes, so a client's cursor could pass an id that
//   commits later. The PostgreSQL write path must take
//   pg_advisory_xact_lock(RIM_IDS_LOCK) in its batch's transaction before its
//   first nextval, so batches that take ids commit in id order (docs/storage.md).
import type { SQL } from "bun";
import type { FileRow } from "../../domain/files";
import type { GroupEventKind } from "../../domain/events";
import type { ChatRow, EventRow, FriendRequestRow, GroupRow, InviteRow, MemberRow, MessageRow, NewMessage, Op, Store, UserRow } from "../../domain/store";
import { tsqueryLiteral, tsvectorLiteral } from "./search";

/** pg_advisory_xact_lock's key for "this transaction takes ids from rim_ids" ("rimids" in ASCII). */
export const RIM_IDS_LOCK = 0x72696d696473n;

type Row = Record<string, unknown>;

/**
 * SQLite's lower(): ASCII letters only. Under the "C" collation PostgreSQL's lower() leaves every other
 * letter alone, where the database's collation would fold more (the Kelvin sign to "k"); accounts are
 * compared, ordered and searched as on SQLite, and the account index (users_account_nocase_idx) is on this.
 */
const lowerAscii = (expr: string) => `lower(${expr} COLLATE "C")`;

const num = (v: unknown): number => (typeof v === "number" ? v : Number(v));
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : num(v));

const MESSAGE_COLUMNS =
  'id, group_id AS "groupId", seq, sender_uid AS "senderUid", kind, content, client_msg_id AS "clientMsgId", created_at AS "createdAt", updated_at AS "updatedAt", ' +
  'reply_to AS "replyTo", mentions, reactions, edited_at AS "editedAt", deleted_at AS "deletedAt"';
const FILE_COLUMNS = 'id, sha256, name, size, mime, uploader_uid AS "uploaderUid", created_at AS "createdAt"';

const toMessage = (r: Row): MessageRow => ({
  id: num(r.id),
  groupId: num(r.groupId),
  seq: num(r.seq),
  senderUid: num(r.senderUid),
  kind: r.kind as string,
  content: r.content as string,
  clientMsgId: r.clientMsgId as string,
  createdAt: num(r.createdAt),
  updatedAt: num(r.updatedAt),
  replyTo: numOrNull(r.replyTo),
  mentions: (r.mentions as string | null) ?? null,
  reactions: (r.reactions as string | null) ?? null,
  editedAt: numOrNull(r.editedAt),
  deletedAt: numOrNull(r.deletedAt),
});

const toGroup = (r: Row): GroupRow => ({
  id: num(r.id),
  name: r.name as string,
  avatar: r.avatar as string,
  mode: num(r.mode),
  creatorUid: num(r.creatorUid),
  directKey: (r.directKey as string | null) ?? null,
  lastSeq: num(r.lastSeq),
  lastMsgId: numOrNull(r.lastMsgId),
  createdAt: num(r.createdAt),
  deletedAt: numOrNull(r.deletedAt),
});

const toMember = (r: Row): MemberRow => ({
  groupId: num(r.groupId),
  userId: num(r.userId),
  role: num(r.role),
  joinedAt: num(r.joinedAt),
  readMsgId: num(r.readMsgId),
  deliveredMsgId: num(r.deliveredMsgId),
});

const toEvent = (r: Row): EventRow => ({
  id: num(r.id),
  groupId: num(r.groupId),
  kind: r.kind as GroupEventKind,
  actorUid: num(r.actorUid),
  msgId: numOrNull(r.msgId),
  payload: r.payload as string,
  createdAt: num(r.createdAt),
});

const USER_COLUMNS = (a: string) =>
  `${a}.id, ${a}.account, ${a}.name, ${a}.avatar, ${a}.email, ${a}.password_hash AS "passwordHash", ${a}.created_at AS "createdAt", ${a}.disabled_at AS "disabledAt", ${a}.is_admin AS "isAdmin", ${a}.last_seen_at AS "lastSeenAt"`;
const GROUP_COLUMNS = (a: string) =>
  `${a}.id, ${a}.name, ${a}.avatar, ${a}.mode, ${a}.creator_uid AS "creatorUid", ${a}.direct_key AS "directKey", ${a}.last_seq AS "lastSeq", ${a}.last_msg_id AS "lastMsgId", ${a}.created_at AS "createdAt", ${a}.deleted_at AS "deletedAt"`;
const MEMBER_COLUMNS = (a: string) =>
  `${a}.group_id AS "groupId", ${a}.user_id AS "userId", ${a}.role, ${a}.joined_at AS "joinedAt", ${a}.read_msg_id AS "readMsgId", ${a}.delivered_msg_id AS "deliveredMsgId"`;

const toUser = (r: Row): UserRow => ({
  id: num(r.id),
  account: r.account as string,
  name: r.name as string,
  avatar: r.avatar as string,
  email: r.email as string,
  passwordHash: r.passwordHash as string,
  createdAt: num(r.createdAt),
  disabledAt: numOrNull(r.disabledAt),
  isAdmin: r.isAdmin === true,
  lastSeenAt: numOrNull(r.lastSeenAt),
});

const FRIEND_COLUMNS = 'id, applicant_uid AS "applicantUid", target_uid AS "targetUid", status, created_at AS "createdAt", updated_at AS "updatedAt"';
const toFriendRequest = (r: Row): FriendRequestRow => ({
  id: num(r.id),
  applicantUid: num(r.applicantUid),
  targetUid: num(r.targetUid),
  status: num(r.status),
  createdAt: num(r.createdAt),
  updatedAt: num(r.updatedAt),
});

const toFile = (r: Row): FileRow => ({
  id: r.id as string,
  sha256: r.sha256 as string,
  name: r.name as string,
  size: num(r.size),
  mime: r.mime as string,
  uploaderUid: num(r.uploaderUid),
  createdAt: num(r.createdAt),
});

/** A JSON array of ids as a set of rows, for `IN (…)` with one parameter whatever the count. */
const idsIn = (type: "bigint" | "text") => `(SELECT value::${type} FROM jsonb_array_elements_text($1::text::jsonb))`;

export function pgStore(sql: SQL): Store {
  /** One statement: yields its promise, returns its rows. */
  function* query(text: string, params: unknown[]): Generator<unknown, Row[], unknown> {
    return (yield sql.unsafe(text, params as never[])) as Row[];
  }

  return {
    engine: "postgres",

    *groupById(gid: number): Op<GroupRow | null> {
      const [r] = yield* query(
        `SELECT ${GROUP_COLUMNS("g")} FROM groups g WHERE g.id = $1`,
        [gid],
      );
      return r ? toGroup(r) : null;
    },

    *receiptTarget(gid: number, uid: number, msgId: number) {
      const [r] = yield* query(
        'SELECT EXISTS (SELECT 1 FROM groups WHERE id = $1) AS "group", EXISTS (SELECT 1 FROM messages WHERE id = $3 AND group_id = $1) AS message, ' +
          `${MEMBER_COLUMNS("m")} ` +
          "FROM (SELECT 1) one LEFT JOIN group_members m ON m.group_id = $1 AND m.user_id = $2",
        [gid, uid, msgId],
      );
      return { group: r!.group === true, member: r!.userId === null || r!.userId === undefined ? null : toMember(r!), message: r!.message === true };
    },

    *membership(gid: number, uid: number): Op<MemberRow | null> {
      const [r] = yield* query(
        `SELECT ${MEMBER_COLUMNS("m")} FROM group_members m WHERE m.group_id = $1 AND m.user_id = $2`,
        [gid, uid],
      );
      return r ? toMember(r) : null;
    },

    *groupIdByDirectKey(key) {
      const [r] = yield* query("SELECT id FROM groups WHERE direct_key = $1", [key]);
      return r ? num(r.id) : null;
    },

    *insertGroup(g) {
      const [r] = yield* query("INSERT INTO groups (name, avatar, mode, creator_uid, direct_key, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id", [
        g.name, g.avatar, g.mode, g.creatorUid, g.directKey, g.createdAt,
      ]);
      return num(r!.id);
    },

    *insertMembers(gid, members, joinedAt, cursor) {
      if (members.length === 0) return;
      yield* query(
        "INSERT INTO group_members (group_id, user_id, role, joined_at, read_msg_id, delivered_msg_id) " +
          "SELECT $2, (m->>'uid')::bigint, (m->>'role')::int, $3, $4, $4 FROM jsonb_array_elements($1::text::jsonb) AS m",
        [JSON.stringify(members), gid, joinedAt, cursor],
      );
    },

    *membersAmong(gid, uids) {
      const rows = yield* query(`SELECT user_id AS uid, role FROM group_members WHERE group_id = $2 AND user_id IN ${idsIn("bigint")}`, [JSON.stringify(uids), gid]);
      return rows.map((r) => ({ uid: num(r.uid), role: num(r.role) }));
    },

    *memberIds(gid) {
      return (yield* query("SELECT user_id AS uid FROM group_members WHERE group_id = $1", [gid])).map((r) => num(r.uid));
    },

    *membersWithUsers(gid) {
      const rows = yield* query(
        `SELECT m.role AS "memberRole", m.read_msg_id AS "readMsgId", ${USER_COLUMNS("u")} FROM group_members m JOIN users u ON u.id = m.user_id ` +
          "WHERE m.group_id = $1 ORDER BY m.role DESC, m.joined_at ASC, u.id ASC",
        [gid],
      );
      return rows.map((r) => ({ role: num(r.memberRole), readMsgId: num(r.readMsgId), user: toUser(r) }));
    },

    *countOtherMembers(gid, uid) {
      const [r] = yield* query("SELECT count(*) AS n FROM group_members WHERE group_id = $1 AND user_id != $2", [gid, uid]);
      return num(r!.n);
    },

    *deleteMembers(gid, uids) {
      if (uids === null) yield* query("DELETE FROM group_members WHERE group_id = $1", [gid]);
      else yield* query(`DELETE FROM group_members WHERE group_id = $2 AND user_id IN ${idsIn("bigint")}`, [JSON.stringify(uids), gid]);
    },

    *setRole(gid, uid, role) {
      yield* query("UPDATE group_members SET role = $3 WHERE group_id = $1 AND user_id = $2", [gid, uid, role]);
    },

    *renameGroup(gid, name, avatar) {
      yield* query("UPDATE groups SET name = coalesce($2, name), avatar = coalesce($3, avatar) WHERE id = $1", [gid, name, avatar]);
    },

    *markGroupDeleted(gid, at) {
      yield* query("UPDATE groups SET deleted_at = $2, direct_key = NULL WHERE id = $1", [gid, at]);
    },

    *groupsOf(uid) {
      const rows = yield* query(`SELECT ${GROUP_COLUMNS("g")} FROM group_members m JOIN groups g ON g.id = m.group_id WHERE m.user_id = $1 ORDER BY g.id`, [uid]);
      return rows.map(toGroup);
    },

    *userById(uid) {
      const [r] = yield* query(`SELECT ${USER_COLUMNS("u")} FROM users u WHERE u.id = $1`, [uid]);
      return r ? toUser(r) : null;
    },

    *userByAccount(account) {
      const [r] = yield* query(`SELECT ${USER_COLUMNS("u")} FROM users u WHERE ${lowerAscii("u.account")} = ${lowerAscii("$1::text")}`, [account]);
      return r ? toUser(r) : null;
    },

    *insertUser(u) {
      const [r] = yield* query(
        "INSERT INTO users (name, name_fold, avatar, email, account, password_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING id",
        [u.name, u.nameFold, u.avatar, u.email, u.account, u.passwordHash, u.createdAt],
      );
      return r ? num(r.id) : null;
    },

    *setPasswordHash(uid, passwordHash) {
      yield* query("UPDATE users SET password_hash = $2 WHERE id = $1", [uid, passwordHash]);
    },

    *setDisabledAt(uid, at) {
      yield* query("UPDATE users SET disabled_at = $2 WHERE id = $1", [uid, at]);
    },

    *setLastSeen(uid, at) {
      yield* query("UPDATE users SET last_seen_at = $2 WHERE id = $1", [uid, at]);
    },

    *sharingAGroup(uid, uids) {
      const rows = yield* query(
        'SELECT DISTINCT u.id AS uid, u.last_seen_at AS "lastSeenAt" FROM group_members mine JOIN group_members theirs ON theirs.group_id = mine.group_id ' +
          `JOIN users u ON u.id = theirs.user_id WHERE mine.user_id = $2 AND theirs.user_id IN ${idsIn("bigint")}`,
        [JSON.stringify(uids), uid],
      );
      return rows.map((r) => ({ uid: num(r.uid), lastSeenAt: numOrNull(r.lastSeenAt) }));
    },

    *insertSession(s) {
      yield* query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at, last_used_at) VALUES ($1, $2, $3, $4, $3)", [s.tokenHash, s.userId, s.createdAt, s.expiresAt]);
    },

    *deleteSession(sessionId) {
      yield* query("DELETE FROM sessions WHERE id = $1", [sessionId]);
    },

    *deleteUserSessions(uid, keepSessionId) {
      const rows = yield* query('DELETE FROM sessions WHERE user_id = $1 AND id != $2 RETURNING token_hash AS "tokenHash"', [uid, keepSessionId ?? 0]);
      return rows.map((r) => r.tokenHash as string);
    },

    *insertRevocations(tokenHashes, reason, at) {
      if (tokenHashes.length === 0) return;
      yield* query("INSERT INTO revocations (token_hash, reason, created_at) SELECT value, $2, $3 FROM jsonb_array_elements_text($1::text::jsonb)", [
        JSON.stringify(tokenHashes), reason, at,
      ]);
    },

    *purgeSessions(now, revokedBefore) {
      yield* query("DELETE FROM revocations WHERE created_at < $1", [revokedBefore]);
      return (yield* query("DELETE FROM sessions WHERE expires_at < $1 RETURNING id", [now])).length;
    },

    *revocationsAfter(afterId, limit) {
      const rows = yield* query('SELECT id, token_hash AS "tokenHash", reason FROM revocations WHERE id > $1 ORDER BY id LIMIT $2', [afterId, limit]);
      return rows.map((r) => ({ id: num(r.id), tokenHash: r.tokenHash as string, reason: r.reason as string }));
    },

    *lastRevocationId() {
      const [r] = yield* query("SELECT coalesce(max(id), 0) AS n FROM revocations", []);
      return num(r!.n);
    },

    *insertInvite(i) {
      yield* query("INSERT INTO invites (code_hash, created_by, created_at, expires_at) VALUES ($1, $2, $3, $4)", [i.codeHash, i.createdBy, i.createdAt, i.expiresAt]);
    },

    *redeemInvite(codeHash, uid, now) {
      const rows = yield* query("UPDATE invites SET used_by = $2, used_at = $3 WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $3 RETURNING id", [codeHash, uid, now]);
      return rows.length > 0;
    },

    *inviteIsLive(codeHash, now) {
      return (yield* query("SELECT id FROM invites WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2", [codeHash, now])).length > 0;
    },

    *listUsers(like, limit, offset) {
      const where = like === null ? "" : `WHERE ${lowerAscii("u.account")} LIKE $3 ESCAPE '\\' OR u.name_fold LIKE $3 ESCAPE '\\'`;
      const params = like === null ? [limit, offset] : [limit, offset, like];
      const rows = yield* query(`SELECT ${USER_COLUMNS("u")} FROM users u ${where} ORDER BY u.id DESC LIMIT $1 OFFSET $2`, params);
      const [n] = yield* query(`SELECT count(*) AS n FROM users u ${where.replaceAll("$3", "$1")}`, like === null ? [] : [like]);
      return { rows: rows.map(toUser), total: num(n!.n) };
    },

    *setAdmin(uid, admin) {
      yield* query("UPDATE users SET is_admin = $2 WHERE id = $1", [uid, admin]);
    },

    *listInvites(limit) {
      const rows = yield* query(
        'SELECT id, code_hash AS "codeHash", created_by AS "createdBy", created_at AS "createdAt", expires_at AS "expiresAt", used_by AS "usedBy", used_at AS "usedAt" FROM invites ORDER BY id DESC LIMIT $1',
        [limit],
      );
      return rows.map((r) => ({
        id: num(r.id), codeHash: r.codeHash as string, createdBy: numOrNull(r.createdBy), createdAt: num(r.createdAt), expiresAt: num(r.expiresAt), usedBy: numOrNull(r.usedBy), usedAt: numOrNull(r.usedAt),
      }));
    },

    *expireInvite(id, at) {
      return (yield* query("UPDATE invites SET expires_at = $2 WHERE id = $1 AND used_at IS NULL RETURNING id", [id, at])).length > 0;
    },

    *friendRequestBetween(a, b) {
      const [r] = yield* query(`SELECT ${FRIEND_COLUMNS} FROM friend_requests WHERE (applicant_uid = $1 AND target_uid = $2) OR (applicant_uid = $2 AND target_uid = $1)`, [a, b]);
      return r ? toFriendRequest(r) : null;
    },

    *pendingFriendRequest(from, to) {
      const [r] = yield* query(`SELECT ${FRIEND_COLUMNS} FROM friend_requests WHERE applicant_uid = $1 AND target_uid = $2 AND status = 0`, [from, to]);
      return r ? toFriendRequest(r) : null;
    },

    *insertFriendRequest(applicantUid, targetUid, status, at) {
      yield* query("INSERT INTO friend_requests (applicant_uid, target_uid, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)", [applicantUid, targetUid, status, at]);
    },

    *setFriendRequestStatus(id, status, at) {
      yield* query("UPDATE friend_requests SET status = $2, updated_at = $3 WHERE id = $1", [id, status, at]);
    },

    *deleteFriendRequest(id) {
      yield* query("DELETE FROM friend_requests WHERE id = $1", [id]);
    },

    *friendRequestUsers(uid, status, side) {
      const rows = yield* query(
        `SELECT ${USER_COLUMNS("u")} FROM friend_requests f JOIN users u ON u.id = CASE WHEN f.applicant_uid = $1 THEN f.target_uid ELSE f.applicant_uid END ` +
          "WHERE f.status = $2 AND (($3 != 'incoming' AND f.applicant_uid = $1) OR ($3 != 'outgoing' AND f.target_uid = $1)) ORDER BY u.id",
        [uid, status, side],
      );
      return rows.map(toUser);
    },

    *directory(contains, starts, limit) {
      const rows = yield* query(
        `SELECT id, name, avatar, account FROM users WHERE disabled_at IS NULL AND (${lowerAscii("account")} LIKE $1 ESCAPE '\\' OR name_fold LIKE $1 ESCAPE '\\')
  ORDER BY CASE WHEN ${lowerAscii("account")} LIKE $2 ESCAPE '\\' THEN 0 WHEN name_fold LIKE $2 ESCAPE '\\' THEN 1 ELSE 2 END, ${lowerAscii("account")} LIMIT $3`,
        [contains, starts, limit],
      );
      return rows.map((r) => ({ id: num(r.id), name: r.name as string, avatar: r.avatar as string, account: r.account as string }));
    },

    *updateProfile(uid, change) {
      const { name, avatar, email } = change;
      yield* query("UPDATE users SET name = coalesce($2, name), name_fold = coalesce($3, name_fold), avatar = coalesce($4, avatar), email = coalesce($5, email) WHERE id = $1", [
        uid, name?.text ?? null, name?.fold ?? null, avatar ?? null, email ?? null,
      ]);
    },

    *setting(key) {
      const [r] = yield* query("SELECT value FROM settings WHERE key = $1", [key]);
      return r ? (r.value as string) : null;
    },

    *saveSetting(key, value) {
      yield* query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value", [key, value]);
    },

    *stats(now) {
      const [r] = yield* query(
        'SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM groups) AS groups, (SELECT count(*) FROM messages) AS messages, ' +
          '(SELECT count(*) FROM sessions WHERE expires_at > $1) AS sessions, (SELECT coalesce(max(id), 0) FROM messages) AS "lastMessageId"',
        [now],
      );
      return { users: num(r!.users), groups: num(r!.groups), messages: num(r!.messages), sessions: num(r!.sessions), lastMessageId: num(r!.lastMessageId) };
    },

    *sessionById(sessionId, now) {
      const [r] = yield* query(
        'SELECT s.id, s.user_id AS "userId", s.token_hash AS "tokenHash", s.expires_at AS "expiresAt", u.disabled_at AS "disabledAt" ' +
          "FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1 AND s.expires_at > $2",
        [sessionId, now],
      );
      return r ? { id: num(r.id), userId: num(r.userId), tokenHash: r.tokenHash as string, expiresAt: num(r.expiresAt), disabledAt: numOrNull(r.disabledAt) } : null;
    },

    *ping() {
      yield* query("SELECT 1", []);
    },

    *messagesStored() {
      const [r] = yield* query("SELECT coalesce(sum(last_seq), 0) AS n FROM groups", []);
      return num(r!.n);
    },

    *messageById(id) {
      const [r] = yield* query(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE id = $1`, [id]);
      return r ? toMessage(r) : null;
    },

    *editMessageRow(id, content, mentions, at) {
      yield* query("UPDATE messages SET content = $2, mentions = $3, edited_at = $4, updated_at = $4 WHERE id = $1", [id, content, mentions, at]);
    },

    *deleteMessageRow(id, at, had) {
      yield* query("UPDATE messages SET content = '', mentions = NULL, reactions = NULL, deleted_at = $2, updated_at = $2 WHERE id = $1", [id, at]);
      if (had.reactions) yield* query("DELETE FROM message_reactions WHERE message_id = $1", [id]);
      if (had.mentions) yield* query("DELETE FROM message_mentions WHERE message_id = $1", [id]);
    },

    *holdsReaction(msgId, emoji, uid) {
      return (yield* query("SELECT 1 AS x FROM message_reactions WHERE message_id = $1 AND emoji = $2 AND uid = $3", [msgId, emoji, uid])).length > 0;
    },

    *addReaction(msgId, emoji, uid, at, ord) {
      yield* query(
        "INSERT INTO message_reactions (message_id, emoji, uid, created_at, ord) " +
          "VALUES ($1, $2, $3, $4, coalesce((SELECT min(ord) FROM message_reactions WHERE message_id = $1 AND emoji = $2), $5))",
        [msgId, emoji, uid, at, ord],
      );
    },

    *removeReaction(msgId, emoji, uid) {
      yield* query("DELETE FROM message_reactions WHERE message_id = $1 AND emoji = $2 AND uid = $3", [msgId, emoji, uid]);
    },

    *setReactions(msgId, reactions) {
      yield* query("UPDATE messages SET reactions = $2 WHERE id = $1", [msgId, reactions]);
    },

    *moveReadCursor(gid, uid, msgId) {
      yield* query(
        "UPDATE group_members SET read_msg_id = GREATEST(read_msg_id, $1), delivered_msg_id = GREATEST(delivered_msg_id, $1) " +
          "WHERE group_id = $2 AND user_id = $3 AND (read_msg_id < $1 OR delivered_msg_id < $1)",
        [msgId, gid, uid],
      );
    },

    *moveDeliveredCursor(gid, uid, msgId) {
      const rows = yield* query("UPDATE group_members SET delivered_msg_id = $1 WHERE group_id = $2 AND user_id = $3 AND delivered_msg_id < $1 RETURNING user_id", [msgId, gid, uid]);
      return rows.length > 0;
    },

    *unreadCount(gid, uid, afterId) {
      const [r] = yield* query("SELECT count(*) AS n FROM messages WHERE group_id = $1 AND id > $2 AND sender_uid != $3", [gid, afterId, uid]);
      return num(r!.n);
    },

    *chatListPage(uid, limit, offset) {
      const rows = yield* query(
        `SELECT gm.read_msg_id AS "readMsgId", g.id AS "gId", g.name AS "gName", g.avatar AS "gAvatar", g.mode AS "gMode", g.creator_uid AS "gCreatorUid",
  g.direct_key AS "gDirectKey", g.last_seq AS "gLastSeq", ${MESSAGE_COLUMNS.replace(/(^|, )(\w+)/g, "$1m.$2")},
  (SELECT c.seq FROM messages c WHERE c.id = gm.read_msg_id AND c.group_id = g.id) AS "cursorSeq",
  (SELECT count(*) FROM messages o WHERE o.group_id = g.id AND o.sender_uid = gm.user_id AND o.id > gm.read_msg_id) AS "ownAfter",
  (SELECT count(*) FROM message_mentions mm WHERE mm.uid = gm.user_id AND mm.group_id = g.id AND mm.message_id > gm.read_msg_id) AS "mentionsUnread"
FROM group_members gm JOIN groups g ON g.id = gm.group_id JOIN messages m ON m.id = g.last_msg_id
WHERE gm.user_id = $1 ORDER BY g.last_msg_id DESC LIMIT $2 OFFSET $3`,
        [uid, limit, offset],
      );
      return rows.map((r) => ({
        ...toMessage(r),
        readMsgId: num(r.readMsgId),
        gId: num(r.gId),
        gName: r.gName as string,
        gAvatar: r.gAvatar as string,
        gMode: num(r.gMode),
        gCreatorUid: num(r.gCreatorUid),
        gDirectKey: (r.gDirectKey as string | null) ?? null,
        gLastSeq: num(r.gLastSeq),
        cursorSeq: numOrNull(r.cursorSeq),
        ownAfter: num(r.ownAfter),
        mentionsUnread: num(r.mentionsUnread),
      }));
    },

    *usedBytes(uid) {
      const [r] = yield* query("SELECT coalesce(sum(size), 0) AS n FROM files WHERE uploader_uid = $1", [uid]);
      return num(r!.n);
    },

    *insertFile(f) {
      yield* query("INSERT INTO files (id, sha256, name, size, mime, uploader_uid, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)", [
        f.id, f.sha256, f.name, f.size, f.mime, f.uploaderUid, f.createdAt,
      ]);
    },

    *deleteUnsharedFiles(before) {
      const rows = yield* query(
        "DELETE FROM files f WHERE f.created_at < $1 AND NOT EXISTS " +
          "(SELECT 1 FROM messages m WHERE m.content = f.id AND m.kind IN ('File', 'Image') AND length(m.content) = 21 AND m.deleted_at IS NULL) " +
          "AND NOT EXISTS (SELECT 1 FROM users u WHERE u.avatar = '/api/file/' || f.id) AND NOT EXISTS (SELECT 1 FROM groups g WHERE g.avatar = '/api/file/' || f.id) RETURNING id",
        [before],
      );
      return rows.length;
    },

    *fileShas() {
      return (yield* query("SELECT DISTINCT sha256 FROM files", [])).map((r) => r.sha256 as string);
    },

    *namedShas(shas) {
      return (yield* query(`SELECT DISTINCT sha256 FROM files WHERE sha256 IN ${idsIn("text")}`, [JSON.stringify(shas)])).map((r) => r.sha256 as string);
    },

    // Indexed by insertMessage, in the message's own statement.
    searchIndexing: "inline",

    *searchIndexedUpTo() {
      return Number.MAX_SAFE_INTEGER;
    },

    *searchBacklog() {
      return false;
    },

    *unindexedMessages() {
      return [];
    },

    *indexBatch() {},

    *unindexMessage(msgId) {
      yield* query("DELETE FROM message_search WHERE message_id = $1", [msgId]);
    },

    *searchMessages(s) {
      const rows = yield* query(
        `SELECT ${MESSAGE_COLUMNS.replace(/(^|, )(\w+)/g, "$1m.$2")} FROM message_search s JOIN messages m ON m.id = s.message_id ` +
          "WHERE s.body @@ $1::tsquery AND m.group_id IN (SELECT group_id FROM group_members WHERE user_id = $2) " +
          (s.gid !== undefined ? "AND m.group_id = $3 " : "AND $3::bigint IS NOT NULL ") +
          (s.beforeId !== undefined ? "AND s.message_id < $4 " : "AND $4::bigint IS NOT NULL ") +
          "ORDER BY s.message_id DESC LIMIT $5",
        [tsqueryLiteral(s.terms, s.groupTokens), s.uid, s.gid ?? 0, s.beforeId ?? 0, s.limit],
      );
      return rows.map(toMessage);
    },

    *existingUserIds(uids, enabledOnly) {
      const rows = yield* query(`SELECT id FROM users WHERE id IN ${idsIn("bigint")}${enabledOnly ? " AND disabled_at IS NULL" : ""}`, [JSON.stringify(uids)]);
      return rows.map((r) => num(r.id));
    },

    *insertEvent(e) {
      const [r] = yield* query(
        "INSERT INTO group_events (group_id, kind, actor_uid, msg_id, payload, created_at, client_msg_id) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        [e.gid, e.kind, e.actor, e.msgId, e.payload, e.createdAt, e.clientMsgId],
      );
      return num(r!.id);
    },

    *eventByClientMsgId(actor, clientMsgId) {
      const [r] = yield* query(
        'SELECT id, group_id AS "groupId", kind, actor_uid AS "actorUid", msg_id AS "msgId", payload, created_at AS "createdAt" FROM group_events WHERE actor_uid = $1 AND client_msg_id = $2',
        [actor, clientMsgId],
      );
      return r ? toEvent(r) : null;
    },

    *recordDepartures(gid, uids, eventId) {
      if (uids.length === 0) return;
      yield* query(
        `INSERT INTO departures (user_id, group_id, event_id) SELECT value::bigint, $2, $3 FROM jsonb_array_elements_text($1::text::jsonb) ` +
          "ON CONFLICT (user_id, group_id) DO UPDATE SET event_id = excluded.event_id",
        [JSON.stringify(uids), gid, eventId],
      );
    },

    *groupIdsOf(uid: number) {
      return (yield* query("SELECT group_id AS gid FROM group_members WHERE user_id = $1", [uid])).map((r) => num(r.gid));
    },

    *sessionByTokenHash(tokenHash: string, now: number) {
      const [r] = yield* query(
        'SELECT s.id, s.user_id AS "userId", s.expires_at AS "expiresAt", s.last_used_at AS "lastUsedAt", ' +
          '(SELECT coalesce(u.disabled_at, 0) FROM users u WHERE u.id = s.user_id) AS "disabledAt" FROM sessions s WHERE s.token_hash = $1 AND s.expires_at > $2',
        [tokenHash, now],
      );
      return r ? { id: num(r.id), userId: num(r.userId), expiresAt: num(r.expiresAt), lastUsedAt: num(r.lastUsedAt), disabledAt: numOrNull(r.disabledAt) } : null;
    },

    *touchSession(sessionId: number, now: number) {
      yield* query("UPDATE sessions SET last_used_at = $2 WHERE id = $1", [sessionId, now]);
    },

    *messagesSince(gids: number[], afterId: number, upTo: number, limit: number) {
      const rows = yield* query(
        `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE group_id IN ${idsIn("bigint")} AND id > $2 AND id <= $3 ORDER BY id LIMIT $4`,
        [JSON.stringify(gids), afterId, upTo, limit],
      );
      return rows.map(toMessage);
    },

    *eventsSince(gids: number[], afterId: number, upTo: number, limit: number) {
      const rows = yield* query(
        'SELECT id, group_id AS "groupId", kind, actor_uid AS "actorUid", msg_id AS "msgId", payload, created_at AS "createdAt" FROM group_events ' +
          `WHERE group_id IN ${idsIn("bigint")} AND id > $2 AND id <= $3 ORDER BY id LIMIT $4`,
        [JSON.stringify(gids), afterId, upTo, limit],
      );
      return rows.map(toEvent);
    },

    *departuresSince(uid: number, afterId: number) {
      const rows = yield* query(
        'SELECT d.group_id AS gid, d.event_id AS "eventId" FROM departures d WHERE d.user_id = $1 AND d.event_id > $2 ' +
          "AND NOT EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = d.group_id AND m.user_id = $1)",
        [uid, afterId],
      );
      return rows.map((r) => ({ gid: num(r.gid), eventId: num(r.eventId) }));
    },

    *messageBySenderClientId(senderUid: number, clientMsgId: string): Op<MessageRow | null> {
      const [r] = yield* query(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE sender_uid = $1 AND client_msg_id = $2`, [senderUid, clientMsgId]);
      return r ? toMessage(r) : null;
    },

    *groupForSender(gid: number, uid: number) {
      const [r] = yield* query(
        'SELECT g.last_seq AS "lastSeq", EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = g.id AND m.user_id = $2) AS member FROM groups g WHERE g.id = $1',
        [gid, uid],
      );
      return r ? { member: r.member === true, lastSeq: num(r.lastSeq) } : null;
    },

    *replyTarget(msgId: number, gid: number) {
      const [r] = yield* query('SELECT deleted_at AS "deletedAt" FROM messages WHERE id = $1 AND group_id = $2', [msgId, gid]);
      return r ? { deleted: r.deletedAt !== null } : null;
    },

    *insertMessage(m: NewMessage, _seenLastSeq: number, searchBody: string | null) {
      // One statement, one round trip made while the batch holds the ids lock: the seq is taken under the
      // group row's lock (FOR UPDATE, held to the commit), which orders this group's senders on every node;
      // a resend (the conflict) inserts nothing, so the group row is not touched and no seq is used up.
      const [r] = yield* query(
        "WITH g AS (SELECT last_seq + 1 AS seq FROM groups WHERE id = $1::bigint FOR UPDATE), " +
          "m AS (INSERT INTO messages (group_id, seq, sender_uid, kind, content, client_msg_id, created_at, updated_at, reply_to, mentions) " +
          "SELECT $1::bigint, g.seq, $2::bigint, $3::text, $4::text, $5::text, $6::bigint, $7::bigint, $8::bigint, $9::text FROM g ON CONFLICT (sender_uid, client_msg_id) DO NOTHING RETURNING id, seq), " +
          "s AS (INSERT INTO message_search (message_id, group_id, body) SELECT m.id, $1, $10::text::tsvector FROM m WHERE $10::text IS NOT NULL) " +
          // An UPDATE last, so the statement reports a row changed exactly when the message was stored (the writer counts writes by it).
          "UPDATE groups SET last_seq = m.seq, last_msg_id = m.id FROM m WHERE groups.id = $1 RETURNING m.id AS id, m.seq AS seq",
        [m.groupId, m.senderUid, m.kind, m.content, m.clientMsgId, m.createdAt, m.updatedAt, m.replyTo, m.mentions, searchBody ? tsvectorLiteral(searchBody) : null],
      );
      return r ? { id: num(r.id), seq: num(r.seq) } : null;
    },

    *messagesPage(gid: number, size: number, at: { beforeId: number } | { offset: number }) {
      const rows =
        "beforeId" in at
          ? yield* query(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE group_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3`, [gid, at.beforeId, size])
          : yield* query(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE group_id = $1 ORDER BY id DESC LIMIT $2 OFFSET $3`, [gid, size, at.offset]);
      return rows.map(toMessage);
    },

    *memberAccounts(gid: number) {
      const rows = yield* query(`SELECT u.id AS uid, ${lowerAscii("u.account")} AS account FROM group_members m JOIN users u ON u.id = m.user_id WHERE m.group_id = $1`, [gid]);
      return rows.map((r) => ({ uid: num(r.uid), account: r.account as string }));
    },

    *storeMentions(msgId: number, gid: number, uids: number[], replace: boolean) {
      if (replace) yield* query("DELETE FROM message_mentions WHERE message_id = $1", [msgId]);
      if (uids.length === 0) return;
      yield* query(
        `INSERT INTO message_mentions (uid, group_id, message_id) SELECT value::bigint, $2, $3 FROM jsonb_array_elements_text($1::text::jsonb) ON CONFLICT DO NOTHING`,
        [JSON.stringify(uids), gid, msgId],
      );
    },

    *indexMessage(msgId: number, gid: number, body: string) {
      yield* query("INSERT INTO message_search (message_id, group_id, body) VALUES ($1, $2, $3::tsvector)", [msgId, gid, tsvectorLiteral(body)]);
    },

    *fileById(id: string) {
      const [r] = yield* query(`SELECT ${FILE_COLUMNS} FROM files WHERE id = $1`, [id]);
      return r ? toFile(r) : null;
    },

    *avatarVisibleTo(uid: number, avatarUrl: string) {
      const [r] = yield* query(
        "SELECT EXISTS (SELECT 1 FROM users WHERE avatar = $2 AND disabled_at IS NULL) " +
          "OR EXISTS (SELECT 1 FROM groups g JOIN group_members gm ON gm.group_id = g.id AND gm.user_id = $1 WHERE g.avatar = $2) AS ok",
        [uid, avatarUrl],
      );
      return r!.ok === true;
    },

    *fileSharedWith(uid: number, fileId: string) {
      const [r] = yield* query(
        "SELECT EXISTS (SELECT 1 FROM messages m JOIN group_members gm ON gm.group_id = m.group_id AND gm.user_id = $1 " +
          "WHERE m.content = $2 AND m.kind IN ('File', 'Image') AND length(m.content) = 21 AND m.deleted_at IS NULL) AS ok",
        [uid, fileId],
      );
      return r!.ok === true;
    },

    *filesByIds(ids: string[]) {
      const rows = yield* query(`SELECT id, name, size, mime FROM files WHERE id IN ${idsIn("text")}`, [JSON.stringify(ids)]);
      return rows.map((r) => ({ id: r.id as string, name: r.name as string, size: num(r.size), mime: r.mime as string }));
    },

    *usersByIds(uids: number[]) {
      const rows = yield* query(`SELECT id, name, avatar, account FROM users WHERE id IN ${idsIn("bigint")}`, [JSON.stringify(uids)]);
      return rows.map((r) => ({ id: num(r.id), name: r.name as string, avatar: r.avatar as string, account: r.account as string }));
    },
  };
}
