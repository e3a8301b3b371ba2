// The storage seam (domain/store.ts): the same domain flows, run on the
// SQLite store (runSync) and on the PostgreSQL store (runAsync, a real
// PostgreSQL from tests/services.ts), from the same seed, one case after the
// other: each case's answer must be the expected one and the same on both
// engines (ids included: both count from 1 in the same order).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SQL } from "bun";
import { migrate } from "../src/db/migrate";
import { closeDatabase, openDatabase, type Db } from "../src/db/open";
import { migratePostgres } from "../src/db/pg/migrate";
import { pgStore } from "../src/db/pg/store";
import { sqliteStore } from "../src/db/sqlite-store";
import type { Ctx } from "../src/domain/context";
import { attachFiles, readableFile, recordUpload, usedBytes } from "../src/domain/files";
import { indexPending, searchMessages } from "../src/domain/search";
import { chatList, markDelivered, markGroupRead, markRead } from "../src/domain/reads";
import { deleteMessage, editMessage, reactToMessage } from "../src/domain/changes";
import { history, sendMessage } from "../src/domain/messages";
import { runAsync, runSync, type Flow, type Store } from "../src/domain/store";
import { findUserByAccount, getUser, getUsers, markLastSeen, searchUser, setDisabled, sharingAGroup } from "../src/domain/users";
import { createInvite, inviteIsLive, redeemInvite } from "../src/domain/invites";
import { listFriends, requestFriend, respondToFriend } from "../src/domain/friends";
import { directory, updateProfile } from "../src/domain/people";
import { currentSettings, saveSettings } from "../src/domain/settings";
import { databaseStats } from "../src/domain/stats";
import { isAdmin, listInvites, listUsers, revokeInvite, setUserAdmin, setUserDisabled } from "../src/domain/admin";
import { hashToken, issueSession, lastRevocationId, purgeExpiredSessions, resolveToken, revocationsAfter, touchSession } from "../src/domain/sessions";
import { changesSince } from "../src/domain/sync";
import { addMembers, changeRole, createGroup, groupIdsOf, leaveGroup, listGroupsOf, listMembers, removeMembers, transferGroup, updateGroup } from "../src/domain/groups";
import type { WriteCtx } from "../src/write/writer";
import { messageView } from "../src/domain/views";
import { toAppError } from "../src/errors";
import { freshDatabase } from "./services";

// Users 1 ann, 2 bob, 3 cat, 4 dan (disabled); sessions of ann and dan; group 1's change 1000, bob's removal
// from group 2 (change 1001);; group 1 "team" (ann, bob); group 2 "cat's" (only cat in it);
// ann's file F1 (a PNG), cat's file F2. Plain SQL both engines run as it is.
const NOW = 1_700_000_000_000;
const F1 = "f1f1f1f1f1f1f1f1f1f1f";
const F2 = "f2f2f2f2f2f2f2f2f2f2f";
const SEED = [
  "INSERT INTO users (id, account, name, name_fold, password_hash, created_at) VALUES (1, 'Ann', 'Ann', 'ann', 'h', 1), (2, 'bob', 'Bob', 'bob', 'h', 1), (3, 'cat', 'Cat', 'cat', 'h', 1)",
  "INSERT INTO groups (id, name, mode, creator_uid, created_at) VALUES (1, 'team', 2, 1, 1), (2, 'empty', 2, 3, 1)",
  "INSERT INTO group_members (group_id, user_id, role, joined_at) VALUES (1, 1, 3, 1), (1, 2, 1, 1), (2, 3, 3, 1)",
  "INSERT INTO users (id, account, name, name_fold, password_hash, created_at, disabled_at) VALUES (4, 'dan', 'Dan', 'dan', 'h', 1, 5)",
  `INSERT INTO sessions (id, token_hash, user_id, created_at, expires_at, last_used_at) VALUES (1, '${hashToken("tok-ann")}', 1, 1, ${NOW + 1000}, 1), (2, '${hashToken("tok-dan")}', 4, 1, ${NOW + 1000}, 1)`,
  `INSERT INTO group_events (id, group_id, kind, actor_uid, msg_id, payload, created_at) VALUES (1000, 1, 'GroupUpdated', 1, NULL, '{"x":1}', 1), (1001, 2, 'MemberRemoved', 3, NULL, '{"uids":[2]}', 1)`,
  "INSERT INTO departures (user_id, group_id, event_id) VALUES (2, 2, 1001)",
  `INSERT INTO files (id, sha256, name, size, mime, uploader_uid, created_at) VALUES ('${F1}', 'aa', 'pic.png', 10, 'image/png', 1, 1), ('${F2}', 'bb', 'doc.txt', 20, 'text/plain', 3, 1)`,
];

// PostgreSQL's identity columns count on from where the seed's explicit ids leave them.
const PG_AFTER_SEED = ["users", "groups", "sessions"].map((t) => `SELECT setval(pg_get_serial_sequence('${t}', 'id'), (SELECT max(id) FROM ${t}))`);

type Case = { name: string; flow: (ctx: Ctx) => Flow<unknown>; expected?: unknown };

const send = (uid: number, over: Partial<Parameters<typeof sendMessage>[2]>) => (ctx: Ctx) =>
  sendMessage(ctx, uid, { gid: 1, kind: "Text", content: "hello", clientMsgId: "c1", ...over });
const pick = (ctx: Ctx, f: Flow<{ message: { id: number; seq: number; mentions: number[]; file?: unknown }; duplicate: boolean }>) =>
  (function* () {
    const s = yield* f;
    return { id: s.message.id, seq: s.message.seq, mentions: s.message.mentions, file: s.message.file ?? null, duplicate: s.duplicate };
  })();

