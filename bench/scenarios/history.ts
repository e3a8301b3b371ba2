// History at scale: 1M messages in 1000 groups (50 members each, every user
// in 25 groups, read cursors anywhere), written straight into SQLite; then
// REST history pages and chat lists through the real server. One measuring
// user logs in through REST (production argon2) to prove the seeded hash.
import type { HistoryConfig } from "../clients/history";
import { BENCH_PASSWORD, closeSeedDb, openSeedDb, productionHash, seedUsers } from "../lib/seed";
import { runClient, startServer } from "../lib/spawn";
import { round } from "../lib/stats";
import { dbPath, type RunCtx } from "./context";
import { rng } from "../lib/rng";

export type HistoryOptions = { messages: number; groups: number; users: number; groupsPerUser: number; requests: number; warmup: number };


export async function seedHistory(file: string, o: HistoryOptions) {
  const rand = rng(7);
  const db = openSeedDb(file);
  const users = seedUsers(db, o.users, await productionHash());
  const now = Date.now();
  const membersOf: number[][] = Array.from({ length: o.groups }, () => []);
  const groupsOf: number[][] = users.map(() => []);
  const step = Math.floor(o.groups / o.groupsPerUser);
  users.forEach((_, u) => {
    for (let k = 0; k < o.groupsPerUser; k++) {
      const g = (u * 37 + k * step) % o.groups;
      membersOf[g]!.push(u);
      groupsOf[u]!.push(g);
    }
  });
  const gids: number[] = [];
  const msgIds: number[][] = Array.from({ length: o.groups }, () => []);
  const t0 = performance.now();
  db.transaction(() => {
    const addGroup = db.prepare("INSERT INTO groups (name, avatar, mode, creator_uid, created_at) VALUES (?, '', 2, ?, ?) RETURNING id");
    const addMember = db.prepare("INSERT INTO group_members (group_id, user_id, role, joined_at) VALUES (?, ?, ?, ?)");
    for (let g = 0; g < o.groups; g++) {
      const owner = users[membersOf[g]![0]!]!.uid;
      const { id } = addGroup.get(`group ${g + 1}`, owner, now) as { id: number };
      gids.push(id);
      membersOf[g]!.forEach((u, i) => addMember.run(id, users[u]!.uid, i === 0 ? 3 : 1, now));
    }
    const addMsg = db.prepare(
      "INSERT INTO messages (group_id, seq, sender_uid, kind, content, client_msg_id, created_at, updated_at) VALUES (?, ?, ?, 'Text', ?, ?, ?, ?)",
    );
    const seqs = new Array<number>(o.groups).fill(0);
    for (let i = 0; i < o.messages; i++) {
      const g = Math.floor(rand() * o.groups);
      const members = membersOf[g]!;
      const sender = users[members[Math.floor(rand() * members.length)]!]!.uid;
      const at = now - (o.messages - i) * 500;
      const r = addMsg.run(gids[g]!, ++seqs[g]!, sender, `message ${i} of the seeded history, a sentence of ordinary length.`, `h${i}`, at, at);
      msgIds[g]!.push(Number(r.lastInsertRowid));
    }
    const bump = db.prepare("UPDATE groups SET last_seq = ?, last_msg_id = ? WHERE id = ?");
    for (let g = 0; g < o.groups; g++) if (seqs[g]) bump.run(seqs[g]!, msgIds[g]!.at(-1)!, gids[g]!);
    // Read cursors anywhere in each conversation: from all read to nothing read.
    const cursor = db.prepare("UPDATE group_members SET read_msg_id = ?, delivered_msg_id = ? WHERE group_id = ? AND user_id = ?");
    users.forEach((u, ui) => {
      for (const g of groupsOf[ui]!) {
        const ids = msgIds[g]!;
        const pos = Math.floor(rand() * (ids.length + 1));
        const id = pos === 0 ? 0 : ids[pos - 1]!;
        cursor.run(id, id, gids[g]!, u.uid);
      }
    });
  })();
  const seedMs = performance.now() - t0;
  closeSeedDb(db);
  return { users, gids, groupsOf, seedMs };
}

export async function history(ctx: RunCtx, o: HistoryOptions) {
  const file = dbPath(ctx, "history");
  const seeded = await seedHistory(file, o);
  ctx.log(`history: seeded ${o.messages} messages in ${round(seeded.seedMs / 1000, 1)} s`);
  const server = await startServer({ kind: "rim", rimCmd: ctx.rimCmd, db: file });
  try {
    // One real REST login at production argon2 cost.
    const t0 = performance.now();
    const res = await fetch(server.url + "/api/user/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ account: seeded.users[0]!.account, password: BENCH_PASSWORD }),
    });
    const login = (await res.json()) as { ok: boolean; data: string };
    const loginMs = performance.now() - t0;
    if (!login.ok) throw new Error("REST login with the seeded hash failed: " + JSON.stringify(login));
    const sample = seeded.users.slice(0, 50).map((u, i) => ({
      uid: u.uid,
      token: i === 0 ? login.data : u.token,
      gids: seeded.groupsOf[i]!.map((g) => seeded.gids[g]!),
    }));
    const cfg: HistoryConfig = {
      url: server.url,
      users: sample,
      warmup: o.warmup,
      requests: o.requests,
      // Half way back through a conversation.
      deepPage: Math.max(2, Math.floor(o.messages / o.groups / 20 / 2)),
      ops: [
        // The transport's floor: GET / answers a constant through the same server and client.
        { name: "rest_floor", path: "/", body: "floor" },
        { name: "history", path: "/api/message/history", body: "history" },
        { name: "history_deep", path: "/api/message/history", body: "history-deep" },
        { name: "chat_list", path: "/api/message/chat/list", body: "chat-list" },
      ],
    };
    const r = await runClient("history", cfg, { dir: ctx.dir, timeoutMs: 300_000 });
    for (const [k, v] of Object.entries(r) as [string, any][]) ctx.log(`history ${k}: p50 ${v.p50} ms, p99 ${v.p99} ms${v.errors ? `, ${v.errors} errors: ${v.firstError}` : ""}`);
    return { ...o, seed_s: round(seeded.seedMs / 1000, 1), rest_login_ms: round(loginMs, 1), ...r };
  } finally {
    await server.stop();
  }
}
