// The web client in real headless Chromium (Debian's, never a downloaded
// one): two people register, chat directly, see unread counts and read
// receipts ("Seen"); one goes offline while the other writes, and gets every missed
// message exactly once, in order, when it comes back. Then groups and friends.
// Screenshots land in tests/artifacts/ (the README's, docs/screenshot.png, is
// browser.messages.test.ts's).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { sendMessage } from "./helpers";
import { searchUser } from "./helpers";
import * as kit from "./browser.kit";
import { available, bubbles, conv, send, settled, until, violations } from "./browser.kit";
import { serve, fixture } from "./helpers";

const ARTIFACTS = join(import.meta.dir, "artifacts");
const run = kit.browserTest("browser.test.ts");

let server: Awaited<ReturnType<typeof serve>>;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  if (!available) return;
  mkdirSync(ARTIFACTS, { recursive: true });
  server = await serve();
  browser = await kit.launch();
});

afterAll(async () => {
  if (!available) return;
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close();
  await server?.stop();
});

// Needs no browser: what the server answers at / and /app/.
test("a browser at / is sent to /app/, which serves the bundled client; other clients still get hello rim", async () => {
  const s = await serve();
  try {
    const redirect = await fetch(s.url + "/", { headers: { Accept: "text/html,application/xhtml+xml" }, redirect: "manual" });
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get("location")).toBe("/app/");
    expect(await (await fetch(s.url + "/")).text()).toBe("hello rim");
    for (const path of ["/app", "/app/", "/app/c/1"]) {
      const page = await fetch(s.url + path);
      expect(page.headers.get("content-type")).toContain("text/html");
      const html = await page.text();
      const js = html.match(/<script[^>]+src="([^"]+)"/)?.[1];
      const css = html.match(/<link[^>]+stylesheet[^>]+href="([^"]+)"|<link[^>]+href="([^"]+\.css)"/);
      expect(js).toBeDefined();
      expect(css).not.toBeNull();
      const bundle = await fetch(new URL(js!, s.url + path));
      expect(bundle.status).toBe(200);
      expect(bundle.headers.get("content-type")).toContain("javascript");
      expect((await bundle.text()).length).toBeGreaterThan(1000);
    }
  } finally {
    await s.stop();
  }
});

async function person(viewport: { width: number; height: number }): Promise<kit.Person> {
  const p = await kit.person(browser, viewport);
  contexts.push(p.ctx);
  return p;
}

const register = (page: Page, account: string, name: string) => kit.register(page, server.url, account, name);
const shot = (page: Page, name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });

