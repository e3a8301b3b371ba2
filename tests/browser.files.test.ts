// Files and search in the web client, in real headless Chromium (Debian's):
// attaching by the button (with the upload's progress on screen) and by
// paste, pictures inline for everyone in the conversation, a file's card
// and its download by another member, a non-member refused, an upload
// cancelled and one refused as too large; then the search box: a word and a
// Chinese substring found, the snippet's <mark> shown safely, and a click
// that opens the conversation at a message far back in its history.
// Waits are on the DOM (the kit's `until`), never on a clock. Screenshots at
// phone and desktop widths, light and dark, go to $RIM_SHOTS (default /tmp)
// as rim-files-*.png.
import { expect } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { CDPSession, Page } from "playwright-core";
import { sendMessage, sqlAll, sqlGet } from "./helpers";
import { searchUser } from "./helpers";
import * as kit from "./browser.kit";
import { bubbles, conv, send, settled, until, violations } from "./browser.kit";
import { fixture, serve } from "./helpers";

const run = kit.browserTest("browser.files.test.ts");
const SHOTS = process.env.RIM_SHOTS ?? "/tmp";
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };
const MAX_UPLOAD = 4 * 1024 * 1024;

const suite = kit.browserSuite(() => serve({ maxUpload: MAX_UPLOAD }));

async function person(viewport: { width: number; height: number }): Promise<kit.Person> {
  const p = await suite.person(viewport);
  return p;
}

/** Light and dark screenshots of the page as it is now. */
async function shots(page: Page, name: string) {
  for (const scheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.screenshot({ path: join(SHOTS, `rim-files-${name}-${scheme}.png`) });
  }
  await page.emulateMedia({ colorScheme: "light" });
}

/** A PNG drawn by the page's canvas: a sky, a sun, and (grain > 0) noise that keeps it from compressing, for a visible upload. */
async function png(page: Page, width: number, height: number, hues: [number, number], grain = 0): Promise<Buffer> {
  const b64 = await page.evaluate(
    async ({ width, height, hues, grain }) => {
      const canvas = new OffscreenCanvas(width, height);
      const g = canvas.getContext("2d")!;
      const sky = g.createLinearGradient(0, 0, 0, height);
      sky.addColorStop(0, `hsl(${hues[0]} 80% 60%)`);
      sky.addColorStop(1, `hsl(${hues[1]} 70% 35%)`);
      g.fillStyle = sky;
      g.fillRect(0, 0, width, height);
      g.fillStyle = "hsl(45 100% 70%)";
      g.beginPath();
      g.arc(width * 0.7, height * 0.62, height * 0.2, 0, Math.PI * 2);
      g.fill();
      g.fillStyle = `hsl(${hues[1]} 40% 18%)`;
      g.fillRect(0, height * 0.75, width, height * 0.25);
      if (grain) {
        const img = g.getImageData(0, 0, width, height);
        for (let i = 0; i < img.data.length; i += 4) for (let k = 0; k < 3; k++) img.data[i + k] = Math.max(0, Math.min(255, img.data[i + k]! + (Math.random() - 0.5) * grain));
        g.putImageData(img, 0, 0);
      }
      const bytes = new Uint8Array(await (await canvas.convertToBlob({ type: "image/png" })).arrayBuffer());
      let s = "";
      for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      return btoa(s);
    },
    { width, height, hues, grain },
  );
  return Buffer.from(b64, "base64");
}

const devtools = new WeakMap<Page, Promise<CDPSession>>();

/**
 * Uploads from this page go at most this many bytes a second (Chromium's network emulation), so their progress can be seen;
 * the function returned lifts the limit. One DevTools session per page: with several, whose conditions apply is not defined.
 */
async function throttleUploads(page: Page, bytesPerSecond: number) {
  if (!devtools.has(page))
    devtools.set(
      page,
      page
        .context()
        .newCDPSession(page)
        .then(async (s) => (await s.send("Network.enable"), s)),
    );
  const cdp = await devtools.get(page)!;
  await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: bytesPerSecond });
  return () => cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
}

/** Picks files with the composer's attach button, through the browser's file chooser. */
async function attach(page: Page, files: { name: string; mimeType: string; buffer: Buffer }[]) {
  const [chooser] = await Promise.all([page.waitForEvent("filechooser"), page.getByRole("button", { name: "Attach files" }).click()]);
  expect(chooser.isMultiple()).toBe(true);
  await chooser.setFiles(files);
}

