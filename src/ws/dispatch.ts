// One handler per client event. Each runs on the write path (inside the
// turn's transaction), reads the socket's identity from its Login (never
// from the frame), calls the domain and describes its replies as effects.
import type { ServingApp as App } from "../app";
import { announceChange, currentMessage, deleteMessage, editMessage, reactToMessage, type Change } from "../domain/changes";
import { MESSAGE_CHANGE_KINDS, type GroupEvent } from "../domain/events";
import { groupIdsOf, memberOf } from "../domain/groups";
import { sendMessage } from "../domain/messages";
import type { Flow } from "../domain/store";
import { markDelivered, markRead } from "../domain/reads";
import { resolveToken, touchSession } from "../domain/sessions";
import { changesSince } from "../domain/sync";
import { AppError, forbidden, unauthorized } from "../errors";
import { changeFrame, eventFrame, msgPush, notifyFrame, typingFrame } from "../push";
import type { WriteCtx } from "../write/writer";
import { msgAck, okAck, type Bodies, type EventName } from "../protocol/frames";
import type { Sock, SocketData } from "./hub";

// A handler is a flow over the job's store: the writer of either engine runs it (runSync on SQLite, at once;
// runAsync on PostgreSQL). The ones that read nothing stay plain functions.
type Handler<E extends EventName> = (app: App, w: WriteCtx, ws: Sock, body: Bodies[E]) => void | Flow<void>;

/** The socket's user; a frame whose uid names someone else is refused. */
function identity(ws: Sock, claimed: number | undefined): number {
  const uid = ws.data.uid;
  if (uid === null) throw unauthorized("login required");
  if (claimed !== undefined && claimed !== uid) throw forbidden("uid: does not match the logged-in user");
  return uid;
}

const reply = (w: WriteCtx, ws: Sock, frame: unknown) =>
  w.effects.push({ type: "send", socket: ws, data: typeof frame === "string" ? frame : JSON.stringify(frame) });

type Identity = Pick<SocketData, "uid" | "sessionId" | "tokenHash" | "expiresAt">;

/**
 * Sets the socket's identity at once, so later frames of the same turn act as
 * this user; should the write not become durable, the socket is as it was.
 */
function setIdentity(w: WriteCtx, ws: Sock, next: Identity) {
  const before: Identity = { uid: ws.data.uid, sessionId: ws.data.sessionId, tokenHash: ws.data.tokenHash, expiresAt: ws.data.expiresAt };
  Object.assign(ws.data, next);
  w.onRollback(() => Object.assign(ws.data, before));
}

/**
 * Handlers that fail, if at all, before their first write, so they run
 * without a savepoint of their own (write/writer.ts, Job.savepoint). Msg:
 * identity, group, membership and size are all checked before the INSERT,
 * and a resend writes nothing. Edit, Delete, React: the same (domain/changes.ts);
 * a savepoint costs them more than a Msg, since opening one makes FTS5 write
 * out the search terms of the batch's messages so far as a segment of their own.
 * Read and Ack: group, membership and message are checked before the one
 * UPDATE of the cursor (domain/reads.ts); on PostgreSQL a savepoint is two
 * more round trips made while the batch holds the ids lock, and receipts are
 * most of the writes (2.6 a message in the office day).
 */
export const FAILS_BEFORE_WRITING: ReadonlySet<EventName> = new Set<EventName>(["Msg", "Edit", "Delete", "React", "Read", "Ack"]);

