// The Msg path in one process, without the network: frames handed to the
// socket handlers as Bun would, `--sync full` on a real file (the fsync on
// its worker thread, as in the server), replies and pushes going to a socket
// stub. What is left out is exactly what the ceiling does too (reading the
// frames, writing to 99 sockets), so this is rim's own CPU per message,
// stable enough on a shared machine to compare one change with the next.
//   bun bench/hotpath.ts [--messages 200000] [--batch 32] [--rounds 5] [--sync full|normal]
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
let lastFrame = "";
// Resolved once the socket has had `target` replies: every job submitted so far is answered.
let waiting: { target: number; resolve: () => void } | null = null;
const sock = {
  data: newSocketData("127.0.0.1", false),
  readyState: 1,
  send(data: string) {
    sent++;
    lastFrame = data;
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
async function pump(count: number) {
  for (let done = 0; done < count; ) {
    const k = Math.min(batch, count - done);
    const target = sent + k;
    for (let i = 0; i < k; i++) {
      handlers.message!(sock, `{"event":"Msg","body":{"kind":"Text","gid":${gid},"content":"${body}","clientMsgId":"h${n++}.${run}"}}` as any);
    }
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
  if (sent - before !== messages) throw new Error(`expected ${messages} replies, got ${sent - before}: ${lastFrame}`);
  results.push({ usCpu: (cpu.user + cpu.system) / messages, usSys: cpu.system / messages, usWall: (wall * 1000) / messages });
}
const med = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(
  `hotpath: ${messages} Msg per round, ${batch} per turn, --sync ${sync}: CPU µs/msg median ${med(results.map((r) => r.usCpu)).toFixed(2)} ` +
    `(rounds ${results.map((r) => r.usCpu.toFixed(2)).join(" ")}; of it kernel ${med(results.map((r) => r.usSys)).toFixed(2)}), wall µs/msg median ${med(results.map((r) => r.usWall)).toFixed(2)}`,
);
await checkpoints.stop();
closeApp(app);
rmSync(dir, { recursive: true, force: true });