const syncOf = (uid: number, q: { afterId: number; gid?: number; limit: number }) => (c: Ctx) =>
  (function* () {
    return (yield* changesSince(c, uid, q)).map((i) => (i.message ? { seq: i.message.seq, gid: i.message.gid } : { event: i.event!.id, kind: i.event!.kind, payload: i.event!.payload }));
  })();
const sessionOf = (token: string) => (c: Ctx) =>
  (function* () {
    const s = yield* resolveToken(c, token);
    return { userId: s.userId, stale: s.stale, expiresAt: s.expiresAt };
  })();

/** The blob store as recordUpload sees it: every upload's bytes are there but those of the sha256 "gone". */
const BYTES_ON_DISK = { modifiedAt: (sha: string) => (sha === "gone" ? null : NOW), pinned: () => false };

const CASES: Case[] = [
  { name: "a member sends: id 1, seq 1", flow: (c) => pick(c, send(1, {})(c)), expected: { seq: 1, mentions: [], file: null, duplicate: false } },
  { name: "a resend returns the original", flow: (c) => pick(c, send(1, { content: "changed" })(c)), expected: { seq: 1, mentions: [], file: null, duplicate: true } },
  { name: "the next message takes the next seq", flow: (c) => pick(c, send(2, { clientMsgId: "b1", content: "hi @ann and @all" })(c)), expected: { seq: 2, mentions: [1, 2], file: null, duplicate: false } },
  { name: "a non-member is refused", flow: send(3, { clientMsgId: "x1" }), expected: { error: "forbidden" } },
  { name: "no such group", flow: send(1, { gid: 99, clientMsgId: "x2" }), expected: { error: "not_found" } },
  { name: "a resend to a group one has left still returns the original", flow: (c) => pick(c, send(1, { gid: 2 })(c)), expected: { seq: 1, mentions: [], file: null, duplicate: true } },
  { name: "too long", flow: send(1, { clientMsgId: "x3", content: "x".repeat(101) }), expected: { error: "too_large" } },
  { name: "a reply to a message of the group", flow: (c) => pick(c, send(1, { clientMsgId: "r1", replyTo: 1 })(c)), expected: { seq: 3, mentions: [], file: null, duplicate: false } },
  { name: "a reply to nothing", flow: send(1, { clientMsgId: "r2", replyTo: 99 }), expected: { error: "not_found" } },
  { name: "one's own image", flow: (c) => pick(c, send(1, { clientMsgId: "i1", kind: "Image", content: F1 })(c)), expected: { seq: 4, mentions: [], file: { id: F1, name: "pic.png", size: 10, mime: "image/png" }, duplicate: false } },
  { name: "someone else's file, not shared with the sender", flow: send(1, { clientMsgId: "i2", kind: "File", content: F2 }), expected: { error: "not_found" } },
  { name: "a file shared in one's group", flow: (c) => pick(c, send(2, { clientMsgId: "i3", kind: "File", content: F1 })(c)), expected: { seq: 5, mentions: [], file: { id: F1, name: "pic.png", size: 10, mime: "image/png" }, duplicate: false } },
  { name: "an image that is no image", flow: send(3, { gid: 2, clientMsgId: "i4", kind: "Image", content: F2 }), expected: { error: "bad_request" } },
  { name: "readableFile: the uploader", flow: (c) => readableFile(c, 3, F2) },
  { name: "readableFile: nobody else", flow: (c) => readableFile(c, 1, F2), expected: { error: "not_found" } },
  {
    name: "history, newest page, with senders and files",
    flow: (c) =>
      (function* () {
        const page = yield* history(c, 2, { gid: 1, page: 1, size: 3 });
        return page.map((p) => ({ id: p.msg.id, seq: p.msg.seq, uid: p.user.id, account: p.user.account, file: p.msg.file?.id ?? null, replyTo: p.msg.replyTo }));
      })(),
    expected: [
      { seq: 3, uid: 1, account: "Ann", file: null, replyTo: 1 },
      { seq: 4, uid: 1, account: "Ann", file: F1, replyTo: null },
      { seq: 5, uid: 2, account: "bob", file: F1, replyTo: null },
    ],
  },
  { name: "history before an id (the third message's)", flow: (c) => (function* () {
    const third = (yield* c.store.messageBySenderClientId(1, "r1"))!.id;
    return (yield* history(c, 1, { gid: 1, page: 1, size: 10, beforeId: third })).map((p) => p.msg.seq);
  })(), expected: [1, 2] },
  { name: "history: not a member", flow: (c) => history(c, 3, { gid: 1, page: 1, size: 10 }), expected: { error: "forbidden" } },
  { name: "getUsers", flow: (c) => (function* () { return [...(yield* getUsers(c, [2, 1, 2, 99])).values()].sort((a, b) => a.id - b.id); })(), expected: [
    { id: 1, name: "Ann", avatar: "", email: "", account: "Ann" },
    { id: 2, name: "Bob", avatar: "", email: "", account: "bob" },
  ] },
  { name: "resolveToken: a live session, due a touch", flow: sessionOf("tok-ann"), expected: { userId: 1, stale: true, expiresAt: NOW + 1000 } },
  { name: "touchSession, then it is no longer due", flow: (c) => (function* () { yield* touchSession(c as WriteCtx, 1); return yield* sessionOf("tok-ann")(c); })(), expected: { userId: 1, stale: false } },
  { name: "resolveToken: a disabled user's", flow: sessionOf("tok-dan"), expected: { error: "unauthorized" } },
  { name: "resolveToken: no such token", flow: sessionOf("tok-nobody"), expected: { error: "unauthorized" } },
  { name: "groupIdsOf", flow: (c) => (function* () { return (yield* groupIdsOf(c, 3)).sort(); })(), expected: [2] },
  {
    name: "changesSince: messages and changes of the groups, and of a group left up to the removal",
    flow: syncOf(2, { afterId: 0, limit: 100 }),
    expected: [{ seq: 1, gid: 1 }, { seq: 2, gid: 1 }, { seq: 3, gid: 1 }, { seq: 4, gid: 1 }, { seq: 5, gid: 1 }, { event: 1000, kind: "GroupUpdated", payload: { x: 1 } }, { event: 1001, kind: "MemberRemoved", payload: { uids: [2] } }],
  },
  { name: "changesSince: a limit", flow: syncOf(2, { afterId: 0, limit: 2 }), expected: [{ seq: 1, gid: 1 }, { seq: 2, gid: 1 }] },
  { name: "changesSince: one group left", flow: syncOf(2, { afterId: 0, gid: 2, limit: 10 }), expected: [{ event: 1001, kind: "MemberRemoved", payload: { uids: [2] } }] },
  { name: "changesSince: past the removal, nothing", flow: syncOf(2, { afterId: 1001, gid: 2, limit: 10 }), expected: [] },
  { name: "changesSince: a group one was never in", flow: syncOf(1, { afterId: 0, gid: 2, limit: 10 }), expected: { error: "forbidden" } },
  ...groupCases(),
  ...userCases(),
  ...peopleCases(),
  ...adminCases(),
  ...searchAndFileCases(),
  ...readCases(),
  ...changeCases(),
  {
    name: "the rows as stored: message 2, its mentions, the groups' last seq",
    flow: (c) =>
      (function* () {
        const row = yield* c.store.messageBySenderClientId(2, "b1");
        const views = yield* attachFiles(c, [messageView(row!)]);
        return { view: views[0], team: yield* c.store.groupForSender(1, 1), empty: yield* c.store.groupForSender(2, 1) };
      })(),
  },
];

