// Files: upload (limits, quota, names, the bytes streamed to disk and stored
// once), sharing them in messages, who may download them, the headers of a
// download (Range, ETag, types never run inline), the <img> cookie (good on
// every node), collection of unshared uploads (the app's clock; on a cluster
// one node at a time, sparing the other nodes' uploads), a SIGKILL mid-upload,
// and backup and restore carrying the files.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, unwatchFile, utimesSync, watchFile, writeFileSync } from "node:fs";
import { SQL } from "bun";
import { dirname, join, relative } from "node:path";
import { closeApp, createApp } from "../src/app";
import { collectFiles, recordUpload } from "../src/domain/files";
import { collectUploads } from "../src/server";
import { RIM_COLLECT_LOCK } from "../src/db/pg/one-node";
import { removeMembers, sqlAll, sqlGet, sqlRun, cluster } from "./helpers";
import { sendMessage } from "./helpers";
import { createHttpApp } from "../src/http/app";
import { manualClock } from "../src/time";
import { ServerProcess } from "./crash-run";
import { Client, fixture, group, serve, tempDir, testConfig, user, type TestUser } from "./helpers";
import type { ClusterServed } from "./cluster";

const ROOT = join(import.meta.dir, "..");
type Server = Awaited<ReturnType<typeof serve>>;

const PNG: Uint8Array<ArrayBuffer> = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...Array.from({ length: 56 }, (_, i) => i)]);
const bytes = (n: number, seed = 1): Uint8Array<ArrayBuffer> => {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7) & 255;
  return b;
};
const sha256 = (b: Uint8Array) => new Bun.CryptoHasher("sha256").update(b).digest("hex");
/** A body of unknown length: sent chunked, without Content-Length. */
const chunked = (b: Uint8Array, size = 1000) =>
  new ReadableStream<Uint8Array>({
    start(c) {
      for (let i = 0; i < b.length; i += size) c.enqueue(b.slice(i, i + size));
      c.close();
    },
  });

type UploadOpts = { name?: string | null; query?: string; type?: string; stream?: boolean; token?: string | null; headers?: Record<string, string> };

async function upload(s: Server, u: TestUser, body: Uint8Array, o: UploadOpts = {}) {
  const q = o.query ?? (o.name === null ? "" : `name=${encodeURIComponent(o.name ?? "file.bin")}`);
  const headers: Record<string, string> = { ...o.headers };
  if (o.token !== null) headers.Authorization = `Bearer ${o.token ?? u.token}`;
  if (o.type) headers["Content-Type"] = o.type;
  // Bun's fetch streams a ReadableStream body (duplex "half"), without a Content-Length.
  const init = { method: "POST", headers, body: o.stream ? chunked(body) : body, duplex: "half" };
  const res = await fetch(`${s.url}/api/file/upload?${q}`, init as RequestInit);
  const text = await res.text();
  let json: any = text;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, body: json };
}

