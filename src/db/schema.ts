// Times are integer milliseconds since the epoch; the transports format them.

import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

export const users = sqliteTable(
  "users",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    // Kept as typed; unique and looked up regardless of case (accounts are ASCII, so lower() is exact).
    account: text("account").notNull(),
    name: text("name").notNull(),
    // The name as searched (domain/fold.ts foldName), written with every name: lower() folds ASCII only.
    nameFold: text("name_fold").notNull().default(""),
    avatar: text("avatar").notNull().default(""),
    email: text("email").notNull().default(""),
    passwordHash: text("password_hash").notNull(),
    createdAt: integer("created_at").notNull(),
    disabledAt: integer("disabled_at"),
    // A server admin: manages users, invites and the registration policy (/api/admin/).
    isAdmin: integer("is_admin", { mode: "boolean" }).notNull().default(false),
    // When the user's last socket closed (presence), else null.
    lastSeenAt: integer("last_seen_at"),
  },
  (t) => [
    uniqueIndex("users_account_nocase_idx").on(sql`lower(${t.account})`),
    // Is this uploaded picture someone's avatar (domain/files.ts)?
    index("users_avatar_idx").on(t.avatar),
  ],
);

// Accounts renamed by the migration that made them case-insensitive: "Bob" and "bob" were two
// accounts, the later one became "bob~2". Kept so an operator can tell people their new account.
export const accountRenames = sqliteTable("account_renames", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  userId: integer("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
  oldAccount: text("old_account").notNull(),
  newAccount: text("new_account").notNull(),
  renamedAt: integer("renamed_at").notNull(),
});

export const sessions = sqliteTable(
  "sessions",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    // sha256 of the token: a stolen database file holds no usable token.
    tokenHash: text("token_hash").notNull().unique(),
    userId: integer("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
    lastUsedAt: integer("last_used_at").notNull(),
  },
  (t) => [index("sessions_user_idx").on(t.userId), index("sessions_expires_idx").on(t.expiresAt)],
);

export const groups = sqliteTable(
  "groups",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    name: text("name").notNull(),
    avatar: text("avatar").notNull().default(""),
    mode: integer("mode").notNull(),
    creatorUid: integer("creator_uid").notNull().references(() => users.id),
    // "low:high" user ids of a direct chat, so creating it twice finds the first.
    directKey: text("direct_key").unique(),
    lastSeq: integer("last_seq").notNull().default(0),
    lastMsgId: integer("last_msg_id"),
    createdAt: integer("created_at").notNull(),
    // Set when the owner deleted the group: its members are gone, its log stays for Sync to replay the GroupDeleted.
    deletedAt: integer("deleted_at"),
  },
  (t) => [index("groups_last_msg_idx").on(t.lastMsgId), index("groups_avatar_idx").on(t.avatar)],
);

export const groupMembers = sqliteTable(
  "group_members",
  {
    groupId: integer("group_id").notNull().references(() => groups.id, { onDelete: "cascade" }),
    userId: integer("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    role: integer("role").notNull(),
    joinedAt: integer("joined_at").notNull(),
    // Forward-only cursors: the highest message id read / delivered.
    readMsgId: integer("read_msg_id").notNull().default(0),
    deliveredMsgId: integer("delivered_msg_id").notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.groupId, t.userId] }), index("group_members_user_idx").on(t.userId, t.groupId)],
);

export const messages = sqliteTable(
  "messages",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    groupId: integer("group_id").notNull().references(() => groups.id, { onDelete: "cascade" }),
    seq: integer("seq").notNull(),
    senderUid: integer("sender_uid").notNull().references(() => users.id),
    kind: text("kind").notNull(),
    content: text("content").notNull(),
    clientMsgId: text("client_msg_id").notNull(),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    // The message (of the same group) this one answers, else null.
    replyTo: integer("reply_to"),
    // JSON array of the uids mentioned, else null (none). The wire's `mentions`.
    mentions: text("mentions"),
    // JSON of the wire's `reactions`, kept in step with message_reactions, else null (none).
    reactions: text("reactions"),
    editedAt: integer("edited_at"),
    // Set once deleted: content is then "" and mentions and reactions are gone.
    deletedAt: integer("deleted_at"),
  },
  (t) => [
    uniqueIndex("messages_group_seq_idx").on(t.groupId, t.seq),
    uniqueIndex("messages_sender_client_idx").on(t.senderUid, t.clientMsgId),
    index("messages_group_id_idx").on(t.groupId, t.id),
    // Unread counts: a member's own messages after their read cursor, found without scanning the others'.
    index("messages_group_sender_idx").on(t.groupId, t.senderUid, t.id),
    // The messages that share a file (kind File or Image, content a 21-character file id): who may read a file.
    // Partial, so Text and URL images cost nothing; a query uses it with exactly this predicate (domain/files.ts).
    index("messages_file_idx").on(t.content).where(sql`kind IN ('File', 'Image') AND length(content) = 21`),
  ],
);

