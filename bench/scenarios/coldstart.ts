// Cold start of the compiled binary: its size, and exec → first WebSocket Ack.
import type { ColdStartConfig } from "../clients/coldstart";
import { closeSeedDb, openSeedDb, productionHash, seedUsers } from "../lib/seed";
import { ROOT, runClient } from "../lib/spawn";
import { join } from "node:path";
import { dbPath, type RunCtx } from "./context";

export async function coldStart(ctx: RunCtx, o: { runs: number }) {
  const file = dbPath(ctx, "coldstart");
  const db = openSeedDb(file);
  const [u] = seedUsers(db, 1, await productionHash());
  closeSeedDb(db);
  const cfg: ColdStartConfig = { binary: join(ROOT, "dist/rim"), db: file, uid: u!.uid, token: u!.token, runs: o.runs };
  const r = await runClient("coldstart", cfg, { dir: ctx.dir, timeoutMs: 120_000 });
  ctx.log(`cold start: ${r.binary_mb} MB binary, exec → Ack p50 ${r.exec_to_ack_ms.p50} ms, max ${r.exec_to_ack_ms.max} ms`);
  return r;
}