async function uploaded(s: Server, u: TestUser, body: Uint8Array, o: UploadOpts = {}): Promise<{ id: string; name: string; size: number; mime: string }> {
  const r = await upload(s, u, body, o);
  if (r.status !== 200) throw new Error(`upload: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.data;
}

const get = (s: Server, id: string, headers: Record<string, string> = {}, method = "GET") => fetch(`${s.url}/api/file/${id}`, { method, headers });
const getAs = (s: Server, u: TestUser, id: string, headers: Record<string, string> = {}) => get(s, id, { Authorization: `Bearer ${u.token}`, ...headers });

/** Every file under dir, relative to it. */
function walk(dir: string, base = dir): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name), base) : [relative(base, join(dir, e.name))]));
}
/** The blobs under dir: <two hex digits>/<sha256> (not tmp/, not the cookie's key). */
const blobsIn = (dir: string) => walk(dir).filter((p) => /^[0-9a-f]{2}\/[0-9a-f]{64}$/.test(p));
const rows = (s: Server) => sqlAll(s.app, "SELECT id, sha256, name, size, mime, uploader_uid AS uid FROM files ORDER BY created_at, id");

/**
 * A server on a database file in a temporary folder, its files beside it; on the cluster, three nodes
 * whose files folder is the cluster's shared --files folder (tests/cluster.ts startNodes).
 */
async function fileServer(overrides: Parameters<typeof serve>[0] = {}, opts: Parameters<typeof serve>[1] = {}) {
  const tmp = tempDir("rim-files-");
  const db = join(tmp.dir, "rim.db");
  const s = await serve({ db, ...overrides }, opts);
  return Object.assign(s, {
    db,
    filesDir: s.app.files.dir,
    async close() {
      await s.stop();
      tmp.cleanup();
    },
  });
}

// ---------------------------------------------------------------- upload

describe("upload", () => {
  let s: Awaited<ReturnType<typeof fileServer>>;
  let a: TestUser, b: TestUser;
  beforeAll(async () => {
    s = await fileServer({ maxUpload: 64 * 1024, bodyLimit: 1024 });
    a = await user(s.app, "up_ann");
    b = await user(s.app, "up_bob");
  });
  afterAll(() => s.close());

  test("answers {id, name, size, mime}; the bytes are fsynced in the files folder (on SQLite beside the database) under their sha256", async () => {
    expect(s.filesDir).toBe(cluster ? s.app.config.files : join(dirname(s.db), "files"));
    const body = bytes(5000);
    const r = await upload(s, a, body, { name: "report 2026.pdf", type: "application/pdf" });
    expect(r).toEqual({ status: 200, body: { ok: true, code: 200, msg: null, data: { id: expect.stringMatching(/^[A-Za-z0-9_-]{21}$/), name: "report 2026.pdf", size: 5000, mime: "application/pdf" } } });
    const sha = sha256(body);
    expect(blobsIn(s.filesDir)).toContain(`${sha.slice(0, 2)}/${sha}`);
    expect(new Uint8Array(await Bun.file(join(s.filesDir, sha.slice(0, 2), sha)).arrayBuffer())).toEqual(body);
    expect(statSync(join(s.filesDir, sha.slice(0, 2), sha)).mode & 0o777).toBe(0o600);
    expect((await rows(s)).find((x) => x.id === r.body.data.id)).toMatchObject({ sha256: sha, uid: a.uid, size: 5000 });
    expect(walk(join(s.filesDir, "tmp"))).toEqual([]);
  });

  test("the same bytes uploaded twice, by two users, streamed or not: two ids, one copy on disk", async () => {
    const body = bytes(3000, 2);
    const one = await uploaded(s, a, body, { name: "a.bin" });
    const two = await uploaded(s, b, body, { name: "b.bin", stream: true });
    expect(one.id).not.toBe(two.id);
    expect(blobsIn(s.filesDir).filter((p) => p.endsWith(sha256(body)))).toHaveLength(1);
    expect(new Uint8Array(await (await getAs(s, b, two.id)).arrayBuffer())).toEqual(body);
  });

  test("exactly --max-upload is stored; one byte more is 413 whether announced or streamed, and leaves nothing behind", async () => {
    const before = { rows: (await rows(s)).length, blobs: blobsIn(s.filesDir).length };
    expect((await upload(s, a, bytes(64 * 1024, 3))).status).toBe(200);
    expect((await upload(s, a, bytes(64 * 1024, 4), { stream: true })).status).toBe(200);
    for (const stream of [false, true]) {
      const r = await upload(s, a, bytes(64 * 1024 + 1, 5), { stream });
      expect(r.status).toBe(413);
      expect(r.body).toEqual({ ok: false, code: 413, msg: expect.stringContaining("--max-upload"), data: null });
    }
    expect({ rows: (await rows(s)).length, blobs: blobsIn(s.filesDir).length }).toEqual({ rows: before.rows + 2, blobs: before.blobs + 2 });
    expect(walk(join(s.filesDir, "tmp"))).toEqual([]);
  });

  test("--max-upload is its own limit: an upload far over --body-limit passes, while JSON bodies keep theirs", async () => {
    expect((await upload(s, a, bytes(20_000, 6))).status).toBe(200);
    const res = await fetch(`${s.url}/api/message/chat/list`, {
      method: "POST",
      headers: { Authorization: `Bearer ${a.token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ page: 1, size: 20, pad: "x".repeat(2000) }),
    });
    expect(res.status).toBe(413);
  });

  test("an empty body is 400, with or without a Content-Length", async () => {
    for (const stream of [false, true]) {
      const r = await upload(s, a, new Uint8Array(0), { stream });
      expect(r.status).toBe(400);
      expect(r.body.msg).toContain("empty");
    }
    expect(walk(join(s.filesDir, "tmp"))).toEqual([]);
  });

  const longest = "é".repeat(251) + "😀.tx"; // 255 characters (code points)
  test.each([
    ["plain", "notes.txt"],
    ["spaces and unicode", "Quartalsbericht Q3 – final (2).pdf"],
    ["emoji", "🐈 cat.png"],
    ["255 characters", longest],
    ["a dot inside", "archive.tar.gz"],
    ["quotes and percent", `50% "done".txt`],
  ])("name accepted: %s", async (_, name) => {
    expect([...name].length).toBeLessThanOrEqual(255);
    if (name === longest) expect([...name].length).toBe(255);
    const f = await uploaded(s, a, bytes(10, 7), { name });
    expect(f.name).toBe(name);
  });

  test.each([
    ["missing", null, undefined],
    ["empty", "name=", undefined],
    ["256 characters", `name=${encodeURIComponent("a".repeat(256))}`, "255"],
    ["a slash", `name=${encodeURIComponent("../etc/passwd")}`, "separator"],
    ["a backslash", `name=${encodeURIComponent("..\\boot.ini")}`, "separator"],
    ["a NUL", "name=a%00b", "control"],
    ["a newline", "name=a%0Ab.txt", "control"],
    ["DEL", "name=a%7Fb", "control"],
    ["a C1 control", `name=${encodeURIComponent("a\u0085b")}`, "control"],
    ["a bidi override", `name=${encodeURIComponent("invoice\u202Efdp.exe")}`, "control"],
    ["dot", "name=.", "."],
    ["dot dot", "name=..", ".."],
  ])("name refused (400): %s", async (_, query, reason) => {
    const n = (await rows(s)).length;
    const r = await upload(s, a, bytes(10, 8), query === null ? { name: null } : { query });
    expect(r.status).toBe(400);
    expect(r.body.msg).toStartWith("name:");
    if (reason) expect(r.body.msg).toContain(reason);
    expect((await rows(s)).length).toBe(n);
  });

  test("needs a Bearer token: none, a bad one, or the download cookie are 401, before the body is read", async () => {
    expect((await upload(s, a, bytes(10), { token: null })).status).toBe(401);
    expect((await upload(s, a, bytes(10), { token: "not-a-token" })).status).toBe(401);
    const cookie = await fileCookie(s, a);
    expect((await upload(s, a, bytes(10), { token: null, headers: { Cookie: cookie } })).status).toBe(401);
  });
});

describe("quota (--upload-quota)", () => {
  test("a user's uploads are counted; over the quota is 413, announced or streamed; others are not affected", async () => {
    const s = await fileServer({ uploadQuota: 10_000 });
    try {
      const [a, b] = [await user(s.app, "q_ann"), await user(s.app, "q_bob")];
      expect((await upload(s, a, bytes(6000, 1))).status).toBe(200);
      // Counted per upload, even of bytes stored before.
      expect((await upload(s, a, bytes(4000, 2))).status).toBe(200);
      const n = (await rows(s)).length;
      for (const stream of [false, true]) {
        const r = await upload(s, a, bytes(1, 3), { stream });
        expect(r.status).toBe(413);
        expect(r.body.msg).toContain("--upload-quota");
      }
      expect((await rows(s)).length).toBe(n);
      expect((await upload(s, b, bytes(10_000, 4))).status).toBe(200);
      expect(walk(join(s.filesDir, "tmp"))).toEqual([]);
    } finally {
      await s.close();
    }
  });

  test("two uploads racing for the last bytes of the quota: one is stored", async () => {
    const s = await fileServer({ uploadQuota: 1500 });
    try {
      const a = await user(s.app, "q_race");
      const results = await Promise.all([upload(s, a, bytes(1000, 1), { stream: true }), upload(s, a, bytes(1000, 2), { stream: true })]);
      expect(results.map((r) => r.status).sort()).toEqual([200, 413]);
      expect(await rows(s)).toHaveLength(1);
    } finally {
      await s.close();
    }
  });
});

// ---------------------------------------------------------------- sharing and who may download

async function fileCookie(s: Server, u: TestUser): Promise<string> {
  const res = await fetch(`${s.url}/api/file/cookie`, { method: "POST", headers: { Authorization: `Bearer ${u.token}` } });
  expect(res.status).toBe(200);
  return res.headers.get("Set-Cookie")!.split(";")[0]!;
}

