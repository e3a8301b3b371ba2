// The authorization matrix (issue 5, item 3): every REST route and every
// WebSocket event against every kind of caller, with the expected outcome of
// each cell written down as a table.
//
// Each cell runs on a fresh server (real HTTP and real sockets, manual clock;
// on the cluster, three nodes: REST on node 1, the sockets on nodes 2 and 3):
//   group G: owner O, admin A, members M and M2; R was a member and was removed;
//   N and X are in no group; X has asked O to be friends; F is the forger.
//   Observers: one logged-in socket each for O, A, M, M2, R, N, X.
// Actors: owner (O), admin (A), member (M), nonmember (N), removed (R),
//   notoken (no Authorization / a socket that never logged in), expired (O's
//   token past its expiry; on a socket: logged in before it expired), revoked
//   (O's token after logout), forged (F's own valid token, naming O's uid in
//   every uid field the request has: uid, creatorUid, the frame's uid).
// In every cell: the status (or the Ack) is the table's; where refused, the
// whole database is unchanged (every row of every table) and no observer gets
// a frame; where accepted, the expected observers get exactly the expected
// push and the others nothing, and writes happened only where the route writes.
import { afterAll, describe, expect, test } from "bun:test";
import type { App } from "../src/app";
import { cluster, makeApp, requestFriend, serve, sqlAll, sqlGet, type Served } from "./helpers";
import { createGroup, removeMembers } from "./helpers";
import { sendMessage } from "./helpers";
import { resolveToken, revokeSession } from "./helpers";
import { login } from "../src/domain/users";
import { loadWebBundle } from "../src/http/web";
import { manualClock } from "../src/time";
import { Client, fixture as direct, user, type Frame, type TestUser } from "./helpers";

// One file of the web client's bundle, for the /* row.
const APP_JS = [...(await loadWebBundle()).assets.keys()].find((p) => p.endsWith(".js"))!;

const ACTORS = ["owner", "admin", "member", "nonmember", "removed", "notoken", "expired", "revoked", "forged"] as const;
type Actor = (typeof ACTORS)[number];

// ---------------------------------------------------------------- the expected outcomes

const REST = table(`
  route                               owner admin member nonmember removed notoken expired revoked forged
  GET  /                               200   200   200    200       200     200     200     200     200
  GET  /health                         200   200   200    200       200     200     200     200     200
  GET  /docs                           200   200   200    200       200     200     200     200     200
  GET  /api/openapi.json               200   200   200    200       200     200     200     200     200
  GET  /api/ws-schema.json             200   200   200    200       200     200     200     200     200
  # the web client: public pages and the bundle's files
  GET  /app                            200   200   200    200       200     200     200     200     200
  GET  /app/*                          200   200   200    200       200     200     200     200     200
  GET  /*                             200   200   200    200       200     200     200     200     200
  # --metrics-token is set: a user's token never opens /metrics
  GET  /metrics                        401   401   401    401       401     401     401     401     401
  # public: a stale Authorization header is ignored
  POST /api/user/create                200   200   200    200       200     200     200     200     200
  POST /api/user/login                 200   200   200    200       200     200     200     200     200
  POST /api/user/invite                200   200   200    200       200     401     401     401     200
  POST /api/user/logout                200   200   200    200       200     401     401     401     200
  POST /api/user/password              200   200   200    200       200     401     401     401     200
  GET  /api/user/get                   200   200   200    200       200     401     401     401     200
  GET  /api/user/token                 200   200   200    200       200     401     401     401     200
  GET  /api/user/search                200   200   200    200       200     401     401     401     200
  GET  /api/message/search             200   200   200    200       200     401     401     401     200
  GET  /api/user/directory             200   200   200    200       200     401     401     401     200
  POST /api/user/update                200   200   200    200       200     401     401     401     200
  POST /api/group/create               200   200   200    200       200     401     401     401     403
  POST /api/group/update               200   200   403    403       403     401     401     401     403
  GET  /api/group/get                  200   200   200    200       200     401     401     401     403
  GET  /api/group/user/get             200   200   200    403       403     401     401     401     403
  POST /api/group/user/change:add      200   200   403    403       403     401     401     401     403
  POST /api/group/user/change:remove   200   200   403    403       403     401     401     401     403
  POST /api/group/user/change:leave    403   200   200    403       403     401     401     401     403
  # the owner must hand the group over before leaving it
  POST /api/group/leave                409   200   200    403       403     401     401     401     403
  POST /api/group/transfer             200   403   403    403       403     401     401     401     403
  POST /api/group/role                 200   403   403    403       403     401     401     401     403
  POST /api/group/delete               200   403   403    403       403     401     401     401     403
  POST /api/message/chat/list          200   200   200    200       200     401     401     401     403
  # server administration: none of these callers is a server admin (tests/admin.test.ts covers one who is)
  GET  /api/admin/users                403   403   403    403       403     401     401     401     403
  POST /api/admin/user/disable         403   403   403    403       403     401     401     401     403
  POST /api/admin/user/enable          403   403   403    403       403     401     401     401     403
  POST /api/admin/user/password        403   403   403    403       403     401     401     401     403
  GET  /api/admin/invites              403   403   403    403       403     401     401     401     403
  POST /api/admin/invite/create        403   403   403    403       403     401     401     401     403
  POST /api/admin/invite/revoke        403   403   403    403       403     401     401     401     403
  GET  /api/admin/settings             403   403   403    403       403     401     401     401     403
  POST /api/admin/settings             403   403   403    403       403     401     401     401     403
  GET  /api/admin/stats                403   403   403    403       403     401     401     401     403
  POST /api/message/history            200   200   200    403       403     401     401     401     403
  POST /api/message/group/read         200   200   200    403       403     401     401     401     403
  # edit and delete target M's message: only M edits it; M, the owner and the admin delete it
  POST /api/message/edit               403   403   200    403       403     401     401     401     403
  POST /api/message/delete             200   200   200    403       403     401     401     401     403
  POST /api/message/react              200   200   200    403       403     401     401     401     403
  # forged: no uid field here, so F asks as itself; users sharing no group with the caller are left out
  GET  /api/user/presence              200   200   200    200       200     401     401     401     200
  POST /api/friend/add                 200   200   200    200       200     401     401     401     403
  GET  /api/friend/list                200   200   200    200       200     401     401     401     200
  POST /api/friend/status/modify       200   404   404    404       404     401     401     401     403
  # a file O uploaded and shared in G before R was removed: 404 (not 403) to whoever may not read it
  POST /api/file/upload                200   200   200    200       200     401     401     401     200
  GET  /api/file/:id                   200   200   200    404       404     401     401     401     404
  POST /api/file/cookie                200   200   200    200       200     401     401     401     200
`);