const outcome = (value: unknown) => JSON.parse(JSON.stringify(value ?? null));
const failure = (err: unknown) => {
  const e = toAppError(err);
  if (e.code === "internal") console.error(err);
  return { error: e.code };
};

// Each case's answer on SQLite (which runs first), for PostgreSQL's to be compared with.
const answers: Record<string, unknown> = {};

describe.each(["sqlite", "postgres"] as const)("the domain over the %s store", (engine) => {
  let store: Store;
  let run: (flow: Flow<unknown>) => Promise<unknown>;
  let close: () => Promise<void>;
  beforeAll(async () => {
    if (engine === "sqlite") {
      const db: Db = openDatabase(":memory:", { sync: "normal" });
      migrate(db.$client);
      for (const s of SEED) db.$client.run(s);
      store = sqliteStore(db.$client);
      run = async (flow) => runSync(flow);
      close = async () => closeDatabase(db);
    } else {
      const fresh = await freshDatabase();
      const sql = new SQL(fresh.url, { max: 1 });
      await migratePostgres(sql);
      for (const s of [...SEED, ...PG_AFTER_SEED]) await sql.unsafe(s);
      store = pgStore(sql);
      run = (flow) => runAsync(flow);
      close = async () => {
        await sql.close();
        await fresh.drop();
      };
    }
    // Starting PostgreSQL (initdb, the first time in this process) takes seconds on a busy machine.
  }, 120_000);
  afterAll(() => close?.());

  let ids = 0;
  const ctx = () => ({ store, clock: () => NOW, limits: { maxContent: 100 }, effects: [], onRollback() {}, newId: (n = 21) => `id${++ids}`.padEnd(n, "x"), auth: { tokenTtlMs: 1000 }, files: BYTES_ON_DISK }) as unknown as Ctx;

  test.each(CASES.map((c, i) => [c.name, i] as const))("%s", async (_name, i) => {
    const c = CASES[i]!;
    let got: unknown;
    try {
      got = outcome(await run(c.flow(ctx())));
    } catch (err) {
      got = failure(err);
    }
    if (c.expected !== undefined) {
      const expected = outcome(c.expected);
      // Objects and arrays: the fields named; anything else exactly.
      if (typeof expected === "object" && expected !== null && typeof got === "object" && got !== null) expect(got).toMatchObject(expected);
      else expect(got).toEqual(expected);
    }
    // The same answer on both engines (the SQLite run comes first).
    if (engine === "sqlite") answers[c.name] = got;
    else expect(got).toEqual(answers[c.name]);
  });
});