describe("sharing a file in a message, and who may download it", () => {
  let s: Awaited<ReturnType<typeof fileServer>>;
  let up: TestUser, member: TestUser, removed: TestUser, stranger: TestUser, other: TestUser;
  let gid: number, otherGid: number;
  let sockets: Client[] = [];
  const open = async (u: TestUser) => {
    const c = await Client.open(s.wsUrl);
    sockets.push(c);
    expect((await c.login(u)).content).toBe("Ok");
    return c;
  };
  beforeAll(async () => {
    s = await fileServer();
    [up, member, removed, stranger, other] = [await user(s.app, "sh_up"), await user(s.app, "sh_member"), await user(s.app, "sh_removed"), await user(s.app, "sh_stranger"), await user(s.app, "sh_other")];
    gid = await group(s.app, up, [member, removed]);
    otherGid = await group(s.app, member, [other]);
  });
  afterAll(async () => {
    for (const c of sockets) c.close();
    await s.close();
  });

  test("the uploader shares a File: Ack, a push with `file` to the others, MessageInfo with `file` in history, chat/list and Sync", async () => {
    const f = await uploaded(s, up, bytes(2048, 9), { name: "plan.pdf", type: "application/pdf" });
    const [cu, cm] = [await open(up), await open(member)];
    const ack = await cu.request("Msg", { gid, kind: "File", content: f.id });
    // (Not toMatchObject with expect.any: Bun's matcher writes the matchers into the object it checks.)
    expect([ack.content, typeof ack.serverMsgId, typeof ack.seq]).toEqual(["Ok", "number", "number"]);
    const push = await cm.next((x) => x.event === "Msg");
    expect(push.body).toMatchObject({ kind: "File", content: f.id, msgId: ack.serverMsgId, file: f });
    const history = (await (await fetch(`${s.url}/api/message/history`, { method: "POST", headers: { Authorization: `Bearer ${member.token}`, "Content-Type": "application/json" }, body: JSON.stringify({ gid, page: 1, size: 20 }) })).json()) as any;
    expect(history.data.at(-1).msg).toMatchObject({ kind: "File", content: f.id, file: f });
    const list = (await (await fetch(`${s.url}/api/message/chat/list`, { method: "POST", headers: { Authorization: `Bearer ${member.token}`, "Content-Type": "application/json" }, body: JSON.stringify({ page: 1, size: 20 }) })).json()) as any;
    expect(list.data.find((e: any) => e.group.id === gid).msg.file).toEqual(f);
    cm.frames.length = 0;
    const sync = await cm.request("Sync", { msgId: ack.serverMsgId - 1, gid });
    expect(sync).toMatchObject({ content: "Ok", more: false });
    expect(cm.frames.find((x) => x.event === "Msg" && x.body.msgId === ack.serverMsgId)!.body.file).toEqual(f);
    // A resend of the same clientMsgId answers the original.
    const again = await cu.request("Msg", { gid, kind: "File", content: f.id, clientMsgId: "share-1" });
    expect((await cu.request("Msg", { gid, kind: "File", content: f.id, clientMsgId: "share-1" })).serverMsgId).toBe(again.serverMsgId);
  });

  test("download: the uploader and members 200; a removed member, a stranger 404; no token 401", async () => {
    const body = bytes(4096, 10);
    const f = await uploaded(s, up, body, { name: "minutes.txt", type: "text/plain" });
    await sendMessage(fixture(s.app), up.uid, { gid, kind: "File", content: f.id, clientMsgId: "dl-1" });
    await removeMembers(fixture(s.app), up.uid, gid, [removed.uid]);
    for (const u of [up, member]) {
      const res = await getAs(s, u, f.id);
      expect(res.status).toBe(200);
      expect(new Uint8Array(await res.arrayBuffer())).toEqual(body);
    }
    for (const u of [removed, stranger]) {
      const res = await getAs(s, u, f.id);
      expect(res.status).toBe(404);
      // The same answer as for an id that does not exist: ids leak nothing.
      expect(await res.json()).toEqual(await (await getAs(s, u, "AAAAAAAAAAAAAAAAAAAAA")).json());
    }
    expect((await get(s, f.id)).status).toBe(401);
    expect((await get(s, f.id, { Authorization: "Bearer nope" })).status).toBe(401);
  });

  test("an upload nobody shared is the uploader's alone", async () => {
    const f = await uploaded(s, up, bytes(100, 11));
    expect((await getAs(s, up, f.id)).status).toBe(200);
    expect((await getAs(s, member, f.id)).status).toBe(404);
  });

  test("a deleted message no longer shares its file (messages.deleted_at)", async () => {
    const f = await uploaded(s, up, bytes(100, 12));
    const m = (await sendMessage(fixture(s.app), up.uid, { gid, kind: "File", content: f.id, clientMsgId: "del-1" })).message;
    expect((await getAs(s, member, f.id)).status).toBe(200);
    await sqlRun(s.app, "UPDATE messages SET deleted_at = ? WHERE id = ?", Date.now(), m.id);
    expect((await getAs(s, member, f.id)).status).toBe(404);
    expect((await getAs(s, up, f.id)).status).toBe(200);
    // Nor can the member share it on any more.
    const cm = await open(member);
    expect((await cm.request("Msg", { gid: otherGid, kind: "File", content: f.id })).code).toBe(404);
  });

  test("sharing: someone who cannot read the file gets 404; a member who can may share it on, and the new group may read it", async () => {
    const f = await uploaded(s, up, bytes(300, 13));
    const [cm, co] = [await open(member), await open(other)];
    expect((await cm.request("Msg", { gid: otherGid, kind: "File", content: f.id })).code).toBe(404);
    expect((await getAs(s, other, f.id)).status).toBe(404);
    await sendMessage(fixture(s.app), up.uid, { gid, kind: "File", content: f.id, clientMsgId: "on-1" });
    const ack = await cm.request("Msg", { gid: otherGid, kind: "File", content: f.id });
    expect(ack.content).toBe("Ok");
    expect((await co.next((x) => x.event === "Msg" && x.body.msgId === ack.serverMsgId)).body.file.id).toBe(f.id);
    expect((await getAs(s, other, f.id)).status).toBe(200);
  });

  test("a File needs a file id (400); an Image may be a file id (an image) or, as in rim, a URL", async () => {
    const cu = await open(up);
    const bad = await cu.request("Msg", { gid, kind: "File", content: "https://example.com/x.pdf" });
    expect(bad).toMatchObject({ content: "Error", code: 400, msg: expect.stringContaining("content") });
    const url = await cu.request("Msg", { gid, kind: "Image", content: "https://example.com/cat.png" });
    expect(url.content).toBe("Ok");
    const pushed = await sqlGet(s.app, "SELECT kind, content FROM messages WHERE id = ?", url.serverMsgId);
    expect(pushed).toEqual({ kind: "Image", content: "https://example.com/cat.png" });
    const img = await uploaded(s, up, PNG, { name: "cat.png", type: "image/png" });
    const cm = await open(member);
    const ack = await cu.request("Msg", { gid, kind: "Image", content: img.id });
    expect((await cm.next((x) => x.event === "Msg" && x.body.msgId === ack.serverMsgId)).body).toMatchObject({ kind: "Image", file: { id: img.id, mime: "image/png" } });
    const pdf = await uploaded(s, up, bytes(50, 14), { type: "application/pdf" });
    expect((await cu.request("Msg", { gid, kind: "Image", content: pdf.id })).code).toBe(400);
    // A non-member is refused for the group first, as for any message.
    const cs = await open(stranger);
    expect((await cs.request("Msg", { gid, kind: "File", content: img.id })).code).toBe(403);
  });

  test("the cookie of POST /api/file/cookie downloads like the token (for <img>), and does nothing else", async () => {
    const f = await uploaded(s, up, PNG, { name: "pic.png", type: "image/png" });
    await sendMessage(fixture(s.app), up.uid, { gid, kind: "Image", content: f.id, clientMsgId: "ck-1" });
    const res = await fetch(`${s.url}/api/file/cookie`, { method: "POST", headers: { Authorization: `Bearer ${member.token}` } });
    const set = res.headers.get("Set-Cookie")!;
    expect(set).toMatch(/^rim_file=[^;]+; Path=\/api\/file\/; Max-Age=\d+; HttpOnly; SameSite=Strict$/);
    const cookie = set.split(";")[0]!;
    expect(cookie).not.toContain(member.token);
    expect((await get(s, f.id, { Cookie: cookie })).status).toBe(200);
    expect((await get(s, f.id, { Cookie: `other=1; ${cookie}; more=2` })).status).toBe(200);
    // Still only what the user may read.
    const mine = await uploaded(s, up, bytes(20, 15));
    expect((await get(s, mine.id, { Cookie: cookie })).status).toBe(404);
    // Tampered, or used anywhere else: no session.
    const [name, value] = cookie.split("=") as [string, string];
    const [sid, exp, sig] = value.split(".") as [string, string, string];
    for (const forged of [`${name}=${Number(sid) + 1}.${exp}.${sig}`, `${name}=${sid}.${Number(exp) + 1}.${sig}`, `${name}=${sid}.${exp}.${sig.replace(/^./, (ch) => (ch === "A" ? "B" : "A"))}`, `${name}=${sid}.${exp}`]) {
      expect((await get(s, f.id, { Cookie: forged })).status).toBe(401);
    }
    expect((await fetch(`${s.url}/api/user/get?uid=${up.uid}`, { headers: { Cookie: cookie } })).status).toBe(401);
    expect((await fetch(`${s.url}/api/file/cookie`, { method: "POST", headers: { Cookie: cookie } })).status).toBe(401);
    // Bound to the session: a logout ends it.
    expect((await fetch(`${s.url}/api/user/logout`, { method: "POST", headers: { Authorization: `Bearer ${member.token}` } })).status).toBe(200);
    expect((await get(s, f.id, { Cookie: cookie })).status).toBe(401);
  });

  test("a cookie is good on every node and after a restart, while its session lasts; its key is the files folder's, and removing it ends every cookie", async () => {
    const tmp = tempDir("rim-files-restart-");
    const db = join(tmp.dir, "rim.db");
    let s: Server | null = await serve({ db });
    /** Every node's REST URL (SQLite: the one server's). */
    const urls = () => (cluster ? (s as ClusterServed).urls : [s!.url]);
    /** SQLite: the server stopped and served again on its database; the cluster: each node in turn, the others serving meanwhile. */
    const restart = async () => {
      if (cluster) for (let i = 0; i < urls().length; i++) await (s as ClusterServed).restart(i);
      else {
        await s!.stop();
        s = null;
        s = await serve({ db });
      }
    };
    const statuses = async (id: string, cookie: string) => Promise.all(urls().map(async (url) => (await fetch(`${url}/api/file/${id}`, { headers: { Cookie: cookie } })).status));
    try {
      const u = await user(s.app, "rs_ann");
      const f = await uploaded(s, u, bytes(10, 16));
      const cookie = await fileCookie(s, u);
      expect(await statuses(f.id, cookie)).toEqual(urls().map(() => 200));
      const key = join(s.app.files.dir, "cookie.key");
      expect(statSync(key).mode & 0o777).toBe(0o600);
      await restart();
      expect(await statuses(f.id, cookie)).toEqual(urls().map(() => 200));
      // The operator's way to end every cookie at once: remove the key, restart.
      rmSync(key);
      await restart();
      expect(await statuses(f.id, cookie)).toEqual(urls().map(() => 401));
      const renewed = await fileCookie(s, u);
      expect(await statuses(f.id, renewed)).toEqual(urls().map(() => 200));
      // Bound to the session on every node: a logout ends it everywhere.
      expect((await fetch(`${s.url}/api/user/logout`, { method: "POST", headers: { Authorization: `Bearer ${u.token}` } })).status).toBe(200);
      expect(await statuses(f.id, renewed)).toEqual(urls().map(() => 401));
    } finally {
      await s?.stop();
      tmp.cleanup();
    }
  });
});

