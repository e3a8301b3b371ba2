// Raw WebSocket over TCP, by hand: the handshake, masked client frames and
// the server's frames. For clients that must misbehave in ways a WebSocket
// library will not: stop reading, never log in, send a chosen Origin.
import { randomBytes } from "node:crypto";

export type RawFrame = { opcode: number; payload: Buffer };

/** A masked client frame (text by default), as RFC 6455 requires of clients. */
export function encodeFrame(data: string | Uint8Array, opcode = 1): Buffer {
  const payload = typeof data === "string" ? Buffer.from(data) : Buffer.from(data);
  const len = payload.length;
  const head: number[] = [0x80 | opcode];
  if (len < 126) head.push(0x80 | len);
  else if (len < 65536) head.push(0x80 | 126, len >> 8, len & 255);
  else {
    head.push(0x80 | 127, 0, 0, 0, 0);
    head.push((len >>> 24) & 255, (len >>> 16) & 255, (len >>> 8) & 255, len & 255);
  }
  const mask = randomBytes(4);
  const out = Buffer.alloc(head.length + 4 + len);
  Buffer.from(head).copy(out, 0);
  mask.copy(out, head.length);
  const at = head.length + 4;
  for (let i = 0; i < len; i++) out[at + i] = payload[i]! ^ mask[i & 3]!;
  return out;
}

/** Splits the server's (unmasked) frames off the front of a buffer; returns them and the rest. */
export function decodeFrames(buf: Buffer): { frames: RawFrame[]; rest: Buffer } {
  const frames: RawFrame[] = [];
  let at = 0;
  for (;;) {
    if (buf.length - at < 2) break;
    const opcode = buf[at]! & 0x0f;
    let len = buf[at + 1]! & 0x7f;
    let head = 2;
    if (len === 126) {
      if (buf.length - at < 4) break;
      len = buf.readUInt16BE(at + 2);
      head = 4;
    } else if (len === 127) {
      if (buf.length - at < 10) break;
      len = Number(buf.readBigUInt64BE(at + 2));
      head = 10;
    }
    if (buf.length - at < head + len) break;
    frames.push({ opcode, payload: buf.subarray(at + head, at + head + len) });
    at += head + len;
  }
  return { frames, rest: buf.subarray(at) };
}

export function handshakeRequest(host: string, port: number, path = "/ws", headers: Record<string, string> = {}): string {
  const lines = [
    `GET ${path} HTTP/1.1`,
    `Host: ${host}:${port}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}`,
    "Sec-WebSocket-Version: 13",
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  return lines.join("\r\n") + "\r\n\r\n";
}

/** The HTTP status of a hand-made upgrade request (101 when the socket was accepted). */
export async function upgradeStatus(port: number, headers: Record<string, string> = {}, path = "/ws"): Promise<number> {
  let text = "";
  let done!: (status: number) => void;
  const result = new Promise<number>((r) => (done = r));
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      data(s, chunk) {
        text += Buffer.from(chunk).toString("latin1");
        const m = text.match(/^HTTP\/1\.1 (\d{3})/);
        if (m && text.includes("\r\n\r\n")) {
          done(Number(m[1]));
          s.end();
        }
      },
      close() {
        done(0);
      },
      error() {
        done(0);
      },
    },
  });
  socket.write(handshakeRequest("127.0.0.1", port, path, headers));
  return result;
}
