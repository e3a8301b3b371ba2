// The PostgreSQL twin of ../schema.ts: the same tables, columns, names,
// indexes and constraints, so the domain's SQL means the same on both (a test
// compares the two table by table, column by column). Types follow what the
// domain relies on in SQLite, whose integers are 64-bit:
// - ids, foreign keys, times (integer milliseconds since the epoch), sizes,
//   per-group seqs and read cursors are bigint (read as JS numbers by
//   drizzle; Bun's client returns raw int8 as text, so hand-written queries
//   must convert);
// - small enumerations (mode, role, status) are integer; is_admin is boolean;
// - ids assigned by SQLite's AUTOINCREMENT are identity columns (never reused);
// - messages and group_events take their ids from ONE sequence, rim_ids, as
//   in SQLite they share the messages' AUTOINCREMENT counter (domain/events.ts),
//   so one cursor orders messages and changes together.
// Search (SQLite: the contentless FTS5 table of migration 0006) is
// message_search: one row per searchable message, a tsvector of exactly the
// tokens domain/search.ts feeds FTS5 (words, CJK pairs, the §gid group token)
// written as a tsvector literal with positions, so no text-search
// configuration splits or stems them again; a GIN index answers "these
// prefixes/phrases AND one of these group tokens" as FTS5 does.
import { sql } from "drizzle-orm";
import { bigint, boolean, customType, index, integer, pgSequence, pgTable, primaryKey, text, uniqueIndex } from "drizzle-orm/pg-core";

const id = (name: string) => bigint(name, { mode: "number" });
const time = (name: string) => bigint(name, { mode: "number" });

/** The one id sequence of messages and group events. */
export const rimIds = pgSequence("rim_ids", { startWith: 1, increment: 1 });
const nextRimId = sql`nextval('rim_ids')`;

const tsvector = customType<{ data: string; driverData: string }>({ dataType: () => "tsvector" });

export const users = pgTable(
  "users",
  {
    id: id("id").primaryKey().generatedByDefaultAsIdentity(),
    account: text("account").notNull(),
    name: text("name").notNull(),
    // The name as searched (domain/fold.ts foldName), written with every name, as in SQLite.
    nameFold: text("name_fold").notNull().default(""),
    avatar: text("avatar").notNull().default(""),
    email: text("email").notNull().default(""),
    passwordHash: text("password_hash").notNull(),
    createdAt: time("created_at").notNull(),
    disabledAt: time("disabled_at"),
    isAdmin: boolean("is_admin").notNull().default(false),
    lastSeenAt: time("last_seen_at"),
  },
  // Case folded as SQLite's lower() folds it, ASCII only: under the "C" collation PostgreSQL's lower() leaves every
  // other letter alone, where the database's own would also fold the Kelvin sign to "k" (the store's account lookups say the same).
  (t) => [uniqueIndex("users_account_nocase_idx").on(sql`lower(${t.account} COLLATE "C")`), index("users_avatar_idx").on(t.avatar)],
);

export const accountRenames = pgTable("account_renames", {
  id: id("id").primaryKey().generatedByDefaultAsIdentity(),
  userId: id("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
  oldAccount: text("old_account").notNull(),
  newAccount: text("new_account").notNull(),
  renamedAt: time("renamed_at").notNull(),
});

export const sessions = pgTable(
  "sessions",
  {
    id: id("id").primaryKey().generatedByDefaultAsIdentity(),
    tokenHash: text("token_hash").notNull().unique(),
    userId: id("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    createdAt: time("created_at").notNull(),
    expiresAt: time("expires_at").notNull(),
    lastUsedAt: time("last_used_at").notNull(),
  },
  (t) => [index("sessions_user_idx").on(t.userId), index("sessions_expires_idx").on(t.expiresAt)],
);

export const groups = pgTable(
  "groups",
  {
    id: id("id").primaryKey().generatedByDefaultAsIdentity(),
    name: text("name").notNull(),
    avatar: text("avatar").notNull().default(""),
    mode: integer("mode").notNull(),
    creatorUid: id("creator_uid").notNull().references(() => users.id),
    directKey: text("direct_key").unique(),
    lastSeq: bigint("last_seq", { mode: "number" }).notNull().default(0),
    lastMsgId: id("last_msg_id"),
    createdAt: time("created_at").notNull(),
    deletedAt: time("deleted_at"),
  },
  (t) => [index("groups_last_msg_idx").on(t.lastMsgId), index("groups_avatar_idx").on(t.avatar)],
);

export const groupMembers = pgTable(
  "group_members",
  {
    groupId: id("group_id").notNull().references(() => groups.id, { onDelete: "cascade" }),
    userId: id("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    role: integer("role").notNull(),
    joinedAt: time("joined_at").notNull(),
    readMsgId: id("read_msg_id").notNull().default(0),
    deliveredMsgId: id("delivered_msg_id").notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.groupId, t.userId] }), index("group_members_user_idx").on(t.userId, t.groupId)],
);

