/// <reference lib="dom" />
// The client's state and every rule about it: conversations, messages
// deduplicated by id, the outbox of unacknowledged sends, read cursors, and
// the Sync cursor that makes a reconnect resume with no gap and no double.
import { api, ApiError, MODE, setToken, getToken, whenUnauthorized, type FileInfo, type Group, type Member, type MessageInfo, type User } from "./api";
import { Disconnected, Link, newClientMsgId, type LinkState, type Push } from "./socket";

export type Msg = { id: number; gid: number; uid: number; kind: string; content: string; clientMsgId: string; createTime: string; file?: FileInfo };
export type Pending = { clientMsgId: string; gid: number; content: string; state: "sending" | "failed"; error?: string; kind?: string; file?: FileInfo };

export type Conv = {
  group: Group;
  /** The other person of a direct chat. */
  peer?: User;
  msgs: Msg[];
  ids: Set<number>;
  unread: number;
  members?: Member[];
  /** Newest history page fetched; older pages come on scroll-up. */
  loaded: boolean;
  hasOlder: boolean;
  loadingOlder: boolean;
  /** Highest id this client told the server it read. */
  readSent: number;
  /** Sort key: newest activity first. */
  activity: number;
};

export const state = {
  me: null as User | null,
  booting: true,
  convs: new Map<number, Conv>(),
  users: new Map<number, User>(),
  outbox: [] as Pending[],
  open: null as number | null,
  link: "connecting" as LinkState,
  /** The link was lost and is not back yet (the first connect does not count). */
  reconnecting: false,
  /** Set when the server could not be reached at startup. */
  bootError: "",
  retryAt: 0,
  friendRequests: 0,
  notice: "" as string,
  /** A server admin (GET /api/admin/settings answered 200): the admin screen shows. */
  admin: false,
  /** Why the last session ended without a logout here (shown on the sign-in screen). */
  signedOut: "",
};

// ---- change notification (coalesced: one render per burst of frames) ----
const listeners = new Set<() => void>();
let scheduled = false;
export function subscribe(fn: () => void) {
  listeners.add(fn);
  return () => void listeners.delete(fn);
}
export function changed() {
  if (scheduled) return;
  scheduled = true;
  queueMicrotask(() => {
    scheduled = false;
    for (const fn of listeners) fn();
  });
}

// ---- the Sync cursor ----
let link: Link | null = null;
/** Every message with an id at or below this one has been received. */
let cursor = 0;
/** True once this connection's Sync loop finished: from then on pushes arrive gap-free. */
let synced = false;
/** Highest id pushed on the current connection. */
let connMax = 0;
let connections = 0;

const outboxKey = () => `rim.outbox.${state.me?.id}`;
const saveOutbox = () => localStorage.setItem(outboxKey(), JSON.stringify(state.outbox));