/** Group cases: what each answers, the kinds of effects it described, and the members and log after it (ids of changes left out: see below). */
function groupCases(): Case[] {
  const w = (c: Ctx) => c as WriteCtx;
  // A change's id comes from the id sequence, which this file's seed fills unevenly (it writes changes 1000 and 1001 itself): compared by kind.
  const after = (c: Ctx, gid: number, value: unknown) =>
    (function* () {
      const members = (yield* c.store.membersAmong(gid, [1, 2, 3, 4])).sort((a, b) => a.uid - b.uid);
      const log = (yield* c.store.eventsSince([gid], 0, Number.MAX_SAFE_INTEGER, 100)).map((e) => `${e.kind} ${e.payload}`);
      return { value, effects: w(c).effects.map((e) => e.type), members, log };
    })();
  const run = <T>(f: (c: Ctx) => Flow<T>, gid: number | ((v: T) => number)) => (c: Ctx) =>
    (function* () {
      const value = yield* f(c);
      return yield* after(c, typeof gid === "number" ? gid : gid(value), value);
    })();
  return [
    {
      name: "createGroup: ann's group 3 with bob as admin",
      flow: run((c) => createGroup(w(c), 1, { name: "three", avatar: "", mode: 2, members: [{ uid: 2, role: 2 }] }), (v) => v.gid),
      expected: { value: { gid: 3, created: true }, effects: ["join", "publish"], members: [{ uid: 1, role: 3 }, { uid: 2, role: 2 }], log: ['MemberAdded {"uids":[1,2]}'] },
    },
    { name: "createGroup: a disabled user", flow: (c) => createGroup(w(c), 1, { name: "x", avatar: "", mode: 2, members: [{ uid: 4, role: 1 }] }), expected: { error: "not_found" } },
    { name: "createGroup: a direct chat", flow: (c) => createGroup(w(c), 1, { name: "", avatar: "", mode: 1, members: [{ uid: 3, role: 1 }] }), expected: { gid: 4, created: true } },
    { name: "createGroup: the same direct chat again", flow: (c) => createGroup(w(c), 3, { name: "", avatar: "", mode: 1, members: [{ uid: 1, role: 1 }] }), expected: { gid: 4, created: false } },
    {
      name: "addMembers: cat, then nobody new",
      flow: run((c) => (function* () { return [yield* addMembers(w(c), 2, 3, [3]), yield* addMembers(w(c), 1, 3, [3, 1])]; })(), 3),
      expected: { value: [[3], []], effects: ["join", "publish"], members: [{ uid: 1, role: 3 }, { uid: 2, role: 2 }, { uid: 3, role: 1 }] },
    },
    { name: "addMembers: not an admin", flow: (c) => addMembers(w(c), 3, 3, [3]), expected: { error: "forbidden" } },
    { name: "addMembers: to a direct chat", flow: (c) => addMembers(w(c), 1, 4, [2]), expected: { error: "bad_request" } },
    { name: "removeMembers: a member removes another", flow: (c) => removeMembers(w(c), 3, 3, [2]), expected: { error: "forbidden" } },
    { name: "removeMembers: nobody removes the owner", flow: (c) => removeMembers(w(c), 2, 3, [1]), expected: { error: "forbidden" } },
    { name: "removeMembers: no such user", flow: (c) => removeMembers(w(c), 1, 3, [99]), expected: { error: "not_found" } },
    {
      name: "removeMembers: the admin removes cat, who departs",
      flow: run((c) => (function* () { return [yield* removeMembers(w(c), 2, 3, [3]), (yield* c.store.departuresSince(3, 0)).map((d) => d.gid)]; })(), 3),
      expected: { value: [[3], [3]], effects: ["publish", "leave"], members: [{ uid: 1, role: 3 }, { uid: 2, role: 2 }] },
    },
    { name: "leaveGroup: the owner, with others in", flow: (c) => leaveGroup(w(c), 1, 3), expected: { error: "conflict" } },
    { name: "changeRole: bob back to member", flow: run((c) => changeRole(w(c), 1, 3, 2, 1), 3), expected: { effects: ["publish"], members: [{ uid: 1, role: 3 }, { uid: 2, role: 1 }] } },
    { name: "changeRole: not the owner", flow: (c) => changeRole(w(c), 2, 3, 1, 1), expected: { error: "forbidden" } },
    { name: "transferGroup: to bob", flow: run((c) => transferGroup(w(c), 1, 3, 2), 3), expected: { effects: ["publish"], members: [{ uid: 1, role: 2 }, { uid: 2, role: 3 }] } },
    {
      name: "updateGroup: renamed, and listed so",
      flow: (c) => (function* () { const g = yield* updateGroup(w(c), 2, { gid: 3, name: "renamed" }); return { g, mine: yield* listGroupsOf(c, 2) }; })(),
      expected: { g: { id: 3, name: "renamed", avatar: "", mode: 2, creatorUid: 1 }, mine: [{ id: 1, name: "team" }, { id: 3, name: "renamed" }] },
    },
    { name: "updateGroup: someone else's picture", flow: (c) => updateGroup(w(c), 2, { gid: 3, avatar: `/api/file/${F2}` }), expected: { error: "bad_request" } },
    {
      name: "listMembers: by role, with users",
      flow: (c) => (function* () { return (yield* listMembers(c, 1, 3)).map((m) => [m.role, m.user.account, m.readMsgId]); })(),
      expected: [[3, "bob", 0], [2, "Ann", 0]],
    },
    {
      name: "leaveGroup: ann leaves; then bob, alone, deletes it by leaving",
      flow: run((c) => (function* () { yield* leaveGroup(w(c), 1, 3); yield* leaveGroup(w(c), 2, 3); return [yield* groupIdsOf(c, 2), (yield* c.store.groupById(3))!.deletedAt]; })(), 3),
      expected: { value: [[1], NOW], effects: ["publish", "leave", "publish", "leave"], members: [] },
    },
    {
      name: "the group's log, as kinds",
      flow: (c) => (function* () { return (yield* c.store.eventsSince([3], 0, Number.MAX_SAFE_INTEGER, 100)).map((e) => e.kind); })(),
      expected: ["MemberAdded", "MemberAdded", "MemberRemoved", "RoleChanged", "RoleChanged", "GroupUpdated", "MemberRemoved", "GroupDeleted"],
    },
  ];
}