// ---------------------------------------------------------------- the download's headers

describe("download headers", () => {
  let s: Awaited<ReturnType<typeof fileServer>>;
  let a: TestUser;
  let body: Uint8Array;
  let f: { id: string };
  beforeAll(async () => {
    s = await fileServer();
    a = await user(s.app, "hd_ann");
    body = bytes(1000, 17);
    f = await uploaded(s, a, body, { name: "data.bin", type: "application/x-custom" });
  });
  afterAll(() => s.close());

  test("Content-Length, ETag, Accept-Ranges, nosniff, private caching", async () => {
    const res = await getAs(s, a, f.id);
    expect(res.status).toBe(200);
    expect(Object.fromEntries(["content-length", "etag", "accept-ranges", "x-content-type-options", "cache-control"].map((h) => [h, res.headers.get(h)]))).toEqual({
      "content-length": "1000",
      etag: `"${sha256(body)}"`,
      "accept-ranges": "bytes",
      "x-content-type-options": "nosniff",
      "cache-control": "private, no-cache",
    });
  });

  test.each([
    ["the ETag", (e: string) => e],
    ["a weak ETag", (e: string) => `W/${e}`],
    ["one of a list", (e: string) => `"x", ${e}`],
    ["*", () => "*"],
  ])("If-None-Match with %s → 304 without a body", async (_, match) => {
    const etag = (await getAs(s, a, f.id)).headers.get("etag")!;
    const res = await getAs(s, a, f.id, { "If-None-Match": match(etag) });
    expect(res.status).toBe(304);
    expect(res.headers.get("etag")).toBe(etag);
    expect((await res.arrayBuffer()).byteLength).toBe(0);
  });

  test("If-None-Match with another ETag → 200", async () => {
    expect((await getAs(s, a, f.id, { "If-None-Match": '"other"' })).status).toBe(200);
  });

  test.each([
    ["bytes=0-99", 0, 99],
    ["bytes=900-", 900, 999],
    ["bytes=-10", 990, 999],
    ["bytes=-5000", 0, 999],
    ["bytes=500-99999", 500, 999],
    ["bytes=999-999", 999, 999],
  ])("Range %s → 206 with those bytes", async (range, start, end) => {
    const res = await getAs(s, a, f.id, { Range: range });
    expect(res.status).toBe(206);
    expect(res.headers.get("content-range")).toBe(`bytes ${start}-${end}/1000`);
    expect(res.headers.get("content-length")).toBe(String(end - start + 1));
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(body.slice(start, end + 1));
  });

  test.each(["bytes=1000-", "bytes=5000-6000", "bytes=-0"])("Range %s → 416 with Content-Range bytes */size", async (range) => {
    const res = await getAs(s, a, f.id, { Range: range });
    expect(res.status).toBe(416);
    expect(res.headers.get("content-range")).toBe("bytes */1000");
    expect(await res.json()).toMatchObject({ ok: false, code: 416 });
  });

  test.each(["bytes=0-1,5-6", "bytes=10-5", "items=0-1", "bytes=abc", "bytes=-"])("Range %s (several, reversed, other units, malformed) → the whole file", async (range) => {
    const res = await getAs(s, a, f.id, { Range: range });
    expect(res.status).toBe(200);
    expect((await res.arrayBuffer()).byteLength).toBe(1000);
  });

  test("If-Range: the range only while the ETag still matches", async () => {
    const etag = `"${sha256(body)}"`;
    expect((await getAs(s, a, f.id, { Range: "bytes=0-9", "If-Range": etag })).status).toBe(206);
    expect((await getAs(s, a, f.id, { Range: "bytes=0-9", "If-Range": '"stale"' })).status).toBe(200);
  });

  test("HEAD: the headers, no body", async () => {
    const res = await get(s, f.id, { Authorization: `Bearer ${a.token}` }, "HEAD");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-length")).toBe("1000");
    expect((await res.arrayBuffer()).byteLength).toBe(0);
  });

  const SVG = `<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`;
  const HTML = "<!doctype html><script>alert(document.cookie)</script>";
  test.each([
    ["HTML as text/html", HTML, "text/html", "page.html"],
    ["HTML claiming image/png", HTML, "image/png", "cat.png"],
    ["SVG as image/svg+xml", SVG, "image/svg+xml", "logo.svg"],
    ["JavaScript", "alert(1)", "text/javascript", "app.js"],
    ["XHTML", `<html xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></html>`, "application/xhtml+xml", "x.xhtml"],
    ["no type at all", HTML, "", "noname"],
  ])("never served to run: %s → an attachment of application/octet-stream", async (_, text, type, name) => {
    const up = await uploaded(s, a, new TextEncoder().encode(text), { name, type: type || undefined });
    if (type.startsWith("image/") || !type) expect(up.mime).not.toMatch(/^image\//);
    const res = await getAs(s, a, up.id);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/octet-stream");
    expect(res.headers.get("content-disposition")).toStartWith("attachment;");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("content-security-policy")).toContain("sandbox");
  });

  test.each([
    ["PNG", PNG, "image/png"],
    ["JPEG", new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0, 1]), "image/jpeg"],
    ["GIF", new TextEncoder().encode("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), "image/gif"],
    ["WebP", new TextEncoder().encode("RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00"), "image/webp"],
  ])("an image (%s) is sniffed from its bytes, whatever its name and declared type, and served inline", async (_, data, mime) => {
    const up = await uploaded(s, a, data, { name: "not-an-image.html", type: "text/html" });
    expect(up.mime).toBe(mime);
    const res = await getAs(s, a, up.id);
    expect(res.headers.get("content-type")).toBe(mime);
    expect(res.headers.get("content-disposition")).toBe(`inline; filename="not-an-image.html"; filename*=UTF-8''not-an-image.html`);
  });

  test("a name with non-ASCII characters and quotes gets an ASCII fallback and the exact UTF-8 name", async () => {
    const up = await uploaded(s, a, bytes(5, 18), { name: 'Bericht "Ä" 100%.txt' });
    const cd = (await getAs(s, a, up.id)).headers.get("content-disposition")!;
    expect(cd).toBe(`attachment; filename="Bericht ___ 100_.txt"; filename*=UTF-8''Bericht%20%22%C3%84%22%20100%25.txt`);
  });
});

