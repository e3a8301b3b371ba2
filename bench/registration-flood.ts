// A registration flood and a real user's logins, at production argon2 cost:
// 300 registrations from 30 addresses (through a trusted proxy's
// X-Forwarded-For, 10 each, the per-address limit) sent at once, while one
// user logs in again and again. Prints the logins' latency with and without
// the flood, and what the flood got.
//
//   bun bench/registration-flood.ts [--registrations 300] [--addresses 30] [--logins 40]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, startServer } from "./lib/spawn";
import { Samples } from "./lib/stats";

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const REGISTRATIONS = arg("registrations", 300);
const ADDRESSES = arg("addresses", 30);
const LOGINS = arg("logins", 40);

// The logins run in a process of their own: in one process, fetch's connection pool would queue them behind the flood's.
if (process.argv[2] === "--logins-of") {
  const url = process.argv[3]!;
  const n = Number(process.argv[4]);
  const s = new Samples();
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const res = await fetch(url + "/api/user/login", { method: "POST", headers: { "Content-Type": "application/json", "X-Forwarded-For": "198.51.100.1" }, body: JSON.stringify({ account: "steady", password: "steady-password" }) });
    if (res.status !== 200) throw new Error(`login ${res.status}: ${await res.text()}`);
    s.add(performance.now() - t);
  }
  console.log(JSON.stringify(s.summary()));
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), "rim-bench-flood-"));
const server = await startServer({ kind: "rim", rimCmd: ["bun", join(ROOT, "src/main.ts")], db: join(dir, "flood.db"), args: ["--trust-proxy", "loopback"] });
const post = (path: string, body: unknown, ip?: string) =>
  fetch(server.url + path, { method: "POST", headers: { "Content-Type": "application/json", ...(ip ? { "X-Forwarded-For": ip } : {}) }, body: JSON.stringify(body) });

async function logins(n: number, during?: Promise<unknown>) {
  const child = Bun.spawn(["bun", import.meta.path, "--logins-of", server.url, String(n)], { stdout: "pipe", stderr: "inherit" });
  const out = await new Response(child.stdout).text();
  await during;
  return JSON.parse(out.trim().split("\n").pop()!) as ReturnType<Samples["summary"]>;
}

try {
  if ((await post("/api/user/create", { account: "steady", password: "steady-password" }, "198.51.100.1")).status !== 200) throw new Error("could not register");
  const quiet = await logins(LOGINS);

  const statuses = new Map<number, number>();
  const t0 = performance.now();
  let floodDone = 0;
  const flood = Promise.all(
    Array.from({ length: REGISTRATIONS }, async (_, i) => {
      const ip = `203.0.113.${(i % ADDRESSES) + 1}`;
      const res = await post("/api/user/create", { account: `flood${i}`, password: "flood-password" }, ip);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      floodDone = performance.now() - t0;
    }),
  );
  const during = await logins(LOGINS, flood);
  const got = [...statuses].map(([code, n]) => `${n} × ${code}`).join(", ");
  console.log(`${REGISTRATIONS} registrations from ${ADDRESSES} addresses, production argon2 (64 MiB, 2 passes): ${got}, all answered in ${(floodDone / 1000).toFixed(1)} s`);
  console.log(`\n| logins of one user (${LOGINS}) | p50 ms | p99 ms | max ms |\n|---|---|---|---|`);
  console.log(`| alone | ${quiet.p50} | ${quiet.p99} | ${quiet.max} |`);
  console.log(`| during the flood | ${during.p50} | ${during.p99} | ${during.max} |`);
} finally {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