export const friendRequests = sqliteTable(
  "friend_requests",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    applicantUid: integer("applicant_uid").notNull().references(() => users.id, { onDelete: "cascade" }),
    targetUid: integer("target_uid").notNull().references(() => users.id, { onDelete: "cascade" }),
    // 0 applied, 1 confirmed; a rejected request is deleted.
    status: integer("status").notNull().default(0),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    uniqueIndex("friend_pair_idx").on(t.applicantUid, t.targetUid),
    index("friend_target_idx").on(t.targetUid, t.status),
    index("friend_applicant_idx").on(t.applicantUid, t.status),
  ],
);



// Invitations for `--registration invite`: single-use codes, stored hashed like tokens.
export const invites = sqliteTable("invites", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  codeHash: text("code_hash").notNull().unique(),
  createdBy: integer("created_by").references(() => users.id, { onDelete: "set null" }),
  createdAt: integer("created_at").notNull(),
  expiresAt: integer("expires_at").notNull(),
  usedBy: integer("used_by").references(() => users.id, { onDelete: "set null" }),
  usedAt: integer("used_at"),
});
// Every visible change in a group other than a message (members added or
// removed, a rename) as an event. Its id comes from the messages' id sequence
// (domain/events.ts), so one cursor orders messages and changes together.
export const groupEvents = sqliteTable(
  "group_events",
  {
    id: integer("id").primaryKey(),
    groupId: integer("group_id").notNull().references(() => groups.id, { onDelete: "cascade" }),
    kind: text("kind").notNull(),
    actorUid: integer("actor_uid").notNull(),
    // The message a change is about (edits, deletions, reactions), else null.
    msgId: integer("msg_id"),
    // The Notify body's further fields, as JSON.
    payload: text("payload").notNull(),
    createdAt: integer("created_at").notNull(),
    // The frame's clientMsgId of a change made over the socket (Edit, Delete, React): a resend is answered with this event.
    clientMsgId: text("client_msg_id"),
  },
  (t) => [index("group_events_group_idx").on(t.groupId, t.id), uniqueIndex("group_events_actor_client_idx").on(t.actorUid, t.clientMsgId)],
);

// Who reacted to a message with what. `ord` orders the emojis by first use:
// the event id of the reaction that brought the emoji onto the message, kept
// while anyone still holds it (an emoji dropped and used again goes last).
export const messageReactions = sqliteTable(
  "message_reactions",
  {
    messageId: integer("message_id").notNull().references(() => messages.id, { onDelete: "cascade" }),
    emoji: text("emoji").notNull(),
    uid: integer("uid").notNull().references(() => users.id, { onDelete: "cascade" }),
    createdAt: integer("created_at").notNull(),
    ord: integer("ord").notNull(),
  },
  (t) => [primaryKey({ columns: [t.messageId, t.emoji, t.uid] })],
);

// The members a message mentions, but its sender: the chat list counts a
// member's unread mentions per group from here.
export const messageMentions = sqliteTable(
  "message_mentions",
  {
    uid: integer("uid").notNull().references(() => users.id, { onDelete: "cascade" }),
    groupId: integer("group_id").notNull().references(() => groups.id, { onDelete: "cascade" }),
    messageId: integer("message_id").notNull().references(() => messages.id, { onDelete: "cascade" }),
  },
  (t) => [primaryKey({ columns: [t.uid, t.groupId, t.messageId] }), index("message_mentions_message_idx").on(t.messageId)],
);

// The last time a user was removed from a group: Sync replays that group up to
// the removal, so an offline client learns it was removed.
export const departures = sqliteTable(
  "departures",
  {
    userId: integer("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    groupId: integer("group_id").notNull().references(() => groups.id, { onDelete: "cascade" }),
    eventId: integer("event_id").notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.groupId] }), index("departures_user_event_idx").on(t.userId, t.eventId)],
);

// Tokens revoked (logout, password change, reset, disable), for every process
// on this database: a server polls it and closes the sockets of revocations
// made elsewhere, such as by the CLI.
export const revocations = sqliteTable("revocations", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  tokenHash: text("token_hash").notNull(),
  reason: text("reason").notNull(),
  createdAt: integer("created_at").notNull(),
});

// Settings changed at run time by admins (registration policy, who may invite), kept across restarts.
export const settings = sqliteTable("settings", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
});

// Uploaded files. The bytes live on disk under their sha256 (content-addressed,
// so the same bytes are stored once, whoever uploads them); a row is one
// upload: its own id, name and type, and its uploader, whose quota it counts in.
export const files = sqliteTable(
  "files",
  {
    id: text("id").primaryKey(),
    sha256: text("sha256").notNull(),
    name: text("name").notNull(),
    size: integer("size").notNull(),
    mime: text("mime").notNull(),
    uploaderUid: integer("uploader_uid").notNull().references(() => users.id),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [
    // The quota: a user's sizes summed from the index alone.
    index("files_uploader_idx").on(t.uploaderUid, t.size),
    index("files_sha_idx").on(t.sha256),
    index("files_created_idx").on(t.createdAt),
  ],
);

export const schema = { users, sessions, groups, groupMembers, messages, friendRequests, invites, accountRenames, groupEvents, departures, revocations, settings, files, messageReactions, messageMentions };
