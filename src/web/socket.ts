/// <reference lib="dom" />
// The WebSocket half: one connection that logs in, matches every reply to
// its frame by clientMsgId, notices a dead link with heartbeats, and comes
// back with exponential backoff. What to do once logged in (Sync, resend)
// is the store's business: see `onReady`.

export type Ack = { clientMsgId: string | null; serverMsgId: number | null; kind: "Ack"; content: string; code?: number; msg?: string; seq?: number; more?: boolean };
export type Push = { event: "Msg" | "Notify"; body: Record<string, any> };
export type LinkState = "connecting" | "online" | "offline";

export class Disconnected extends Error {}

let counter = 0;
/** A client message id; works without a secure context (no randomUUID there). */
export function newClientMsgId(): string {
  const rnd = crypto.getRandomValues(new Uint32Array(2));
  return `w${Date.now().toString(36)}-${rnd[0]!.toString(36)}${rnd[1]!.toString(36)}-${(++counter).toString(36)}`;
}

type Waiter = { resolve(a: Ack): void; reject(e: Error): void; timer: ReturnType<typeof setTimeout> };

const HEART_EVERY = 20_000;
const HEART_TIMEOUT = 8_000;
const MAX_BACKOFF = 15_000;

export class Link {
  state: LinkState = "connecting";
  /** When the next attempt starts (ms epoch), while offline. */
  retryAt = 0;
  private ws: WebSocket | null = null;
  private waiters = new Map<string, Waiter>();
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private heartTimer: ReturnType<typeof setInterval> | null = null;
  private stopped = false;

  constructor(
    private readonly token: string,
    private readonly uid: number,
    private readonly handlers: {
      onPush(p: Push): void;
      onState(s: LinkState): void;
      /** Runs after each successful Login; the link counts as online once it resolves. */
      onReady(): Promise<void>;
      /** The server refused or revoked this login (logged out elsewhere, password reset, account disabled). */
      onAuthLost(reason: string): void;
    },
  ) {
    addEventListener("online", this.wake);
    addEventListener("offline", this.lost);
    document.addEventListener("visibilitychange", this.wake);
    this.connect();
  }

  get ready() {
    return this.state === "online";
  }

  stop() {
    this.stopped = true;
    removeEventListener("online", this.wake);
    removeEventListener("offline", this.lost);
    document.removeEventListener("visibilitychange", this.wake);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.drop();
  }

  /** Sends a frame and resolves with its Ack (Ok or Error); rejects if the link drops or times out. */
  request(event: string, body: Record<string, unknown>, timeoutMs = 15_000): Promise<Ack> {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return Promise.reject(new Disconnected("offline"));
    const clientMsgId = (body.clientMsgId as string | undefined) ?? newClientMsgId();
    const earlier = this.waiters.get(clientMsgId);
    if (earlier) earlier.reject(new Disconnected("superseded"));
    return new Promise<Ack>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(clientMsgId);
        reject(new Error("no reply from the server"));
      }, timeoutMs);
      this.waiters.set(clientMsgId, { resolve, reject, timer });
      ws.send(JSON.stringify({ event, body: { kind: "Text", content: "", uid: this.uid, ...body, clientMsgId } }));
    });
  }

  private authLost(reason: string) {
    this.stop();
    this.handlers.onAuthLost(reason);
  }

  private setState(s: LinkState) {
    if (this.state === s) return;
    this.state = s;
    this.handlers.onState(s);
  }

  private connect() {
    if (this.stopped || this.ws) return;
    this.retryTimer = null;
    this.setState("connecting");
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.onmessage = (ev) => this.receive(ev.data);
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      // 4001: this token was revoked; reconnecting with it would only be refused.
      if (ev.code === 4001) this.authLost(ev.reason || "session ended");
      else this.lost();
    };
    ws.onopen = async () => {
      try {
        const ack = await this.request("Login", { content: this.token });
        if (ack.content !== "Ok") {
          if (ack.code === 401 || ack.code === 403) return this.authLost(ack.msg ?? "session ended");
          throw new Error(ack.msg ?? "login refused");
        }
        await this.handlers.onReady();
        if (this.ws !== ws) return;
        this.attempt = 0;
        this.setState("online");
        this.heartTimer = setInterval(() => this.beat(), HEART_EVERY);
      } catch {
        if (this.ws === ws) this.lost();
      }
    };
  }

  private receive(data: unknown) {
    let f: any;
    try {
      f = JSON.parse(String(data));
    } catch {
      return;
    }
    if (f?.kind === "Ack" && !f.event) {
      const w = f.clientMsgId != null ? this.waiters.get(f.clientMsgId) : undefined;
      if (w) {
        this.waiters.delete(f.clientMsgId);
        clearTimeout(w.timer);
        w.resolve(f as Ack);
      }
    } else if (f?.event === "Msg" || f?.event === "Notify") {
      this.handlers.onPush(f as Push);
    }
  }

  /** A heartbeat that goes unanswered means the link is dead even if the browser has not noticed. */
  private beat() {
    this.request("Heart", {}, HEART_TIMEOUT).catch(() => this.lost());
  }

  /** Forget the socket now, without waiting for a close handshake that may never come. */
  private drop() {
    if (this.heartTimer) clearInterval(this.heartTimer);
    this.heartTimer = null;
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = null;
      try {
        ws.close();
      } catch {}
    }
    for (const w of this.waiters.values()) {
      clearTimeout(w.timer);
      w.reject(new Disconnected("connection lost"));
    }
    this.waiters.clear();
  }

  private lost = () => {
    this.drop();
    if (this.stopped) return;
    this.setState("offline");
    if (this.retryTimer) return;
    const base = Math.min(MAX_BACKOFF, 500 * 2 ** this.attempt++);
    const delay = base / 2 + Math.random() * (base / 2);
    this.retryAt = Date.now() + delay;
    this.retryTimer = setTimeout(() => this.connect(), delay);
    this.handlers.onState(this.state);
  };

  /** The network is back or the tab is visible again: retry now rather than at the end of the backoff. */
  private wake = () => {
    if (this.stopped || this.ws || document.visibilityState === "hidden" || !navigator.onLine) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.connect();
  };

  /** Try again at once (the banner's "Retry now"). */
  retryNow() {
    this.wake();
  }
}
