// Shared by the browser tests: Debian's Chromium (never a downloaded one),
// people with their own browser context, and polling on the DOM.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { wakeOrDeadline, type serve } from "./helpers";

// RIM_CHROMIUM points elsewhere only to try the missing-browser path.
export const CHROMIUM = process.env.RIM_CHROMIUM ?? "/usr/bin/chromium";
export const available = existsSync(CHROMIUM);

/** `test` when Chromium is there; otherwise `test.skip` (and, on CI, a failing test saying why). */
export function browserTest(file: string): typeof test {
  if (!available) {
    const why = `${CHROMIUM} is missing: install it with 'apt-get install -y chromium' (npm test does when it can)`;
    if (process.env.CI) {
      test(`${file}: Chromium is installed`, () => {
        throw new Error(why);
      });
    } else {
      console.warn(`${file} skipped: ${why}`);
    }
  }
  return available ? test : (test.skip as typeof test);
}

/** Playwright gives every launch a fresh temporary profile (user-data-dir) and removes it after. */
export const launch = (): Promise<Browser> =>
  chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
  });

export type Person = { ctx: BrowserContext; page: Page };

// Every Content-Security-Policy violation any page reports: the app must run entirely within its policy.
export const violations: string[] = [];

// The open pages, each counting its DOM changes, so `until` waits for the next change instead of polling.
const pages = new Set<Page>();

/** A browser context of its own (its own storage: another person), one page in it. */
export async function person(browser: Browser, viewport: { width: number; height: number }, opts: { colorScheme?: "light" | "dark"; touch?: boolean } = {}): Promise<Person> {
  // touch: a phone's touch screen (no hover; CSS sees hover: none).
  const ctx = await browser.newContext({ viewport, deviceScaleFactor: 1, colorScheme: opts.colorScheme ?? "light", ...(opts.touch && { hasTouch: true, isMobile: true }) });
  await ctx.addInitScript(() => {
    let changes = 0;
    let waiters: ((n: number) => void)[] = [];
    const w = window as any;
    w.__domChanges = () => changes;
    w.__domChangedSince = (seen: number) => (changes > seen ? changes : new Promise<number>((res) => waiters.push(res)));
    new MutationObserver(() => {
      changes++;
      const ready = waiters;
      waiters = [];
      for (const res of ready) res(changes);
    }).observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
  });
  const page = await ctx.newPage();
  page.setDefaultTimeout(8000);
  page.on("pageerror", (e) => console.error("page error:", e.message));
  page.on("console", (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(`${page.url()}: ${m.text()}`);
  });
  pages.add(page);
  page.on("close", () => pages.delete(page));
  return { ctx, page };
}

type Served = Awaited<ReturnType<typeof serve>>;

/**
 * One browser and one server for a test file: started before its tests (when Chromium is there), stopped
 * after them with every person's browser context.
 */
export function browserSuite(start: () => Served | Promise<Served>) {
  let browser: Browser | undefined;
  let server: Served | undefined;
  const contexts: BrowserContext[] = [];
  beforeAll(async () => {
    if (!available) return;
    browser = await launch();
    server = await start();
  });
  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await server?.stop();
  });
  return {
    get server(): Served {
      return server!;
    },
    /** Someone with a browser context of their own, closed after the file. */
    async person(viewport: { width: number; height: number }, opts: Parameters<typeof person>[2] = {}): Promise<Person> {
      const p = await person(browser!, viewport, opts);
      contexts.push(p.ctx);
      return p;
    },
  };
}

export async function register(page: Page, url: string, account: string, name: string, password = "password1") {
  await page.goto(url + "/");
  expect(new URL(page.url()).pathname).toBe("/app/"); // a browser at / is sent to the client
  await page.getByRole("button", { name: "Create an account" }).click();
  await page.getByRole("textbox", { name: "Account", exact: true }).fill(account);
  await page.getByRole("textbox", { name: "Display name" }).fill(name);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByRole("button", { name: "Log out" }).waitFor();
}

export async function logIn(page: Page, url: string, account: string, password = "password1") {
  if (!page.url().startsWith(url + "/app/")) await page.goto(url + "/app/");
  await page.getByRole("textbox", { name: "Account", exact: true }).fill(account);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("button", { name: "Log out" }).waitFor();
}

/**
 * Waits until fn's value deep-equals want, then asserts it (bun:test has no expect.poll). What fn reads is
 * a page's DOM, so fn runs again each time the DOM of an open page changes (counted by its
 * MutationObserver), never on a clock; `timeout` only bounds the whole wait.
 */
export async function until<T>(fn: () => Promise<T>, want: Awaited<T>, timeout = 8000): Promise<void> {
  const end = Date.now() + timeout;
  const count = (p: Page) => p.evaluate(() => (window as any).__domChanges?.() ?? 0).catch(() => 0) as Promise<number>;
  for (;;) {
    // Counted before fn reads: a change while it reads makes the wait below return at once.
    const watched = [...pages];
    const seen = await Promise.all(watched.map(count));
    const got = await fn();
    const left = end - Date.now();
    if (Bun.deepEquals(got, want) || left <= 0) return void expect(got as Awaited<T>).toEqual(want);
    const changed = watched.map((p, i) => p.evaluate((n) => (window as any).__domChangedSince?.(n) ?? n + 1, seen[i]!).catch(() => 0)); // a navigation ends it too
    const deadline = wakeOrDeadline(left);
    await Promise.race([...changed, deadline.woken]);
    deadline.wake();
  }
}

export const bubbles = (page: Page) => page.locator(".messages .msg .bubble").allTextContents();
export const conv = (page: Page, title: string) => page.locator(".conv", { has: page.locator(".conv-title", { hasText: title }) });

export async function send(page: Page, text: string) {
  await page.getByLabel("Message", { exact: true }).fill(text);
  await page.keyboard.press("Enter");
}

/** Waits until the newest own message is acknowledged (no pending item left). */
export async function settled(page: Page) {
  await until(() => page.locator(".msg[data-state]").count(), 0, 8000);
}

/** Creates a group through "New group", typing the members' accounts, and waits for it to open. */
export async function newGroup(page: Page, name: string, members: string) {
  await page.getByRole("button", { name: "New group" }).click();
  await page.getByLabel("Name").fill(name);
  await page.getByLabel(/Members/).fill(members);
  await page.getByRole("button", { name: "Create group" }).click();
  await page.getByRole("heading", { name }).waitFor();
}
