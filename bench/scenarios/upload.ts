// Uploads of 25 MiB through the real server: throughput on loopback and how
// far the server's resident memory grows during an upload (the body streams
// to disk: it should not grow with the file). The files land beside the
// database, on the same disk, fsynced.
import type { UploadConfig } from "../clients/upload";
import { closeSeedDb, openSeedDb, productionHash, seedUsers } from "../lib/seed";
import { runClient, startServer } from "../lib/spawn";
import { dbPath, type RunCtx } from "./context";

export async function upload(ctx: RunCtx, o: { sizeMiB: number; runs: number }) {
  const file = dbPath(ctx, "upload");
  const db = openSeedDb(file);
  const [u] = seedUsers(db, 1, await productionHash());
  closeSeedDb(db);
  const server = await startServer({ kind: "rim", rimCmd: ctx.rimCmd, db: file, args: ["--upload-quota", "0"] });
  try {
    const cfg: UploadConfig = { url: server.url, token: u!.token, serverPid: server.pid, sizeMiB: o.sizeMiB, runs: o.runs, modes: ["length", "chunked"] };
    const r = await runClient("upload", cfg, { dir: ctx.dir, timeoutMs: 300_000 });
    for (const mode of cfg.modes) {
      const m = r[mode];
      ctx.log(`upload ${o.sizeMiB} MiB (${mode}): ${m.mib_per_s.p50} MiB/s p50, RSS growth p50 ${m.rss_peak_growth_mb.p50} MB, max ${m.rss_peak_growth_mb_max_all} MB`);
    }
    return r;
  } finally {
    await server.stop();
  }
}