// notoken's Login has no token to send (400); every other event from a socket that never logged in is 401.
const WS = table(`
  event      owner admin member nonmember removed notoken expired revoked forged
  Login      Ok    Ok    Ok     Ok        Ok      400     401     401     403
  Msg        Ok    Ok    Ok     403       403     401     401     401     403
  Msg:file   Ok    Ok    Ok     403       403     401     401     401     403
  Ack        Ok    Ok    Ok     403       403     401     401     401     403
  Read       Ok    Ok    Ok     403       403     401     401     401     403
  Heart      Ok    Ok    Ok     Ok        Ok      Ok      401     Ok      403
  Logout     Ok    Ok    Ok     Ok        Ok      401     401     401     403
  Sync       Ok    Ok    Ok     Ok        Ok      401     401     401     403
  Sync:gid   Ok    Ok    Ok     403       Ok      401     401     401     403
  Edit       403   403   Ok     403       403     401     401     401     403
  Delete     Ok    Ok    Ok     403       403     401     401     401     403
  React      Ok    Ok    Ok     403       403     401     401     401     403
  Typing     Ok    Ok    Ok     403       403     401     401     401     403
`);

function table(src: string): Map<string, Record<Actor, string>> {
  const lines = src.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
  const header = lines[0]!.split(/\s+/).slice(1);
  if (header.join(" ") !== ACTORS.join(" ")) throw new Error("table header must list the actors in order: " + header.join(" "));
  const rows = new Map<string, Record<Actor, string>>();
  for (const line of lines.slice(1)) {
    const cells = line.split(/\s+/);
    const outcomes = cells.slice(-ACTORS.length);
    const key = cells.slice(0, -ACTORS.length).join(" ");
    if (rows.has(key)) throw new Error("duplicate row " + key);
    rows.set(key, Object.fromEntries(ACTORS.map((a, i) => [a, outcomes[i]!])) as Record<Actor, string>);
  }
  return rows;
}

// ---------------------------------------------------------------- the world of one cell

const OBSERVERS = ["O", "A", "M", "M2", "R", "N", "X"] as const;
type Obs = (typeof OBSERVERS)[number];
const MEMBERS: Obs[] = ["O", "A", "M", "M2"];
const PASSWORD = "password1";
const FILE_TEXT = "the minutes of the meeting";

type Fx = {
  app: App;
  /** The server: its wsUrl names the next node at each read on the cluster. */
  served: Served;
  url: string;
  clock: ReturnType<typeof manualClock>;
  u: Record<Obs | "F", TestUser>;
  gid: number;
  msgIds: number[];
  /** A file O uploaded and shared in G (its message is the last of msgIds). */
  fileId: string;
  expiredToken: string;
  revokedToken: string;
  expiredSock: Client;
  obs: Record<Obs, Client>;
  sockets: Client[];
};

type Who = { actor: Actor; me: TestUser; token: string | null; claim: number; obs: Obs | null };

async function setupFixture(): Promise<Fx> {
  const clock = manualClock();
  const served = await serve({ metrics: "on", metricsToken: "metrics-secret" }, { clock });
  const { app, url } = served;
  const names = [...OBSERVERS, "F"] as const;
  const stale = {} as Record<Obs | "F", TestUser>;
  for (const n of names) stale[n] = await user(app, `user_${n.toLowerCase()}`, PASSWORD);
  // O's first token will have expired; a second one is revoked (logged out).
  const expiredToken = stale.O.token;
  const revokedToken = (await login(app, stale.O.account, PASSWORD, "127.0.0.1")).token;
  await revokeSession(direct(app), await resolveToken(app, revokedToken));
  // A minute before the first tokens expire, everyone logs in afresh.
  clock.advance(app.auth.tokenTtlMs - 60_000);
  const u = {} as Record<Obs | "F", TestUser>;
  for (const n of names) u[n] = { ...stale[n], token: (await login(app, stale[n].account, PASSWORD, "127.0.0.1")).token };

  const gid = (await createGroup(direct(app), u.O.uid, {
    name: "team",
    avatar: "",
    mode: 2,
    members: [{ uid: u.A.uid, role: 2 }, { uid: u.M.uid, role: 1 }, { uid: u.M2.uid, role: 1 }, { uid: u.R.uid, role: 1 }],
  })).gid;
  const msgIds = [
    (await sendMessage(direct(app), u.O.uid, { gid, kind: "Text", content: "one", clientMsgId: "seed-1" })).message.id,
    (await sendMessage(direct(app), u.R.uid, { gid, kind: "Text", content: "two", clientMsgId: "seed-2" })).message.id,
    (await sendMessage(direct(app), u.M.uid, { gid, kind: "Text", content: "three", clientMsgId: "seed-3" })).message.id,
  ];
  const upload = await fetch(`${url}/api/file/upload?name=notes.txt`, { method: "POST", headers: { Authorization: `Bearer ${u.O.token}`, "Content-Type": "text/plain" }, body: FILE_TEXT });
  const fileId = ((await upload.json()) as { data: { id: string } }).data.id;
  msgIds.push((await sendMessage(direct(app), u.O.uid, { gid, kind: "File", content: fileId, clientMsgId: "seed-file" })).message.id);
  await removeMembers(direct(app), u.O.uid, gid, [u.R.uid]);
  await requestFriend(direct(app), u.X.uid, u.O.uid);

  const sockets: Client[] = [];
  const obs = {} as Record<Obs, Client>;
  for (const n of OBSERVERS) {
    const c = await Client.open(served.wsUrl);
    sockets.push(c);
    await expectOk(c.login(u[n]), `observer ${n} login`);
    obs[n] = c;
  }
  // A socket logged in with O's first token while it was still valid; then the clock passes its expiry.
  const expiredSock = await Client.open(served.wsUrl);
  sockets.push(expiredSock);
  await expectOk(expiredSock.request("Login", { content: expiredToken, uid: u.O.uid }), "expired socket login");
  clock.advance(120_000);
  return { app, served, url, clock, u, gid, msgIds, fileId, expiredToken, revokedToken, expiredSock, obs, sockets };
}