// ---------------------------------------------------------------- collection

// Skipped on the cluster (RIM_TEST_BACKEND=cluster): file collection on a SQLite file, in one process (the cluster's has the test of its own below).
describe.skipIf(cluster)("collection of unshared uploads (the app's clock)", () => {
  test("older than a day and shared by no message: row and bytes gone; shared, young, or bytes another row needs: kept", async () => {
    const clock = manualClock();
    const tmp = tempDir("rim-gc-");
    const app = createApp(testConfig({ db: join(tmp.dir, "rim.db") }), { clock });
    const http = createHttpApp(app);
    try {
      const [a, b] = [await user(app, "gc_ann"), await user(app, "gc_bob")];
      const gid = await group(app, a, [b]);
      const put = async (body: Uint8Array<ArrayBuffer>) => {
        const res = await http.request(`/api/file/upload?name=f`, { method: "POST", headers: { Authorization: `Bearer ${a.token}`, "Content-Length": String(body.length) }, body }, { ip: "127.0.0.1" });
        expect(res.status).toBe(200);
        return ((await res.json()) as any).data.id as string;
      };
      const shared = await put(bytes(100, 1));
      const unshared = await put(bytes(100, 2));
      const sameBytesOld = await put(bytes(100, 3));
      await sendMessage(fixture(app), a.uid, { gid, kind: "File", content: shared, clientMsgId: "gc-1" });
      // An orphan: bytes no row names (a crash between the rename and the row).
      const orphan = bytes(100, 4);
      mkdirSync(join(app.files.dir, sha256(orphan).slice(0, 2)), { recursive: true });
      writeFileSync(app.files.path(sha256(orphan)), orphan);

      clock.advance(86_400_000 - 1);
      const young = await put(bytes(100, 5));
      const sameBytesYoung = await put(bytes(100, 3));
      expect(await collectFiles(app)).toEqual({ rows: 0, blobs: 1, parts: 0 }); // only the orphan: nothing is a day old yet
      expect(existsSync(app.files.path(sha256(orphan)))).toBe(false);

      clock.advance(2);
      expect(await collectFiles(app)).toEqual({ rows: 2, blobs: 1, parts: 0 });
      const left = (await sqlAll(app, "SELECT id FROM files") as { id: string }[]).map((r) => r.id).sort();
      expect(left).toEqual([shared, young, sameBytesYoung].sort());
      expect(existsSync(app.files.path(sha256(bytes(100, 2))))).toBe(false); // unshared: its bytes too
      expect(existsSync(app.files.path(sha256(bytes(100, 3))))).toBe(true); // still named by the young row
      void unshared;
      void sameBytesOld;
      // A collected upload frees its quota and is gone for its uploader too.
      const res = await http.request(`/api/file/${unshared}`, { headers: { Authorization: `Bearer ${a.token}` } }, { ip: "127.0.0.1" });
      expect(res.status).toBe(404);
    } finally {
      closeApp(app);
      tmp.cleanup();
    }
  });

  test("bytes on their way to a row (renamed, row not yet written) are never collected", async () => {
    const tmp = tempDir("rim-gc-pin-");
    const app = createApp(testConfig({ db: join(tmp.dir, "rim.db") }));
    try {
      const body = bytes(64, 6);
      const received = await app.files.receive(new Request("http://x/", { method: "POST", body }), null, 1000);
      await received.commit();
      expect(await collectFiles(app)).toEqual({ rows: 0, blobs: 0, parts: 0 });
      expect(existsSync(app.files.path(received.sha256))).toBe(true);
      await received.release(); // its row was refused (say, over the quota): now it is garbage
      expect(await collectFiles(app)).toEqual({ rows: 0, blobs: 1, parts: 0 });
    } finally {
      closeApp(app);
      tmp.cleanup();
    }
  });
});

