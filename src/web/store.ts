/// <reference lib="dom" />
// The client's state and every rule about it: conversations, messages
// deduplicated by id, the outbox of unacknowledged sends, read cursors, and
// the Sync cursor that makes a reconnect resume with no gap and no double.
import { api, ApiError, MODE, ROLE, setToken, getToken, whenUnauthorized, type FileInfo, type Group, type Member, type MessageInfo, type Reaction, type User } from "./api";
import { Disconnected, Link, newClientMsgId, type LinkState, type Push } from "./socket";

export type Msg = {
  id: number;
  gid: number;
  uid: number;
  kind: string;
  content: string;
  clientMsgId: string;
  createTime: string;
  file?: FileInfo;
  /** The message (same group) this one answers. */
  replyTo: number | null;
  /** Uids it mentions, as the server worked them out ([] for our own sends until a push or a reload). */
  mentions: number[];
  editedAt: string | null;
  deleted: boolean;
  reactions: Reaction[];
};
export type Pending = { clientMsgId: string; gid: number; content: string; state: "sending" | "failed"; error?: string; kind?: string; file?: FileInfo; replyTo?: number };

export type Conv = {
  group: Group;
  /** The other person of a direct chat. */
  peer?: User;
  msgs: Msg[];
  ids: Set<number>;
  unread: number;
  /** Unread messages that mention me. */
  mentions: number;
  members?: Member[];
  /** Who is typing: uid → when the indicator goes (ms epoch). */
  typing: Map<number, number>;
  /** Messages replied to that are not among `msgs` (older than the history loaded): null while asked for or gone. */
  quotes: Map<number, Msg | null>;
  /** The newest state of messages changed (edited, deleted, reacted) while not loaded here: a history page arriving later yields to it. */
  later: Map<number, Msg>;
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
  /** Who is online, of the people this client shows (Presence notifies and GET /api/user/presence). */
  presence: new Map<number, { online: boolean; lastSeen: string | null }>(),
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
/**
 * Where a Resync syncs from: the cursor when this connection's Sync finished,
 * then the cursor at the previous Resync. Not the cursor at this one: a node
 * notices a lost push only when its publisher's next batch arrives, and other
 * nodes' pushes, with greater ids, may have moved the cursor past it meanwhile.
 */
let resyncFrom = 0;
let resyncing: Promise<void> | null = null;
let resyncAgain = false;

const outboxKey = () => `rim.outbox.${state.me?.id}`;
const saveOutbox = () => localStorage.setItem(outboxKey(), JSON.stringify(state.outbox));

function nowString() {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** The fields a message gained over rim's (absent from an old server: none of them happened). */
const extras = (m: { replyTo?: number | null; mentions?: number[]; editedAt?: string | null; deleted?: boolean; reactions?: Reaction[] }) => ({
  replyTo: m.replyTo ?? null,
  mentions: m.mentions ?? [],
  editedAt: m.editedAt ?? null,
  deleted: m.deleted ?? false,
  reactions: m.reactions ?? [],
});

const fromInfo = (m: MessageInfo): Msg => ({
  id: m.id,
  gid: m.gid,
  uid: m.uid,
  kind: m.kind,
  content: m.content,
  clientMsgId: m.client_msg_id,
  createTime: m.createTime,
  file: m.file,
  ...extras(m),
});

/** A Msg push's body, or the `message` of an Edited, Deleted or Reacted notify. */
const fromPush = (b: Record<string, any>): Msg => ({
  id: b.msgId,
  gid: b.gid,
  uid: b.uid,
  kind: b.kind,
  content: b.content,
  clientMsgId: b.clientMsgId,
  createTime: b.createTime ?? nowString(),
  file: b.file,
  ...extras(b),
});

function newConv(group: Group, activity = 0): Conv {
  return { group, msgs: [], ids: new Set(), unread: 0, mentions: 0, typing: new Map(), quotes: new Map(), later: new Map(), loaded: false, hasOlder: true, loadingOlder: false, readSent: 0, activity };
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
export const summary = (m: { kind?: string; content: string; file?: FileInfo; deleted?: boolean }) =>
  m.deleted ? "Message deleted" : m.file ? (m.kind === "Image" ? `Photo: ${m.file.name}` : `File: ${m.file.name}`) : m.kind === "Image" ? "Photo" : m.content;

export const userName = (uid: number) => (uid === state.me?.id ? "You" : state.users.get(uid)?.name ?? `user ${uid}`);

function remember(u: User) {
  state.users.set(u.id, u);
}

/** Where the message of that id is in `msgs` (ascending ids), or -1. */
function indexOf(c: Conv, id: number): number {
  if (!c.ids.has(id)) return -1;
  let lo = 0;
  let hi = c.msgs.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const x = c.msgs[mid]!.id;
    if (x === id) return mid;
    if (x < id) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

export const find = (c: Conv, id: number): Msg | undefined => c.msgs[indexOf(c, id)] ?? c.quotes.get(id) ?? undefined;

/** Inserts a message in id order unless it is already there; true if it was new. */
function insert(c: Conv, m: Msg): boolean {
  if (c.ids.has(m.id)) return false;
  const changed = c.later.get(m.id);
  if (changed) {
    // Changed since this copy was read (a history page on its way while the change came).
    c.later.delete(m.id);
    m = changed;
  }
  c.ids.add(m.id);
  if (c.quotes.has(m.id)) c.quotes.delete(m.id);
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
  Object.assign(state, { me: null, convs: new Map(), users: new Map(), outbox: [], open: null, link: "connecting", reconnecting: false, friendRequests: 0, notice: "", admin: false, signedOut, presence: new Map() });
  cursor = connMax = connections = resyncFrom = 0;
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
      c.mentions = r.mentions ?? 0;
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
  refreshPresence(peers());
  changed();
}

/** The other people of the direct chats. */
const peers = () => [...state.convs.values()].flatMap((c) => (c.group.mode === MODE.direct && c.peer ? [c.peer.id] : []));

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
  if (state.open === c.group.id) refreshPresence(members.map((m) => m.user.id));
  changed();
}

// ---- presence ----

// Presence notifies received, and the count at each user's latest: an answer to a question asked before a
// user's latest notify is older than it (Cat's "online" answered while her "offline" notify overtook it).
let presenceNotifies = 0;
const presenceHeardAt = new Map<number, number>();

/** Asks who of these is online (Presence notifies keep it up to date from then on). */
export function refreshPresence(uids: number[]) {
  const want = [...new Set(uids)].filter((u) => u !== state.me?.id).slice(0, 1000);
  if (!want.length || !state.me) return;
  const me = state.me;
  const asked = presenceNotifies;
  api.presence(want).then(
    (list) => {
      if (state.me !== me) return;
      for (const p of list) if ((presenceHeardAt.get(p.uid) ?? -1) < asked) state.presence.set(p.uid, { online: p.online, lastSeen: p.lastSeen });
      changed();
    },
    () => {},
  );
}

export const online = (uid: number | undefined) => uid !== undefined && (uid === state.me?.id ? state.link === "online" : state.presence.get(uid)?.online === true);

// ---- the socket: ready, pushes, Sync ----

/** Sync loop from `from`: everything after it, again (deduplicated by id); the cursor only moves forward. */
async function syncFrom(from: number) {
  for (let at = from; ; ) {
    const ack = await link!.request("Sync", { msgId: at });
    if (ack.content !== "Ok") throw new Error(ack.msg ?? "sync failed");
    if (ack.serverMsgId !== null) {
      at = ack.serverMsgId;
      if (at > cursor) cursor = at;
    }
    if (!ack.more) break;
  }
}

async function onReady() {
  synced = false;
  connMax = 0;
  await syncFrom(cursor);
  // Every push of this connection came after its Login, in id order: they join the cursor now.
  if (connMax > cursor) cursor = connMax;
  synced = true;
  resyncFrom = cursor;
  if (connections++ > 0) {
    // Memberships and friend requests may have changed while away, and who is online.
    refreshGroupsSoon();
    refreshFriendRequests();
    const c = state.open !== null ? state.convs.get(state.open) : undefined;
    refreshPresence([...peers(), ...(c?.members ?? []).map((m) => m.user.id), ...state.presence.keys()]);
  }
  for (const p of state.outbox) if (p.state === "sending") transmit(p);
  const c = state.open !== null ? state.convs.get(state.open) : undefined;
  if (c && inView(c)) markRead(c);
}

/**
 * A cluster node may have missed pushes (its bus lost one, or was down): Sync
 * again. One at a time; a Resync during one runs another after it.
 */
function onResync() {
  if (!synced) return; // this connection's own Sync is still to finish: it covers it
  if (resyncing) {
    resyncAgain = true;
    return;
  }
  const from = Math.min(resyncFrom, cursor);
  resyncFrom = cursor;
  resyncing = syncFrom(from)
    .catch(() => {}) // the link went down: its reconnection syncs anyway
    .finally(() => {
      resyncing = null;
      changed();
      if (resyncAgain) {
        resyncAgain = false;
        onResync();
      }
    });
}

function onPush(p: Push) {
  const b = p.body;
  if (p.event === "Notify" && b.content === "Resync") return onResync();
  // One cursor: a message's id or a change's eventId (read receipts carry none).
  const id = p.event === "Msg" ? b.msgId : b.eventId;
  if (typeof id === "number") {
    if (id > connMax) connMax = id;
    if (synced && id > cursor) cursor = id;
  }
  if (p.event === "Msg") receive(fromPush(b));
  else if (b.content === "Edited" || b.content === "Deleted" || b.content === "Reacted") {
    // The message as it is now: it replaces our copy (a replay by Sync too).
    const c = state.convs.get(b.gid);
    if (c && b.message) replace(c, fromPush(b.message));
  } else if (b.content === "Typing") onTyping(b.gid, b.uid);
  else if (b.content === "Presence") {
    presenceHeardAt.set(b.uid, presenceNotifies++);
    state.presence.set(b.uid, { online: b.online === true, lastSeen: b.online === true ? null : nowString() });
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
  if (!insert(c, m)) return replace(c, m); // a replay, or our own send seen from another tab: the server's copy
  if (c.typing.delete(m.uid)) clearTyping(c.group.id, m.uid);
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
    if (mentionsMe(m)) c.mentions++;
    notify(c, m);
  }
}

/** A message of someone else that mentions me (by @account or @all), not deleted. */
const mentionsMe = (m: Msg) => !m.deleted && m.uid !== state.me?.id && m.mentions.includes(state.me?.id ?? -1);

/** Puts the newest state of a message in place of the copy held, keeping the unread mention count true. */
function replace(c: Conv, m: Msg) {
  const i = indexOf(c, m.id);
  if (i >= 0) {
    const old = c.msgs[i]!;
    c.msgs[i] = m;
    if (!inView(c) && m.id > c.readSent && c.unread > 0) c.mentions = Math.max(0, c.mentions + Number(mentionsMe(m)) - Number(mentionsMe(old)));
  } else c.later.set(m.id, m);
  if (c.quotes.has(m.id)) c.quotes.set(m.id, m);
}

// ---- typing ----

/** How long "X is typing…" stays after their last Typing notify. */
const TYPING_SHOWS = 5000;
const typingTimers = new Map<string, ReturnType<typeof setTimeout>>();

function clearTyping(gid: number, uid: number) {
  const key = `${gid}:${uid}`;
  clearTimeout(typingTimers.get(key));
  typingTimers.delete(key);
}

function onTyping(gid: number, uid: number) {
  const c = state.convs.get(gid);
  if (!c || uid === state.me?.id) return;
  c.typing.set(uid, Date.now() + TYPING_SHOWS);
  clearTyping(gid, uid);
  typingTimers.set(
    `${gid}:${uid}`,
    setTimeout(() => {
      typingTimers.delete(`${gid}:${uid}`);
      if (c.typing.delete(uid)) changed();
    }, TYPING_SHOWS),
  );
  if (!state.users.has(uid)) api.user(uid).then((u) => (remember(u), changed())).catch(() => {});
}

/** Who is typing in a conversation, by name. */
export const typingNames = (c: Conv) => [...c.typing.keys()].map(userName);

/** The server forwards one Typing per user and group every 2 s: sending more often is wasted. */
const TYPING_EVERY = 2000;
const typingSent = new Map<number, number>();

/** The user is typing in gid: tells the others, at most every 2 seconds. */
export function typing(gid: number) {
  if (!synced || !link) return;
  const now = Date.now();
  if (now - (typingSent.get(gid) ?? 0) < TYPING_EVERY) return;
  typingSent.set(gid, now);
  link.request("Typing", { gid }).catch(() => {});
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
  c.mentions = 0;
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
export function send(gid: number, content: string, kind = "Text", file?: FileInfo, replyTo?: number) {
  const p: Pending = { clientMsgId: newClientMsgId(), gid, content, state: "sending", ...(kind !== "Text" && { kind, file }), ...(replyTo && { replyTo }) };
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
    .request("Msg", { gid: p.gid, kind: p.kind ?? "Text", content: p.content, clientMsgId: p.clientMsgId, ...(p.replyTo && { replyTo: p.replyTo }) })
    .then((ack) => {
      if (ack.content === "Ok" && ack.serverMsgId !== null) {
        const c = state.convs.get(p.gid);
        if (c)
          insert(c, {
            id: ack.serverMsgId,
            gid: p.gid,
            uid: state.me!.id,
            kind: p.kind ?? "Text",
            content: p.content,
            clientMsgId: p.clientMsgId,
            createTime: nowString(),
            file: p.file,
            ...extras({ replyTo: p.replyTo }),
          });
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

// ---- changes to a message: edit, delete, react ----

/**
 * Sends a change and, once it is acknowledged, applies it to our copy: the
 * socket that made a change gets no Notify of it (the others do). A change
 * needs the connection: offline it is refused at once, with the reason.
 */
async function change(c: Conv, id: number, event: "Edit" | "Delete" | "React", body: Record<string, unknown>, apply: (m: Msg) => Msg) {
  if (!synced || !link) throw new Error("You are offline: try again once the connection is back.");
  const ack = await link.request(event, { gid: c.group.id, msgId: id, ...body, clientMsgId: newClientMsgId() });
  if (ack.content !== "Ok") throw new Error(ack.code === 404 ? "That message is no longer there." : ack.code === 403 ? "You may not change that message." : (ack.msg ?? "refused"));
  // Applied to the copy as it is now: a change by someone else may have come meanwhile.
  const now = find(c, id);
  if (now) replace(c, apply(now));
  changed();
}

/** Replaces the content of one of my messages. */
export const edit = (c: Conv, m: Msg, content: string) =>
  change(c, m.id, "Edit", { content }, (now) => ({ ...now, content, editedAt: nowString() }));

/** Deletes a message (mine, or anyone's for a group's owner and admins): a tombstone stays. */
export const remove = (c: Conv, m: Msg) =>
  change(c, m.id, "Delete", {}, (now) => ({ ...now, content: "", deleted: true, mentions: [], reactions: [] }));

/** Adds my reaction with that emoji, or takes it back when I already have it. */
export function react(c: Conv, m: Msg, emoji: string) {
  const me = state.me!.id;
  const on = !m.reactions.some((r) => r.emoji === emoji && r.uids.includes(me));
  return change(c, m.id, "React", { emoji, on }, (now) => {
    const had = now.reactions.some((r) => r.emoji === emoji);
    const reactions = now.reactions
      .map((r) => (r.emoji !== emoji ? r : { emoji, uids: on ? (r.uids.includes(me) ? r.uids : [...r.uids, me]) : r.uids.filter((u) => u !== me) }))
      .filter((r) => r.uids.length > 0);
    if (on && !had) reactions.push({ emoji, uids: [me] });
    return { ...now, reactions };
  });
}

/** Whether I may delete the message: my own, or anyone's in a group I own or administer. */
export function mayDelete(c: Conv, m: Msg): boolean {
  const me = state.me?.id;
  if (m.deleted || me === undefined) return false;
  if (m.uid === me) return true;
  const role = c.members?.find((x) => x.user.id === me)?.role ?? ROLE.member;
  return c.group.mode !== MODE.direct && role >= ROLE.admin;
}

const quoting = new Set<string>();

/**
 * The message a reply answers. One older than the history loaded is fetched
 * by itself (the page of one message before the id after it) and kept apart
 * from `msgs`, whose pages stay contiguous.
 */
export function quoted(c: Conv, id: number): Msg | undefined {
  const m = find(c, id);
  if (m || c.quotes.has(id)) return m;
  const key = `${c.group.id}:${id}`;
  if (quoting.has(key)) return undefined;
  quoting.add(key);
  c.quotes.set(id, null);
  api
    .history(c.group.id, 1, id + 1)
    .then((rows) => {
      const r = rows.find((x) => x.msg.id === id);
      if (!r) return;
      remember(r.user);
      if (!c.ids.has(id) && c.quotes.has(id)) c.quotes.set(id, c.later.get(id) ?? fromInfo(r.msg));
      changed();
    })
    .catch(() => {})
    .finally(() => quoting.delete(key));
  return undefined;
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