/** Users, sessions, revocations and invites. */
function userCases(): Case[] {
  const w = (c: Ctx) => c as WriteCtx;
  const newUser = { name: "Eve", nameFold: "eve", avatar: "", email: "e@x", passwordHash: "h", createdAt: NOW };
  return [
    { name: "insertUser: a new account", flow: (c) => c.store.insertUser({ ...newUser, account: "eve" }), expected: 5 },
    { name: "insertUser: the same account in another case is taken", flow: (c) => c.store.insertUser({ ...newUser, account: "EVE" }), expected: null },
    { name: "findUserByAccount, getUser, searchUser", flow: (c) => (function* () {
      return [(yield* findUserByAccount(c, "EvE"))?.id, yield* getUser(c, 5, 5), yield* getUser(c, 5, 1), yield* searchUser(c, "dan")];
    })(), expected: [5, { id: 5, email: "e@x" }, { id: 5, email: "" }, null] },
    { name: "getUser: nobody", flow: (c) => getUser(c, 99, 1), expected: { error: "not_found" } },
    {
      name: "issueSession, then the token resolves",
      flow: (c) => (function* () { const token = yield* issueSession(w(c), 5); return (yield* resolveToken(c, token)).userId; })(),
      expected: 5,
    },
    {
      name: "setDisabled: revokes every session, recorded for the poller",
      flow: (c) => (function* () {
        const before = yield* lastRevocationId(c);
        const revoked = yield* setDisabled(w(c), "eve", true);
        const polled = yield* revocationsAfter(c, before);
        return { revoked: revoked.length, polled: polled.map((r) => r.reason), effects: w(c).effects.map((e) => e.type), eve: (yield* searchUser(c, "eve")) };
      })(),
      expected: { revoked: 1, polled: ["account disabled"], effects: ["revoke"], eve: null },
    },
    { name: "setDisabled: no such account", flow: (c) => setDisabled(w(c), "nobody", true), expected: { error: "not_found" } },
    { name: "markLastSeen, then sharingAGroup", flow: (c) => (function* () {
      yield* markLastSeen(w(c), 2);
      return [...(yield* sharingAGroup(c, 1, [2, 3, 99])).entries()].sort((x, y) => x[0] - y[0]);
    })(), expected: [[2, NOW], [3, null]] },
    {
      name: "invites: live, redeemed once",
      flow: (c) => (function* () {
        const code = yield* createInvite(w(c), 1, 1);
        const live = yield* inviteIsLive(c, code);
        yield* redeemInvite(w(c), code, 2);
        return [live, yield* inviteIsLive(c, code)];
      })(),
      expected: [true, false],
    },
    { name: "invites: an unknown code", flow: (c) => redeemInvite(w(c), "nope", 2), expected: { error: "forbidden" } },
    { name: "purgeExpiredSessions: none expired yet", flow: (c) => purgeExpiredSessions(w(c)), expected: 0 },
  ];
}

/** Friends, the directory, profiles, settings and stats. */
function peopleCases(): Case[] {
  const w = (c: Ctx) => c as WriteCtx;
  const list = (c: Ctx, uid: number) =>
    (function* () {
      const ids = (users: { id: number }[]) => users.map((u) => u.id);
      return { out: ids(yield* listFriends(c, uid, 0)), in: ids(yield* listFriends(c, uid, 0, true)), friends: ids(yield* listFriends(c, uid, 1)) };
    })();
  return [
    { name: "requestFriend: ann asks bob and cat", flow: (c) => (function* () { yield* requestFriend(w(c), 1, 2); yield* requestFriend(w(c), 1, 3); return yield* list(c, 1); })(), expected: { out: [2, 3], in: [], friends: [] } },
    { name: "requestFriend: again", flow: (c) => requestFriend(w(c), 1, 2), expected: { error: "conflict" } },
    { name: "requestFriend: a disabled user", flow: (c) => requestFriend(w(c), 1, 4), expected: { error: "not_found" } },
    { name: "requestFriend: bob asking back confirms", flow: (c) => (function* () { yield* requestFriend(w(c), 2, 1); return [yield* list(c, 1), yield* list(c, 2)]; })(), expected: [{ out: [3], friends: [2] }, { out: [], in: [], friends: [1] }] },
    { name: "respondToFriend: cat rejects, the request is gone", flow: (c) => (function* () { yield* respondToFriend(w(c), 3, 1, 2); return yield* list(c, 3); })(), expected: { out: [], in: [], friends: [] } },
    { name: "respondToFriend: nothing pending", flow: (c) => respondToFriend(w(c), 3, 1, 1), expected: { error: "not_found" } },
    { name: "directory: prefix of the account first, then of the name, disabled never", flow: (c) => (function* () { return (yield* directory(c, "A", 10)).map((u) => [u.account, u.email]); })(), expected: [["Ann", ""], ["cat", ""]] },
    { name: "directory: LIKE's wildcards are literal", flow: (c) => directory(c, "%", 10), expected: [] },
    { name: "updateProfile", flow: (c) => updateProfile(w(c), 2, { name: " Bobby ", email: "b@x" }), expected: { id: 2, name: "Bobby", email: "b@x", account: "bob" } },
    {
      name: "directory: a new name is found in any case, without its diacritics",
      flow: (c) => (function* () {
        yield* updateProfile(w(c), 2, { name: "Ørjan Émile" });
        return [yield* directory(c, "ÉMILE", 10), yield* directory(c, "øRJAN", 10)].map((us) => us.map((u) => u.account));
      })(),
      expected: [["bob"], ["bob"]],
    },
    { name: "updateProfile: nothing to change", flow: (c) => updateProfile(w(c), 2, {}), expected: { error: "bad_request" } },
    {
      name: "settings: the defaults, then what was saved",
      flow: (c) => (function* () {
        const defaults = { registration: "open", inviters: "members" } as const;
        const before = yield* currentSettings(c, defaults);
        yield* saveSettings(w(c), { inviters: "admins" });
        yield* saveSettings(w(c), { registration: "invite", inviters: "admins" });
        return [before, yield* currentSettings(c, defaults)];
      })(),
      expected: [{ registration: "open", inviters: "members" }, { registration: "invite", inviters: "admins" }],
    },
    { name: "stats", flow: (c) => (function* () { const s = yield* databaseStats(c); return { users: s.users, groups: s.groups, sessions: s.sessions, last: s.lastMessageId > 0 }; })(), expected: { users: 5, groups: 4, sessions: 2, last: true } },
  ];
}

