// HTTP/1.x by hand over TCP, for requests no HTTP client will send: a Host
// header that makes no URL, no Host at all, a body larger than any limit.
// Every wait ends on the socket's own events (data, end, close).

export type RawReply = { status: number; headers: Record<string, string>; body: string; raw: string };

/** Splits an HTTP response; the body is what follows the head (by Content-Length when given). */
export function parseReply(raw: string): RawReply {
  const end = raw.indexOf("\r\n\r\n");
  if (end < 0) throw new Error("no complete response head in " + JSON.stringify(raw.slice(0, 200)));
  const [statusLine, ...lines] = raw.slice(0, end).split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine!);
  if (!m) throw new Error("not a status line: " + JSON.stringify(statusLine));
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(":");
    headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  const len = headers["content-length"];
  const rest = raw.slice(end + 4);
  return { status: Number(m[1]), headers, body: len === undefined ? rest : rest.slice(0, Number(len)), raw };
}

/** Whether `raw` holds a whole response: its head, and as much body as its Content-Length says (none after a 101). */
function complete(raw: string): boolean {
  const end = raw.indexOf("\r\n\r\n");
  if (end < 0) return false;
  if (raw.startsWith("HTTP/1.1 101 ")) return true; // switched protocols: no body follows
  const len = /\r\ncontent-length: *(\d+)/i.exec(raw.slice(0, end));
  return len !== null && raw.length - end - 4 >= Number(len[1]);
}

/**
 * Sends `request` as is; resolves with what came back once a whole response
 * (by its Content-Length) has arrived or the server closed the connection.
 */
export async function rawExchange(port: number, request: string | Uint8Array): Promise<string> {
  let text = "";
  let done!: (s: string) => void;
  const replied = new Promise<string>((res) => (done = res));
  await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      open: (s) => void s.write(request),
      data(s, chunk) {
        text += Buffer.from(chunk).toString("latin1");
        if (complete(text)) {
          done(text);
          s.end();
        }
      },
      end: (s) => void s.end(),
      close: () => done(text),
      error: () => done(text),
    },
  });
  return replied;
}

/** One raw request; the reply parsed. */
export async function rawRequest(port: number, request: string): Promise<RawReply> {
  return parseReply(await rawExchange(port, request));
}

export type Streamed = { reply: RawReply; sent: number };

/**
 * Sends `head`, then `total` bytes of body as fast as the server reads them
 * (chunked encoding when `chunked`), and stops writing the moment a reply
 * arrives or the connection closes. `sent` is how many body bytes were
 * written by then: a server that reads no further than its limit leaves most
 * of a large body unsent.
 */
export async function streamBody(port: number, head: string, total: number, chunked: boolean): Promise<Streamed> {
  const piece = Buffer.alloc(64 * 1024, "x".charCodeAt(0));
  const frame = chunked ? Buffer.concat([Buffer.from(piece.length.toString(16) + "\r\n"), piece, Buffer.from("\r\n")]) : piece;
  let sent = 0;
  let pending: Buffer | null = null; // the unwritten tail of the last frame
  let text = "";
  let stopped = false;
  let done!: () => void;
  const closed = new Promise<void>((res) => (done = res));
  const pump = (s: Bun.Socket) => {
    while (!stopped) {
      if (pending) {
        const n = s.write(pending);
        if (n < pending.length) {
          pending = pending.subarray(Math.max(n, 0));
          return; // the kernel's buffer is full: `drain` calls again
        }
        pending = null;
      }
      if (sent >= total) {
        if (chunked) s.write("0\r\n\r\n");
        return;
      }
      sent += piece.length;
      pending = frame;
    }
  };
  await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      open(s) {
        s.write(head);
        pump(s);
      },
      drain: pump,
      data(_s, chunk) {
        stopped = true;
        text += Buffer.from(chunk).toString("latin1");
      },
      end: (s) => void ((stopped = true), s.end()),
      close: () => void ((stopped = true), done()),
      error: () => void ((stopped = true), done()),
    },
  });
  await closed;
  return { reply: parseReply(text), sent };
}