run(
  "two people chat in the browser: unread, read receipts, offline catch-up",
  async () => {
    const started = performance.now();
    const a = await person({ width: 1100, height: 700 }); // a laptop
    const b = await person({ width: 375, height: 740 }); // a phone
    // Bob's browser has granted notifications; a stand-in records what the client shows.
    await b.ctx.addInitScript(() => {
      const shown: [string, string | undefined][] = [];
      (window as any).shownNotifications = shown;
      (window as any).Notification = class {
        static permission = "granted";
        static requestPermission = async () => "granted";
        onclick: (() => void) | null = null;
        constructor(title: string, opts?: { body?: string }) {
          shown.push([title, opts?.body]);
        }
        close() {}
      };
    });
    await register(a.page, "alice", "Alice Adams");
    await register(b.page, "bob", "Bob Brown");

    // Alice starts a direct chat with Bob by his account and writes.
    await a.page.getByRole("button", { name: "New chat" }).click();
    await a.page.getByLabel("Account or name").fill("bob");
    await a.page.getByRole("button", { name: "Start chat" }).click();
    await a.page.getByRole("heading", { name: "Bob Brown" }).waitFor();
    await send(a.page, "Hi Bob, lunch at noon?");
    await settled(a.page);
    await until(() => a.page.locator(".msg.mine .status").last().textContent(), "Sent");

    // Bob, on the list, sees the new conversation with one unread message.
    const bobsRow = conv(b.page, "Alice Adams");
    await bobsRow.locator(".badge").waitFor();
    expect(await bobsRow.locator(".badge").textContent()).toBe("1");
    expect(await bobsRow.locator(".preview").textContent()).toBe("Hi Bob, lunch at noon?");
    await shot(b.page, "1-bob-unread");
    expect(await b.page.evaluate(() => (window as any).shownNotifications)).toEqual([["Alice Adams", "Hi Bob, lunch at noon?"]]);

    // Bob opens it: Alice sees "Seen" on her message (a direct chat: "Read by N" is for groups); Bob answers.
    await bobsRow.click();
    await b.page.getByRole("heading", { name: "Alice Adams" }).waitFor();
    expect(await bubbles(b.page)).toEqual(["Hi Bob, lunch at noon?"]);
    await until(() => a.page.locator(".msg.mine .status").last().textContent(), "Seen");
    await send(b.page, "Sure, see you there");
    await settled(b.page);
    await until(() => bubbles(a.page), ["Hi Bob, lunch at noon?", "Sure, see you there"]);
    // Alice has the chat in view: nothing counts as unread for her, and Bob sees her read it.
    expect(await conv(a.page, "Bob Brown").locator(".badge").count()).toBe(0);
    await until(() => b.page.locator(".msg.mine .status").last().textContent(), "Seen");

    // Bob loses the network. Alice keeps writing; Bob writes too, offline.
    await b.ctx.setOffline(true);
    await b.page.locator(".banner").waitFor();
    expect(await b.page.locator(".banner").textContent()).toContain("Offline");
    const missed = ["Running five minutes late", "Grabbing a table by the window", "Want me to order for you?", "Soup of the day is lentil", "See you soon"];
    for (const text of missed) await send(a.page, text);
    await settled(a.page);
    await send(b.page, "On my way (typed in the tunnel)");
    await b.page.locator('.msg[data-state="sending"]').waitFor();
    await shot(b.page, "2-bob-offline");

    // Back online: every missed message exactly once, in order; the queued one goes out once.
    await b.ctx.setOffline(false);
    await b.page.locator(".banner").waitFor({ state: "detached", timeout: 15_000 });
    const expected = ["Hi Bob, lunch at noon?", "Sure, see you there", ...missed, "On my way (typed in the tunnel)"];
    await until(() => bubbles(b.page), expected, 10_000);
    await settled(b.page);
    await until(() => bubbles(a.page), expected);
    const ids = (await b.page.locator(".messages .msg[data-msg-id]").evaluateAll((els) => els.map((e) => Number(e.getAttribute("data-msg-id")))));
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    expect(new Set(ids).size).toBe(expected.length);
    // Bob was looking at the chat, so Alice's catch-up messages show as read.
    await until(() => a.page.locator(".msg.mine .status").last().textContent(), "Seen");
    // The server drops Bob's socket (no offline event this time): he reconnects and resumes by himself.
    const bob = (await searchUser(server.app, "bob"))!;
    for (const ws of server.app.hub.socketsOf(bob.id)) ws.close(1012, "restarting");
    await send(a.page, "Ordered you the lentil soup");
    expected.push("Ordered you the lentil soup");
    await until(() => bubbles(b.page), expected, 10_000);
    // A reload starts from REST history: the same messages, still once each.
    await b.page.reload();
    await b.page.getByRole("heading", { name: "Alice Adams" }).waitFor();
    await until(() => bubbles(b.page), expected);

    // A group beside the direct chat: Bob's answer there shows as unread while Alice reads Bob's chat.
    await kit.newGroup(a.page, "Weekend hike", "bob");
    await send(a.page, "Who is in for Saturday?");
    await settled(a.page);
    await conv(a.page, "Bob Brown").click();
    await b.page.getByRole("button", { name: "Back to conversations" }).click();
    await conv(b.page, "Weekend hike").click();
    await send(b.page, "Count me in!");
    await settled(b.page);
    await until(() => conv(a.page, "Weekend hike").locator(".badge").textContent(), "1");
    expect(await conv(a.page, "Weekend hike").locator(".preview").textContent()).toBe("Bob Brown: Count me in!");
    expect(await a.page.title()).toBe("(1) rim");

    expect(violations).toEqual([]);
    await shot(b.page, "3-bob-caught-up");
    await shot(a.page, "4-alice-desktop");
    console.log(`browser chat scenario: ${Math.round(performance.now() - started)} ms`);
  },
  60_000,
);