/** Server administration. */
function adminCases(): Case[] {
  const w = (c: Ctx) => c as WriteCtx;
  return [
    { name: "setUserAdmin, isAdmin", flow: (c) => (function* () { const before = yield* isAdmin(c, 2); yield* setUserAdmin(w(c), 2, true); return [before, yield* isAdmin(c, 2), yield* isAdmin(c, 99)]; })(), expected: [false, true, false] },
    {
      name: "listUsers: newest first, searched, counted",
      flow: (c) => (function* () {
        const all = yield* listUsers(c, { page: 1, size: 2 });
        const found = yield* listUsers(c, { q: "B", page: 1, size: 10 });
        return { all: [all.users.map((u) => u.id), all.total], found: found.users.map((u) => [u.account, u.admin, u.disabled]), none: (yield* listUsers(c, { q: "_", page: 1, size: 10 })).total };
      })(),
      expected: { all: [[5, 4], 5], found: [["bob", true, false]], none: 0 },
    },
    { name: "setUserDisabled: not oneself", flow: (c) => setUserDisabled(w(c), 2, 2, true), expected: { error: "bad_request" } },
    {
      name: "listInvites and revokeInvite: a used one stays used",
      flow: (c) => (function* () {
        const before = (yield* listInvites(c)).map((i) => i.status);
        const used = (yield* listInvites(c))[0]!.id;
        let refused = "";
        try {
          yield* revokeInvite(w(c), used);
        } catch (err) {
          refused = toAppError(err).code;
        }
        return { before, refused };
      })(),
      expected: { before: ["used"], refused: "not_found" },
    },
  ];
}

/** Search (FTS5 on SQLite, tsvector on PostgreSQL: the same answers) and uploads. */
function searchAndFileCases(): Case[] {
  const w = (c: Ctx) => c as WriteCtx;
  // SQLite indexes in batches (searchIndexing): what the server's indexer and the search route do first.
  const found = (uid: number, q: Parameters<typeof searchMessages>[2]) => (c: Ctx) =>
    (function* () {
      yield* indexPending(c, 1000);
      return (yield* searchMessages(c, uid, q)).map((h) => [h.content, h.snippet]);
    })();
  return [
    { name: "search: seeding", flow: (c) => (function* () {
      for (const [i, content] of ["Crème brûlée tonight", "東京都に行きます", "quarterly numbers", "the numbers again"].entries())
        yield* sendMessage(c, 1, { gid: 1, kind: "Text", content, clientMsgId: `se${i}` });
      return true;
    })(), expected: true },
    { name: "search: a word by prefix, diacritics folded, newest first", flow: found(2, { q: "numb", limit: 10 }), expected: [["the numbers again", "the <mark>numb</mark>ers again"], ["quarterly numbers", "quarterly <mark>numb</mark>ers"]] },
    { name: "search: creme", flow: found(2, { q: "creme BRULEE", limit: 10 }), expected: [["Crème brûlée tonight", "Crème brûlée tonight"]] },
    { name: "search: a CJK substring", flow: found(1, { q: "京都", limit: 10 }), expected: [["東京都に行きます", "東<mark>京都</mark>に行きます"]] },
    { name: "search: a limit, and before an id", flow: (c) => (function* () {
      yield* indexPending(c, 1000);
      const [newest] = yield* searchMessages(c, 1, { q: "numbers", limit: 1 });
      return [newest!.content, (yield* searchMessages(c, 1, { q: "numbers", limit: 5, beforeId: newest!.id })).map((h) => h.content)];
    })(), expected: ["the numbers again", ["quarterly numbers"]] },
    { name: "search: not in the caller's groups", flow: found(3, { q: "numbers", limit: 10 }), expected: [] },
    { name: "search: one group, not the caller's", flow: found(3, { q: "numbers", gid: 1, limit: 10 }), expected: { error: "forbidden" } },
    { name: "search: too short", flow: found(1, { q: "x", limit: 10 }), expected: { error: "bad_request" } },
    {
      name: "recordUpload, usedBytes, the quota",
      flow: (c) => (function* () {
        const f = yield* recordUpload(w(c), { id: "f3f3f3f3f3f3f3f3f3f3f", sha256: "cc", name: "a.txt", size: 30, mime: "text/plain", uploaderUid: 2 }, 100);
        let refused = "";
        try {
          yield* recordUpload(w(c), { id: "f4f4f4f4f4f4f4f4f4f4f", sha256: "dd", name: "b.txt", size: 71, mime: "text/plain", uploaderUid: 2 }, 100);
        } catch (err) {
          refused = toAppError(err).code;
        }
        return { f, used: yield* usedBytes(c, 2), refused };
      })(),
      expected: { f: { id: "f3f3f3f3f3f3f3f3f3f3f", name: "a.txt", size: 30, mime: "text/plain" }, used: 30, refused: "too_large" },
    },
    {
      name: "recordUpload: bytes gone meanwhile (collected by another node) are refused, no row",
      flow: (c) => (function* () {
        let refused = "";
        try {
          yield* recordUpload(w(c), { id: "f5f5f5f5f5f5f5f5f5f5f", sha256: "gone", name: "c.txt", size: 1, mime: "text/plain", uploaderUid: 2 }, 0);
        } catch (err) {
          refused = toAppError(err).code;
        }
        return { refused, named: yield* c.store.namedShas(["gone"]) };
      })(),
      expected: { refused: "internal", named: [] },
    },
    {
      name: "namedShas: which of these a row names",
      flow: (c) => (function* () {
        return (yield* c.store.namedShas(["aa", "zz", "bb"])).sort();
      })(),
      expected: ["aa", "bb"],
    },
    {
      name: "deleteUnsharedFiles: the ones nobody shares, made before the cut",
      flow: (c) => (function* () {
        const none = yield* c.store.deleteUnsharedFiles(NOW);
        const n = yield* c.store.deleteUnsharedFiles(NOW + 1);
        return { none, n, left: (yield* c.store.fileShas()).sort() };
      })(),
      // F1 is shared in group 1; F2 (cat's, never shared) and the upload go.
      expected: { none: 1, n: 1, left: ["aa"] },
    },
  ];
}

