/// <reference lib="dom" />
// The REST half of rim's public protocol: every reply is the envelope
// {ok, code, msg, data}; a failed one becomes an ApiError.

export type User = { id: number; name: string; avatar: string; email: string; account: string };
export type Group = { id: number; name: string; avatar: string; mode: number; creatorUid: number };
export type Member = { role: number; user: User; readMsgId: number };
/** An uploaded file, as a message that shares it (kind File or Image, content its id) carries it. */
export type FileInfo = { id: string; name: string; size: number; mime: string };
/** Who holds an emoji on a message, in the order they reacted. */
export type Reaction = { emoji: string; uids: number[] };
export type MessageInfo = {
  id: number;
  kind: string;
  content: string;
  gid: number;
  uid: number;
  client_msg_id: string;
  createTime: string;
  file?: FileInfo;
  replyTo?: number | null;
  mentions?: number[];
  editedAt?: string | null;
  deleted?: boolean;
  reactions?: Reaction[];
};
/** A search result: the message and the match with context, matches in <mark>, the rest HTML-escaped. */
export type SearchHit = MessageInfo & { snippet: string };
export type ChatMessage = { group: Group; msg: MessageInfo; user: User; unread: number | null };
/** A row of chat/list: also the unread messages that mention you. */
export type ChatListItem = ChatMessage & { mentions?: number };
export type Presence = { uid: number; online: boolean; lastSeen: string | null };
export type AdminUser = User & { admin: boolean; disabled: boolean; createTime: string };
export type Invite = { id: number; createdBy: number | null; createTime: string; expireTime: string; usedBy: number | null; status: "live" | "used" | "expired" };
export type Settings = { registration: "open" | "invite" | "closed"; inviters: "members" | "admins" };
export type Stats = Record<string, number>;

export const ROLE = { member: 1, admin: 2, owner: 3 } as const;
export const MODE = { direct: 1, group: 2 } as const;

export class ApiError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

let token = localStorage.getItem("rim.token") ?? "";
/** Called when the server no longer accepts our token (expired, revoked, password changed). */
let onUnauthorized = () => {};
export const whenUnauthorized = (fn: () => void) => void (onUnauthorized = fn);
export const getToken = () => token;
export function setToken(t: string) {
  token = t;
  if (t) localStorage.setItem("rim.token", t);
  else localStorage.removeItem("rim.token");
}

export async function call<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res: Response;
  try {
    res = await fetch("/api" + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, "cannot reach the server");
  }
  const env = (await res.json().catch(() => null)) as { ok: boolean; code: number; msg: string | null; data: T } | null;
  if (!env) throw new ApiError(res.status, `server error (${res.status})`);
  if (!env.ok) {
    if (env.code === 401 && token) onUnauthorized();
    throw new ApiError(env.code, env.msg ?? `error ${env.code}`);
  }
  return env.data;
}

const q = (params: Record<string, string | number>) => "?" + new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]));

export const api = {
  register: (account: string, password: string, name: string, invite: string) =>
    call<number>("POST", "/user/create", { account, password, name, invite: invite || undefined }),
  login: (account: string, password: string) => call<string>("POST", "/user/login", { account, password }),
  logout: () => call<boolean>("POST", "/user/logout"),
  me: () => call<User>("GET", "/user/token" + q({ token })),
  user: (uid: number) => call<User>("GET", "/user/get" + q({ uid })),
  directory: (text: string, limit: number) => call<User[]>("GET", "/user/directory" + q({ q: text, limit })),
  updateProfile: (change: { name?: string; avatar?: string; email?: string }) => call<User>("POST", "/user/update", change),
  invite: () => call<string>("POST", "/user/invite"),

  groups: (uid: number) => call<Group[]>("GET", "/group/get" + q({ uid })),
  members: (gid: number) => call<Member[]>("GET", "/group/user/get" + q({ gid })),
  createGroup: (mode: number, name: string, uids: number[]) =>
    call<number>("POST", "/group/create", { group: { name, avatar: "", mode }, users: uids.map((uid) => ({ uid, role: 1 })) }),
  renameGroup: (id: number, name: string) => call<boolean>("POST", "/group/update", { id, name }),
  changeMembers: (gid: number, uids: number[], add: boolean) => call<boolean>("POST", "/group/user/change", { gid, uids, opType: add ? 1 : 2 }),
  leaveGroup: (gid: number) => call<boolean>("POST", "/group/leave", { gid }),
  transferGroup: (gid: number, uid: number) => call<boolean>("POST", "/group/transfer", { gid, uid }),
  setRole: (gid: number, uid: number, role: number) => call<boolean>("POST", "/group/role", { gid, uid, role }),
  deleteGroup: (gid: number) => call<boolean>("POST", "/group/delete", { gid }),

  presence: (uids: number[]) => call<Presence[]>("GET", "/user/presence" + q({ uids: uids.join(",") })),

  chatList: (page: number, size: number) => call<ChatListItem[]>("POST", "/message/chat/list", { page, size }),
  history: (gid: number, size: number, beforeId?: number) => call<ChatMessage[]>("POST", "/message/history", { gid, size, beforeId }),

  friends: () => call<User[]>("GET", "/friend/list" + q({ status: 1 })),
  friendRequests: (dir: "in" | "out") => call<User[]>("GET", "/friend/list" + q({ status: 0, dir })),
  addFriend: (fid: number) => call<boolean>("POST", "/friend/add", { fid }),
  answerFriend: (fid: number, accept: boolean) => call<boolean>("POST", "/friend/status/modify", { fid, status: accept ? 1 : 2 }),

  // Server admins only (403 for everyone else).
  adminUsers: (text: string, page: number, size: number) => call<{ users: AdminUser[]; total: number }>("GET", "/admin/users" + q({ q: text, page, size })),
  adminSetDisabled: (uid: number, disabled: boolean) => call<boolean>("POST", `/admin/user/${disabled ? "disable" : "enable"}`, { uid }),
  adminSetPassword: (uid: number, password: string) => call<boolean>("POST", "/admin/user/password", { uid, password }),
  adminInvites: () => call<Invite[]>("GET", "/admin/invites"),
  adminCreateInvite: () => call<{ code: string; link: string }>("POST", "/admin/invite/create"),
  adminRevokeInvite: (id: number) => call<boolean>("POST", "/admin/invite/revoke", { id }),
  settings: () => call<Settings>("GET", "/admin/settings"),
  saveSettings: (change: Partial<Settings>) => call<Settings>("POST", "/admin/settings", change),
  stats: () => call<Stats>("GET", "/admin/stats"),
};

/** The link a new member opens to sign up with an invite code. */
export const inviteLink = (code: string) => `${location.origin}/app/#invite=${encodeURIComponent(code)}`;
