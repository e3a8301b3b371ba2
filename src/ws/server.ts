// Bun's WebSocket handlers: parse each frame once, apply the limits, and hand
// the frame to the write path, which runs its handler and replies in order.
import type { WebSocketHandler } from "bun";
import type { ServingApp as App } from "../app";
import { AppError, badRequest, describeZodError, toErrorAck, unauthorized } from "../errors";
import { bodies, envelope, fastChange, fastMsg, type EventName } from "../protocol/frames";
import { FAILS_BEFORE_WRITING, handlers } from "./dispatch";
import type { SocketData, Sock } from "./hub";
import type { Outcome, WriteCtx } from "../write/writer";
import { resolveToken } from "../domain/sessions";

// Events that never write: they still go through the queue to keep replies in order.
const READ_ONLY = new Set<EventName>(["Heart", "Typing"]);
// A socket refused (429) more than --ws-burst times within this window is closed (4029), whatever its
// pace: counting only refusals in a row let a socket flooding steadily above the rate, which gets one
// frame through now and then, go on for ever.
const STRIKE_WINDOW_MS = 10_000;
// The times of each socket's recent refusals, oldest first (sockets that were never refused have none).
const refusals = new WeakMap<SocketData, number[]>();

/** Counts a refusal at `now`; true when the socket has now been refused more than `limit` times within the window. */
function strike(data: SocketData, now: number, limit: number): boolean {
  let times = refusals.get(data);
  if (!times) refusals.set(data, (times = []));
  times.push(now);
  while (times.length && times[0]! <= now - STRIKE_WINDOW_MS) times.shift();
  if (times.length > limit + 1) times.shift(); // only whether it exceeds the limit matters
  return times.length > limit;
}

export function newSocketData(ip: string, legacy: boolean): SocketData {
  return {
    ip,
    legacy,
    uid: null,
    sessionId: null,
    tokenHash: null,
    expiresAt: null,
    topics: new Set(),
    bucket: { tokens: 0, at: 0, strikes: 0 },
    loginTimer: null,
    admitted: null,
    held: null,
    msgs: 0,
  };
}

/** Token bucket: `rate` frames a second sustained, `burst` at once. On the app's clock (a clock set back refills nothing). */
function allowFrame(app: App, ws: Sock, now: number): boolean {
  const rate = app.config.wsRate;
  if (rate === 0) return true;
  const b = ws.data.bucket;
  b.tokens = Math.min(app.config.wsBurst, b.tokens + (Math.max(0, now - b.at) / 1000) * rate);
  b.at = now;
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

function replyError(app: App, ws: Sock, err: AppError, clientMsgId: string | null) {
  app.metrics.inc("rim_errors_total", { transport: "ws", code: err.status });
  if (ws.readyState === 1) ws.send(JSON.stringify(toErrorAck(err, clientMsgId)));
}

function tryParse(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return null;
  }
}

function clientMsgIdOf(frame: unknown): string | null {
  const body = (frame as { body?: { clientMsgId?: unknown } } | null)?.body;
  return typeof body?.clientMsgId === "string" ? body.clientMsgId.slice(0, 128) : null;
}

