// A child process holding many raw WebSocket connections that log in, read
// normally, and then, on "stop" from stdin, stop reading for real: the
// process blocks its only thread, so nothing drains the kernel's receive
// buffers and the server sees a reader that takes nothing.
//
//   stdin line 1: {"port": N, "users": [{"uid": 1, "token": "…"}, …]}
//   stdout:       {"ready": n}            every socket logged in (Ack Ok)
//   stdin:        stop
//   stdout:       {"stopped": [{"uid", "last", "frames"}]}  last msgId each socket read; then it blocks until killed
import { writeSync } from "node:fs";
import { decodeFrames, encodeFrame, handshakeRequest } from "./hostile.kit";

type Conn = { uid: number; last: number; frames: number; buf: Buffer; upgraded: boolean; loggedIn: boolean };

const say = (o: unknown) => writeSync(1, JSON.stringify(o) + "\n");

const lines = console[Symbol.asyncIterator]();
const first = await lines.next();
const { port, users } = JSON.parse(String(first.value)) as { port: number; users: { uid: number; token: string }[] };

const conns: Conn[] = [];
let loggedIn = 0;
let announced = false;
let failed = false;

function onFrames(c: Conn) {
  const { frames, rest } = decodeFrames(c.buf);
  c.buf = Buffer.from(rest);
  for (const f of frames) {
    if (f.opcode !== 1) continue;
    const frame = JSON.parse(f.payload.toString("utf8"));
    c.frames++;
    if (frame.kind === "Ack" && frame.clientMsgId === `login-${c.uid}`) {
      if (frame.content !== "Ok" && !failed) {
        failed = true;
        say({ error: `login of ${c.uid} failed: ${JSON.stringify(frame)}` });
      }
      c.loggedIn = true;
      if (++loggedIn === users.length && !announced) {
        announced = true;
        say({ ready: loggedIn });
      }
    } else if (frame.event === "Msg") {
      if (frame.body.msgId > c.last) c.last = frame.body.msgId;
    }
  }
}

async function open(u: { uid: number; token: string }) {
  const c: Conn = { uid: u.uid, last: 0, frames: 0, buf: Buffer.alloc(0), upgraded: false, loggedIn: false };
  conns.push(c);
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      data(s, chunk) {
        c.buf = c.buf.length ? Buffer.concat([c.buf, chunk]) : Buffer.from(chunk);
        if (!c.upgraded) {
          const end = c.buf.indexOf("\r\n\r\n");
          if (end < 0) return;
          const head = c.buf.subarray(0, end).toString("latin1");
          if (!head.startsWith("HTTP/1.1 101")) {
            say({ error: `upgrade refused: ${head.split("\r\n")[0]}` });
            return;
          }
          c.upgraded = true;
          c.buf = Buffer.from(c.buf.subarray(end + 4));
          s.write(encodeFrame(JSON.stringify({ event: "Login", body: { kind: "Text", uid: u.uid, content: u.token, clientMsgId: `login-${u.uid}` } })));
        }
        onFrames(c);
      },
      error(_s, err) {
        say({ error: String(err) });
      },
    },
  });
  socket.write(handshakeRequest("127.0.0.1", port));
}

for (let i = 0; i < users.length; i += 100) await Promise.all(users.slice(i, i + 100).map(open));

for (;;) {
  const next = await lines.next();
  if (next.done) process.exit(0);
  if (String(next.value).trim() === "stop") break;
}
say({ stopped: conns.map((c) => ({ uid: c.uid, last: c.last, frames: c.frames })) });
// From here on nothing reads: the thread sleeps until the parent kills the process.
for (;;) Bun.sleepSync(60_000);