/**
 * A frame from the socket whose token has expired. The server refuses it with a 401 Ack and closes the socket
 * (4001); but its watch also closes expired sockets every 250 ms of real time, and may come first: then the socket
 * is closed "session expired" without a reply, the frame never acted on. Either is the refusal (as a 401 here);
 * the cell still checks that nothing was stored or pushed and that the socket is closed.
 */
async function expiredRequest(sock: Client, event: string, body: Record<string, unknown>): Promise<Frame> {
  const replied = sock.request(event, body);
  replied.catch(() => {});
  const first = await Promise.race([replied, sock.waitClose().then(() => null)]);
  if (first) return first;
  expect(sock.closed).toEqual({ code: 4001, reason: "session expired" });
  return { content: "Error", code: 401 };
}

async function expectOk(p: Promise<Frame>, what: string) {
  const f = await p;
  if (f.content !== "Ok") throw new Error(`${what}: ${JSON.stringify(f)}`);
}

async function dispose(fx: Fx) {
  for (const c of fx.sockets) if (!c.closed) c.close();
  await fx.served.stop();
}

/** Every node's App: the sockets of a cluster are on nodes 2 and 3, each in its own hub. */
const appsOf = (s: Served): App[] => (s as Served & { nodes?: { app: App }[] }).nodes?.map((n) => n.app) ?? [s.app];

/** A user's sockets on every node. */
const socketsOf = (fx: Fx, uid: number) => appsOf(fx.served).flatMap((a) => [...a.hub.socketsOf(uid)]);

function whoIs(fx: Fx, actor: Actor): Who {
  const { u } = fx;
  const as = (me: TestUser, obs: Obs | null, token: string | null = me.token, claim = me.uid): Who => ({ actor, me, token, claim, obs });
  switch (actor) {
    case "owner": return as(u.O, "O");
    case "admin": return as(u.A, "A");
    case "member": return as(u.M, "M");
    case "nonmember": return as(u.N, "N");
    case "removed": return as(u.R, "R");
    case "notoken": return as(u.O, "O", null);
    case "expired": return as(u.O, "O", fx.expiredToken);
    case "revoked": return as(u.O, "O", fx.revokedToken);
    case "forged": return as(u.F, null, u.F.token, u.O.uid);
  }
}

const TABLES = cluster
  ? "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name NOT LIKE 'message_search%' ORDER BY 1"
  : "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'message_search%' ORDER BY name";

/**
 * Every row of every table, but the session's last-used time (a read may refresh it); the search index follows
 * messages, and so does how far it has got (SQLite's watermark: a search first indexes what waits).
 */
async function dump(app: App): Promise<Record<string, unknown[]>> {
  const tables = (await sqlAll<{ name: string }>(app, TABLES)).map((r) => r.name);
  const out: Record<string, unknown[]> = {};
  for (const t of tables) {
    const rows = (await sqlAll<Record<string, unknown>>(app, `SELECT * FROM "${t}"`))
      .filter((r) => !(t === "settings" && r.key === "search_indexed_upto"))
      .map((r) => (t === "sessions" ? (({ last_used_at: _, ...rest }) => rest)(r) : r));
    // In a set order whatever the engine (PostgreSQL has no rowid).
    out[t] = rows.map((r) => [JSON.stringify(r), r] as const).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, r]) => r);
  }
  return out;
}

/** After this, every frame the server sent an observer before now has arrived (a Heart's Ack comes after it). */
async function barrier(fx: Fx) {
  for (const n of OBSERVERS) if (!fx.obs[n].closed) await expectOk(fx.obs[n].request("Heart"), `barrier ${n}`);
}

function clearFrames(fx: Fx) {
  for (const n of OBSERVERS) fx.obs[n].frames.length = 0;
}

type Push = { name: string; to: Obs[] };
const isPush = (f: Frame, name: string) => (f.event === "Notify" ? f.body?.content === name : f.event === name);

/** Exactly one matching frame for each expected observer, nothing at all for the others. */
function expectPushes(fx: Fx, push: Push | null) {
  const got = Object.fromEntries(OBSERVERS.map((n) => [n, fx.obs[n].frames.map((f) => (f.event === "Notify" ? `Notify:${f.body.content}` : String(f.event ?? f.kind)))]));
  const want = Object.fromEntries(OBSERVERS.map((n) => [n, push && push.to.includes(n) ? [push.name === "Msg" ? "Msg" : `Notify:${push.name}`] : []]));
  expect(got).toEqual(want);
  if (push) for (const n of push.to) expect(fx.obs[n].frames.every((f) => isPush(f, push.name) && (f.body.gid === undefined || typeof f.body.gid === "number"))).toBe(true);
}

// ---------------------------------------------------------------- REST rows

type Req = { path: string; body?: unknown };
type RestRow = {
  req: (fx: Fx, who: Who) => Req;
  /** Whether an accepted call changes the database. */
  writes: boolean;
  /** Replies with something other than the envelope on success (text, HTML, a JSON document). */
  raw?: boolean;
  /** The caller's other socket on the same token is closed (4001) when accepted. */
  closesOwnSocket?: boolean;
  push?: (fx: Fx, who: Who) => Push | null;
  check?: (fx: Fx, who: Who, data: any) => unknown;
};

const gidsOf = (data: { id: number }[]) => data.map((g) => g.id);
const inGroup = (fx: Fx, who: Who) => [fx.u.O, fx.u.A, fx.u.M].some((x) => x.uid === who.me.uid);