function nowString() {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

const fromInfo = (m: MessageInfo): Msg => ({
  id: m.id,
  gid: m.gid,
  uid: m.uid,
  kind: m.kind,
  content: m.content,
  clientMsgId: m.client_msg_id,
  createTime: m.createTime,
  file: m.file,
});

function newConv(group: Group, activity = 0): Conv {
  return { group, msgs: [], ids: new Set(), unread: 0, loaded: false, hasOlder: true, loadingOlder: false, readSent: 0, activity };
}

export const sortedConvs = () => [...state.convs.values()].sort((a, b) => b.activity - a.activity || b.group.id - a.group.id);
export const lastMsg = (c: Conv) => c.msgs[c.msgs.length - 1];

export function title(c: Conv): string {
  if (c.group.mode === MODE.direct) return c.peer?.name || c.group.name || "Direct chat";
  if (c.group.name) return c.group.name;
  const others = (c.members ?? []).filter((m) => m.user.id !== state.me?.id).map((m) => m.user.name);
  return others.length ? others.join(", ") : "Group";
}

/** A message in one line of text (previews, notifications): a shared file by its name. */
export const summary = (m: { kind?: string; content: string; file?: FileInfo }) =>
  m.file ? (m.kind === "Image" ? `Photo: ${m.file.name}` : `File: ${m.file.name}`) : m.kind === "Image" ? "Photo" : m.content;

export const userName = (uid: number) => (uid === state.me?.id ? "You" : state.users.get(uid)?.name ?? `user ${uid}`);

function remember(u: User) {
  state.users.set(u.id, u);
}

/** Inserts a message in id order unless it is already there; true if it was new. */
function insert(c: Conv, m: Msg): boolean {
  if (c.ids.has(m.id)) return false;
  c.ids.add(m.id);
  const msgs = c.msgs;
  let i = msgs.length;
  while (i > 0 && msgs[i - 1]!.id > m.id) i--;
  msgs.splice(i, 0, m);
  if (m.id > c.activity) c.activity = m.id;
  return true;
}

// ---- boot, login, logout ----

export async function boot() {
  if (!getToken()) {
    state.booting = false;
    return changed();
  }
  state.booting = true;
  state.bootError = "";
  changed();
  try {
    await start(await api.me());
  } catch (e) {
    link?.stop();
    link = null;
    state.me = null;
    if (e instanceof ApiError && e.code === 401) setToken("");
    else state.bootError = (e as Error).message;
  }
  state.booting = false;
  changed();
}

export async function logIn(account: string, password: string) {
  setToken(await api.login(account, password));
  await start(await api.me());
}

export async function register(account: string, password: string, name: string, invite: string) {
  await api.register(account, password, name, invite);
  await logIn(account, password);
}

export async function logOut() {
  link?.stop();
  try {
    await api.logout();
  } catch {}
  localStorage.removeItem(outboxKey());
  reset();
}
whenUnauthorized(() => state.me && reset("session ended"));

function reset(signedOut = "") {
  link?.stop();
  link = null;
  setToken("");
  Object.assign(state, { me: null, convs: new Map(), users: new Map(), outbox: [], open: null, link: "connecting", reconnecting: false, friendRequests: 0, notice: "", admin: false, signedOut });
  cursor = connMax = connections = 0;
  synced = false;
  changed();
}

async function start(me: User) {
  state.me = me;
  state.signedOut = "";
  remember(me);
  // Only server admins get 200 here; everyone else 403.
  api.settings().then(
    () => {
      if (state.me !== me) return; // logged out meanwhile
      state.admin = true;
      changed();
    },
    () => {},
  );
  try {
    state.outbox = JSON.parse(localStorage.getItem(outboxKey()) ?? "[]");
  } catch {
    state.outbox = [];
  }
  await loadConversations();
  refreshFriendRequests();
  link = new Link(getToken(), me.id, {
    onPush,
    onReady,
    onState(s) {
      state.link = s;
      state.retryAt = link?.retryAt ?? 0;
      if (s === "offline") state.reconnecting = true;
      if (s === "online") state.reconnecting = false;
      if (s !== "online") synced = false;
      changed();
    },
    onAuthLost: (reason) => reset(reason),
  });
  changed();
}

/** The chat list (last message, unread) plus groups without messages yet; sets the Sync cursor. */
async function loadConversations() {
  const size = 100;
  for (let page = 1; page <= 20; page++) {
    const rows = await api.chatList(page, size);
    for (const r of rows) {
      const c = state.convs.get(r.group.id) ?? newConv(r.group);
      c.group = r.group;
      if (r.group.mode === MODE.direct) c.peer = r.user;
      remember(r.user);
      insert(c, fromInfo(r.msg));
      c.unread = r.unread ?? 0;
      state.convs.set(c.group.id, c);
      if (r.msg.id > cursor) cursor = r.msg.id;
    }
    if (rows.length < size) break;
  }
  await refreshGroups(0);
}

/** Adds groups we joined that the list does not show yet (no message, or joined while away). */
async function refreshGroups(activity: number) {
  const me = state.me;
  if (!me) return;
  const groups = await api.groups(me.id);
  const mine = new Set(groups.map((g) => g.id));
  for (const g of groups) {
    const c = state.convs.get(g.id);
    if (c) c.group = g;
    else state.convs.set(g.id, newConv(g, activity));
  }
  for (const gid of [...state.convs.keys()]) if (!mine.has(gid)) dropConv(gid);
  // Direct chats need their other person for a title.
  await Promise.all(
    [...state.convs.values()].filter((c) => c.group.mode === MODE.direct && !c.peer).map((c) => loadMembers(c).catch(() => {})),
  );
  changed();
}

let refreshing: Promise<void> | null = null;
function refreshGroupsSoon() {
  refreshing ??= refreshGroups(cursor + 0.5)
    .catch(() => {})
    .finally(() => (refreshing = null));
}

function dropConv(gid: number) {
  state.convs.delete(gid);
  if (state.open === gid) openConv(null);
}

export async function loadMembers(c: Conv) {
  const members = await api.members(c.group.id);
  for (const m of members) remember(m.user);
  c.members = members;
  if (c.group.mode === MODE.direct) c.peer = members.find((m) => m.user.id !== state.me?.id)?.user ?? c.peer;
  const mine = members.find((m) => m.user.id === state.me?.id);
  if (mine && mine.readMsgId > c.readSent) c.readSent = mine.readMsgId;
  changed();
}

// ---- the socket: ready, pushes, Sync ----

async function onReady() {
  synced = false;
  connMax = 0;
  for (;;) {
    const ack = await link!.request("Sync", { msgId: cursor });
    if (ack.content !== "Ok") throw new Error(ack.msg ?? "sync failed");
    if (ack.serverMsgId !== null && ack.serverMsgId > cursor) cursor = ack.serverMsgId;
    if (!ack.more) break;
  }
  // Every push of this connection came after its Login, in id order: they join the cursor now.
  if (connMax > cursor) cursor = connMax;
  synced = true;
  if (connections++ > 0) {
    // Memberships and friend requests may have changed while away.
    refreshGroupsSoon();
    refreshFriendRequests();
  }
  for (const p of state.outbox) if (p.state === "sending") transmit(p);
  const c = state.open !== null ? state.convs.get(state.open) : undefined;
  if (c && inView(c)) markRead(c);
}

function onPush(p: Push) {
  const b = p.body;
  // One cursor: a message's id or a change's eventId (read receipts carry none).
  const id = p.event === "Msg" ? b.msgId : b.eventId;
  if (typeof id === "number") {
    if (id > connMax) connMax = id;
    if (synced && id > cursor) cursor = id;
  }
  if (p.event === "Msg") {
    const m: Msg = { id: b.msgId, gid: b.gid, uid: b.uid, kind: b.kind, content: b.content, clientMsgId: b.clientMsgId, createTime: b.createTime ?? nowString(), file: b.file };
    receive(m);
  } else if (b.content === "Read") onRead(b.gid, b.uid, b.msgId);
  else if (b.content === "MemberAdded" || b.content === "MemberRemoved") onMembers(b.gid, b.content === "MemberAdded", b.uids ?? []);
  else if (b.content === "GroupDeleted") {
    const c = state.convs.get(b.gid);
    if (c && b.uid !== state.me?.id) note(`“${title(c)}” was deleted by its owner.`);
    dropConv(b.gid);
  }
  else if (b.content === "RoleChanged") {
    const c = state.convs.get(b.gid);
    for (const r of (b.roles ?? []) as { uid: number; role: number }[]) {
      const m = c?.members?.find((x) => x.user.id === r.uid);
      if (m) m.role = r.role;
    }
  } else if (b.content === "GroupUpdated") {
    const c = state.convs.get(b.gid);
    if (c && b.group) c.group = b.group;
  }
  changed();
}

function receive(m: Msg) {
  let c = state.convs.get(m.gid);
  if (!c) {
    // A conversation we just joined: keep the message, learn the group.
    c = newConv({ id: m.gid, name: "", avatar: "", mode: MODE.group, creatorUid: m.uid }, m.id);
    state.convs.set(m.gid, c);
    refreshGroupsSoon();
  }
  if (!insert(c, m)) return;
  if (m.uid === state.me?.id) {
    // Ours, from another tab, or a send whose ack was lost: it is no longer pending.
    const i = state.outbox.findIndex((p) => p.clientMsgId === m.clientMsgId);
    if (i >= 0) {
      state.outbox.splice(i, 1);
      saveOutbox();
    }
    return;
  }
  if (!state.users.has(m.uid)) api.user(m.uid).then((u) => (remember(u), changed())).catch(() => {});
  if (inView(c)) markRead(c);
  else {
    c.unread++;
    notify(c, m);
  }
}

function onRead(gid: number, uid: number, msgId: number) {
  const c = state.convs.get(gid);
  if (!c) return;
  const m = c.members?.find((x) => x.user.id === uid);
  if (m && msgId > m.readMsgId) m.readMsgId = msgId;
  if (uid === state.me?.id) {
    // Read on another device.
    if (msgId > c.readSent) c.readSent = msgId;
    if (!c.msgs.some((x) => x.id > msgId && x.uid !== uid)) c.unread = 0;
  }
}

function onMembers(gid: number, added: boolean, uids: number[]) {
  const me = state.me!.id;
  const c = state.convs.get(gid);
  if (!added && uids.includes(me)) return dropConv(gid);
  if (!c) return refreshGroupsSoon();
  if (c.members) loadMembers(c).catch(() => {});
}

// ---- what the user does ----

export const inView = (c: Conv) => state.open === c.group.id && document.visibilityState === "visible";

/** Shows a conversation (null: the list, on a phone); the address follows, so Back works. */
export function openConv(gid: number | null, push = true) {
  state.open = gid;
  const want = gid === null ? "#/" : `#/c/${gid}`;
  if (push && location.hash !== want) history.pushState(null, "", want);
  const c = gid !== null ? state.convs.get(gid) : undefined;
  if (c) {
    if (!c.loaded) loadHistory(c);
    // Every opening refreshes the members: names, avatars and roles may have changed.
    loadMembers(c).catch(() => {});
    markRead(c);
  }
  changed();
}

let noteTimer: ReturnType<typeof setTimeout> | undefined;
/** A short message at the bottom of the screen; it goes away by itself. */
export function note(text: string) {
  state.notice = text;
  clearTimeout(noteTimer);
  noteTimer = setTimeout(() => {
    if (state.notice !== text) return;
    state.notice = "";
    changed();
  }, 8000);
  changed();
}

/** Tells the server we read everything shown; unread goes to zero at once. */
export function markRead(c: Conv) {
  c.unread = 0;
  const last = lastMsg(c);
  changed();
  if (!last || last.id <= c.readSent || !synced || !link) return;
  const upTo = last.id;
  link.request("Read", { gid: c.group.id, msgId: upTo }).then(
    (ack) => {
      if (ack.content === "Ok" && upTo > c.readSent) c.readSent = upTo;
    },
    () => {},
  );
}

const PAGE = 30;

const loadingHistory = new WeakMap<Conv, Promise<void>>();

/** Fetches the next older page (the newest first); while one is on its way, answers that one. */
export function loadHistory(c: Conv, size = PAGE): Promise<void> {
  if (!c.loadingOlder) loadingHistory.set(c, fetchOlder(c, size));
  return loadingHistory.get(c)!;
}

async function fetchOlder(c: Conv, size: number) {
  c.loadingOlder = true;
  changed();
  try {
    const before = c.loaded ? c.msgs[0]?.id : undefined;
    const rows = await api.history(c.group.id, size, before);
    for (const r of rows) {
      remember(r.user);
      insert(c, fromInfo(r.msg));
    }
    c.hasOlder = rows.length === size;
    c.loaded = true;
    if (inView(c)) markRead(c);
  } catch (e) {
    state.notice = (e as Error).message;
  } finally {
    c.loadingOlder = false;
    changed();
  }
}

/** Queues a message (a shared file: kind File or Image, content its id) in the outbox and sends it when it can. */
export function send(gid: number, content: string, kind = "Text", file?: FileInfo) {
  const p: Pending = { clientMsgId: newClientMsgId(), gid, content, state: "sending", ...(kind !== "Text" && { kind, file }) };
  state.outbox.push(p);
  saveOutbox();
  const c = state.convs.get(gid);
  if (c) c.activity = Math.max(c.activity, cursor + 0.5);
  changed();
  if (synced) transmit(p);
}

/** Sends one outbox entry with its own clientMsgId, so a resend can never store it twice. */
function transmit(p: Pending) {
  p.state = "sending";
  p.error = undefined;
  changed();
  link!
    .request("Msg", { gid: p.gid, kind: p.kind ?? "Text", content: p.content, clientMsgId: p.clientMsgId })
    .then((ack) => {
      if (ack.content === "Ok" && ack.serverMsgId !== null) {
        const c = state.convs.get(p.gid);
        if (c) insert(c, { id: ack.serverMsgId, gid: p.gid, uid: state.me!.id, kind: p.kind ?? "Text", content: p.content, clientMsgId: p.clientMsgId, createTime: nowString(), file: p.file });
        const i = state.outbox.indexOf(p);
        if (i >= 0) state.outbox.splice(i, 1);
      } else {
        p.state = "failed";
        p.error = ack.msg ?? "refused";
      }
    })
    .catch((e) => {
      // A dropped link keeps it "sending": onReady resends it. A silent server marks it failed.
      if (!(e instanceof Disconnected)) {
        p.state = "failed";
        p.error = (e as Error).message;
      }
    })
    .finally(() => {
      saveOutbox();
      changed();
    });
}

export function retry(p: Pending) {
  if (synced) transmit(p);
  else {
    p.state = "sending";
    changed();
  }
}

export function discard(p: Pending) {
  state.outbox = state.outbox.filter((x) => x !== p);
  saveOutbox();
  changed();
}

export function retryNow() {
  link?.retryNow();
}

/** Opens (creating if needed) the direct chat with the user of that account. */
export async function startDirect(uid: number) {
  const gid = await api.createGroup(MODE.direct, "", [uid]);
  await ensureConv(gid);
  openConv(gid);
}

export async function createGroup(name: string, uids: number[]) {
  const gid = await api.createGroup(MODE.group, name, uids);
  await ensureConv(gid);
  openConv(gid);
}

async function ensureConv(gid: number) {
  if (!state.convs.has(gid)) await refreshGroups(cursor + 0.5);
  const c = state.convs.get(gid);
  if (c && c.activity < 1) c.activity = cursor + 0.5;
}

export async function renameGroup(c: Conv, name: string) {
  await api.renameGroup(c.group.id, name);
  c.group = { ...c.group, name };
  changed();
}

export async function changeMembers(c: Conv, uids: number[], add: boolean) {
  await api.changeMembers(c.group.id, uids, add);
  if (!add && uids.includes(state.me!.id)) return dropConv(c.group.id);
  await loadMembers(c);
}

/** Leaves a group (the owner of a group with other members gets 409: transfer first). */
export async function leaveGroup(c: Conv) {
  await api.leaveGroup(c.group.id);
  dropConv(c.group.id);
  changed();
}

export async function transferGroup(c: Conv, uid: number) {
  await api.transferGroup(c.group.id, uid);
  await loadMembers(c);
}

export async function setRole(c: Conv, uid: number, role: number) {
  await api.setRole(c.group.id, uid, role);
  await loadMembers(c);
}

export async function deleteGroup(c: Conv) {
  await api.deleteGroup(c.group.id);
  dropConv(c.group.id);
  changed();
}

export async function updateProfile(change: { name?: string; avatar?: string; email?: string }) {
  const me = await api.updateProfile(change);
  state.me = me;
  remember(me);
  changed();
}

export async function refreshFriendRequests() {
  try {
    state.friendRequests = (await api.friendRequests("in")).length;
    changed();
  } catch {}
}

/** "Read by N": the other members whose read cursor reached this message. */
export function readBy(c: Conv, m: Msg): number {
  if (!c.members) return 0;
  return c.members.filter((x) => x.user.id !== m.uid && x.readMsgId >= m.id).length;
}

// ---- browser notifications ----

function notify(c: Conv, m: Msg) {
  if (typeof Notification === "undefined" || Notification.permission !== "granted") return;
  try {
    const n = new Notification(title(c), { body: `${c.group.mode === MODE.direct ? "" : userName(m.uid) + ": "}${summary(m)}`.slice(0, 200), tag: `rim-${c.group.id}` });
    n.onclick = () => {
      focus();
      openConv(c.group.id);
      n.close();
    };
  } catch {}
}

export async function askNotifications() {
  if (typeof Notification === "undefined") return;
  await Notification.requestPermission();
  changed();
}

// Reading resumes when the tab becomes visible again.
document.addEventListener("visibilitychange", () => {
  const c = state.open !== null ? state.convs.get(state.open) : undefined;
  if (c && inView(c)) markRead(c);
});
