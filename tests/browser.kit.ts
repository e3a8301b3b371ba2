// Shared by the browser tests: Debian's Chromium (never a downloaded one),
// people with their own browser context, and polling on the DOM.
import { expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";

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

/** A browser context of its own (its own storage: another person), one page in it. */
export async function person(browser: Browser, viewport: { width: number; height: number }, opts: { colorScheme?: "light" | "dark" } = {}): Promise<Person> {
  const ctx = await browser.newContext({ viewport, deviceScaleFactor: 1, colorScheme: opts.colorScheme ?? "light" });
  const page = await ctx.newPage();
  page.setDefaultTimeout(8000);
  page.on("pageerror", (e) => console.error("page error:", e.message));
  return { ctx, page };
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

/** Polls fn until its value deep-equals want (bun:test has no expect.poll), then asserts it. */
export async function until<T>(fn: () => Promise<T>, want: Awaited<T>, timeout = 8000): Promise<void> {
  const end = Date.now() + timeout;
  let got = await fn();
  while (!Bun.deepEquals(got, want) && Date.now() < end) {
    await Bun.sleep(50);
    got = await fn();
  }
  expect(got as Awaited<T>).toEqual(want);
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