const restRows: Record<string, RestRow> = {
  "GET /": { req: () => ({ path: "/" }), writes: false, raw: true, check: (_fx, _w, data) => expect(data).toBe("hello rim") },
  "GET /health": { req: () => ({ path: "/health" }), writes: false, raw: true, check: (_fx, _w, data) => expect(data.status).toBe("ok") },
  "GET /docs": { req: () => ({ path: "/docs" }), writes: false, raw: true },
  "GET /api/openapi.json": { req: () => ({ path: "/api/openapi.json" }), writes: false, raw: true },
  "GET /api/ws-schema.json": { req: () => ({ path: "/api/ws-schema.json" }), writes: false, raw: true },
  "GET /metrics": { req: () => ({ path: "/metrics" }), writes: false },
  "GET /app": { req: () => ({ path: "/app" }), writes: false, raw: true, check: (_fx, _w, data) => expect(data).toContain('<div id="app">') },
  "GET /app/*": { req: () => ({ path: "/app/c/1" }), writes: false, raw: true, check: (_fx, _w, data) => expect(data).toContain('<div id="app">') },
  "GET /*": { req: () => ({ path: APP_JS }), writes: false, raw: true },
  "POST /api/user/create": {
    req: (_fx, w) => ({ path: "/api/user/create", body: { account: `new_${w.actor}`, password: PASSWORD, name: "New", uid: w.claim } }),
    writes: true,
    check: async (fx, w, data) => {
      expect(Object.values(fx.u).map((x) => x.uid)).not.toContain(data);
      expect(await sqlGet(fx.app, "SELECT account FROM users WHERE id = ?", data)).toEqual({ account: `new_${w.actor}` });
    },
  },
  "POST /api/user/login": {
    req: (_fx, w) => ({ path: "/api/user/login", body: { account: w.me.account, password: PASSWORD, uid: w.claim } }),
    writes: true,
    check: async (fx, w, data) => expect((await resolveToken(fx.app, data)).userId).toBe(w.me.uid),
  },
  "POST /api/user/invite": { req: () => ({ path: "/api/user/invite", body: {} }), writes: true },
  "POST /api/user/logout": {
    req: () => ({ path: "/api/user/logout", body: {} }),
    writes: true,
    closesOwnSocket: true,
    check: async (fx, w) => {
      await expect(Promise.resolve().then(() => resolveToken(fx.app, w.token!))).rejects.toThrow();
      const other = w.me.uid === fx.u.O.uid ? fx.u.A : fx.u.O;
      expect((await resolveToken(fx.app, other.token)).userId).toBe(other.uid); // nobody else's token
    },
  },
  "POST /api/user/password": {
    req: () => ({ path: "/api/user/password", body: { oldPassword: PASSWORD, newPassword: "password2" } }),
    writes: true,
    check: async (fx, w) => {
      const hash = async (uid: number) => (await sqlGet<{ h: string }>(fx.app, "SELECT password_hash AS h FROM users WHERE id = ?", uid))!.h;
      expect(Bun.password.verifySync("password2", await hash(w.me.uid))).toBe(true);
      if (w.me.uid !== fx.u.O.uid) expect(Bun.password.verifySync(PASSWORD, await hash(fx.u.O.uid))).toBe(true);
    },
  },
  "GET /api/user/get": {
    req: (fx) => ({ path: `/api/user/get?uid=${fx.u.O.uid}` }),
    writes: false,
    check: (fx, _w, data) => expect(Object.keys(data).sort()).toEqual(["account", "avatar", "email", "id", "name"]),
  },
  "GET /api/user/token": {
    req: (fx, w) => ({ path: `/api/user/token?token=${w.token ?? fx.u.O.token}` }),
    writes: false,
    check: (_fx, w, data) => expect(data.id).toBe(w.me.uid),
  },
  "GET /api/user/search": {
    req: (fx) => ({ path: `/api/user/search?account=${fx.u.O.account}` }),
    writes: false,
    check: (fx, _w, data) => expect({ id: data.id, email: data.email }).toEqual({ id: fx.u.O.uid, email: "" }),
  },
  "POST /api/group/create": {
    req: (fx, w) => ({ path: "/api/group/create", body: { group: { name: "new", avatar: "", mode: 2, creatorUid: w.claim }, users: [{ uid: fx.u.X.uid, role: 1 }] } }),
    writes: true,
    push: (_fx, w) => ({ name: "MemberAdded", to: [w.obs!, "X"] }),
    check: async (fx, w, data) => expect(await sqlGet(fx.app, "SELECT creator_uid FROM groups WHERE id = ?", data)).toEqual({ creator_uid: w.me.uid }),
  },
  "POST /api/group/update": {
    req: (fx, w) => ({ path: "/api/group/update", body: { id: fx.gid, name: `renamed by ${w.actor}` } }),
    writes: true,
    push: () => ({ name: "GroupUpdated", to: MEMBERS }),
  },
  "GET /api/group/get": {
    req: (_fx, w) => ({ path: `/api/group/get?uid=${w.claim}` }),
    writes: false,
    check: (fx, w, data) => expect(gidsOf(data).includes(fx.gid)).toBe(inGroup(fx, w)),
  },
  "GET /api/group/user/get": {
    req: (fx, w) => ({ path: `/api/group/user/get?gid=${fx.gid}&uid=${w.claim}` }),
    writes: false,
    check: (fx, _w, data) => expect(data.map((m: any) => m.user.id).sort()).toEqual([fx.u.O, fx.u.A, fx.u.M, fx.u.M2].map((x) => x.uid).sort()),
  },
  "POST /api/group/user/change:add": {
    req: (fx) => ({ path: "/api/group/user/change", body: { gid: fx.gid, uids: [fx.u.X.uid], opType: 1 } }),
    writes: true,
    push: () => ({ name: "MemberAdded", to: [...MEMBERS, "X"] }),
  },
  "POST /api/group/user/change:remove": {
    req: (fx) => ({ path: "/api/group/user/change", body: { gid: fx.gid, uids: [fx.u.M2.uid], opType: 2 } }),
    writes: true,
    push: () => ({ name: "MemberRemoved", to: MEMBERS }),
  },
  "POST /api/group/user/change:leave": {
    req: (fx, w) => ({ path: "/api/group/user/change", body: { gid: fx.gid, uids: [w.claim], opType: 2 } }),
    writes: true,
    push: () => ({ name: "MemberRemoved", to: MEMBERS }),
  },
  "POST /api/group/leave": {
    req: (fx) => ({ path: "/api/group/leave", body: { gid: fx.gid } }),
    writes: true,
    push: () => ({ name: "MemberRemoved", to: MEMBERS }),
  },
  "POST /api/group/transfer": {
    req: (fx) => ({ path: "/api/group/transfer", body: { gid: fx.gid, uid: fx.u.M.uid } }),
    writes: true,
    push: () => ({ name: "RoleChanged", to: MEMBERS }),
  },
  "POST /api/group/role": {
    req: (fx) => ({ path: "/api/group/role", body: { gid: fx.gid, uid: fx.u.M.uid, role: 2 } }),
    writes: true,
    push: () => ({ name: "RoleChanged", to: MEMBERS }),
  },
  "POST /api/group/delete": {
    req: (fx) => ({ path: "/api/group/delete", body: { gid: fx.gid } }),
    writes: true,
    push: () => ({ name: "GroupDeleted", to: MEMBERS }),
  },
  "GET /api/message/search": {
    req: () => ({ path: "/api/message/search?q=one" }),
    writes: false,
    // Only members find the group's messages.
    check: (fx, w, data) => expect(data.map((m: any) => m.id)).toEqual(inGroup(fx, w) ? [fx.msgIds[0]] : []),
  },
  "GET /api/user/directory": {
    req: () => ({ path: "/api/user/directory?q=user_" }),
    writes: false,
    check: (_fx, _w, data) => {
      expect(data.length).toBeGreaterThan(0);
      expect(data.every((u: any) => u.email === "")).toBe(true);
    },
  },
  "POST /api/user/update": {
    req: (_fx, w) => ({ path: "/api/user/update", body: { name: `renamed ${w.actor}` } }),
    writes: true,
    check: (_fx, w, data) => expect(data).toMatchObject({ id: w.me.uid, name: `renamed ${w.actor}` }),
  },
  "GET /api/admin/users": { req: () => ({ path: "/api/admin/users" }), writes: false },
  "POST /api/admin/user/disable": { req: (fx) => ({ path: "/api/admin/user/disable", body: { uid: fx.u.M.uid } }), writes: true },
  "POST /api/admin/user/enable": { req: (fx) => ({ path: "/api/admin/user/enable", body: { uid: fx.u.M.uid } }), writes: true },
  "POST /api/admin/user/password": { req: (fx) => ({ path: "/api/admin/user/password", body: { uid: fx.u.M.uid, password: "taken-over" } }), writes: true },
  "GET /api/admin/invites": { req: () => ({ path: "/api/admin/invites" }), writes: false },
  "POST /api/admin/invite/create": { req: () => ({ path: "/api/admin/invite/create" }), writes: true },
  "POST /api/admin/invite/revoke": { req: () => ({ path: "/api/admin/invite/revoke", body: { id: 1 } }), writes: true },
  "GET /api/admin/settings": { req: () => ({ path: "/api/admin/settings" }), writes: false },
  "POST /api/admin/settings": { req: () => ({ path: "/api/admin/settings", body: { registration: "open" } }), writes: true },
  "GET /api/admin/stats": { req: () => ({ path: "/api/admin/stats" }), writes: false },
  "POST /api/message/chat/list": {
    req: (_fx, w) => ({ path: "/api/message/chat/list", body: { uid: w.claim, page: 1, size: 20 } }),
    writes: false,
    check: (fx, w, data) => expect(data.some((e: any) => e.group.id === fx.gid)).toBe(inGroup(fx, w)),
  },
  "POST /api/message/history": {
    req: (fx, w) => ({ path: "/api/message/history", body: { gid: fx.gid, uid: w.claim, page: 1, size: 20 } }),
    writes: false,
    check: (fx, _w, data) => expect(data.map((e: any) => e.msg.id)).toEqual(fx.msgIds),
  },
  "POST /api/message/group/read": {
    req: (fx, w) => ({ path: "/api/message/group/read", body: { gid: fx.gid, uid: w.claim } }),
    writes: true,
    push: () => ({ name: "Read", to: MEMBERS }),
  },
  "POST /api/message/edit": {
    req: (fx) => ({ path: "/api/message/edit", body: { gid: fx.gid, msgId: fx.msgIds[2], content: "edited" } }),
    writes: true,
    push: () => ({ name: "Edited", to: MEMBERS }),
    check: (fx, _w, data) => expect(data).toMatchObject({ id: fx.msgIds[2], content: "edited", editedAt: expect.any(String) }),
  },
  "POST /api/message/delete": {
    req: (fx) => ({ path: "/api/message/delete", body: { gid: fx.gid, msgId: fx.msgIds[2] } }),
    writes: true,
    push: () => ({ name: "Deleted", to: MEMBERS }),
    check: (fx, _w, data) => expect(data).toMatchObject({ id: fx.msgIds[2], content: "", deleted: true }),
  },
  "POST /api/message/react": {
    req: (fx) => ({ path: "/api/message/react", body: { gid: fx.gid, msgId: fx.msgIds[0], emoji: "👍", on: true } }),
    writes: true,
    push: () => ({ name: "Reacted", to: MEMBERS }),
    check: (fx, w, data) => expect(data.reactions).toEqual([{ emoji: "👍", uids: [w.me.uid] }]),
  },
  "GET /api/user/presence": {
    req: (fx) => ({ path: `/api/user/presence?uids=${[fx.u.O, fx.u.A, fx.u.M, fx.u.N].map((x) => x.uid).join(",")}` }),
    writes: false,
    // Every member's observer socket is logged in: online.
    check: (fx, w, data) =>
      expect(data).toEqual(inGroup(fx, w) ? [fx.u.O, fx.u.A, fx.u.M].map((x) => ({ uid: x.uid, online: true, lastSeen: null })) : []),
  },
  "POST /api/friend/add": {
    req: (fx, w) => ({ path: "/api/friend/add", body: { fid: fx.u.X.uid, uid: w.claim } }),
    writes: true,
  },
  "GET /api/friend/list": {
    // X's request to O is incoming for O only; a uid in the query changes nothing.
    req: (_fx, w) => ({ path: `/api/friend/list?status=0&dir=in&uid=${w.claim}` }),
    writes: false,
    check: (fx, w, data) => expect(data.map((x: any) => x.id)).toEqual(w.me.uid === fx.u.O.uid ? [fx.u.X.uid] : []),
  },
  "POST /api/friend/status/modify": {
    req: (fx, w) => ({ path: "/api/friend/status/modify", body: { fid: fx.u.X.uid, status: 1, uid: w.claim } }),
    writes: true,
  },
  "POST /api/file/upload": {
    // The body is the file's bytes: here the JSON text "hello".
    req: () => ({ path: "/api/file/upload?name=hello.json", body: "hello" }),
    writes: true,
    check: async (fx, w, data) => {
      expect(data).toMatchObject({ name: "hello.json", size: 7, mime: "application/json" });
      expect(await sqlGet(fx.app, "SELECT uploader_uid FROM files WHERE id = ?", data.id)).toEqual({ uploader_uid: w.me.uid });
    },
  },
  "GET /api/file/:id": {
    req: (fx) => ({ path: `/api/file/${fx.fileId}` }),
    writes: false,
    raw: true,
    check: (_fx, _w, data) => expect(data).toBe(FILE_TEXT),
  },
  "POST /api/file/cookie": { req: () => ({ path: "/api/file/cookie" }), writes: false, check: (_fx, _w, data) => expect(data).toBe(true) },
};

