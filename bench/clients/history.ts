// REST reads at scale: history pages and the chat list (with its unread
// counts) through the real HTTP API, one request at a time over keep-alive,
// timed on the client.
import { readConfig, runMain } from "../lib/client";
import { Samples } from "../lib/stats";

export type HistoryConfig = {
  url: string;
  users: { uid: number; token: string; gids: number[] }[];
  warmup: number;
  requests: number;
  /** The page the deep history op asks for (20 a page). */
  deepPage: number;
  ops: { name: string; path: string; body: "history" | "history-deep" | "chat-list" | "floor" }[];
};

runMain(async () => {
  const cfg = readConfig<HistoryConfig>();
  if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(cfg.url)) throw new Error("bench targets 127.0.0.1 only");
  const out: Record<string, any> = {};
  let k = 0;
  for (const op of cfg.ops) {
    const lat = new Samples();
    let errors = 0;
    let firstError: unknown = null;
    let bytes = 0;
    for (let i = 0; i < cfg.warmup + cfg.requests; i++) {
      const u = cfg.users[k++ % cfg.users.length]!;
      const gid = u.gids[(k * 7919) % u.gids.length]!;
      const body =
        op.body === "chat-list" ? { page: 1, size: 20 } : op.body === "history" ? { gid, page: 1, size: 20 } : { gid, page: cfg.deepPage, size: 20 };
      const t0 = performance.now();
      const res =
        op.body === "floor"
          ? await fetch(cfg.url + op.path)
          : await fetch(cfg.url + op.path, {
              method: "POST",
              headers: { Authorization: `Bearer ${u.token}`, "Content-Type": "application/json" },
              body: JSON.stringify(body),
            });
      const text = await res.text();
      const ms = performance.now() - t0;
      if (i >= cfg.warmup) {
        lat.add(ms);
        bytes += text.length;
      }
      if (op.body === "floor") {
        if (res.status !== 200) errors++;
        continue;
      }
      const json = JSON.parse(text);
      if (!json.ok || !Array.isArray(json.data) || json.data.length === 0) {
        errors++;
        firstError ??= text.slice(0, 300);
      }
    }
    out[op.name] = { ...lat.summary(), errors, firstError, avg_bytes: Math.round(bytes / Math.max(1, cfg.requests)) };
  }
  return out;
});
