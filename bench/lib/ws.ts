// A lean WebSocket client over Bun.connect, for load generation: it frames
// and unframes by hand so that a receiver costs a few dozen nanoseconds per
// frame (a counter) instead of an event and a string. Speaks RFC 6455 text
// frames, answers pings, and keeps unsent bytes for the drain callback.
// Only for 127.0.0.1 targets.
import type { Socket } from "bun";

export type Target = { host: string; port: number; path: string };

export function parseTarget(url: string): Target {
  const u = new URL(url);
  if (u.hostname !== "127.0.0.1" && u.hostname !== "localhost") throw new Error(`bench targets 127.0.0.1 only, not ${u.hostname}`);
  return { host: "127.0.0.1", port: Number(u.port), path: u.pathname || "/" };
}

const CRLF2 = Buffer.from("\r\n\r\n");
// Server frames are never masked; ours carry a zero mask key (valid: the server XORs with it).
const MASK = 0x80;

/** One client frame: FIN + text opcode, masked with a zero key. */
export function encodeText(text: string, opcode = 0x1): Buffer {
  const n = Buffer.byteLength(text);
  const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const buf = Buffer.allocUnsafe(head + 4 + n);
  buf[0] = 0x80 | opcode;
  if (n < 126) buf[1] = MASK | n;
  else if (n < 65536) {
    buf[1] = MASK | 126;
    buf.writeUInt16BE(n, 2);
  } else {
    buf[1] = MASK | 127;
    buf.writeUInt32BE(0, 2);
    buf.writeUInt32BE(n, 6);
  }
  buf.writeUInt32BE(0, head);
  buf.write(text, head + 4, "utf8");
  return buf;
}

export class Conn {
  sock: Socket<Conn> | null = null;
  /** Frames received (text or binary), counted before any callback. */
  received = 0;
  closed = false;
  /** Called per data frame; null means count only. */
  onFrame: ((c: Conn, payload: Buffer) => void) | null = null;
  onClose: ((c: Conn) => void) | null = null;
  /** Free for the caller. */
  tag: any = null;
  private rest: Buffer | null = null;
  private upgraded = false;
  private pending: Buffer[] = [];
  private ready: { resolve: (c: Conn) => void; reject: (e: Error) => void } | null = null;

  send(text: string) {
    this.write(encodeText(text));
  }

  write(buf: Buffer) {
    const s = this.sock;
    if (!s || this.closed) return;
    if (this.pending.length > 0) {
      this.pending.push(buf);
      return;
    }
    const n = s.write(buf);
    if (n < buf.length) this.pending.push(buf.subarray(Math.max(n, 0)));
  }

  /** Bytes still waiting for the kernel to take them. */
  get backlog(): number {
    let n = 0;
    for (const b of this.pending) n += b.length;
    return n;
  }

  close() {
    if (this.closed || !this.sock) return;
    this.write(Buffer.from([0x88, 0x80, 0, 0, 0, 0]));
    this.sock.end();
  }

  /** Drops the TCP connection without a close frame (a client that vanished). */
  drop() {
    this.sock?.terminate();
  }

  /** @internal */ _drain() {
    const s = this.sock!;
    while (this.pending.length > 0) {
      const buf = this.pending[0]!;
      const n = s.write(buf);
      if (n < buf.length) {
        this.pending[0] = buf.subarray(Math.max(n, 0));
        return;
      }
      this.pending.shift();
    }
  }

  /** @internal */ _closed(err?: Error) {
    if (this.closed) return;
    this.closed = true;
    this.ready?.reject(err ?? new Error("closed before the upgrade"));
    this.ready = null;
    this.onClose?.(this);
  }