/** The pictures of the open conversation that have loaded, by their alt text. */
const pictures = (page: Page) =>
  page.locator(".messages .msg img").evaluateAll((imgs) => imgs.filter((i) => (i as HTMLImageElement).complete && (i as HTMLImageElement).naturalWidth > 0).map((i) => i.getAttribute("alt")));

/** What the open conversation shows, in order: text, "picture NAME" or "file NAME". */
const shown = (page: Page) =>
  page.locator(".messages .msg").evaluateAll((lis) =>
    lis.map((li) => {
      const img = li.querySelector("img");
      if (img) return `picture ${img.alt}`;
      const card = li.querySelector(".file-card");
      if (card) return `file ${card.getAttribute("title")}`;
      return li.querySelector(".bubble")?.textContent ?? "";
    }),
  );

const token = (page: Page) => page.evaluate(() => localStorage.getItem("rim.token")!);

run(
  "files: attach by button with progress, paste a picture, a file's card downloaded by another member, refused to a non-member; cancel; too large",
  async () => {
    const a = await person(DESKTOP);
    const b = await person(PHONE);
    const outsider = await person(DESKTOP);
    await kit.register(a.page, suite.server.url, "ann", "Ann Archer");
    await kit.register(b.page, suite.server.url, "ben", "Ben Baker");
    await kit.register(outsider.page, suite.server.url, "cid", "Cid Cole");

    await kit.newGroup(a.page, "Design review", "ben");
    await send(a.page, "Photos from the offsite coming up");
    await settled(a.page);
    await conv(b.page, "Design review").click();
    await until(() => bubbles(b.page), ["Photos from the offsite coming up"]);

    // The attach button, with uploads slowed down: the progress bar is seen moving, then the picture shows for both.
    const sunset = await png(a.page, 480, 320, [20, 280], 24);
    expect(sunset.length).toBeGreaterThan(200_000);
    const unthrottle = await throttleUploads(a.page, 200_000);
    await attach(a.page, [{ name: "sunset.png", mimeType: "image/png", buffer: sunset }]);
    const bar = a.page.getByRole("progressbar", { name: "Uploading sunset.png" });
    await bar.waitFor();
    await until(async () => Number((await bar.getAttribute("value")) ?? 0) > 0, true);
    expect(Number(await bar.getAttribute("value"))).toBeLessThan(100);
    await a.page.screenshot({ path: join(SHOTS, "rim-files-progress-desktop-light.png") });
    await until(() => pictures(a.page), ["sunset.png"], 15_000);
    await unthrottle();
    await settled(a.page);
    await until(() => pictures(b.page), ["sunset.png"]);
    const gid = Number(await conv(a.page, "Design review").getAttribute("data-gid"));
    const stored = () => sqlAll(suite.server.app, "SELECT kind, content FROM messages WHERE group_id = ? ORDER BY id", gid);
    expect((await stored()).map((m) => m.kind)).toEqual(["Text", "Image"]);
    expect(await conv(b.page, "Design review").count()).toBe(1);

    // A picture pasted into the composer is sent too.
    const pasted = await png(a.page, 240, 160, [180, 220]);
    await a.page.getByLabel("Message", { exact: true }).evaluate((el, b64) => {
      const bytes = Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
      const data = new DataTransfer();
      data.items.add(new File([bytes], "screenshot.png", { type: "image/png" }));
      el.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
    }, pasted.toString("base64"));
    await until(() => pictures(b.page), ["sunset.png", "screenshot.png"]);
    await until(() => pictures(a.page), ["sunset.png", "screenshot.png"]);
    expect(await a.page.getByLabel("Message", { exact: true }).inputValue()).toBe("");

    // A picture opens full size, and closes with Escape.
    await b.page.getByRole("button", { name: "Open sunset.png full size" }).click();
    const box = b.page.getByRole("dialog", { name: "sunset.png" });
    await until(() => box.locator("img").evaluate((i) => (i as HTMLImageElement).naturalWidth), 480);
    await shots(b.page, "lightbox-phone");
    await b.page.keyboard.press("Escape");
    await until(() => box.count(), 0);

    // Any other file is a card with its name (a long one) and size; Ben downloads it.
    const report = Buffer.from("%PDF-1.4\n% not really a PDF, but bytes all the same\n" + "x".repeat(48_000));
    const longName = "Quarterly report for the board, with every appendix and the budget tables - final version (2).pdf";
    await attach(a.page, [{ name: longName, mimeType: "application/pdf", buffer: report }]);
    await settled(a.page);
    const card = b.page.getByRole("link", { name: `Download ${longName}, 47 KB` });
    await card.waitFor();
    const [download] = await Promise.all([b.page.waitForEvent("download"), card.click()]);
    expect(download.suggestedFilename()).toBe(longName);
    expect(readFileSync(await download.path())).toEqual(report);
    // What the link answers, with the cookie alone (no token in the request, none in the address).
    const href = (await card.getAttribute("href"))!;
    expect(href).toMatch(/^\/api\/file\/[\w-]{21}$/);
    const answer = await b.page.evaluate(async (href) => {
      const r = await fetch(href);
      return { status: r.status, disposition: r.headers.get("content-disposition"), size: (await r.arrayBuffer()).byteLength };
    }, href);
    expect(answer).toEqual({ status: 200, disposition: expect.stringMatching(/^attachment;/), size: report.length });
    const fileId = (await stored()).at(-1)!.content;
    expect((await stored()).at(-1)!.kind).toBe("File");

    await until(() => shown(a.page), ["Photos from the offsite coming up", "picture sunset.png", "picture screenshot.png", `file ${longName}`]);
    await until(() => shown(b.page), ["Photos from the offsite coming up", "picture sunset.png", "picture screenshot.png", `file ${longName}`]);
    await shots(a.page, "chat-desktop");
    await shots(b.page, "chat-phone");

    // Cid is in no group that shares it: 404 with his cookie and with his token alike; his list is empty.
    const refused = await outsider.page.evaluate(
      async ({ id, token }) => {
        await fetch("/api/file/cookie", { method: "POST", headers: { Authorization: `Bearer ${token}` } });
        const byCookie = await fetch(`/api/file/${id}`);
        const byToken = await fetch(`/api/file/${id}`, { headers: { Authorization: `Bearer ${token}` } });
        return [byCookie.status, byToken.status];
      },
      { id: fileId, token: await token(outsider.page) },
    );
    expect(refused).toEqual([404, 404]);
    expect(await outsider.page.locator(".conv").count()).toBe(0);

    // A large upload cancelled midway: the bar goes, and nothing is sent or stored.
    const big = Buffer.alloc(3 * 1024 * 1024, 7);
    const slow = await throttleUploads(a.page, 150_000);
    await attach(a.page, [{ name: "offsite-video.mp4", mimeType: "video/mp4", buffer: big }]);
    const bigBar = a.page.getByRole("progressbar", { name: "Uploading offsite-video.mp4" });
    await until(async () => Number((await bigBar.getAttribute("value")) ?? 0) > 0, true);
    expect(Number(await bigBar.getAttribute("value"))).toBeLessThan(50);
    await shots(a.page, "uploading-desktop");
    await a.page.getByRole("button", { name: "Cancel offsite-video.mp4" }).click();
    await until(() => a.page.locator(".upload").count(), 0);
    await slow();
    await send(a.page, "Never mind the video");
    await settled(a.page);
    await until(() => bubbles(b.page).then((t) => t.at(-1)), "Never mind the video");
    expect((await stored()).map((m) => m.kind)).toEqual(["Text", "Image", "Image", "File", "Text"]);
    expect(await sqlGet(suite.server.app, "SELECT count(*) AS n FROM files WHERE name = 'offsite-video.mp4'")).toEqual({ n: 0 });

    // Over --max-upload: refused, said plainly, and dismissed.
    await attach(a.page, [{ name: "raw-footage.mov", mimeType: "video/quicktime", buffer: Buffer.alloc(MAX_UPLOAD + 1, 1) }]);
    const problem = a.page.locator(".upload.failed").getByRole("alert");
    await until(() => problem.textContent(), "Too large: this server takes files up to 4 MB.");
    await shots(a.page, "too-large-desktop");
    await a.page.getByRole("button", { name: "Dismiss raw-footage.mov" }).click();
    await until(() => a.page.locator(".upload").count(), 0);
    expect(await stored()).toHaveLength(5);

    // On a phone, a long name in the upload's row: cut short, its extension kept, Cancel at hand.
    const longVideo = "Screen recording of the whole planning session from Tuesday afternoon, uncut.mov";
    const slowBen = await throttleUploads(b.page, 100_000);
    await attach(b.page, [{ name: longVideo, mimeType: "video/quicktime", buffer: Buffer.alloc(2 * 1024 * 1024, 3) }]);
    const benBar = b.page.getByRole("progressbar", { name: `Uploading ${longVideo}` });
    await until(async () => Number((await benBar.getAttribute("value")) ?? 0) > 0, true);
    await shots(b.page, "uploading-phone");
    await b.page.getByRole("button", { name: `Cancel ${longVideo}` }).click();
    await until(() => b.page.locator(".upload").count(), 0);
    await slowBen();
    expect(await stored()).toHaveLength(5);

    // Ben's cookie is gone, as after a restart of the server: the next picture fails once, his client asks for a new cookie and shows it.
    await b.ctx.clearCookies();
    const askedAgain = b.page.waitForRequest((r) => new URL(r.url()).pathname === "/api/file/cookie");
    // Ann drags a picture over the conversation (a hint shows) and drops it.
    const harbour = await png(a.page, 360, 220, [200, 250]);
    await a.page.locator(".messages").evaluate((el, b64) => {
      const bytes = Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
      const data = new DataTransfer();
      data.items.add(new File([bytes], "harbour.png", { type: "image/png" }));
      (window as any).dragged = data;
      el.dispatchEvent(new DragEvent("dragenter", { dataTransfer: data, bubbles: true, cancelable: true }));
      el.dispatchEvent(new DragEvent("dragover", { dataTransfer: data, bubbles: true, cancelable: true }));
    }, harbour.toString("base64"));
    await a.page.locator(".drop-hint").waitFor();
    await shots(a.page, "drop-desktop");
    await a.page.locator(".messages").evaluate((el) => el.dispatchEvent(new DragEvent("drop", { dataTransfer: (window as any).dragged, bubbles: true, cancelable: true })));
    await until(() => a.page.locator(".drop-hint").count(), 0);
    await until(() => pictures(b.page), ["sunset.png", "screenshot.png", "harbour.png"]);
    await askedAgain;
    expect((await stored()).map((m) => m.kind)).toEqual(["Text", "Image", "Image", "File", "Text", "Image"]);

    // A reload keeps it all: pictures, cards and the conversation preview.
    await b.page.reload();
    await until(() => pictures(b.page), ["sunset.png", "screenshot.png", "harbour.png"]);
    await b.page.getByRole("button", { name: "Back to conversations" }).click();
    await until(() => conv(b.page, "Design review").locator(".preview").textContent(), "Ann Archer: Photo: harbour.png");
    expect(violations).toEqual([]);
  },
  90_000,
);

