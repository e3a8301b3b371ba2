// What a cluster's writer adds per committed batch while it holds the ids
// lock: publishCommitted (src/bus/effects.ts) awaited on a real Redis of its
// own (tests/services.ts), with a second node subscribed in this process.
// Batches of 1 and of 32 Msg pushes (about 350 bytes each), 3000 of each.
//   bun bench/effect-bus.ts
import { startRedis } from "../tests/services";
import { createEffectBus, type EffectBatch } from "../src/bus/effects";
import { connectRedisBus } from "../src/bus/redis";
import { createHub } from "../src/ws/hub";
import { msgPush } from "../src/push";
const redis = await startRedis();
const log = { debug() {}, info() {}, warn() {}, error() {} } as any;
const mk = () => { const hub = createHub(); const eb = createEffectBus({ bus: connectRedisBus<EffectBatch>(redis.url, { onResync: () => {}, log }), channel: "b:effects", hub, log }); return eb; };
const a = mk(), b = mk();
await Promise.all([a.ready(), b.ready()]);
const data = msgPush({ kind: "Text", uid: 1, gid: 3, content: "x".repeat(100), client_msg_id: "c", id: 1, seq: 1, createTime: "2026-01-01 00:00:00", replyTo: null, mentions: [], editedAt: null, deleted: false, reactions: [] } as any);
for (const per of [1, 32]) {
  const effects = Array.from({ length: per }, () => ({ type: "publish" as const, gid: 3, data }));
  const times: number[] = [];
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < 3000; i++) { const t = performance.now(); await a.publishCommitted(effects); times.push(performance.now() - t); }
  const cpu = process.cpuUsage(cpu0);
  times.sort((x, y) => x - y);
  console.log(`${per} publish/batch: awaited publish median ${(times[1500]! * 1000).toFixed(0)} µs, p99 ${(times[2970]! * 1000).toFixed(0)} µs; process CPU per batch ${((cpu.user + cpu.system) / 3000).toFixed(0)} µs (incl. node B receiving)`);
}
await a.close(); await b.close(); await redis.stop(); process.exit(0);
