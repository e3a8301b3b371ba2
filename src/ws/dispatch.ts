// One handler per client event. Each runs inside the turn's transaction,
// reads the socket's identity from its Login (never from the frame), calls
// the domain and describes its replies in the outbox.
import type { App } from "../app";
import { groupIdsOf } from "../domain/groups";
import { messagesSince, sendMessage } from "../domain/messages";
import { markDelivered, markRead } from "../domain/reads";
import { resolveToken } from "../domain/sessions";
import { AppError, forbidden, unauthorized } from "../errors";
import { msgPush, okAck, type Bodies, type EventName } from "./frames";
import { groupTopic, type Sock } from "./hub";
import { notifyFrame } from "./notify";
import type { Outbox } from "./outbox";

type Handler<E extends EventName> = (app: App, ws: Sock, body: Bodies[E], out: Outbox) => void;

/** The socket's user; a frame whose uid names someone else is refused. */
function identity(ws: Sock, claimed: number | undefined): number {
  const uid = ws.data.uid;
  if (uid === null) throw unauthorized("login required");
  if (claimed !== undefined && claimed !== uid) throw forbidden("uid: does not match the logged-in user");
  return uid;
}

function forget(ws: Sock) {
  ws.data.uid = null;
  ws.data.sessionId = null;
  ws.data.tokenHash = null;
  ws.data.expiresAt = null;
}

export const handlers: { [E in EventName]: Handler<E> } = {
  Login(app, ws, b, out) {
    const session = resolveToken(app, b.content);
    const uid = session.userId;
    if (b.uid !== undefined && b.uid !== uid) throw forbidden("uid: not the owner of this token");
    const max = app.config.maxSocketsPerUser;
    if (max > 0 && app.hub.socketCountOf(uid, ws) >= max) throw new AppError("rate_limited", `too many open sockets for this user (${max})`);
    app.hub.claim(ws, uid);
    const gids = groupIdsOf(app, uid);
    ws.data.uid = uid;
    ws.data.sessionId = session.sessionId;
    ws.data.tokenHash = session.tokenHash;
    ws.data.expiresAt = session.expiresAt;
    out.effect(() => {
      app.hub.bind(ws, uid, gids);
      // Logged in in time: a later Logout must not get the socket closed by the login timer.
      if (ws.data.loginTimer) clearTimeout(ws.data.loginTimer);
      ws.data.loginTimer = null;
    });
    out.reply(ws, okAck(b.clientMsgId, null));
  },

  Msg(app, ws, b, out) {
    const uid = identity(ws, b.uid);
    const { message, duplicate } = sendMessage(app, uid, { gid: b.gid, kind: b.kind, content: b.content, clientMsgId: b.clientMsgId });
    out.reply(ws, okAck(b.clientMsgId, message.id, { seq: message.seq }));
    if (!duplicate) {
      app.metrics.inc("rim_messages_stored_total");
      out.publish(groupTopic(message.gid), msgPush(message), ws);
    }
  },

  Ack(app, ws, b, out) {
    markDelivered(app, identity(ws, b.uid), b.gid, b.msgId);
    out.reply(ws, okAck(b.clientMsgId, null));
  },

  Read(app, ws, b, out) {
    const uid = identity(ws, b.uid);
    const moved = markRead(app, uid, b.gid, b.msgId);
    out.reply(ws, okAck(b.clientMsgId, b.msgId));
    if (moved) out.publish(groupTopic(b.gid), notifyFrame("Read", uid, b.gid, b.msgId), ws);
  },

  Heart(_app, ws, b, out) {
    // Allowed before Login; after it, a uid naming someone else is refused like any frame's.
    if (ws.data.uid !== null) identity(ws, b.uid);
    out.reply(ws, okAck(b.clientMsgId, null));
  },

  Logout(app, ws, b, out) {
    identity(ws, b.uid);
    forget(ws);
    out.effect(() => app.hub.unbind(ws));
    out.reply(ws, okAck(b.clientMsgId, null));
  },

  Sync(app, ws, b, out) {
    const uid = identity(ws, b.uid);
    const page = app.config.syncPage;
    // A page also stops at half the backpressure limit, so a Sync never gets its own socket closed.
    const budget = app.config.wsBackpressure / 2;
    let bytes = 0;
    let last = b.msgId;
    let sent = 0;
    let more = false;
    // Rows come in growing chunks, so a page that the byte budget cuts short (big messages)
    // loads little more than it sends, instead of a whole page of rows every time.
    for (let chunk = 16; !more; chunk *= 4) {
      const limit = Math.min(chunk, page - sent) + 1;
      const rows = messagesSince(app, uid, { afterId: last, gid: b.gid, limit });
      for (const m of rows) {
        const frame = msgPush(m);
        if (sent === page || (sent > 0 && bytes + frame.length > budget)) {
          more = true;
          break;
        }
        bytes += frame.length;
        out.reply(ws, frame);
        last = m.id;
        sent++;
      }
      if (rows.length < limit) break;
    }
    out.reply(ws, okAck(b.clientMsgId, last, { more }));
  },
};