run(
  "groups and friends in the browser: create, rename, add and remove members, requests",
  async () => {
    const a = await person({ width: 1000, height: 700 });
    const b = await person({ width: 1000, height: 700 });
    await register(a.page, "carol", "Carol Chen");
    await register(b.page, "dave", "Dave Diaz");

    // Friend request: Carol asks, Dave sees it, accepts; both list each other.
    await a.page.getByRole("button", { name: "Friends" }).click();
    await a.page.getByLabel("Add a friend by account").fill("dave");
    await a.page.getByRole("button", { name: "Send request" }).click();
    await a.page.getByText("Request sent to Dave Diaz.").waitFor();
    await a.page.getByText("Waiting for an answer").waitFor();
    await a.page.getByRole("button", { name: "Close" }).click();
    await b.page.reload();
    await b.page.getByRole("button", { name: /Friends\s*1/ }).click();
    await b.page.getByRole("button", { name: "Accept" }).click();
    await b.page.locator(".people", { hasText: "Carol Chen" }).getByRole("button", { name: "Message" }).waitFor();
    await b.page.getByRole("button", { name: "Close" }).click();

    // Carol creates a group with Dave, renames it; Dave sees it live.
    await kit.newGroup(a.page, "Launch crew", "dave");
    await send(a.page, "Welcome to the crew");
    await settled(a.page);
    await conv(b.page, "Launch crew").locator(".badge").waitFor();
    await a.page.getByRole("button", { name: "Members" }).click();
    await a.page.getByRole("dialog").getByLabel("Name").fill("Launch team");
    await a.page.getByRole("button", { name: "Rename" }).click();
    await conv(b.page, "Launch team").waitFor();
    await conv(a.page, "Launch team").waitFor();
    expect(await a.page.locator(".people li").count()).toBe(2);
    await shot(a.page, "5-group-members");

    // Removing Dave takes the group off his list at once.
    await a.page.locator(".people li", { hasText: "Dave Diaz" }).getByRole("button", { name: "Remove" }).click();
    await until(() => a.page.locator(".people li").count(), 1);
    await conv(b.page, "Launch team").waitFor({ state: "detached" });
    // And adding him back brings it back.
    await a.page.getByLabel(/Add members/).fill("dave");
    await a.page.getByRole("button", { name: "Add", exact: true }).click();
    await until(() => a.page.locator(".people li").count(), 2);
    await conv(b.page, "Launch team").waitFor();
    await a.page.getByRole("button", { name: "Close" }).click();

    // A long history: Dave gets the newest page, and older pages as he scrolls up.
    const gid = Number(await conv(a.page, "Launch team").getAttribute("data-gid"));
    const carol = (await searchUser(server.app, "carol"))!;
    const older = Array.from({ length: 75 }, (_, i) => `history ${i + 1}`);
    for (const [i, content] of older.entries()) await sendMessage(fixture(server.app), carol.id, { gid, kind: "Text", content, clientMsgId: `seed-${i}` });
    await b.page.reload();
    const row = conv(b.page, "Launch team");
    expect(await row.locator(".badge").textContent()).toBe("75");
    await row.click();
    await until(async () => (await bubbles(b.page)).length >= 30, true);
    expect((await bubbles(b.page)).at(-1)).toBe("history 75");
    const list = b.page.getByRole("list", { name: "Messages" });
    const atStart = async () => (await b.page.getByText("Start of the conversation").count()) > 0;
    for (let i = 0; i < 10 && !(await atStart()); i++) {
      const shown = (await bubbles(b.page)).length;
      await list.evaluate((el) => (el.scrollTop = 0));
      // Scrolled to the top: an older page comes in above (or the start of the conversation shows).
      await until(async () => (await bubbles(b.page)).length > shown || (await atStart()), true);
    }
    expect(await bubbles(b.page)).toEqual(["Welcome to the crew", ...older]);
    expect(violations).toEqual([]);
  },
  60_000,
);

run("the app and the docs run under their Content-Security-Policy, which the server really sends", async () => {
  const { page } = await person({ width: 1000, height: 700 });
  const policies: Record<string, string | null> = {};
  page.on("response", (r) => void (policies[new URL(r.url()).pathname] = r.headers()["content-security-policy"] ?? null));
  await page.goto(server.url + "/app/");
  await page.getByRole("button", { name: "Create an account" }).waitFor();
  expect(policies["/app/"]).toContain("script-src 'self'");
  // The docs page renders its routes from the OpenAPI document: its inline script ran under its hash.
  await page.goto(server.url + "/docs");
  await page.locator("#routes section").first().waitFor();
  expect(policies["/docs"]).toContain("script-src 'sha256-");
  expect(violations).toEqual([]);
  // The test would see a violation: an inline script injected into the app page is refused.
  await page.goto(server.url + "/app/");
  const refused = page.waitForEvent("console", (m) => /Content Security Policy/.test(m.text()));
  await page.evaluate(() => {
    const s = document.createElement("script");
    s.textContent = "window.injected = true";
    document.head.append(s);
  });
  await refused;
  expect(await page.evaluate(() => (window as any).injected)).toBeUndefined();
  violations.length = 0;
});

run("another site cannot show the app inside a frame", async () => {
  const { page } = await person({ width: 800, height: 600 });
  // Another origin (another port) framing the app page.
  const other = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: () => new Response(`<!doctype html><iframe id="f" src="${server.url}/app/"></iframe>`, { headers: { "Content-Type": "text/html" } }),
  });
  try {
    const refused = page.waitForEvent("console", (m) => /frame-ancestors|X-Frame-Options/.test(m.text()));
    await page.goto(other.url.href);
    expect((await refused).text()).toContain(server.url);
    const framed = page.frames().find((f) => f !== page.mainFrame())!;
    expect(await framed.locator("#app").count()).toBe(0);
  } finally {
    other.stop(true);
    violations.length = 0;
  }
});

run("a cross-site form post cannot register an account (415)", async () => {
  const { page } = await person({ width: 800, height: 600 });
  // Another site's page with a form aimed at rim: text/plain whose field spells JSON, the classic trick.
  const form = `<!doctype html><form method="post" enctype="text/plain" action="${server.url}/api/user/create">
    <input name='{"account":"csrf_victim","password":"secret12","x":"' value='"}'><button>go</button></form>`;
  const other = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response(form, { headers: { "Content-Type": "text/html" } }) });
  try {
    await page.goto(other.url.href);
    const [res] = await Promise.all([page.waitForResponse((r) => r.url().endsWith("/api/user/create")), page.getByRole("button", { name: "go" }).click()]);
    expect(res.request().headers()["content-type"]).toContain("text/plain");
    expect(res.status()).toBe(415);
    expect(await searchUser(server.app, "csrf_victim")).toBeNull();
  } finally {
    other.stop(true);
  }
});
