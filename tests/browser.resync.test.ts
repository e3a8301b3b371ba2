// The web client's answer to a cluster's Resync Notify, in real headless
// Chromium: a message stored without its push reaching the browser (as when
// the bus lost the batch), then one pushed live with a greater id (another
// node's, which moved the cursor past the lost one), then Resync: the client
// Syncs from where it was before, not from its cursor, and shows both, in
// order. Waits are on the DOM (the kit's `until`), never on a clock.
import { expect } from "bun:test";
import * as kit from "./browser.kit";
import { bubbles, conv, until } from "./browser.kit";
import { Client, fixture, group, sendMessage, serve, user } from "./helpers";
import { resyncFrame } from "../src/push";

const run = kit.browserTest("browser.resync.test.ts");

const suite = kit.browserSuite(() => serve());

run("Resync: the client Syncs again and shows what never reached it, in order", async () => {
  const ann = await user(suite.server.app, "ann");
  const ben = await user(suite.server.app, "ben");
  const gid = await group(suite.server.app, ann, [ben], { name: "ops" });
  const { page } = await suite.person({ width: 1280, height: 800 });
  await kit.logIn(page, suite.server.url, "ann");
  await conv(page, "ops").click();
  const benSocket = await Client.open(suite.server.wsUrl);
  try {
    expect((await benSocket.login(ben)).content).toBe("Ok");
    const say = async (content: string) => expect((await benSocket.request("Msg", { gid, content })).content).toBe("Ok");
    await say("first");
    await until(() => bubbles(page), ["first"]);
    // The domain's sendMessage stores; the push is the transport's, and this one makes none.
    await sendMessage(fixture(suite.server.app), ben.uid, { gid, kind: "Text", content: "lost on the bus", clientMsgId: "b-2" });
    await say("pushed after it");
  } finally {
    benSocket.close();
  }
  await until(() => bubbles(page), ["first", "pushed after it"]);
  suite.server.app.hub.sendToLoggedIn(resyncFrame);
  await until(() => bubbles(page), ["first", "lost on the bus", "pushed after it"]);
}, 60_000);
