// bun bench/profile-summary.ts FILE.cpuprofile [N]
// The top N functions of a CPU profile (from `bun bench/run.ts --profile`,
// which runs the server as `bun --cpu-prof src/main.ts`), by self time and
// by inclusive time, then the busy time split into the parts of the write
// path (each sample goes to the first rule that matches its stack).
const file = process.argv[2];
if (!file) throw new Error("usage: bun bench/profile-summary.ts FILE.cpuprofile [N]");
const p = JSON.parse(await Bun.file(file).text());
const nodes = new Map<number, any>(p.nodes.map((n: any) => [n.id, n]));
const self = new Map<number, number>();
const dt: number[] = p.timeDeltas;
// The sampler does not run while the process sleeps in the event loop: such
// a gap shows up as one long delta on the next sample. Deltas are capped at
// four sampling intervals so idle time is not charged to whatever ran next.
const sorted = dt.filter((d) => d > 0).sort((a, b) => a - b);
const cap = 4 * (sorted[Math.floor(sorted.length / 2)] ?? 1000);
for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + Math.min(dt[i] ?? 0, cap));
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const key = (n: any) => `${n.callFrame.functionName || "(anon)"} ${n.callFrame.url.split("/").slice(-2).join("/")}:${n.callFrame.lineNumber + 1}`;
const bySelf = new Map<string, number>(); const byIncl = new Map<string, number>();
let total = 0;
for (const [id, t] of self) {
  total += t;
  const k = key(nodes.get(id)); bySelf.set(k, (bySelf.get(k) ?? 0) + t);
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) { const kk = key(nodes.get(cur)); if (!seen.has(kk)) { seen.add(kk); byIncl.set(kk, (byIncl.get(kk) ?? 0) + t); } }
}
const top = (m: Map<string, number>, n: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `${(v / total * 100).toFixed(1).padStart(5)}%  ${k}`).join("\n");
console.log("busy ms", (total / 1000).toFixed(0), "(idle gaps left out)");
console.log("SELF\n" + top(bySelf, Number(process.argv[3] ?? 30)));
console.log("INCLUSIVE\n" + top(byIncl, Number(process.argv[3] ?? 30)));

// Parts of the path: a sample's self time goes to the first part whose test matches (leaf first).
type Frame = { name: string; file: string };
const stackOf = (id: number): Frame[] => {
  const out: Frame[] = [];
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const f = nodes.get(cur).callFrame;
    out.push({ name: f.functionName, file: f.url.split("/").slice(-2).join("/") });
  }
  return out;
};
const within = (st: Frame[], name: string, file?: string) => st.some((f) => f.name === name && (!file || f.file.endsWith(file)));
const native = (st: Frame[], ...names: string[]) => !st[0]!.file && names.includes(st[0]!.name);
const PARTS: [string, (st: Frame[]) => boolean][] = [
  ["fsync (the worker's kernel work, charged to this core)", (st) => within(st, "fdatasyncCb")],
  ["SQLite: BEGIN / COMMIT (WAL writes, checkpoints)", (st) => native(st, "run", "get") && within(st, "flush", "write/writer.ts") && !within(st, "runJob")],
  ["SQLite: the Msg's statements", (st) => native(st, "run", "get", "values") && within(st, "sendMessage")],
  ["SQLite: other statements (REST, Login, savepoints, total_changes)", (st) => native(st, "run", "get", "values", "all", "prepare")],
  ["publish + send (uWS, corked)", (st) => native(st, "publish", "send", "cork", "subscriberCount") || within(st, "publish", "ws/hub.ts")],
  ["HTTP (Hono, middleware, request log)", (st) => st.some((f) => f.file.includes("hono") || f.file.startsWith("http/") || f.file.includes("secure-headers") || f.file.includes("body-limit") || f.file.endsWith("src/log.ts") || f.file === "src/server.ts")],
  ["frames in: JSON.parse, fastMsg, zod", (st) => within(st, "message", "ws/server.ts") && !within(st, "flush")],
  ["frames out: ack and push text", (st) => within(st, "msgPush") || within(st, "msgAck") || within(st, "okAck") || within(st, "formatTime")],
  ["writer, domain and effects (JS)", (st) => st.some((f) => f.file.startsWith("write/") || f.file.startsWith("domain/") || f.file.startsWith("ws/") || f.file.startsWith("db/"))],
  ["other", () => true],
];
const parts = new Map<string, number>(PARTS.map(([k]) => [k, 0]));
for (const [id, t] of self) {
  const st = stackOf(id);
  const part = PARTS.find(([, test]) => test(st))![0];
  parts.set(part, parts.get(part)! + t);
}
console.log("PARTS (share of busy time)");
for (const [k, v] of parts) console.log(`${(v / total * 100).toFixed(1).padStart(5)}%  ${k}`);
