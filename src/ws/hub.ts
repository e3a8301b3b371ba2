// Who is connected and to which topics. One Bun pub/sub topic per group;
// every socket of a member is subscribed, so a publish reaches all of a
// user's devices. Changed only by the writer's effects (write/apply.ts).
import type { Server, ServerWebSocket } from "bun";
import type { Metrics } from "../metrics";

export type SocketData = {
  ip: string;
  legacy: boolean;
  /** Set by Login; the socket's only identity. */
  uid: number | null;
  sessionId: number | null;
  tokenHash: string | null;
  /** When the Login's token expires: the socket is closed then (4001). */
  expiresAt: number | null;
  topics: Set<string>;
  bucket: { tokens: number; at: number; strikes: number };
  loginTimer: ReturnType<typeof setTimeout> | null;
  /** In a cluster, a Login's cluster-wide socket count is decided before its job: the verdict, for that job. */
  admitted: { uid: number; ok: boolean } | null;
  /** Frames that arrived while this socket's Login waited on the shared state, handled once it is decided. */
  held: (string | Buffer)[] | null;
  /** Msg jobs run for this socket: a Typing decided later than a Msg that followed it is not forwarded (ws/dispatch.ts). */
  msgs: number;
};

export type Sock = ServerWebSocket<SocketData>;

export const groupTopic = (gid: number) => `g:${gid}`;

export type Hub = ReturnType<typeof createHub>;

/** Told when a user's first socket is bound (online) and when their last one is unbound (offline). */
export type PresenceHooks = {
  online(uid: number, gids: number[], socket: Sock): void;
  offline(uid: number, gids: number[]): void;
};

const gidOfTopic = (topic: string) => (topic.startsWith("g:") ? Number(topic.slice(2)) : null);

