// The one place where effects are carried out against the live sockets.
import { presenceFrame } from "../push";
import type { Hub } from "../ws/hub";
import type { Effect } from "./effects";

export function applyEffect(hub: Hub, e: Effect): void {
  switch (e.type) {
    case "send":
      if (e.socket.readyState === 1) e.socket.send(e.data);
      return;
    case "publish":
      return hub.publish(e.gid, e.data, e.except);
    case "join":
      return hub.joinGroup(e.gid, e.uids);
    case "leave":
      return hub.leaveGroup(e.gid, e.uids);
    case "bind":
      return hub.bind(e.socket, e.uid, e.gids);
    case "unbind":
      return hub.unbind(e.socket);
    case "close":
      return e.socket.close(e.code, e.reason);
    case "offline":
      if (hub.isOnline(e.uid)) return;
      for (const gid of e.gids) hub.publish(gid, presenceFrame(e.uid, gid, false));
      return;
    case "revoke":
      return hub.closeSessions(e.tokenHashes, e.reason);
  }
}
