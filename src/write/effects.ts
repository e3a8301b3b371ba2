// What a write wants to happen once it is durable: replies, pushes and socket
// changes, as data. Handlers and routes describe them; only the writer
// carries them out (write/apply.ts), in commit order, after the fsync.
import type { Sock } from "../ws/hub";

export type Effect =
  /** A reply to the socket whose frame this was. */
  | { type: "send"; socket: Sock; data: string }
  /** A frame for every socket subscribed to the group, but `except`. */
  | { type: "publish"; gid: number; data: string; except?: Sock }
  /** The users' sockets start receiving the group (before its MemberAdded is published). */
  | { type: "join"; gid: number; uids: number[] }
  /** The users' sockets stop receiving the group (after its MemberRemoved). */
  | { type: "leave"; gid: number; uids: number[] }
  /** A socket's Login: bound to its user and subscribed to the groups it had at commit. */
  | { type: "bind"; socket: Sock; uid: number; gids: number[] }
  /** A socket's Logout. */
  | { type: "unbind"; socket: Sock }
  | { type: "close"; socket: Sock; code: number; reason: string }
  /** The user's last socket is gone: their groups hear Presence offline, unless a socket of theirs came back meanwhile. */
  | { type: "offline"; uid: number; gids: number[] }
  /** Sockets logged in with these tokens are closed (4001). */
  | { type: "revoke"; tokenHashes: string[]; reason: string };