// ---------------------------------------------------------------- WebSocket rows

type WsRow = {
  event: string;
  body: (fx: Fx, who: Who) => Record<string, unknown>;
  writes: boolean;
  push?: Push;
  check?: (fx: Fx, who: Who, sock: Client, reply: Frame) => unknown;
};

const last = (fx: Fx) => fx.msgIds.at(-1)!;
const socketsWithTopic = (fx: Fx, uid: number) => socketsOf(fx, uid).filter((s) => s.data.topics.has(`g:${fx.gid}`)).length;

const wsRows: Record<string, WsRow> = {
  Login: {
    event: "Login",
    body: (_fx, w) => (w.token === null ? { uid: w.claim } : { content: w.token, uid: w.claim }),
    writes: false,
    check: (fx, w, sock) => {
      // This socket is now bound to the actor, and subscribed to G only if a member.
      const mine = socketsOf(fx, w.me.uid);
      expect(mine.length).toBe(w.me === fx.u.O ? 3 : 2); // O also has the expired-token socket
      expect(socketsWithTopic(fx, w.me.uid)).toBe(inGroup(fx, w) ? mine.length : 0);
      expect(sock.closed).toBeNull();
    },
  },
  Msg: {
    event: "Msg",
    body: (fx, w) => ({ gid: fx.gid, content: `from ${w.actor}`, uid: w.claim }),
    writes: true,
    push: { name: "Msg", to: MEMBERS },
    check: async (fx, w, _s, reply) =>
      expect(await sqlGet(fx.app, "SELECT sender_uid, content FROM messages WHERE id = ?", reply.serverMsgId)).toEqual({ sender_uid: w.me.uid, content: `from ${w.actor}` }),
  },
  "Msg:file": {
    event: "Msg",
    body: (fx, w) => ({ gid: fx.gid, kind: "File", content: fx.fileId, uid: w.claim }),
    writes: true,
    push: { name: "Msg", to: MEMBERS },
    check: async (fx, _w, _s, reply) => {
      expect(await sqlGet(fx.app, "SELECT kind, content FROM messages WHERE id = ?", reply.serverMsgId)).toEqual({ kind: "File", content: fx.fileId });
      const pushed = fx.obs.M2.frames.find((f) => f.event === "Msg" && f.body.msgId === reply.serverMsgId);
      expect(pushed!.body.file).toEqual({ id: fx.fileId, name: "notes.txt", size: FILE_TEXT.length, mime: "text/plain" });
    },
  },
  Ack: { event: "Ack", body: (fx, w) => ({ gid: fx.gid, msgId: last(fx), uid: w.claim }), writes: true },
  Read: { event: "Read", body: (fx, w) => ({ gid: fx.gid, msgId: last(fx), uid: w.claim }), writes: true, push: { name: "Read", to: MEMBERS } },
  Heart: { event: "Heart", body: (_fx, w) => ({ uid: w.claim }), writes: false },
  Logout: {
    event: "Logout",
    body: (_fx, w) => ({ uid: w.claim }),
    writes: false,
    check: (fx, w, sock) => {
      // Unbound: only the observer (and O's expired-token socket) remain; the socket itself stays open.
      expect(socketsOf(fx, w.me.uid).length).toBe(w.me === fx.u.O ? 2 : 1);
      expect(sock.closed).toBeNull();
    },
  },
  Sync: {
    event: "Sync",
    body: (_fx, w) => ({ msgId: 0, uid: w.claim }),
    writes: false,
    // R was removed after the seed messages: Sync replays the group up to that removal, ending with the MemberRemoved.
    check: (fx, w, sock) => {
      const removed = w.me.uid === fx.u.R.uid;
      expect(sock.frames.filter((f) => f.event === "Msg").map((f) => f.body.msgId)).toEqual(inGroup(fx, w) || removed ? fx.msgIds : []);
      if (removed) expect(sock.frames.at(-1)).toMatchObject({ event: "Notify", body: { content: "MemberRemoved", uids: [fx.u.R.uid] } });
    },
  },
  Edit: {
    event: "Edit",
    body: (fx, w) => ({ gid: fx.gid, msgId: fx.msgIds[2], content: `edited by ${w.actor}`, uid: w.claim }),
    writes: true,
    push: { name: "Edited", to: MEMBERS },
    check: async (fx, w, _s, reply) =>
      expect(await sqlGet(fx.app, "SELECT id, kind, actor_uid FROM group_events WHERE id = ?", reply.serverMsgId)).toEqual({ id: reply.serverMsgId, kind: "Edited", actor_uid: w.me.uid }),
  },
  Delete: {
    event: "Delete",
    body: (fx, w) => ({ gid: fx.gid, msgId: fx.msgIds[2], uid: w.claim }),
    writes: true,
    push: { name: "Deleted", to: MEMBERS },
    check: async (fx) => expect(await sqlGet(fx.app, "SELECT content, CASE WHEN deleted_at IS NULL THEN 0 ELSE 1 END AS deleted FROM messages WHERE id = ?", fx.msgIds[2]!)).toEqual({ content: "", deleted: 1 }),
  },
  React: {
    event: "React",
    body: (fx, w) => ({ gid: fx.gid, msgId: fx.msgIds[0], emoji: "🎉", on: true, uid: w.claim }),
    writes: true,
    push: { name: "Reacted", to: MEMBERS },
  },
  // Not stored: nothing written; the actor's own observer (another socket) hears it too.
  Typing: { event: "Typing", body: (fx, w) => ({ gid: fx.gid, uid: w.claim }), writes: false, push: { name: "Typing", to: MEMBERS } },
  "Sync:gid": {
    event: "Sync",
    body: (fx, w) => ({ msgId: 0, gid: fx.gid, uid: w.claim }),
    writes: false,
    check: (fx, w, sock) => {
      expect(sock.frames.filter((f) => f.event === "Msg").map((f) => f.body.msgId)).toEqual(fx.msgIds);
      if (w.me.uid === fx.u.R.uid) expect(sock.frames.at(-1)).toMatchObject({ event: "Notify", body: { content: "MemberRemoved" } });
    },
  },
};