  /** @internal */ _data(chunk: Buffer) {
    let buf = chunk;
    if (this.rest) {
      buf = Buffer.concat([this.rest, chunk]);
      this.rest = null;
    }
    let off = 0;
    if (!this.upgraded) {
      const end = buf.indexOf(CRLF2);
      if (end < 0) {
        this.rest = Buffer.from(buf);
        return;
      }
      const head = buf.toString("latin1", 0, end);
      if (!head.startsWith("HTTP/1.1 101")) {
        this.ready?.reject(new Error("upgrade refused: " + head.split("\r\n")[0]));
        this.ready = null;
        this.sock?.end();
        return;
      }
      this.upgraded = true;
      off = end + 4;
      this.ready?.resolve(this);
      this.ready = null;
    }
    const total = buf.length;
    while (total - off >= 2) {
      const b0 = buf[off]!;
      const b1 = buf[off + 1]!;
      let len = b1 & 0x7f;
      let head = 2;
      if (len === 126) {
        if (total - off < 4) break;
        len = buf.readUInt16BE(off + 2);
        head = 4;
      } else if (len === 127) {
        if (total - off < 10) break;
        len = buf.readUInt32BE(off + 2) * 2 ** 32 + buf.readUInt32BE(off + 6);
        head = 10;
      }
      if (b1 & 0x80) head += 4;
      if (total - off < head + len) break;
      const op = b0 & 0x0f;
      if (op === 1 || op === 2 || op === 0) {
        this.received++;
        if (this.onFrame) this.onFrame(this, buf.subarray(off + head, off + head + len));
      } else if (op === 9) {
        // Ping: answer with a pong carrying the same payload.
        const p = buf.subarray(off + head, off + head + len);
        const pong = Buffer.alloc(6 + p.length);
        pong[0] = 0x8a;
        pong[1] = MASK | p.length;
        p.copy(pong, 6);
        this.write(pong);
      } else if (op === 8) {
        this.close();
      }
      off += head + len;
    }
    if (off < total) this.rest = Buffer.from(buf.subarray(off));
  }

  /** @internal */ _await(): Promise<Conn> {
    return new Promise((resolve, reject) => (this.ready = { resolve, reject }));
  }
}

const handlers = {
  open(s: Socket<Conn>) {
    s.data.sock = s;
  },
  data(s: Socket<Conn>, chunk: Buffer) {
    s.data._data(chunk);
  },
  drain(s: Socket<Conn>) {
    s.data._drain();
  },
  close(s: Socket<Conn>, err?: Error) {
    s.data._closed(err);
  },
  error(s: Socket<Conn>, err: Error) {
    s.data._closed(err);
  },
  connectError(s: Socket<Conn>, err: Error) {
    s.data._closed(err);
  },
};

let keyN = 0;
/** Opens a socket and upgrades it; resolves once the server said 101. */
export async function connectWs(t: Target, timeoutMs = 10_000): Promise<Conn> {
  const conn = new Conn();
  const ready = conn._await();
  ready.catch(() => {}); // observed below; a failed connect must not surface as unhandled
  const sock = await Bun.connect<Conn>({ hostname: t.host, port: t.port, socket: handlers, data: conn });
  conn.sock = sock;
  sock.setNoDelay(true);
  const key = Buffer.from(`rim-bench-key-${(keyN++ % 1e6).toString().padStart(6, "0")}`).subarray(0, 16).toString("base64");
  sock.write(
    `GET ${t.path} HTTP/1.1\r\nHost: ${t.host}:${t.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("upgrade timed out")), timeoutMs);
  });
  try {
    return await Promise.race([ready, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Sends a frame and resolves with the first frame received after it (a parsed JSON object). */
export function request(conn: Conn, frame: unknown, timeoutMs = 10_000): Promise<any> {
  return new Promise((resolve, reject) => {
    const prev = conn.onFrame;
    const timer = setTimeout(() => {
      conn.onFrame = prev;
      reject(new Error("no reply within " + timeoutMs + " ms"));
    }, timeoutMs);
    conn.onFrame = (c, payload) => {
      clearTimeout(timer);
      conn.onFrame = prev;
      resolve(JSON.parse(payload.toString("utf8")));
    };
    conn.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  });
}

/** Opens and logs in one socket; rejects unless the Ack says Ok. */
export async function openLoggedIn(t: Target, uid: number, token: string, extra: Record<string, unknown> = {}): Promise<Conn> {
  const conn = await connectWs(t);
  const ack = await request(conn, { event: "Login", body: { kind: "Text", uid, content: token, clientMsgId: "login", ...extra } });
  if (ack.content !== "Ok") {
    conn.close();
    throw new Error(`login of uid ${uid} refused: ${JSON.stringify(ack)}`);
  }
  return conn;
}

/** Runs `fn` over items with at most `limit` at once; returns results in order. */
export async function pool<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
