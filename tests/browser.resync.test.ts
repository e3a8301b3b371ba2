// The web client's answer to a cluster's Resync Notify, in real headless
// Chromium: a message stored without its push reaching the browser (as when
// the bus lost the batch), then one pushed live with a greater id (another
// node's, which moved the cursor past the lost one), then Resync: the client
// Syncs from where it was before, not from its cursor, and shows both, in
// order. Waits are on the DOM (the kit's `until`), never on a clock.
import { afterAll, beforeAll, expect } from "bun:test";
import type { Browser, BrowserContext } from "playwright-core";
import * as kit from "./browser.kit";
import { bubbles, conv, until } from "./browser.kit";
import { Client, fixture, group, sendMessage, serve, user } from "./helpers";
import { resyncFrame } from "../src/push";

const run = kit.browserTest("browser.resync.test.ts");

let browser: Browser;
let server: Awaited<ReturnType<typeof serve>>;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  if (!kit.available) return;
  browser = await kit.launch();
  server = await serve();
});
afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close();
  await server?.stop();
});

run("Resync: the client Syncs again and shows what never reached it, in order", async () => {
  const ann = await user(server.app, "ann");
  const ben = await user(server.app, "ben");
  const gid = await group(server.app, ann, [ben], { name: "ops" });
  const { ctx, page } = await kit.person(browser, { width: 1280, height: 800 });
  contexts.push(ctx);
  await kit.logIn(page, server.url, "ann");
  await conv(page, "ops").click();
  const benSocket = await Client.open(server.wsUrl);
  try {
    expect((await benSocket.login(ben)).content).toBe("Ok");
    const say = async (content: string) => expect((await benSocket.request("Msg", { gid, content })).content).toBe("Ok");
    await say("first");
    await until(() => bubbles(page), ["first"]);
    // The domain's sendMessage stores; the push is the transport's, and this one makes none.
    await sendMessage(fixture(server.app), ben.uid, { gid, kind: "Text", content: "lost on the bus", clientMsgId: "b-2" });
    await say("pushed after it");
  } finally {
    benSocket.close();
  }
  await until(() => bubbles(page), ["first", "pushed after it"]);
  server.app.hub.sendToLoggedIn(resyncFrame);
  await until(() => bubbles(page), ["first", "lost on the bus", "pushed after it"]);
}, 60_000);
