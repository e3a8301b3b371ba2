// Search at scale: 1M messages in 1000 groups, written straight into SQLite
// (the server indexes them at its first start, as it would an older
// database), then GET /api/message/search from this process against the real
// server, as a member of 20 groups: common and rare words, Latin and CJK,
// across all groups and within one. Prints p50/p99 per kind of query.
//
//   bun bench/search.ts [--messages 1000000] [--requests 300] [--backfill]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closeSeedDb, openSeedDb, productionHash, seedUsers } from "./lib/seed";
import { rng } from "./lib/rng";
import { startServer, ROOT } from "./lib/spawn";
import { indexedBody } from "../src/domain/search";
import { Samples } from "./lib/stats";

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const MESSAGES = arg("messages", 1_000_000);
const REQUESTS = arg("requests", 300);
const BACKFILL = process.argv.includes("--backfill");
const GROUPS = 1000;
const USERS = 1000;
const GROUPS_PER_USER = 20;

// A vocabulary with a long tail: word i is used with weight 1/(i+1) (Zipf), so the first words are in most
// messages and the last in a handful.
const LATIN = Array.from({ length: 5000 }, (_, i) => `w${i.toString(36)}${"aeiou"[i % 5]}`);
const CJK_CHARS = "北京上海东南西中国人大学工作会议明天今天时间问题公司项目开发测试系统数据服务用户消息文件搜索团队计划安排发布更新东京大阪ラーメン서울부산회의내일";
const rand = rng(11);
const zipf = (n: number) => Math.min(n - 1, Math.floor(Math.exp(rand() * Math.log(n + 1)) - 1));
function sentence(): string {
  const words: string[] = [];
  const n = 6 + Math.floor(rand() * 10);
  for (let i = 0; i < n; i++) words.push(LATIN[zipf(LATIN.length)]!);
  // One message in four carries some CJK text.
  if (rand() < 0.25) {
    let s = "";
    const len = 4 + Math.floor(rand() * 8);
    for (let i = 0; i < len; i++) s += [...CJK_CHARS][zipf(CJK_CHARS.length)];
    words.splice(Math.floor(rand() * words.length), 0, s);
  }
  return words.join(" ");
}

const dir = mkdtempSync(join(tmpdir(), "rim-bench-search-"));
const file = join(dir, "search.db");
try {
  const t0 = performance.now();
  const db = openSeedDb(file);
  const users = seedUsers(db, USERS, await productionHash());
  const now = Date.now();
  const gids: number[] = [];
  db.transaction(() => {
    const addGroup = db.prepare("INSERT INTO groups (name, avatar, mode, creator_uid, created_at) VALUES (?, '', 2, ?, ?) RETURNING id");
    const addMember = db.prepare("INSERT INTO group_members (group_id, user_id, role, joined_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING");
    for (let g = 0; g < GROUPS; g++) gids.push((addGroup.get(`group ${g}`, users[0]!.uid, now) as { id: number }).id);
    users.forEach((u, i) => {
      for (let k = 0; k < GROUPS_PER_USER; k++) addMember.run(gids[(i * 37 + k * 50) % GROUPS]!, u.uid, 1, now);
    });
    const addMsg = db.prepare("INSERT INTO messages (group_id, seq, sender_uid, kind, content, client_msg_id, created_at, updated_at) VALUES (?, ?, ?, 'Text', ?, ?, ?, ?)");
    // Indexed as the server indexes (the backfill of an older database is timed apart: --backfill).
    const addIndex = db.prepare("INSERT INTO message_search (rowid, body) VALUES (?, ?)");
    const seqs = new Array<number>(GROUPS).fill(0);
    for (let i = 0; i < MESSAGES; i++) {
      const g = Math.floor(rand() * GROUPS);
      const at = now - (MESSAGES - i) * 100;
      const text = sentence();
      const r = addMsg.run(gids[g]!, ++seqs[g]!, users[0]!.uid, text, `s${i}`, at, at);
      if (!BACKFILL) addIndex.run(Number(r.lastInsertRowid), indexedBody(gids[g]!, text));
    }
    const bump = db.prepare("UPDATE groups SET last_seq = ? WHERE id = ?");
    for (let g = 0; g < GROUPS; g++) bump.run(seqs[g]!, gids[g]!);
    // --backfill: as a database from before search, indexed by the server at its first start.
    db.run(`UPDATE settings SET value = '${BACKFILL ? "pending" : "done"}' WHERE key = 'search_backfill'`);
  })();
  closeSeedDb(db);
  console.log(`seeded ${MESSAGES} messages in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const t1 = performance.now();
  const server = await startServer({ kind: "rim", rimCmd: ["bun", join(ROOT, "src/main.ts")], db: file, args: ["--sync", "normal"] });
  console.log(`server up${BACKFILL ? " (the backfill of the index included)" : ""} in ${((performance.now() - t1) / 1000).toFixed(1)} s`);
  try {
    const me = users[1]!;
    const myGroups = Array.from({ length: GROUPS_PER_USER }, (_, k) => gids[(1 * 37 + k * 50) % GROUPS]!);
    const kinds: Record<string, () => string> = {
      "common word": () => LATIN[Math.floor(rand() * 5)]!,
      "middling word": () => LATIN[200 + Math.floor(rand() * 200)]!,
      "rare word": () => LATIN[4000 + Math.floor(rand() * 1000)]!,
      "two words": () => `${LATIN[Math.floor(rand() * 20)]} ${LATIN[100 + Math.floor(rand() * 100)]}`,
      "prefix of 3": () => LATIN[Math.floor(rand() * 50)]!.slice(0, 3),
      "CJK pair, common": () => [...CJK_CHARS].slice(0, 4).join("").slice(Math.floor(rand() * 3), undefined).slice(0, 2),
      "CJK, rare": () => [...CJK_CHARS].slice(-6).join("").slice(Math.floor(rand() * 4)).slice(0, 2),
      "within one group": () => LATIN[Math.floor(rand() * 50)]!,
    };
    const rows: string[] = [];
    for (const [kind, query] of Object.entries(kinds)) {
      const samples = new Samples();
      let hits = 0;
      for (let i = 0; i < REQUESTS; i++) {
        const gid = kind === "within one group" ? `&gid=${myGroups[i % myGroups.length]}` : "";
        const url = `${server.url}/api/message/search?q=${encodeURIComponent(query())}${gid}`;
        const s = performance.now();
        const res = await fetch(url, { headers: { Authorization: `Bearer ${me.token}` } });
        const body = (await res.json()) as { data: unknown[] | null };
        samples.add(performance.now() - s);
        if (!body.data) throw new Error(`search failed: ${JSON.stringify(body)}`);
        hits += body.data.length;
      }
      const sum = samples.summary();
      rows.push(`| ${kind} | ${sum.p50} | ${sum.p99} | ${sum.max} | ${(hits / REQUESTS).toFixed(1)} |`);
    }
    console.log(`\nsearch, ${MESSAGES} messages, a member of ${GROUPS_PER_USER} of ${GROUPS} groups, ${REQUESTS} requests each (ms):\n`);
    console.log("| query | p50 | p99 | max | hits per query |\n|---|---|---|---|---|");
    console.log(rows.join("\n"));
  } finally {
    await server.stop();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