// Only on the cluster: several nodes on one PostgreSQL and one shared --files folder, where collection runs on one node at a
// time and must leave alone what the other nodes' uploads are bringing to a row (SQLite's one process is tested above).
describe.skipIf(!cluster)("collection on a cluster", () => {
  const HOUR = 3_600_000;
  const age = (path: string, ms: number) => {
    const then = new Date(Date.now() - ms);
    utimesSync(path, then, then);
  };
  test("one node at a time (the advisory lock); old unshared rows, their bytes, orphans and left-over parts go; what another node is uploading or bringing to a row stays; a row never lacks its bytes", async () => {
    const clock = manualClock();
    const s = await fileServer({}, { clock });
    const { nodes, urls } = s as unknown as ClusterServed;
    const tmpDir = join(s.filesDir, "tmp");
    try {
      const [a, b] = [await user(s.app, "cgc_ann"), await user(s.app, "cgc_bob")];
      const gid = await group(s.app, a, [b]);
      const shared = await uploaded(s, a, bytes(100, 1));
      await sendMessage(fixture(s.app), a.uid, { gid, kind: "File", content: shared.id, clientMsgId: "cgc-1" });
      const unshared = await uploaded(s, a, bytes(100, 2));
      // An orphan: bytes no row names, written two hours ago (a node died between its rename and its row).
      const orphan = bytes(100, 3);
      mkdirSync(dirname(s.app.files.path(sha256(orphan))), { recursive: true });
      writeFileSync(s.app.files.path(sha256(orphan)), orphan);
      age(s.app.files.path(sha256(orphan)), 2 * HOUR);
      // Bytes node 3 has renamed and whose row its write path has not stored yet (pinned there, not on the collector's node).
      const onTheirWay = await nodes[2]!.app.files.receive(new Request("http://x/", { method: "POST", body: bytes(100, 4) }), null, 1000);
      await onTheirWay.commit();
      // An upload node 2 is receiving now (chunked: its part grows as the body comes).
      let feed!: ReadableStreamDefaultController<Uint8Array>;
      const receiving = partFileCreated(tmpDir);
      const live = fetch(`${urls[1]}/api/file/upload?name=live.bin`, {
        method: "POST",
        headers: { Authorization: `Bearer ${a.token}` },
        body: new ReadableStream<Uint8Array>({ start: (c) => void (feed = c) }),
        duplex: "half",
      } as RequestInit);
      const liveBody = bytes(3000, 5);
      feed.enqueue(liveBody.slice(0, 1000));
      const livePart = join(tmpDir, await receiving);
      // A part a dead node left two hours ago.
      const leftover = join(tmpDir, "left-over.part");
      writeFileSync(leftover, bytes(10, 6));
      age(leftover, 2 * HOUR);
      // The unshared upload is a day old by the app's clock and its bytes as old on disk.
      clock.advance(86_400_000 + 1);
      age(s.app.files.path(sha256(bytes(100, 2))), 2 * HOUR);

      // Another holder of the lock (a node collecting): every node skips its turn, and nothing is touched.
      const pool = new SQL(s.app.config.db, { max: 1 });
      const holder = await pool.reserve();
      try {
        await holder.unsafe(`SELECT pg_advisory_lock(${RIM_COLLECT_LOCK})`);
        expect(await Promise.all(nodes.map((n) => collectUploads(n.app)))).toEqual([null, null, null]);
        expect((await rows(s)).length).toBe(2);
      } finally {
        await holder.unsafe(`SELECT pg_advisory_unlock(${RIM_COLLECT_LOCK})`);
        holder.release();
        await pool.close();
      }

      // All three at once: whichever takes the lock collects; any after it finds nothing left.
      const results = await Promise.all(nodes.map((n) => collectUploads(n.app)));
      const worked = results.filter((r) => r && (r.rows || r.blobs || r.parts));
      expect(worked).toEqual([{ rows: 1, blobs: 2, parts: 1 }]);
      expect((await rows(s)).map((r) => r.id)).toEqual([shared.id]);
      const onDisk = blobsIn(s.filesDir);
      for (const kept of [bytes(100, 1), bytes(100, 4)]) expect(onDisk).toContain(`${sha256(kept).slice(0, 2)}/${sha256(kept)}`);
      for (const gone of [bytes(100, 2), orphan]) expect(onDisk).not.toContain(`${sha256(gone).slice(0, 2)}/${sha256(gone)}`);
      expect(existsSync(leftover)).toBe(false);
      expect(existsSync(livePart)).toBe(true);

      // The upload in progress ends as any other; node 3's row is stored with its bytes.
      feed.enqueue(liveBody.slice(1000));
      feed.close();
      const res = await live;
      expect(res.status).toBe(200);
      const liveId = ((await res.json()) as { data: { id: string } }).data.id;
      expect(sha256(new Uint8Array(await (await getAs(s, a, liveId)).arrayBuffer()))).toBe(sha256(liveBody));
      const row = (sha: string, id: string) => ({ id, sha256: sha, name: "f", size: 100, mime: "application/octet-stream", uploaderUid: a.uid });
      await nodes[2]!.app.write((w) => recordUpload(w, row(onTheirWay.sha256, "onTheirWay_ok_0000000"), 0));
      await onTheirWay.release();

      // Bytes another node took while their own node stalled past the grace: the row is refused (500, try again), never stored without them.
      const stalled = await nodes[2]!.app.files.receive(new Request("http://x/", { method: "POST", body: bytes(100, 7) }), null, 1000);
      await stalled.commit();
      age(s.app.files.path(stalled.sha256), 2 * HOUR);
      expect(await collectUploads(nodes[0]!.app)).toEqual({ rows: 0, blobs: 1, parts: 0 });
      const refused = await nodes[2]!.app.write((w) => recordUpload(w, row(stalled.sha256, "stalled_refused_00000"), 0)).then(() => null, (err) => err);
      expect(refused).toMatchObject({ code: "internal", message: "could not store, try again" });
      await stalled.release();
      expect((await rows(s)).map((r) => r.id).sort()).toEqual([shared.id, liveId, "onTheirWay_ok_0000000"].sort());
    } finally {
      await s.close();
    }
  });
});