export const handlers: { [E in EventName]: Handler<E> } = {
  *Login(app, w, ws, b) {
    const session = yield* resolveToken(w, b.content);
    const uid = session.userId;
    if (b.uid !== undefined && b.uid !== uid) throw forbidden("uid: not the owner of this token");
    const max = app.config.maxSocketsPerUser;
    // In a cluster the count was taken before this job (server.ts); else, or if it was not, on this node.
    const admitted = ws.data.admitted?.uid === uid ? ws.data.admitted.ok : null;
    ws.data.admitted = null;
    if (max > 0 && (admitted === false || (admitted === null && app.hub.socketCountOf(uid, ws) >= max)))
      throw new AppError("rate_limited", `too many open sockets for this user (${max})`);
    app.hub.claim(ws, uid);
    w.onRollback(() => {
      app.hub.unclaim(ws);
      app.shared.sockets?.release(ws);
    });
    if (session.stale) yield* touchSession(w, session.sessionId);
    // The groups as of this commit; changes committed after it reach the socket as effects applied after its bind.
    const gids = yield* groupIdsOf(w, uid);
    setIdentity(w, ws, { uid, sessionId: session.sessionId, tokenHash: session.tokenHash, expiresAt: session.expiresAt });
    w.effects.push({ type: "bind", socket: ws, uid, gids });
    reply(w, ws, okAck(b.clientMsgId, null));
  },

  *Msg(app, w, ws, b) {
    const uid = identity(ws, b.uid);
    ws.data.msgs++;
    const { message, duplicate } = yield* sendMessage(w, uid, { gid: b.gid, kind: b.kind, content: b.content, clientMsgId: b.clientMsgId, replyTo: b.replyTo });
    reply(w, ws, msgAck(b.clientMsgId, message.id, message.seq));
    if (!duplicate) {
      app.metrics.inc("rim_messages_stored_total");
      w.effects.push({ type: "publish", gid: message.gid, data: msgPush(message), except: ws });
    }
  },

  *Ack(_app, w, ws, b) {
    yield* markDelivered(w, identity(ws, b.uid), b.gid, b.msgId);
    reply(w, ws, okAck(b.clientMsgId, null));
  },

  *Read(_app, w, ws, b) {
    const uid = identity(ws, b.uid);
    const moved = yield* markRead(w, uid, b.gid, b.msgId);
    reply(w, ws, okAck(b.clientMsgId, b.msgId));
    // A read receipt is state, not history: pushed live, not kept in the group's log (members list carries readMsgId).
    if (moved) w.effects.push({ type: "publish", gid: b.gid, data: notifyFrame("Read", uid, b.gid, b.msgId), except: ws });
  },

  Heart(_app, w, ws, b) {
    // Allowed before Login; after it, a uid naming someone else is refused like any frame's.
    if (ws.data.uid !== null) identity(ws, b.uid);
    reply(w, ws, okAck(b.clientMsgId, null));
  },

  Logout(app, w, ws, b) {
    identity(ws, b.uid);
    app.shared.sockets?.release(ws);
    setIdentity(w, ws, { uid: null, sessionId: null, tokenHash: null, expiresAt: null });
    w.effects.push({ type: "unbind", socket: ws });
    reply(w, ws, okAck(b.clientMsgId, null));
  },

  *Sync(app, w, ws, b) {
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
      const items = yield* changesSince(w, uid, { afterId: last, gid: b.gid, limit });
      for (const item of items) {
        const frame = item.message ? msgPush(item.message) : yield* replayFrame(w, item.event);
        if (sent === page || (sent > 0 && bytes + frame.length > budget)) {
          more = true;
          break;
        }
        bytes += frame.length;
        reply(w, ws, frame);
        last = item.id;
        sent++;
      }
      if (items.length < limit) break;
    }
    reply(w, ws, okAck(b.clientMsgId, last, { more }));
  },

  *Edit(app, w, ws, b) {
    const uid = identity(ws, b.uid);
    answerChange(app, w, ws, b.clientMsgId, yield* editMessage(w, uid, { gid: b.gid, msgId: b.msgId, content: b.content, clientMsgId: b.clientMsgId }));
  },

  *Delete(app, w, ws, b) {
    const uid = identity(ws, b.uid);
    answerChange(app, w, ws, b.clientMsgId, yield* deleteMessage(w, uid, { gid: b.gid, msgId: b.msgId, clientMsgId: b.clientMsgId }));
  },

  *React(app, w, ws, b) {
    const uid = identity(ws, b.uid);
    answerChange(app, w, ws, b.clientMsgId, yield* reactToMessage(w, uid, { gid: b.gid, msgId: b.msgId, emoji: b.emoji, on: b.on, clientMsgId: b.clientMsgId }));
  },

  *Typing(app, w, ws, b) {
    const uid = identity(ws, b.uid);
    yield* memberOf(w, b.gid, uid);
    reply(w, ws, okAck(b.clientMsgId, null));
    // At most one forwarded per user and group every 2 s; the rest are acked and dropped.
    const taken = app.shared.typing.take(uid, b.gid);
    if (taken instanceof Promise) return forwardTypingLater(app, taken, ws, uid, b.gid);
    if (!taken) return;
    w.onRollback(taken);
    w.effects.push({ type: "publish", gid: b.gid, data: typingFrame(uid, b.gid), except: ws });
  },
};

/**
 * In a cluster the 2 s window is in Redis: once it answers, the Typing goes out on a job of its own (a job may not
 * submit another). A Msg this socket sent meanwhile has gone first: its job was submitted before this one, so the
 * Typing would reach the others after the message and show "typing…" under it. Such a Typing is dropped.
 */
function forwardTypingLater(app: App, taken: Promise<boolean>, ws: Sock, uid: number, gid: number) {
  const msgs = ws.data.msgs;
  void taken.then((yes) => {
    if (!yes || app.writer.closed) return;
    app.writer.submit({
      db: false,
      run: (w) => void (ws.data.msgs === msgs && w.effects.push({ type: "publish", gid, data: typingFrame(uid, gid), except: ws })),
      settle: () => {},
    });
  });
}

/** The Ack carries the change's event id (the first one's for a resend; null when nothing changed), then the others hear of it. */
function answerChange(app: App, w: WriteCtx, ws: Sock, clientMsgId: string, change: Change) {
  reply(w, ws, okAck(clientMsgId, change.event?.id ?? null));
  if (change.event && !change.duplicate) app.metrics.inc("rim_message_changes_total", { kind: change.event.kind });
  announceChange(w, change, ws);
}

/** A change of the group's log as Sync replays it: a change to a message carries the message as it is now. */
function* replayFrame(w: WriteCtx, e: GroupEvent): Flow<string> {
  if (e.msgId !== null && MESSAGE_CHANGE_KINDS.has(e.kind)) {
    const message = yield* currentMessage(w, e.msgId);
    if (message) return changeFrame(e, message);
  }
  return eventFrame(e);
}
