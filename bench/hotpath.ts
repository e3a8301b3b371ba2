// The Msg path in one process, without the network: frames handed to the
// socket handlers as Bun would, `--sync full` on a real file (the fsync on
// its worker thread, as in the server), replies and pushes going to a socket
// stub. What is left out is exactly what the ceiling does too (reading the
// frames, writing to 99 sockets), so this is rim's own CPU per message,
// stable enough on a shared machine to compare one change with the next.
// With --edit-share, that share of the frames are Edit and React (alternately)
// on the newest acked message, as bench/clients/fanout.ts sends them.
//   bun bench/hotpath.ts [--messages 200000] [--batch 32] [--rounds 5] [--sync full|normal] [--edit-share 0.1]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closeApp, createApp } from "../src/app";
import { defaultConfig } from "../src/config";
import type { Sock } from "../src/ws/hub";
import { createSocketHandlers, newSocketData } from "../src/ws/server";
import { closeSeedDb, openSeedDb, seedGroup, seedUsers } from "./lib/seed";
import { startCheckpoints } from "../src/db/checkpoints";

const argv = process.argv.slice(2);
const value = (name: string, dflt: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1]! : dflt;
};
const messages = Number(value("--messages", "100000"));
const batch = Number(value("--batch", "32"));
const rounds = Number(value("--rounds", "5"));
const sync = value("--sync", "full") as "full" | "normal";
const share = Number(value("--edit-share", "0"));

const dir = mkdtempSync(join(tmpdir(), "rim-hotpath-"));
const file = join(dir, "rim.db");
const seed = openSeedDb(file);
// A cheap hash: nobody logs in with a password here.
const users = seedUsers(seed, 100, "x");
const gid = seedGroup(seed, users.map((u) => u.uid));
closeSeedDb(seed);

const app = createApp(defaultConfig({ db: file, sync, wsRate: 0, maxSocketsPerUser: 0, logLevel: "warn" }));
const handlers = createSocketHandlers(app);
// As the server does (src/server.ts): SQLite's checkpoints on a worker thread, whose CPU counts here too.
const checkpoints = startCheckpoints(app.db.$client, file, {
  hold: () => app.writer.hold(),
  release: () => app.writer.release(),
  onError: (err) => console.error(String(err)),
});

let sent = 0;
let failed = 0;
let lastFrame = "";
// Resolved once the socket has had `target` replies: every job submitted so far is answered.
let waiting: { target: number; resolve: () => void } | null = null;
const sock = {
  data: newSocketData("127.0.0.1", false),
  readyState: 1,
  send(data: string) {
    sent++;
    lastFrame = data;
    if (!data.includes('"content":"Ok"')) failed++;
    // A Msg's ack: {"clientMsgId":…,"serverMsgId":N,…,"seq":…}
    if (share > 0 && data.endsWith("}") && data.includes('"seq":')) newest = Number(/"serverMsgId":(\d+)/.exec(data)![1]);
    if (waiting && sent >= waiting.target) {
      const w = waiting;
      waiting = null;
      w.resolve();
    }
    return data.length;
  },
  cork<T>(fn: () => T): T {
    return fn();
  },
  subscribe() {},
  unsubscribe() {},
  isSubscribed: () => false,
  publish() {
    return 0;
  },
  close() {},
} as unknown as Sock;
handlers.open!(sock);

const answered = (target: number) => (sent >= target ? Promise.resolve() : new Promise<void>((resolve) => (waiting = { target, resolve })));
handlers.message!(sock, JSON.stringify({ event: "Login", body: { clientMsgId: "login", content: users[0]!.token } }) as any);
await answered(1);
if (sock.data.uid !== users[0]!.uid) throw new Error("login failed: " + lastFrame);

const body = "x".repeat(64);
const run = Date.now().toString(36);
let n = 0;
let newest = 0;
let changes = 0;
const EMOJIS = ["👍", "🎉", "👀", "❤️"];
const frame = (i: number) => {
  if (share > 0 && newest > 0 && Math.floor((i + 1) * share) > Math.floor(i * share)) {
    const k = changes++;
    if (k % 2 === 0) return `{"event":"Edit","body":{"gid":${gid},"msgId":${newest},"content":"${body}!","clientMsgId":"h${i}.${run}"}}`;
    return `{"event":"React","body":{"gid":${gid},"msgId":${newest},"emoji":"${EMOJIS[(k >> 1) % EMOJIS.length]}","on":true,"clientMsgId":"h${i}.${run}"}}`;
  }
  return `{"event":"Msg","body":{"kind":"Text","gid":${gid},"content":"${body}","clientMsgId":"h${i}.${run}"}}`;
};
async function pump(count: number) {
  for (let done = 0; done < count; ) {
    const k = Math.min(batch, count - done);
    const target = sent + k;
    for (let i = 0; i < k; i++) handlers.message!(sock, frame(n++) as any);
    done += k;
    await answered(target);
  }
}

await pump(Math.min(20_000, messages)); // warm-up: JIT, page cache
if (!lastFrame.includes('"content":"Ok"')) throw new Error("Msg failed: " + lastFrame);
const results: { usCpu: number; usSys: number; usWall: number }[] = [];
for (let r = 0; r < rounds; r++) {
  const before = sent;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await pump(messages);
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  if (failed > 0) throw new Error(`${failed} frames failed: ${lastFrame}`);
  if (sent - before !== messages) throw new Error(`expected ${messages} replies, got ${sent - before}: ${lastFrame}`);
  results.push({ usCpu: (cpu.user + cpu.system) / messages, usSys: cpu.system / messages, usWall: (wall * 1000) / messages });
}
const med = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(
  `hotpath: ${messages} frames per round${share > 0 ? ` (${share * 100} % Edit and React)` : " (Msg)"}, ${batch} per turn, --sync ${sync}: CPU µs/msg median ${med(results.map((r) => r.usCpu)).toFixed(2)} ` +
    `(rounds ${results.map((r) => r.usCpu.toFixed(2)).join(" ")}; of it kernel ${med(results.map((r) => r.usSys)).toFixed(2)}), wall µs/msg median ${med(results.map((r) => r.usWall)).toFixed(2)}`,
);
await checkpoints.stop();
closeApp(app);
rmSync(dir, { recursive: true, force: true });