/** Read and delivered cursors, the chat list and its unread counts. */
function readCases(): Case[] {
  const list = (uid: number) => (c: Ctx) =>
    (function* () {
      return (yield* chatList(c, uid, 1, 10)).map((e) => ({ gid: e.group.id, last: e.msg.content, user: e.user.id, unread: e.unread, mentions: e.mentions }));
    })();
  const first = (c: Ctx) => (function* () { return (yield* c.store.messageBySenderClientId(1, "c1"))!.id; })();
  return [
    // Group 1 holds ann's and bob's messages (bob's mentions ann and all); bob has read nothing.
    { name: "chatList: bob's, nothing read", flow: list(2), expected: [{ gid: 1, last: "the numbers again", user: 1, unread: 7, mentions: 0 }] },
    { name: "chatList: ann's, with the mention", flow: list(1), expected: [{ gid: 1, last: "the numbers again", user: 1, unread: 2, mentions: 1 }] },
    { name: "markDelivered: forward once", flow: (c) => (function* () { const id = yield* first(c); return [yield* markDelivered(c, 2, 1, id), yield* markDelivered(c, 2, 1, id)]; })(), expected: [true, false] },
    { name: "markRead: the first message, then not backward", flow: (c) => (function* () { const id = yield* first(c); return [yield* markRead(c, 2, 1, id), yield* markRead(c, 2, 1, id)]; })(), expected: [true, false] },
    { name: "chatList: bob's, one read", flow: list(2), expected: [{ gid: 1, unread: 6 }] },
    { name: "markRead: a message of another group", flow: (c) => markRead(c, 2, 1, 999_999), expected: { error: "not_found" } },
    { name: "markRead: not a member", flow: (c) => markRead(c, 3, 1, 1), expected: { error: "forbidden" } },
    { name: "markGroupRead: up to the last, then nothing unread", flow: (c) => (function* () { const upTo = yield* markGroupRead(c, 2, 1); return [upTo !== null, (yield* list(2)(c))[0]!.unread]; })(), expected: [true, 0] },
  ];
}

