// Server-to-client Notify frames, and the subscription changes that must
// happen with them. Called by REST routes and the socket dispatcher alike.
import type { App } from "../app";
import type { GroupView } from "../domain/views";
import { groupTopic } from "./hub";

export type NotifyName = "Read" | "MemberAdded" | "MemberRemoved" | "GroupUpdated";

export function notifyFrame(name: NotifyName, actor: number, gid: number, msgId: number | null, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    event: "Notify",
    body: { kind: "Text", uid: actor, gid, content: name, clientMsgId: "", msgId, ...extra },
  });
}

export const announce = {
  /** New members' sockets join the topic first, so they hear about it too. */
  membersAdded(app: App, gid: number, actor: number, uids: number[]) {
    app.hub.joinGroup(gid, uids);
    app.hub.publish(groupTopic(gid), notifyFrame("MemberAdded", actor, gid, null, { uids }));
  },
  /** Removed members hear it, then leave the topic before anything else is published. */
  membersRemoved(app: App, gid: number, actor: number, uids: number[]) {
    app.hub.publish(groupTopic(gid), notifyFrame("MemberRemoved", actor, gid, null, { uids }));
    app.hub.leaveGroup(gid, uids);
  },
  groupUpdated(app: App, group: GroupView, actor: number) {
    app.hub.publish(groupTopic(group.id), notifyFrame("GroupUpdated", actor, group.id, null, { group }));
  },
  read(app: App, gid: number, reader: number, msgId: number) {
    app.hub.publish(groupTopic(gid), notifyFrame("Read", reader, gid, msgId));
  },
};