export function createSocketHandlers(app: App): WebSocketHandler<SocketData> {
  // Every frame gets exactly one reply, in frame order: errors too go through the write path's order.
  const enqueue = (ws: Sock, clientMsgId: string | null, db: boolean, run: (w: WriteCtx) => unknown, savepoint = true) =>
    app.writer.submit({ socket: ws, db, run, savepoint, settle: (o: Outcome) => (o.ok ? undefined : replyError(app, ws, o.error, clientMsgId)) });
  const queue = {
    enqueue: (j: { ws: Sock; clientMsgId: string | null; db: boolean; run: (w: WriteCtx) => void }) => enqueue(j.ws, j.clientMsgId, j.db, j.run),
    reject: (ws: Sock, err: AppError, clientMsgId: string | null) => enqueue(ws, clientMsgId, false, () => { throw err; }),
  };
  const dispatch = (ws: Sock, clientMsgId: string | null, event: EventName, body: unknown) => {
    const handler = handlers[event] as (a: App, w: WriteCtx, ws: Sock, b: unknown) => unknown;
    enqueue(ws, clientMsgId, !READ_ONLY.has(event), (w) => handler(app, w, ws, body), !FAILS_BEFORE_WRITING.has(event));
  };
  /**
   * A Login in a cluster: its user's sockets are counted cluster-wide (in Redis) before its job, and
   * the socket's later frames wait for that, so that every frame is still answered in order.
   */
  const admitThenDispatch = (ws: Sock, clientMsgId: string | null, body: { content: string; uid?: number }) => {
    ws.data.held = [];
    const decided = app
      .read(resolveToken(app, body.content))
      // Refused by the Login job (403) without counting: a count taken here would outlive it.
      .then((s) => (body.uid !== undefined && body.uid !== s.userId ? null : s.userId))
      // A bad token: the Login job itself says so.
      .catch(() => null)
      .then((uid) =>
        uid === null
          ? undefined
          : app.shared.sockets!.reserve(ws, uid, app.config.maxSocketsPerUser, () => app.hub.socketCountOf(uid, ws)).then((ok) => {
              ws.data.admitted = { uid, ok };
            }),
      );
    void decided.then(() => {
      dispatch(ws, clientMsgId, "Login", body);
      const held = ws.data.held ?? [];
      ws.data.held = null;
      for (let i = 0; i < held.length; i++) {
        socket.message(ws, held[i]!);
        // Another Login among them: the rest wait for it in turn.
        const waiting = ws.data.held as (string | Buffer)[] | null;
        if (waiting) {
          waiting.push(...held.slice(i + 1));
          break;
        }
      }
    });
  };
  const socket: WebSocketHandler<SocketData> & { message(ws: Sock, raw: string | Buffer): void } = {
    maxPayloadLength: app.config.wsMaxFrame,
    backpressureLimit: app.config.wsBackpressure,
    // A slow reader is closed rather than silently missing messages; it resumes with Sync.
    closeOnBackpressureLimit: true,
    idleTimeout: app.config.wsIdleTimeout,
    sendPings: true,
    perMessageDeflate: false,

    open(ws) {
      ws.data.bucket = { tokens: app.config.wsBurst, at: app.clock(), strikes: 0 };
      app.hub.track(ws);
      ws.data.loginTimer = setTimeout(() => {
        if (ws.data.uid === null) ws.close(4008, "login timeout");
      }, app.config.wsLoginTimeout * 1000);
    },

    message(ws, raw) {
      if (ws.data.held) return void ws.data.held.push(raw);
      // A socket already condemned for flooding (strikes = 1): its remaining frames are dropped.
      if (ws.data.bucket.strikes > 0) return;
      // A socket outliving its login token: the frame gets 401 and the socket is closed (4001), as after a logout.
      if (ws.data.expiresAt !== null && ws.data.expiresAt <= app.clock()) {
        const clientMsgId = typeof raw === "string" ? clientMsgIdOf(tryParse(raw)) : null;
        const ack = toErrorAck(unauthorized("session expired, log in again"), clientMsgId);
        return queue.enqueue({ ws, clientMsgId, db: false, run: (w) => void w.effects.push({ type: "send", socket: ws, data: JSON.stringify(ack) }, { type: "close", socket: ws, code: 4001, reason: "session expired" }) });
      }
      const now = app.clock();
      if (!allowFrame(app, ws, now)) {
        if (strike(ws.data, now, app.config.wsBurst)) {
          ws.data.bucket.strikes = 1;
          // Closed through the queue, after the replies already owed to it (its Oks and 429s) have gone out.
          return queue.enqueue({ ws, clientMsgId: null, db: false, run: (w) => void w.effects.push({ type: "close", socket: ws, code: 4029, reason: "rate limit" }) });
        }
        return queue.reject(ws, new AppError("rate_limited", "too many frames, slow down"), typeof raw === "string" ? clientMsgIdOf(tryParse(raw)) : null);
      }
      if (typeof raw !== "string") return queue.reject(ws, badRequest("frame: binary frames are not supported"), null);
      let frame: unknown;
      try {
        frame = JSON.parse(raw);
      } catch {
        return queue.reject(ws, badRequest("frame: must be JSON"), null);
      }
      // The Msg frame, the hot path, checked by hand: the same verdict and body as the schemas (frames.ts).
      const msg = fastMsg(frame);
      if (msg) return dispatch(ws, clientMsgIdOf(frame), "Msg", msg);
      const clientMsgId = clientMsgIdOf(frame);
      // Edits and reactions alike (frames.ts, fastChange).
      const change = fastChange(frame);
      if (change) return dispatch(ws, clientMsgId, change.event, change.body);
      const env = envelope.safeParse(frame);
      if (!env.success) return queue.reject(ws, badRequest(describeZodError(env.error)), clientMsgId);
      const event = env.data.event as EventName;
      const body = bodies[event].safeParse(env.data.body);
      if (!body.success) return queue.reject(ws, badRequest(describeZodError(body.error)), clientMsgId);
      if (event === "Login" && app.shared.sockets && app.config.maxSocketsPerUser > 0) return admitThenDispatch(ws, clientMsgId, body.data as unknown as { content: string; uid?: number });
      dispatch(ws, clientMsgId, event, body.data);
    },

    close(ws, code) {
      // Bun reports a close for backpressure as 1006, like a dropped connection.
      app.metrics.inc("rim_ws_closed_total", { code });
      if (ws.data.loginTimer) clearTimeout(ws.data.loginTimer);
      app.hub.untrack(ws);
      app.shared.sockets?.release(ws);
    },
  };
  return socket;
}