export const messages = pgTable(
  "messages",
  {
    id: id("id").primaryKey().default(nextRimId),
    groupId: id("group_id").notNull().references(() => groups.id, { onDelete: "cascade" }),
    seq: bigint("seq", { mode: "number" }).notNull(),
    senderUid: id("sender_uid").notNull().references(() => users.id),
    kind: text("kind").notNull(),
    content: text("content").notNull(),
    clientMsgId: text("client_msg_id").notNull(),
    createdAt: time("created_at").notNull(),
    updatedAt: time("updated_at").notNull(),
    replyTo: id("reply_to"),
    mentions: text("mentions"),
    reactions: text("reactions"),
    editedAt: time("edited_at"),
    deletedAt: time("deleted_at"),
  },
  (t) => [
    uniqueIndex("messages_group_seq_idx").on(t.groupId, t.seq),
    uniqueIndex("messages_sender_client_idx").on(t.senderUid, t.clientMsgId),
    index("messages_group_id_idx").on(t.groupId, t.id),
    index("messages_group_sender_idx").on(t.groupId, t.senderUid, t.id),
    index("messages_file_idx").on(t.content).where(sql`kind IN ('File', 'Image') AND length(content) = 21`),
  ],
);

export const friendRequests = pgTable(
  "friend_requests",
  {
    id: id("id").primaryKey().generatedByDefaultAsIdentity(),
    applicantUid: id("applicant_uid").notNull().references(() => users.id, { onDelete: "cascade" }),
    targetUid: id("target_uid").notNull().references(() => users.id, { onDelete: "cascade" }),
    status: integer("status").notNull().default(0),
    createdAt: time("created_at").notNull(),
    updatedAt: time("updated_at").notNull(),
  },
  (t) => [
    uniqueIndex("friend_pair_idx").on(t.applicantUid, t.targetUid),
    index("friend_target_idx").on(t.targetUid, t.status),
    index("friend_applicant_idx").on(t.applicantUid, t.status),
  ],
);

export const invites = pgTable("invites", {
  id: id("id").primaryKey().generatedByDefaultAsIdentity(),
  codeHash: text("code_hash").notNull().unique(),
  createdBy: id("created_by").references(() => users.id, { onDelete: "set null" }),
  createdAt: time("created_at").notNull(),
  expiresAt: time("expires_at").notNull(),
  usedBy: id("used_by").references(() => users.id, { onDelete: "set null" }),
  usedAt: time("used_at"),
});

export const groupEvents = pgTable(
  "group_events",
  {
    id: id("id").primaryKey().default(nextRimId),
    groupId: id("group_id").notNull().references(() => groups.id, { onDelete: "cascade" }),
    kind: text("kind").notNull(),
    actorUid: id("actor_uid").notNull(),
    msgId: id("msg_id"),
    payload: text("payload").notNull(),
    createdAt: time("created_at").notNull(),
    clientMsgId: text("client_msg_id"),
  },
  (t) => [index("group_events_group_idx").on(t.groupId, t.id), uniqueIndex("group_events_actor_client_idx").on(t.actorUid, t.clientMsgId)],
);

export const messageReactions = pgTable(
  "message_reactions",
  {
    messageId: id("message_id").notNull().references(() => messages.id, { onDelete: "cascade" }),
    emoji: text("emoji").notNull(),
    uid: id("uid").notNull().references(() => users.id, { onDelete: "cascade" }),
    createdAt: time("created_at").notNull(),
    ord: id("ord").notNull(),
  },
  (t) => [primaryKey({ columns: [t.messageId, t.emoji, t.uid] })],
);

export const messageMentions = pgTable(
  "message_mentions",
  {
    uid: id("uid").notNull().references(() => users.id, { onDelete: "cascade" }),
    groupId: id("group_id").notNull().references(() => groups.id, { onDelete: "cascade" }),
    messageId: id("message_id").notNull().references(() => messages.id, { onDelete: "cascade" }),
  },
  (t) => [primaryKey({ columns: [t.uid, t.groupId, t.messageId] }), index("message_mentions_message_idx").on(t.messageId)],
);

export const departures = pgTable(
  "departures",
  {
    userId: id("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    groupId: id("group_id").notNull().references(() => groups.id, { onDelete: "cascade" }),
    eventId: id("event_id").notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.groupId] }), index("departures_user_event_idx").on(t.userId, t.eventId)],
);

export const revocations = pgTable("revocations", {
  id: id("id").primaryKey().generatedByDefaultAsIdentity(),
  tokenHash: text("token_hash").notNull(),
  reason: text("reason").notNull(),
  createdAt: time("created_at").notNull(),
});

export const settings = pgTable("settings", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
});

export const files = pgTable(
  "files",
  {
    id: text("id").primaryKey(),
    sha256: text("sha256").notNull(),
    name: text("name").notNull(),
    size: bigint("size", { mode: "number" }).notNull(),
    mime: text("mime").notNull(),
    uploaderUid: id("uploader_uid").notNull().references(() => users.id),
    createdAt: time("created_at").notNull(),
  },
  (t) => [index("files_uploader_idx").on(t.uploaderUid, t.size), index("files_sha_idx").on(t.sha256), index("files_created_idx").on(t.createdAt)],
);

/** PostgreSQL's search index (SQLite's is the FTS5 table message_search, outside drizzle's schema). */
export const messageSearch = pgTable(
  "message_search",
  {
    messageId: id("message_id").primaryKey().references(() => messages.id, { onDelete: "cascade" }),
    groupId: id("group_id").notNull(),
    body: tsvector("body").notNull(),
  },
  (t) => [index("message_search_body_idx").using("gin", t.body)],
);

export const schema = { users, sessions, groups, groupMembers, messages, friendRequests, invites, accountRenames, groupEvents, departures, revocations, settings, files, messageReactions, messageMentions };