/** Edits, deletions and reactions: the message after each, the log, the index and mentions kept in step. */
function changeCases(): Case[] {
  const w = (c: Ctx) => c as WriteCtx;
  const idOf = (c: Ctx, sender: number, clientMsgId: string) => (function* () { return (yield* c.store.messageBySenderClientId(sender, clientMsgId))!.id; })();
  const view = (ch: { message: { content: string; mentions: number[]; reactions: unknown; deleted: boolean; editedAt: string | null }; duplicate: boolean; event: { kind: string } | null }) => ({
    content: ch.message.content, mentions: ch.message.mentions, reactions: ch.message.reactions, deleted: ch.message.deleted, edited: ch.message.editedAt !== null, duplicate: ch.duplicate, kind: ch.event?.kind ?? null,
  });
  const found = (c: Ctx, q: string) => (function* () { yield* indexPending(c, 1000); return (yield* searchMessages(c, 1, { q, limit: 10 })).map((h) => h.content); })();
  return [
    {
      name: "editMessage: new words found, old ones not, mentions anew",
      flow: (c) => (function* () {
        const id = yield* idOf(c, 1, "c1");
        const ch = view(yield* editMessage(w(c), 1, { gid: 1, msgId: id, content: "goodbye @bob", clientMsgId: "e1" }));
        return { ch, goodbye: yield* found(c, "goodbye"), hello: yield* found(c, "hello") };
      })(),
      // The reply (r1) still says hello; the edited message no longer does.
      expected: { ch: { content: "goodbye @bob", mentions: [2], edited: true, duplicate: false, kind: "Edited" }, goodbye: ["goodbye @bob"], hello: ["hello"] },
    },
    {
      // SQLite indexes later, in batches: a message edited or deleted before its batch is indexed as it is then.
      name: "edited, or deleted, before the index took it: found by its new words only, or not at all",
      flow: (c) => (function* () {
        const edited = (yield* sendMessage(c, 2, { gid: 1, kind: "Text", content: "walrus draft", clientMsgId: "ix1" })).message.id;
        const deleted = (yield* sendMessage(c, 2, { gid: 1, kind: "Text", content: "walrus secret", clientMsgId: "ix2" })).message.id;
        yield* editMessage(w(c), 2, { gid: 1, msgId: edited, content: "narwhal final" });
        yield* deleteMessage(w(c), 2, { gid: 1, msgId: deleted });
        return { walrus: yield* found(c, "walrus"), narwhal: yield* found(c, "narwhal") };
      })(),
      expected: { walrus: [], narwhal: ["narwhal final"] },
    },
    { name: "editMessage: the same frame again is the first change", flow: (c) => (function* () { const id = yield* idOf(c, 1, "c1"); return view(yield* editMessage(w(c), 1, { gid: 1, msgId: id, content: "other", clientMsgId: "e1" })); })(), expected: { content: "goodbye @bob", duplicate: true, kind: "Edited" } },
    { name: "editMessage: someone else's", flow: (c) => (function* () { const id = yield* idOf(c, 1, "c1"); return yield* editMessage(w(c), 2, { gid: 1, msgId: id, content: "x" }); })(), expected: { error: "forbidden" } },
    { name: "editMessage: no such group", flow: (c) => editMessage(w(c), 2, { gid: 99, msgId: 1, content: "x" }), expected: { error: "not_found" } },
    {
      name: "reactToMessage: two holders, then one takes it back, then again changes nothing",
      flow: (c) => (function* () {
        const id = yield* idOf(c, 1, "c1");
        yield* reactToMessage(w(c), 1, { gid: 1, msgId: id, emoji: "👍", on: true });
        yield* reactToMessage(w(c), 2, { gid: 1, msgId: id, emoji: "🎉", on: true });
        const both = view(yield* reactToMessage(w(c), 2, { gid: 1, msgId: id, emoji: "👍", on: true }));
        const off = view(yield* reactToMessage(w(c), 1, { gid: 1, msgId: id, emoji: "👍", on: false }));
        const again = view(yield* reactToMessage(w(c), 1, { gid: 1, msgId: id, emoji: "👍", on: false }));
        return { both: both.reactions, off: off.reactions, again: again.kind };
      })(),
      expected: { both: [{ emoji: "👍", uids: [1, 2] }, { emoji: "🎉", uids: [2] }], off: [{ emoji: "👍", uids: [2] }, { emoji: "🎉", uids: [2] }], again: null },
    },
    { name: "deleteMessage: a member, someone else's", flow: (c) => (function* () { const id = yield* idOf(c, 1, "c1"); return yield* deleteMessage(w(c), 2, { gid: 1, msgId: id }); })(), expected: { error: "forbidden" } },
    {
      name: "deleteMessage: a tombstone, out of the index, its mentions gone; then no more changes",
      flow: (c) => (function* () {
        const id = yield* idOf(c, 1, "c1");
        const ch = view(yield* deleteMessage(w(c), 1, { gid: 1, msgId: id }));
        const bobMentions = (yield* chatList(c, 2, 1, 10))[0]!.mentions;
        let after = "";
        try {
          yield* reactToMessage(w(c), 2, { gid: 1, msgId: id, emoji: "👍", on: true });
        } catch (err) {
          after = toAppError(err).code;
        }
        return { ch, goodbye: yield* found(c, "goodbye"), bobMentions, after };
      })(),
      expected: { ch: { content: "", mentions: [], reactions: [], deleted: true, kind: "Deleted" }, goodbye: [], bobMentions: 0, after: "not_found" },
    },
  ];
}

// What only PostgreSQL has: writers on several nodes at once. Two "nodes" (two pools, each send in its
// own transaction, as each node's write path will run them) send to one group together.
describe("PostgreSQL: concurrent writers on two nodes", () => {
  let fresh: Awaited<ReturnType<typeof freshDatabase>>;
  let nodes: SQL[];
  beforeAll(async () => {
    fresh = await freshDatabase();
    nodes = [new SQL(fresh.url, { max: 4 }), new SQL(fresh.url, { max: 4 })];
    await migratePostgres(nodes[0]!);
    for (const s of [...SEED, ...PG_AFTER_SEED]) await nodes[0]!.unsafe(s);
  }, 120_000);
  afterAll(async () => {
    for (const n of nodes ?? []) await n.close();
    await fresh?.drop();
  });

  const send = (node: SQL, uid: number, clientMsgId: string) =>
    node.begin((tx) => runAsync(sendMessage({ store: pgStore(tx), clock: () => NOW, limits: { maxContent: 100 } } as unknown as Ctx, uid, { gid: 1, kind: "Text", content: clientMsgId, clientMsgId })));

  test("seqs stay dense and in id order; a resend through the other node, even at the same time, returns the original", async () => {
    const sends = Array.from({ length: 40 }, (_, i) => send(nodes[i % 2]!, 1 + (i % 2), `n${i}`));
    // Each of these is sent on both nodes at once: one stores it, the other answers with it.
    const twice = Array.from({ length: 5 }, (_, i) => [send(nodes[0]!, 1, `t${i}`), send(nodes[1]!, 1, `t${i}`)]);
    const sent = await Promise.all(sends);
    const pairs = await Promise.all(twice.map((p) => Promise.all(p)));
    for (const [a, b] of pairs) {
      expect(a!.message.id).toBe(b!.message.id);
      expect([a!.duplicate, b!.duplicate].sort()).toEqual([false, true]);
    }
    expect(sent.every((s) => !s.duplicate)).toBe(true);
    const rows = (await nodes[0]!`SELECT id, seq FROM messages WHERE group_id = 1 ORDER BY seq`) as { id: string; seq: string }[];
    expect(rows.map((r) => Number(r.seq))).toEqual(Array.from({ length: 45 }, (_, i) => i + 1));
    const [g] = (await nodes[0]!`SELECT last_seq FROM groups WHERE id = 1`) as { last_seq: string }[];
    expect(Number(g!.last_seq)).toBe(45);
    // Within one group the seq's row lock orders the senders, so ids follow seqs.
    const ids = rows.map((r) => Number(r.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    // And a later resend, through either node, is the original.
    const again = await send(nodes[1]!, 1, "n0");
    expect(again.duplicate).toBe(true);
    expect(again.message.id).toBe(sent[0]!.message.id);
  });
});