// ---------------------------------------------------------------- a crash mid-upload

/**
 * Resolves once `done()` holds for dir: looked at whenever the folder's stat watcher reports a change
 * (a file created or removed in it), once that watcher is known to have its first stat: when it
 * reports a file made for the purpose (a change before that first stat would go unseen). Each look
 * reads the state afresh. (A stat watcher of the part file itself missed a part written between the
 * look that found it empty and that watcher's first stat: the cut-off test hung.)
 */
function dirWhere<T>(dir: string, done: () => T | undefined): Promise<T> {
  return new Promise((resolve) => {
    const sentinel = join(dir, `.watching-${process.pid}-${++watches}`);
    let ready = false;
    let found = false;
    const look = () => {
      if (!ready && existsSync(sentinel)) {
        ready = true;
        rmSync(sentinel, { force: true });
      }
      if (!ready || found) return;
      const v = done();
      if (v === undefined) return;
      found = true;
      unwatchFile(dir, look);
      resolve(v);
    };
    watchFile(dir, { interval: 5 }, look);
    writeFileSync(sentinel, "");
  });
}
let watches = 0;

/** Resolves with the name of a .part file in dir once there is one: the server is receiving an upload. */
const partFileCreated = (dir: string): Promise<string> => dirWhere(dir, () => readdirSync(dir).find((name) => name.endsWith(".part")));

/** Resolves once dir holds no file. */
const emptied = (dir: string): Promise<void> => dirWhere(dir, () => (readdirSync(dir).length === 0 ? true : undefined)).then(() => {});

/** A raw HTTP/1.1 connection: bytes go out exactly as given, and may stop anywhere. */
async function rawConnection(url: string) {
  const { hostname, port } = new URL(url);
  let drained: (() => void) | null = null;
  const sock = await Bun.connect({ hostname, port: Number(port), socket: { data() {}, error() {}, close() {}, drain: () => drained?.() } });
  return {
    hostname,
    sock,
    // Bun's socket.write takes what the kernel takes now: the rest waits for drain.
    async write(data: Uint8Array | string) {
      for (let rest = typeof data === "string" ? new TextEncoder().encode(data) : data; rest.length; ) {
        rest = rest.subarray(Math.max(0, sock.write(rest)));
        if (rest.length) await new Promise<void>((r) => (drained = r));
      }
      sock.flush();
    },
  };
}

const uploadHead = (host: string, token: string, length: number) =>
  `POST /api/file/upload?name=big.bin HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${length}\r\n\r\n`;

describe("an upload cut off", () => {
  test("the client goes away mid-body: its part file is removed, and the server goes on", async () => {
    const s = await fileServer();
    try {
      const a = await user(s.app, "cut_ann");
      mkdirSync(join(s.filesDir, "tmp"), { recursive: true });
      const receiving = partFileCreated(join(s.filesDir, "tmp"));
      const conn = await rawConnection(s.url);
      await conn.write(uploadHead(conn.hostname, a.token, 2 * 1024 * 1024));
      await conn.write(bytes(256 * 1024, 1));
      await receiving;
      conn.sock.end();
      await emptied(join(s.filesDir, "tmp"));
      expect(blobsIn(s.filesDir)).toEqual([]);
      expect(await rows(s)).toEqual([]);
      expect((await upload(s, a, bytes(100, 2))).status).toBe(200);
    } finally {
      await s.close();
    }
  });
});

// Skipped on the cluster (RIM_TEST_BACKEND=cluster): SIGKILL of a SQLite server process.
describe.skipIf(cluster)("a crash during an upload", () => {
  test("SIGKILL mid-upload: no file under a real name, the part swept at restart, and uploads work again", async () => {
    const tmp = tempDir("rim-files-crash-");
    const db = join(tmp.dir, "rim.db");
    const filesDir = join(tmp.dir, "files");
    let srv = await ServerProcess.start(db);
    try {
      const post = async (base: string, path: string, body: unknown) => ((await (await fetch(base + path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })).json()) as any).data;
      await post(srv.url, "/api/user/create", { account: "crash_ann", password: "password1" });
      const token = await post(srv.url, "/api/user/login", { account: "crash_ann", password: "password1" });
      mkdirSync(join(filesDir, "tmp"), { recursive: true });
      const receiving = partFileCreated(join(filesDir, "tmp"));

      // Announce 4 MiB, send 1 MiB, and stop there.
      const conn = await rawConnection(srv.url);
      const whole = bytes(4 * 1024 * 1024, 7);
      await conn.write(uploadHead(conn.hostname, token, whole.length));
      await conn.write(whole.subarray(0, 1024 * 1024));
      await receiving;
      srv.signal("SIGKILL");
      await srv.exited;
      conn.sock.end();

      expect(blobsIn(filesDir)).toEqual([]); // nothing under a real name
      expect(walk(filesDir).every((p) => p.startsWith("tmp/") && p.endsWith(".part"))).toBe(true);
      expect(walk(filesDir).length).toBe(1);

      srv = await ServerProcess.start(db);
      expect(walk(join(filesDir, "tmp"))).toEqual([]); // swept before listening
      const res = await fetch(`${srv.url}/api/file/upload?name=big.bin`, { method: "POST", headers: { Authorization: `Bearer ${token}` }, body: whole });
      const up = ((await res.json()) as any).data;
      expect(res.status).toBe(200);
      expect(blobsIn(filesDir)).toEqual([`${sha256(whole).slice(0, 2)}/${sha256(whole)}`]);
      const back = await fetch(`${srv.url}/api/file/${up.id}`, { headers: { Authorization: `Bearer ${token}` } });
      expect(sha256(new Uint8Array(await back.arrayBuffer()))).toBe(sha256(whole));
      expect(srv.errors()).toEqual([]);
    } finally {
      srv.signal("SIGKILL");
      await srv.exited;
      tmp.cleanup();
    }
  }, 60_000);
});