run(
  "search: a word and a Chinese substring found from the box, the snippet's <mark> shown as text and marks, a click opens the message far back in history",
  async () => {
    const a = await person(DESKTOP);
    const b = await person(PHONE);
    await kit.register(a.page, suite.server.url, "dana", "Dana Dunn");
    await kit.register(b.page, suite.server.url, "eli", "Eli Evans");
    await kit.newGroup(a.page, "Trip planning", "eli");
    await send(a.page, "Let us plan the trip here");
    await settled(a.page);

    // Far back in a long history: the messages to find, then 150 more.
    const gid = Number(await conv(a.page, "Trip planning").getAttribute("data-gid"));
    const dana = (await searchUser(suite.server.app, "dana"))!;
    const eli = (await searchUser(suite.server.app, "eli"))!;
    const say = async (uid: number, content: string, i: number) => (await sendMessage(fixture(suite.server.app), uid, { gid, kind: "Text", content, clientMsgId: `seed-${gid}-${i}` })).message.id;
    const target = await say(eli.id, "The kickoff is in Reykjavik on the first Monday, flights are booked", 1);
    const chinese = await say(dana.id, "我们明天在北京开会讨论预算", 2);
    await say(eli.id, `Tom & Jerry's "plan" <img src=x onerror="window.injected=1"> for Reykjavik`, 3);
    for (let i = 0; i < 150; i++) await say(i % 2 ? dana.id : eli.id, `filler message ${i + 1}`, 10 + i);
    // Written straight to the database, so pushed to nobody: both load them from history.
    await a.page.reload();
    await b.page.reload();

    // Eli, on his phone, searches by the beginning of a word, any case.
    const box = b.page.getByRole("searchbox", { name: "Search messages" });
    await box.fill("REYKJAV");
    const results = b.page.getByRole("region", { name: "Search results" });
    await until(() => results.getByRole("status").textContent(), "2 messages");
    const hits = results.locator(".hit");
    expect(await hits.locator(".hit-conv").allTextContents()).toEqual(["Trip planning", "Trip planning"]);
    expect(await hits.locator(".hit-who").allTextContents()).toEqual(["You: ", "You: "]);
    // The newest first; markup in a message is text, never elements; the match is in <mark>.
    expect(await hits.nth(0).locator(".snippet").textContent()).toBe(`Tom & Jerry's "plan" <img src=x onerror="window.injected=1"> for Reykjavik`);
    expect(await hits.nth(0).locator(".snippet img").count()).toBe(0);
    expect(await hits.nth(0).locator("mark").allTextContents()).toEqual(["Reykjav"]);
    expect(await hits.nth(1).locator("mark").allTextContents()).toEqual(["Reykjav"]);
    expect(await b.page.evaluate(() => (window as any).injected)).toBeUndefined();
    await shots(b.page, "search-phone");

    // A click opens the conversation, loads older pages until the message is there, and shows it.
    await hits.nth(1).click();
    await b.page.getByRole("heading", { name: "Trip planning" }).waitFor();
    const found = b.page.locator(`.messages .msg[data-msg-id="${target}"]`);
    await found.waitFor();
    await until(() => found.evaluate((el) => document.activeElement === el), true);
    expect(await found.locator(".bubble").textContent()).toBe("The kickoff is in Reykjavik on the first Monday, flights are booked");
    expect((await bubbles(b.page)).length).toBeGreaterThan(100); // beyond the first page of 30
    const inView = () =>
      found.evaluate((el) => {
        const list = el.closest(".messages")!.getBoundingClientRect();
        const r = el.getBoundingClientRect();
        return r.top >= list.top && r.bottom <= list.bottom;
      });
    expect(await inView()).toBe(true);
    expect(await found.getAttribute("data-found")).toBe("");
    await shots(b.page, "found-phone");

    // Dana, on a desktop, finds a Chinese message by a substring from its middle, with the keyboard.
    const dbox = a.page.getByRole("searchbox", { name: "Search messages" });
    await dbox.fill("北京开会");
    const dres = a.page.getByRole("region", { name: "Search results" });
    await until(() => dres.getByRole("status").textContent(), "1 message");
    expect(await dres.locator(".hit mark").allTextContents()).toEqual(["北京开会"]);
    expect(await dres.locator(".hit .snippet").textContent()).toBe("我们明天在北京开会讨论预算");
    await dbox.press("ArrowDown");
    await until(() => a.page.evaluate(() => document.activeElement?.classList.contains("hit") ?? false), true);
    await a.page.keyboard.press("Enter");
    const cn = a.page.locator(`.messages .msg[data-msg-id="${chinese}"]`);
    await until(() => cn.evaluate((el) => document.activeElement === el), true);
    expect(await cn.locator(".bubble").textContent()).toBe("我们明天在北京开会讨论预算");
    await shots(a.page, "search-desktop");

    // Too short, nothing found, and Escape gives the conversation list back.
    await dbox.fill("x");
    await until(() => dres.getByRole("status").textContent(), "Type at least 2 characters.");
    await dbox.fill("zanzibar");
    await until(() => dres.getByRole("status").textContent(), "No messages match “zanzibar”.");
    await dbox.press("Escape");
    await until(() => dres.count(), 0);
    await conv(a.page, "Trip planning").waitFor();
    expect(violations).toEqual([]);
  },
  60_000,
);