/** The acting socket: logged in as the actor, except for the Login row itself (and notoken, revoked). */
async function actorSocket(fx: Fx, who: Who, forLogin: boolean): Promise<Client> {
  if (who.actor === "expired" && !forLogin) return fx.expiredSock;
  const c = await Client.open(fx.served.wsUrl);
  fx.sockets.push(c);
  if (forLogin || who.actor === "notoken") return c;
  const r = await c.request("Login", { content: who.token, uid: who.actor === "forged" ? who.me.uid : who.claim });
  if (who.actor === "revoked") expect(r.code).toBe(401);
  else expect(r.content).toBe("Ok");
  return c;
}

// ---------------------------------------------------------------- running the cells

let cells = 0;
const failures: string[] = [];

async function cell(name: string, fn: (fx: Fx) => Promise<void>) {
  const fx = await setupFixture();
  try {
    await fn(fx);
  } catch (err) {
    failures.push(`${name}: ${String((err as Error).message ?? err).split("\n").slice(0, 12).join("\n")}`);
  } finally {
    cells++;
    await dispose(fx);
  }
}

describe("REST routes", () => {
  test("the table covers every route the server has", async () => {
    const probe = await makeApp({ metrics: "on" });
    const routes = probe.http.routes.filter((r) => r.method !== "ALL").map((r) => `${r.method} ${r.path}`);
    await probe.close();
    // "route:variant", but a path parameter (/api/file/:id) is part of the route.
    const covered = new Set([...REST.keys()].map((k) => k.replace(/(?<!\/):[a-z]+$/, "").replace(/\s+/, " ")));
    expect(routes.filter((r) => !covered.has(r))).toEqual([]);
    expect([...covered].filter((r) => !routes.includes(r))).toEqual([]);
    expect(Object.keys(restRows).sort()).toEqual([...REST.keys()].map((k) => k.replace(/\s+/, " ")).sort());
  });

  for (const [key, expected] of REST) {
    const name = key.replace(/\s+/, " ");
    const row = restRows[name]!;
    test(name, async () => {
      const before = failures.length;
      for (const actor of ACTORS) {
        await cell(`${name} × ${actor}`, async (fx) => {
          const who = whoIs(fx, actor);
          const { path, body } = row.req(fx, who);
          const method = name.split(" ")[0]!;
          const headers: Record<string, string> = {};
          if (who.token) headers.Authorization = `Bearer ${who.token}`;
          if (body !== undefined) headers["Content-Type"] = "application/json";
          clearFrames(fx);
          const db0 = await dump(fx.app);
          const res = await fetch(fx.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
          const text = await res.text();
          const want = Number(expected[actor]);
          expect(`${res.status} ${text.slice(0, 160)}`).toStartWith(`${want} `);
          let parsed: any = text;
          try {
            parsed = JSON.parse(text);
          } catch {}
          if (want === 200 && row.closesOwnSocket && who.obs) expect((await fx.obs[who.obs].waitClose()).code).toBe(4001);
          await barrier(fx);
          const db1 = await dump(fx.app);
          if (want !== 200) {
            expect(parsed).toMatchObject({ ok: false, code: want, data: null });
            expect(db1).toEqual(db0); // nothing stored
            expectPushes(fx, null); // nothing pushed
            return;
          }
          const data = row.raw ? parsed : parsed.data;
          if (!row.raw) expect(parsed).toMatchObject({ ok: true, code: 200, msg: null });
          if (row.writes) expect(db1).not.toEqual(db0);
          else expect(db1).toEqual(db0);
          expectPushes(fx, row.push?.(fx, who) ?? null);
          await row.check?.(fx, who, data);
          // The removed member's socket hears nothing of G, whatever happens.
          expect(fx.obs.R.frames.filter((f) => f.body?.gid === fx.gid)).toEqual([]);
        });
      }
      expect(failures.slice(before)).toEqual([]);
    }, 60_000);
  }
});

describe("WebSocket events", () => {
  test("the table covers every event", async () => {
    const { EVENTS } = await import("../src/protocol/frames");
    expect([...new Set([...WS.keys()].map((k) => k.split(":")[0]))].sort()).toEqual([...EVENTS].sort());
    expect(Object.keys(wsRows).sort()).toEqual([...WS.keys()].sort());
  });

  for (const [key, expected] of WS) {
    const row = wsRows[key]!;
    test(key, async () => {
      const before = failures.length;
      for (const actor of ACTORS) {
        await cell(`${key} × ${actor}`, async (fx) => {
          const who = whoIs(fx, actor);
          const sock = await actorSocket(fx, who, row.event === "Login");
          clearFrames(fx);
          sock.frames.length = 0;
          const db0 = await dump(fx.app);
          const reply = await (sock === fx.expiredSock ? expiredRequest : (c: Client, e: string, b: Record<string, unknown>) => c.request(e, b))(sock, row.event, row.body(fx, who));
          const want = expected[actor];
          expect(want === "Ok" ? String(reply.content) : `${reply.content} ${reply.code}`).toBe(want === "Ok" ? "Ok" : `Error ${want}`);
          await barrier(fx);
          const db1 = await dump(fx.app);
          if (want !== "Ok") {
            expect(db1).toEqual(db0); // nothing stored
            expectPushes(fx, null); // nothing pushed
            expect(sock.frames).toEqual([]); // and nothing else for the refused socket either
            // A socket outliving its token is closed after that 401, as after a logout.
            if (actor === "expired" && row.event !== "Login") expect((await sock.waitClose()).code).toBe(4001);
            return;
          }
          if (row.writes) expect(db1).not.toEqual(db0);
          else expect(db1).toEqual(db0);
          expectPushes(fx, row.push ?? null);
          await row.check?.(fx, who, sock, reply);
          expect(fx.obs.R.frames.filter((f) => f.body?.gid === fx.gid)).toEqual([]);
        });
      }
      expect(failures.slice(before)).toEqual([]);
    }, 60_000);
  }
});

describe("removed members stop receiving pushes before the next message", () => {
  test("removed over REST: its sockets (main and legacy port) get MemberRemoved, then nothing of the group", async () => {
    const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const legacyPort = probe.port;
    probe.stop(true);
    // On the cluster, the legacy port is node 1's.
    const served = await serve({ legacyWsPort: legacyPort, wsRate: 0 });
    const { app } = served;
    const socks: Client[] = [];
    const open = async (u: TestUser, url = served.wsUrl) => {
      const c = await Client.open(url);
      socks.push(c);
      await expectOk(c.login(u), "login");
      return c;
    };
    try {
      const [o, a, m, r] = [await user(app, "rm_o"), await user(app, "rm_a"), await user(app, "rm_m"), await user(app, "rm_r")];
      const gid = (await createGroup(direct(app), o.uid, { name: "g", avatar: "", mode: 2, members: [{ uid: a.uid, role: 2 }, { uid: m.uid, role: 1 }, { uid: r.uid, role: 1 }] })).gid;
      const cm = await open(m);
      const cr = await open(r);
      const crLegacy = await open(r, `ws://127.0.0.1:${legacyPort}/`);
      const co = await open(o);
      const before = await cm.request("Msg", { gid, content: "before" });
      for (const c of [cr, crLegacy, co]) expect((await c.next((f) => f.event === "Msg")).body.msgId).toBe(before.serverMsgId);

      // m keeps sending while a removes r; every message stored after the removal must miss r.
      let sending = true;
      const sent: number[] = [];
      let onSent = null as (() => void) | null;
      const pump = (async () => {
        while (sending) {
          sent.push((await cm.request("Msg", { gid, content: "during" })).serverMsgId);
          onSent?.();
        }
      })();
      /** Resolves once the pump has had n more messages acked. */
      const sentMore = (n: number) => {
        const target = sent.length + n;
        return new Promise<void>((res) => (onSent = () => sent.length >= target && ((onSent = null), res())));
      };
      await sentMore(3); // the pump is running before the removal, and goes on during it
      const res = await fetch(`${served.url}/api/group/user/change`, {
        method: "POST",
        headers: { Authorization: `Bearer ${a.token}`, "Content-Type": "application/json" },
        body: JSON.stringify({ gid, uids: [r.uid], opType: 2 }),
      });
      expect(res.status).toBe(200);
      const firstAfter = (await cm.request("Msg", { gid, content: "after" })).serverMsgId;
      await sentMore(3); // and after it
      sending = false;
      await pump;
      const read = await co.request("Read", { gid, msgId: firstAfter });
      expect(read.content).toBe("Ok");
      for (const c of [co, cr, crLegacy]) await expectOk(c.request("Heart"), "barrier");

      for (const c of [cr, crLegacy]) {
        const g = c.frames.filter((f) => f.body?.gid === gid);
        const removedAt = g.findIndex((f) => f.event === "Notify" && f.body.content === "MemberRemoved");
        expect(removedAt).toBe(g.length - 1); // MemberRemoved is the last frame of G it gets
        const msgs = g.filter((f) => f.event === "Msg").map((f) => f.body.msgId);
        // What it got is exactly the messages stored before the removal: a gap-free prefix.
        const stored = (await sqlAll<{ id: number }>(app, "SELECT id FROM messages WHERE group_id = ? AND id > ? AND id < ? ORDER BY id", gid, before.serverMsgId, firstAfter)).map((x) => x.id);
        expect(stored.slice(0, msgs.length)).toEqual(msgs);
        expect(msgs.every((id) => id < firstAfter)).toBe(true);
      }
      // o got everything, the message after the removal included.
      expect(co.frames.filter((f) => f.event === "Msg").map((f) => f.body.msgId).at(-1)).toBe(sent.at(-1)!);
      // Sync gives r the group up to its removal and nothing after it; r can no longer act in it.
      const removalId = cr.frames.find((f) => f.event === "Notify" && f.body.content === "MemberRemoved")!.body.eventId as number;
      for (const q of [{ gid }, {}]) {
        cr.frames.length = 0;
        const removal = await cr.request("Sync", { msgId: removalId - 1, ...q });
        expect(removal.content).toBe("Ok");
        const replay = cr.frames.filter((f) => f.body?.gid === gid);
        expect(replay.filter((f) => f.event === "Msg")).toEqual([]);
        expect(replay.map((f) => f.body.content)).toEqual(["MemberRemoved"]);
        expect(removal.serverMsgId).toBe(removalId);
      }
      expect((await cr.request("Msg", { gid, content: "still here?" })).code).toBe(403);
      console.log(`removal under load: ${sent.length} messages sent around the removal; r's sockets got a gap-free prefix, then MemberRemoved, then nothing of the group`);
    } finally {
      for (const c of socks) if (!c.closed) c.close();
      await served.stop();
    }
  });

  test("a member who leaves (self-removal) stops hearing the group at once; re-adding resumes pushes", async () => {
    const served = await serve();
    const { app } = served;
    const socks: Client[] = [];
    try {
      const [o, m] = [await user(app, "lv_o"), await user(app, "lv_m")];
      const gid = (await createGroup(direct(app), o.uid, { name: "g", avatar: "", mode: 2, members: [{ uid: m.uid, role: 1 }] })).gid;
      const co = await Client.open(served.wsUrl);
      const cm = await Client.open(served.wsUrl);
      socks.push(co, cm);
      await expectOk(co.login(o), "o");
      await expectOk(cm.login(m), "m");
      const post = (token: string, path: string, body: unknown) =>
        fetch(`${served.url}${path}`, { method: "POST", headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" }, body: JSON.stringify(body) });
      expect((await post(m.token, "/api/group/user/change", { gid, uids: [m.uid], opType: 2 })).status).toBe(200);
      await co.request("Msg", { gid, content: "gone?" });
      await expectOk(cm.request("Heart"), "barrier");
      expect(cm.frames.map((f) => f.body?.content)).toEqual(["MemberRemoved"]);
      cm.frames.length = 0;
      expect((await post(o.token, "/api/group/user/change", { gid, uids: [m.uid], opType: 1 })).status).toBe(200);
      const back = await co.request("Msg", { gid, content: "welcome back" });
      expect((await cm.next((f) => f.event === "Msg")).body.msgId).toBe(back.serverMsgId);
    } finally {
      for (const c of socks) if (!c.closed) c.close();
      await served.stop();
    }
  });
});

afterAll(() => {
  const expectedCells = REST.size * ACTORS.length + WS.size * ACTORS.length;
  console.log(`authorization matrix: ${cells} cells checked (${REST.size} REST rows + ${WS.size} WebSocket rows) x ${ACTORS.length} actors${failures.length ? `, ${failures.length} failed` : ""}`);
  if (cells === expectedCells && failures.length) console.log(failures.join("\n\n"));
});
