// Uploads of one size through the real HTTP API, one at a time over
// keep-alive, each timed on the client, with the server's resident memory
// measured around it: the peak (VmHWM, reset through /proc/PID/clear_refs
// before each upload) against the RSS just before. The first upload of a
// fresh server is reported apart (one-time allocations land there).
import { readFileSync, writeFileSync } from "node:fs";
import { readConfig, runMain } from "../lib/client";
import { round, summarize } from "../lib/stats";

export type UploadConfig = {
  url: string;
  token: string;
  serverPid: number;
  sizeMiB: number;
  /** Uploads per mode, the first of the first mode included. */
  runs: number;
  /** "length": the body with its Content-Length (browsers, curl); "chunked": a stream of unknown length. */
  modes: ("length" | "chunked")[];
};

const MiB = 1024 * 1024;

function memory(pid: number) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? NaN);
  return { rss: kb("VmRSS") / 1024, hwm: kb("VmHWM") / 1024 };
}

runMain(async () => {
  const cfg = readConfig<UploadConfig>();
  if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(cfg.url)) throw new Error("bench targets 127.0.0.1 only");
  const size = cfg.sizeMiB * MiB;
  const data = new Uint8Array(size);
  // Bytes that do not compress and differ per upload (else every upload after the first is stored once).
  crypto.getRandomValues(data.subarray(0, 65536));
  for (let off = 65536; off < size; off += 65536) data.copyWithin(off, 0, Math.min(65536, size - off));
  const out: Record<string, unknown> = { size_mib: cfg.sizeMiB };
  let n = 0;
  for (const mode of cfg.modes) {
    const runs: { ms: number; mib_per_s: number; rss_before_mb: number; rss_peak_growth_mb: number; rss_after_mb: number }[] = [];
    for (let i = 0; i < cfg.runs; i++) {
      new DataView(data.buffer).setUint32(0, ++n);
      const before = memory(cfg.serverPid);
      writeFileSync(`/proc/${cfg.serverPid}/clear_refs`, "5"); // VmHWM := VmRSS
      const body =
        mode === "length"
          ? data
          : new ReadableStream<Uint8Array>({
              start(c) {
                for (let off = 0; off < size; off += MiB) c.enqueue(data.subarray(off, off + MiB));
                c.close();
              },
            });
      const t0 = performance.now();
      const res = await fetch(`${cfg.url}/api/file/upload?name=bench.bin`, {
        method: "POST",
        headers: { Authorization: `Bearer ${cfg.token}`, "Content-Type": "application/octet-stream" },
        body,
        duplex: "half",
      } as RequestInit);
      const json = (await res.json()) as { ok: boolean; data: { size: number } };
      const ms = performance.now() - t0;
      if (!json.ok || json.data.size !== size) throw new Error(`upload failed: ${res.status} ${JSON.stringify(json)}`);
      const after = memory(cfg.serverPid);
      runs.push({
        ms: round(ms, 1),
        mib_per_s: round(cfg.sizeMiB / (ms / 1000), 0),
        rss_before_mb: round(before.rss, 1),
        rss_peak_growth_mb: round(after.hwm - before.rss, 1),
        rss_after_mb: round(after.rss, 1),
      });
    }
    const rest = n === runs.length ? runs.slice(1) : runs; // the server's first upload apart
    out[mode] = {
      first: n === runs.length ? runs[0] : null,
      mib_per_s: summarize(rest.map((r) => r.mib_per_s)),
      rss_peak_growth_mb: summarize(rest.map((r) => r.rss_peak_growth_mb)),
      rss_peak_growth_mb_max_all: Math.max(...runs.map((r) => r.rss_peak_growth_mb)),
      rss_start_end_mb: [runs[0]!.rss_before_mb, runs.at(-1)!.rss_after_mb],
      runs,
    };
  }
  return out;
});