run(
  "a profile picture uploaded from the profile screen shows for someone who shares no group with its owner",
  async () => {
    const a = await person(DESKTOP);
    const b = await person(PHONE);
    await kit.register(a.page, suite.server.url, "pia", "Pia Picture");
    await kit.register(b.page, suite.server.url, "quin", "Quin Quiet");
    await a.page.getByRole("button", { name: "Profile" }).click();
    const face = await png(a.page, 96, 96, [200, 40]);
    await a.page.getByLabel("Upload a picture").setInputFiles({ name: "face.png", mimeType: "image/png", buffer: face });
    await a.page.getByRole("status").filter({ hasText: "Saved." }).waitFor();
    const avatar = await a.page.getByLabel(/^Avatar/).inputValue();
    expect(avatar).toMatch(/^\/api\/file\/[A-Za-z0-9_-]{21}$/);
    // Quin finds Pia in the directory and sees her picture, loaded through the file cookie.
    await b.page.getByRole("button", { name: "New chat" }).click();
    await b.page.getByRole("combobox", { name: "Account or name" }).fill("pia");
    const option = b.page.getByRole("listbox").getByRole("option", { name: /Pia Picture/ });
    const img = option.locator(`img[src="${avatar}"]`);
    await img.waitFor();
    await until(() => img.evaluate((el: HTMLImageElement) => el.complete && el.naturalWidth), 96);
    expect(violations).toEqual([]);
  },
  30_000,
);