// ---------------------------------------------------------------- backup and restore

// Skipped on the cluster (RIM_TEST_BACKEND=cluster): rim backup/restore are SQLite's (PostgreSQL: pg_dump/pg_restore).
describe.skipIf(cluster)("rim backup and rim restore carry the files", () => {
  test("backup while the database is open, files lost, restore: every file back, byte for byte, and served", async () => {
    const tmp = tempDir("rim-files-backup-");
    const db = join(tmp.dir, "rim.db");
    const filesDir = join(tmp.dir, "files");
    const backup = join(tmp.dir, "backup.db");
    const rim = (args: string[]) => {
      const p = Bun.spawnSync(["bun", "src/main.ts", ...args, "--db", db], { cwd: ROOT });
      return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
    };
    try {
      let s = await serve({ db });
      const a = await user(s.app, "bk_ann");
      const contents = [bytes(10, 1), bytes(3 * 1024 * 1024 + 17, 2), PNG];
      const ids: string[] = [];
      for (const c of contents) ids.push((await uploaded(s, a, c)).id);
      ids.push((await uploaded(s, a, contents[0]!, { name: "again" })).id); // the same bytes twice
      const out = rim(["backup", backup]);
      expect(out).toMatchObject({ code: 0 });
      expect(out.out).toContain("3 file(s)");
      await s.stop();

      rmSync(filesDir, { recursive: true });
      expect(rim(["restore", backup])).toMatchObject({ code: 0 });
      expect(blobsIn(filesDir).sort()).toEqual(contents.map((c) => `${sha256(c).slice(0, 2)}/${sha256(c)}`).sort());
      // The backup's own table of bytes is not left in the database.
      const tables = Bun.spawnSync(["bun", "-e", `const {Database}=require("bun:sqlite");console.log(new Database(${JSON.stringify(db)}).query("SELECT name FROM sqlite_master WHERE name LIKE 'rim_backup%'").all().length)`]).stdout.toString().trim();
      expect(tables).toBe("0");

      s = await serve({ db });
      try {
        for (const [i, id] of ids.entries()) {
          const res = await getAs(s, a, id);
          expect(res.status).toBe(200);
          expect(sha256(new Uint8Array(await res.arrayBuffer()))).toBe(sha256(contents[i % 3]!));
        }
      } finally {
        await s.stop();
      }
    } finally {
      tmp.cleanup();
    }
  }, 60_000);
});

// ---------------------------------------------------------------- pictures as avatars

describe("an uploaded picture as an avatar", () => {
  let s: Awaited<ReturnType<typeof fileServer>>;
  let ann: TestUser, bob: TestUser, eve: TestUser;
  const api = async (u: TestUser, path: string, body: unknown) =>
    fetch(`${s.url}${path}`, { method: "POST", headers: { Authorization: `Bearer ${u.token}`, "Content-Type": "application/json" }, body: JSON.stringify(body) }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));
  const download = (u: TestUser, id: string) => fetch(`${s.url}/api/file/${id}`, { headers: { Authorization: `Bearer ${u.token}` } }).then((r) => r.status);
  beforeAll(async () => {
    s = await fileServer();
    ann = await user(s.app, "av_ann");
    bob = await user(s.app, "av_bob");
    eve = await user(s.app, "av_eve");
  });
  afterAll(() => s.close());

  test("a profile picture is seen by everyone, even without a shared group; kept from collection", async () => {
    const pic = await uploaded(s, ann, PNG, { name: "me.png", type: "image/png" });
    expect(await download(eve, pic.id)).toBe(404);
    const res = await api(ann, "/api/user/update", { avatar: `/api/file/${pic.id}` });
    expect(res).toMatchObject({ status: 200, body: { data: { avatar: `/api/file/${pic.id}` } } });
    expect(await download(eve, pic.id)).toBe(200);
    const { collectFiles } = await import("../src/domain/files");
    expect((await collectFiles(s.app, { maxAgeMs: -1 })).rows).toBe(0);
    expect(await download(eve, pic.id)).toBe(200);
  });

  test.each([
    ["someone else's file", 400, "bob"],
    ["a file that is not a picture", 400, "text"],
    ["no such file", 400, "none"],
  ] as const)("refused as an avatar: %s → %d, and the file stays private", async (_label, status, which) => {
    const bobs = await uploaded(s, bob, PNG, { name: "bob.png", type: "image/png" });
    const text = await uploaded(s, ann, bytes(300), { name: "notes.txt", type: "text/plain" });
    const id = which === "bob" ? bobs.id : which === "text" ? text.id : "x".repeat(21);
    const res = await api(ann, "/api/user/update", { avatar: `/api/file/${id}` });
    expect(res.status).toBe(status);
    if (which === "bob") expect(await download(eve, bobs.id)).toBe(404);
  });

  test("a group's picture is seen by its members only; a URL avatar still works as in rim", async () => {
    const gid = await group(s.app, ann, [bob]);
    const pic = await uploaded(s, ann, PNG, { name: "team.png", type: "image/png" });
    expect((await api(ann, "/api/group/update", { id: gid, avatar: `/api/file/${pic.id}` })).status).toBe(200);
    expect(await download(bob, pic.id)).toBe(200);
    expect(await download(eve, pic.id)).toBe(404);
    expect((await api(bob, "/api/user/update", { avatar: "https://example.com/bob.png" })).status).toBe(200);
  });
});
