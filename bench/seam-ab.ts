// A/B of the Msg domain call alone: the checkout's sendMessage (a flow run by runSync on the SQLite store)
// against another checkout's (given as --before DIR), on one database, alternating batches in one process.
//   bun bench/seam-ab.ts --before /tmp/seam-before [--batches 20] [--per 5000]
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp } from "../src/app";
import { defaultConfig } from "../src/config";
import { sendMessage } from "../src/domain/messages";
import { runSync } from "../src/domain/store";
import { closeSeedDb, openSeedDb, seedGroup, seedUsers } from "./lib/seed";

const argv = process.argv.slice(2);
const value = (name: string, dflt: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1]! : dflt);
const before = value("--before", "/tmp/seam-before");
const batches = Number(value("--batches", "20"));
const per = Number(value("--per", "5000"));
const old = (await import(join(before, "src/domain/messages.ts"))) as { sendMessage: (ctx: unknown, uid: number, input: unknown) => unknown };

const file = join(mkdtempSync(join(tmpdir(), "rim-ab-")), "rim.db");
const seed = openSeedDb(file);
const users = seedUsers(seed, 100, "x");
const gid = seedGroup(seed, users.map((u) => u.uid));
closeSeedDb(seed);
const app = createApp(defaultConfig({ db: file, sync: "normal", logLevel: "warn" }));
const sqlite = app.db.$client;
const uid = users[0]!.uid;
const body = "x".repeat(64);
let n = 0;
const cpu = () => { const u = process.cpuUsage(); return u.user + u.system; };
function batch(send: (i: number) => void): number {
  const t = cpu();
  sqlite.run("BEGIN");
  for (let i = 0; i < per; i++) send(n++);
  sqlite.run("COMMIT");
  return (cpu() - t) / per;
}
const seam = (i: number) => void runSync(sendMessage(app, uid, { gid, kind: "Text", content: body, clientMsgId: `s${i}` }));
const direct = (i: number) => void old.sendMessage(app, uid, { gid, kind: "Text", content: body, clientMsgId: `b${i}` });
for (let i = 0; i < 4; i++) (batch(seam), batch(direct)); // warm-up
const a: number[] = [], b: number[] = [];
for (let i = 0; i < batches; i++) {
  if (i % 2) (a.push(batch(seam)), b.push(batch(direct)));
  else (b.push(batch(direct)), a.push(batch(seam)));
}
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1]!;
const ratios = a.map((x, i) => x / b[i]!);
console.log(`sendMessage CPU µs/msg, median of ${batches} alternating batches of ${per}: before ${median(b).toFixed(2)}, seam ${median(a).toFixed(2)}, same-batch ratio median ${median(ratios).toFixed(3)}`);