export function createHub(metrics?: Metrics) {
  let presence: PresenceHooks | null = null;
  const servers = new Set<Server<SocketData>>();
  const byUser = new Map<number, Set<Sock>>();
  // Which user a socket is subscribed for; kept here because ws.data.uid
  // changes before the deferred unbind of a Logout runs.
  const boundTo = new Map<Sock, number>();
  const all = new Set<Sock>();
  // Sockets whose Login is waiting for its commit: they count against the
  // per-user cap before bind() makes them members of byUser.
  const claims = new Map<Sock, number>();

  const subscribe = (ws: Sock, topic: string) => {
    ws.subscribe(topic);
    ws.data.topics.add(topic);
  };
  const unsubscribe = (ws: Sock, topic: string) => {
    ws.data.topics.delete(topic);
    if (ws.readyState === 1) ws.unsubscribe(topic);
  };

  /** Unsubscribes and unbinds a socket; if it was its user's last, says whose and in which groups. */
  const detach = (ws: Sock): { uid: number; gids: number[] } | null => {
    const topics = [...ws.data.topics];
    for (const topic of topics) unsubscribe(ws, topic);
    const uid = boundTo.get(ws);
    if (uid === undefined) return null;
    boundTo.delete(ws);
    const set = byUser.get(uid);
    set?.delete(ws);
    if (!set || set.size > 0) return null;
    byUser.delete(uid);
    return { uid, gids: topics.map(gidOfTopic).filter((g): g is number => g !== null) };
  };

  const hub = {
    attach(server: Server<SocketData>) {
      servers.add(server);
    },
    detach(server: Server<SocketData>) {
      servers.delete(server);
    },
    socketsOf(uid: number): ReadonlySet<Sock> {
      return byUser.get(uid) ?? new Set();
    },
    isOnline(uid: number): boolean {
      return byUser.has(uid);
    },
    onPresence(hooks: PresenceHooks) {
      presence = hooks;
    },
    /** Users with a logged-in socket here. */
    onlineUids(): IterableIterator<number> {
      return byUser.keys();
    },
    onlineUsers(): number {
      return byUser.size;
    },
    track(ws: Sock) {
      all.add(ws);
    },
    claim(ws: Sock, uid: number) {
      claims.set(ws, uid);
    },
    unclaim(ws: Sock) {
      claims.delete(ws);
    },
    /** Sockets of uid, bound or claimed, other than `except`. */
    socketCountOf(uid: number, except: Sock): number {
      let n = 0;
      for (const ws of hub.socketsOf(uid)) if (ws !== except) n++;
      for (const [ws, owner] of claims) if (owner === uid && ws !== except && !boundTo.has(ws)) n++;
      return n;
    },
    /** Forgets a closed socket entirely. */
    untrack(ws: Sock) {
      claims.delete(ws);
      hub.unbind(ws);
      all.delete(ws);
    },
    socketCount(): number {
      return all.size;
    },
    /** Binds a logged-in socket to its user and that user's groups. */
    bind(ws: Sock, uid: number, gids: number[]) {
      claims.delete(ws);
      if (!all.has(ws)) return; // closed while its Login was committing
      // Logged in in time: a later Logout must not get the socket closed by the login timer.
      if (ws.data.loginTimer) clearTimeout(ws.data.loginTimer);
      ws.data.loginTimer = null;
      // A second Login on a bound socket: the user it was bound to may go offline, the same user stays online.
      const before = boundTo.get(ws);
      const left = before !== undefined ? detach(ws) : null;
      if (left && left.uid !== uid) presence?.offline(left.uid, left.gids);
      boundTo.set(ws, uid);
      let set = byUser.get(uid);
      if (!set) byUser.set(uid, (set = new Set()));
      set.add(ws);
      for (const gid of gids) subscribe(ws, groupTopic(gid));
      if (set.size === 1 && !(left && left.uid === uid)) presence?.online(uid, gids, ws);
    },
    unbind(ws: Sock) {
      const left = detach(ws);
      if (left) presence?.offline(left.uid, left.gids);
    },
    /** Publishes to every subscriber of a group on every listener, but `except`. */
    publish(gid: number, data: string, except?: Sock) {
      const topic = groupTopic(gid);
      if (metrics) {
        metrics.inc("rim_pushes_total");
        let n = 0;
        for (const server of servers) n += server.subscriberCount(topic);
        metrics.inc("rim_deliveries_total", undefined, except?.data.topics.has(topic) ? n - 1 : n);
      }
      for (const server of servers) {
        if (except && except.data.legacy === isLegacy(server)) except.publish(topic, data);
        else server.publish(topic, data);
      }
    },
    joinGroup(gid: number, uids: number[]) {
      for (const uid of uids) for (const ws of hub.socketsOf(uid)) subscribe(ws, groupTopic(gid));
    },
    leaveGroup(gid: number, uids: number[]) {
      for (const uid of uids) for (const ws of hub.socketsOf(uid)) unsubscribe(ws, groupTopic(gid));
    },
    /** Sends a frame to every logged-in socket of this node (the cluster's Resync). */
    sendToLoggedIn(data: string) {
      for (const set of byUser.values()) for (const ws of set) if (ws.readyState === 1) ws.send(data);
    },
    closeAll(code: number, reason: string) {
      for (const ws of [...all]) ws.close(code, reason);
    },
    /** Closes every socket whose login token has expired (4001), so an expired token stops receiving too. */
    closeExpired(now: number) {
      for (const ws of [...all]) if (ws.data.expiresAt !== null && ws.data.expiresAt <= now) ws.close(4001, "session expired");
    },
    /** Closes every socket logged in with one of these tokens (logout, password change). */
    closeSessions(tokenHashes: string[], reason: string) {
      const doomed = new Set(tokenHashes);
      if (doomed.size === 0) return;
      for (const set of byUser.values()) {
        for (const ws of [...set]) if (ws.data.tokenHash && doomed.has(ws.data.tokenHash)) ws.close(4001, reason);
      }
    },
  };

  const legacyServers = new WeakSet<Server<SocketData>>();
  const isLegacy = (s: Server<SocketData>) => legacyServers.has(s);
  return Object.assign(hub, {
    markLegacy(server: Server<SocketData>) {
      legacyServers.add(server);
    },
  });
}
