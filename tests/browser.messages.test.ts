// Messages as people expect them, in real headless Chromium (Debian's), between
// three people each in their own browser: Ann (owner of the group, a laptop)
// and Ben (a phone) live, Cat away on a train while they talk, then back.
// Replies with a quote that scrolls to what they answer, reactions from the
// picker, edits (the hover menu, Up arrow, Escape), deletions (your own, an
// owner's of someone else's), "edited" and "deleted" marks, @ autocomplete
// and mentions counted in the sidebar, "X is typing…", presence dots,
// Markdown with clickable links and HTML shown as text. Cat, resuming with
// Sync, ends with exactly what a fresh load of the same account shows. Then
// long names and previews at a phone's and a desktop's width.
// Waits are on the DOM (the kit's `until`, playwright's waitFor), never on a
// clock. Screenshots at phone and desktop widths, light and dark, go to
// $RIM_SHOTS (default /tmp) as rim-msg-*.png; RIM_SCREENSHOT=1 also refreshes
// docs/screenshot.png (the README's).
import { expect } from "bun:test";
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import type { Locator, Page } from "playwright-core";
import { sendMessage, setName } from "./helpers";
import { searchUser } from "./helpers";
import * as kit from "./browser.kit";
import { conv, send, settled, until, violations } from "./browser.kit";
import { fixture, group, serve, user } from "./helpers";

const run = kit.browserTest("browser.messages.test.ts");
const SHOTS = process.env.RIM_SHOTS ?? "/tmp";
const DOCS_SHOT = join(import.meta.dir, "..", "docs", "screenshot.png");
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };

const suite = kit.browserSuite(() => serve());

async function person(viewport: { width: number; height: number }, touch = false): Promise<kit.Person> {
  const p = await suite.person(viewport, { touch });
  // A link in a message opens this page (no request leaves the machine).
  await p.ctx.route("https://example.com/**", (route) => route.fulfill({ contentType: "text/html", body: "<!doctype html><title>Brand guide</title><h1>Brand guide</h1>" }));
  return p;
}

/** Light and dark screenshots of the page as it is now. */
async function shots(page: Page, name: string) {
  for (const scheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.screenshot({ path: join(SHOTS, `rim-msg-${name}-${scheme}.png`) });
  }
  await page.emulateMedia({ colorScheme: "light" });
}

/** The message whose bubble holds that text. */
const msg = (page: Page, text: string) => page.locator(".messages .msg[data-msg-id]").filter({ has: page.locator(".bubble", { hasText: text }) });

/** Each message as anyone in the group sees it (what differs by viewer, names like "You" and statuses, left out). */
const shown = (page: Page) =>
  page.locator(".messages .msg[data-msg-id]").evaluateAll((els) =>
    els.map((li) => ({
      text: li.querySelector(".bubble")?.textContent ?? "",
      deleted: li.classList.contains("deleted"),
      quote: li.querySelector(".quote-text")?.textContent ?? null,
      reactions: [...li.querySelectorAll(".reaction")].map((r) => `${r.querySelector(".emoji")?.textContent} ${r.querySelector(".count")?.textContent}`),
      edited: li.querySelector(".edited") !== null,
    })),
  );

/** The actions a message offers on hover. */
const actions = async (m: Locator) => {
  await m.locator(".bubble").hover();
  return m.locator(".msg-actions button").evaluateAll((bs) => bs.map((b) => b.getAttribute("aria-label")));
};

/** A conversation's row: its preview, unread and mention badges. */
const row = (r: Locator) =>
  r.evaluate((el) => ({
    title: el.querySelector(".conv-title")?.textContent,
    preview: el.querySelector(".preview")?.textContent,
    unread: el.querySelector(".badge:not(.mention-badge)")?.textContent ?? null,
    mentions: el.querySelector(".mention-badge")?.textContent ?? null,
  }));

const header = (page: Page) => page.locator(".chat-title small").textContent();
const composer = (page: Page) => page.getByLabel("Message", { exact: true });

run(
  "replies, reactions, edits, deletions, mentions, typing, presence and Markdown between two people; the third resumes to the same state",
  async () => {
    const ann = await person(DESKTOP);
    const ben = await person(PHONE);
    const cat = await person(DESKTOP);
    await kit.register(ann.page, suite.server.url, "ann", "Ann Archer");
    await kit.register(ben.page, suite.server.url, "ben", "Ben Baker");
    await kit.register(cat.page, suite.server.url, "cat", "Cat Cole");

    // Ann makes the group; everyone has it open.
    await kit.newGroup(ann.page, "Design crew", "ben cat");
    await send(ann.page, "Welcome to the crew");
    await settled(ann.page);
    for (const p of [ben.page, cat.page]) {
      await conv(p, "Design crew").click();
      await msg(p, "Welcome to the crew").waitFor();
    }

    // Cat starts a direct chat with Ann. Ann's list shows it at once, with Cat online;
    // Cat types and thinks better of it: "typing…" shows, and goes by itself.
    await cat.page.getByRole("button", { name: "New chat" }).click();
    await cat.page.getByLabel("Account or name").fill("ann");
    await cat.page.getByRole("button", { name: "Start chat" }).click();
    await cat.page.getByRole("heading", { name: "Ann Archer" }).waitFor();
    const catRow = conv(ann.page, "Cat Cole");
    await catRow.locator(".presence-dot").waitFor();
    await composer(cat.page).fill("Are you free for");
    await until(() => catRow.locator(".preview").textContent(), "Cat Cole is typing…");
    await composer(cat.page).fill("");
    await until(() => catRow.locator(".preview").textContent(), "No messages yet", 10_000);
    await send(cat.page, "Hi Ann, on the train: patchy signal");
    await settled(cat.page);
    await until(() => catRow.locator(".preview").textContent(), "Hi Ann, on the train: patchy signal");
    // Ann opens it: she sees Cat online; a direct chat says "Seen", not "Read by 1". The answer to the
    // presence question opening it asks is held until Cat has gone (as a slow server would answer it).
    let answered!: () => void;
    const asked = new Promise<void>((r) => (answered = r));
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    await ann.page.route("**/api/user/presence**", async (route) => {
      const answer = await route.fetch();
      answered();
      await released;
      await route.fulfill({ response: answer });
    }, { times: 1 });
    await catRow.click();
    await until(() => header(ann.page), "@cat · online");
    await until(() => cat.page.locator(".msg.mine .status").last().textContent(), "Seen");
    await asked;

    // The train enters a tunnel: Cat's link is gone (the server sees the socket close). Her dot goes.
    const catId = (await searchUser(suite.server.app, "cat"))!.id;
    await cat.ctx.setOffline(true);
    for (const ws of suite.server.app.hub.socketsOf(catId)) ws.close(1012, "gone");
    await cat.page.locator(".banner").waitFor();
    await catRow.locator(".presence-dot").waitFor({ state: "detached" });
    // The answer from before she went ("online") comes after her Presence offline: it must not bring the dot back.
    const late = ann.page.waitForResponse("**/api/user/presence**");
    release();
    await (await late).finished();
    await until(async () => /^@cat · last seen \d\d:\d\d$/.test((await header(ann.page)) ?? ""), true);

    // ---- the burst Cat misses ----
    await conv(ann.page, "Design crew").click();
    await msg(ann.page, "Welcome to the crew").waitFor();

    // Ben types: Ann sees it under the group's name until his message comes.
    await composer(ben.page).fill("Can someone review the new logo?");
    await until(() => header(ann.page), "Ben Baker is typing…");
    // Ben's Typing was sent after the late presence answer was all in Ann's page, and she has handled it:
    // so has she the answer, which left Cat's dot off.
    expect(await catRow.locator(".presence-dot").count()).toBe(0);
    await composer(ben.page).press("Enter");
    await msg(ann.page, "Can someone review the new logo?").waitFor();
    await until(() => header(ann.page), "3 members");

    // Ann replies from the hover menu: a quote of Ben's message above hers, for both.
    const question = msg(ann.page, "Can someone review the new logo?");
    expect(await actions(question)).toEqual(["Reply", "React", "Delete"]); // Ann owns the group: she may delete Ben's
    await question.getByRole("button", { name: "Reply" }).click();
    expect(await ann.page.locator(".composing").textContent()).toContain("Replying to Ben Baker");
    await send(ann.page, "Looks great, ship it");
    await settled(ann.page);
    expect(await ann.page.locator(".composing").count()).toBe(0);
    const answer = msg(ben.page, "Looks great, ship it");
    await until(() => answer.locator(".quote").textContent(), "YouCan someone review the new logo?");
    expect(await msg(ann.page, "Looks great, ship it").locator(".quote").textContent()).toBe("Ben BakerCan someone review the new logo?");

    // Ben, on his phone, holds the message down (the context menu): the actions open; he reacts with 👍.
    expect(await actions(answer)).toEqual(["Reply", "React"]); // Ann's message: no Edit, no Delete for Ben
    await answer.locator(".bubble").click({ button: "right" });
    await answer.getByRole("button", { name: "React" }).click();
    await answer.getByRole("group", { name: "Pick a reaction" }).getByRole("button", { name: "React with 👍" }).click();
    const annAnswer = msg(ann.page, "Looks great, ship it");
    await until(() => annAnswer.locator(".reaction").allTextContents(), ["👍1"]);
    // Ann adds hers by the chip and a 🎉 from the picker: Ben sees the counts move.
    await annAnswer.locator('.reaction[data-emoji="👍"]').click();
    await annAnswer.locator(".bubble").hover();
    await annAnswer.getByRole("button", { name: "React" }).click();
    await annAnswer.getByRole("group", { name: "Pick a reaction" }).waitFor();
    await shots(ann.page, "picker-desktop");
    await annAnswer.getByRole("button", { name: "React with 🎉" }).click();
    await until(() => answer.locator(".reaction").allTextContents(), ["👍2", "🎉1"]);
    expect(await answer.locator('.reaction[data-emoji="👍"]').getAttribute("aria-pressed")).toBe("true");
    // Ben takes his back; Ann sees 1 again.
    await answer.locator('.reaction[data-emoji="👍"]').click();
    await until(() => annAnswer.locator(".reaction").allTextContents(), ["👍1", "🎉1"]);

    // A reply's quote takes you to what it answers, even far above.
    await msg(ann.page, "Looks great, ship it").locator(".quote").click();
    await until(() => question.evaluate((el) => el.hasAttribute("data-found")), true);
    await until(() => question.evaluate((el) => el.hasAttribute("data-found")), false, 5000); // the highlight fades

    // Ann edits from the hover menu: Ben sees the new text marked "edited".
    await send(ann.page, "Review at 3pm");
    await settled(ann.page);
    const review = msg(ann.page, "Review at 3pm");
    expect(await actions(review)).toEqual(["Reply", "React", "Edit", "Delete"]);
    await review.getByRole("button", { name: "Edit" }).click();
    await until(() => composer(ann.page).inputValue(), "Review at 3pm");
    await composer(ann.page).fill("Review at 4pm");
    await composer(ann.page).press("Enter");
    await until(() => composer(ann.page).inputValue(), ""); // saved: the box is empty again
    await until(() => msg(ben.page, "Review at 4pm").locator(".edited").count(), 1);
    expect(await msg(ann.page, "Review at 4pm").locator(".edited").textContent()).toBe("edited");
    // Up arrow in the empty box edits her last message; Escape leaves it as it was.
    await composer(ann.page).press("ArrowUp");
    await until(() => composer(ann.page).inputValue(), "Review at 4pm");
    expect(await ann.page.locator(".composing").textContent()).toContain("Editing your message");
    await composer(ann.page).fill("Review cancelled");
    await composer(ann.page).press("Escape");
    await until(() => composer(ann.page).inputValue(), "");
    expect(await ann.page.locator(".composing").count()).toBe(0);
    expect(await msg(ann.page, "Review at 4pm").locator(".bubble").textContent()).toBe("Review at 4pm");
    await composer(ann.page).press("ArrowUp");
    await until(() => composer(ann.page).inputValue(), "Review at 4pm");
    await composer(ann.page).fill("Review at 4pm in room B");
    await composer(ann.page).press("Enter");
    await msg(ben.page, "Review at 4pm in room B").waitFor();
    expect(await msg(ben.page, "Review at 4pm in room B").locator(".edited").count()).toBe(1);

    // @ offers the group's members; Enter puts in @account. Ben, on the list, sees the mention counted.
    await ben.page.getByRole("button", { name: "Back to conversations" }).click();
    await composer(ann.page).pressSequentially("@be");
    const options = ann.page.getByRole("listbox", { name: "Members to mention" });
    await until(() => options.getByRole("option").locator(".who").allTextContents(), ["Ben Baker @ben"]);
    await composer(ann.page).press("Enter");
    await until(() => composer(ann.page).inputValue(), "@ben ");
    await composer(ann.page).pressSequentially("can you check the colours?");
    await composer(ann.page).press("Enter");
    await settled(ann.page);
    const bensGroup = conv(ben.page, "Design crew");
    await until(() => row(bensGroup), { title: "Design crew", preview: "Ann Archer: @ben can you check the colours?", unread: "1", mentions: "@1" });
    // And one for Cat, who is away: picked by a click this time.
    await composer(ann.page).pressSequentially("thanks @ca");
    await options.getByRole("option", { name: /Cat Cole/ }).click();
    await composer(ann.page).pressSequentially("please send the fonts");
    await until(() => composer(ann.page).inputValue(), "thanks @cat please send the fonts");
    await composer(ann.page).press("Enter");
    await settled(ann.page);
    // Ben opens the group: the mention of him stands out, the count is gone.
    await bensGroup.click();
    const mentioned = msg(ben.page, "can you check the colours?");
    await until(() => mentioned.locator(".mention.to-me").allTextContents(), ["@ben"]);
    expect(await msg(ben.page, "please send the fonts").locator(".mention").allTextContents()).toEqual(["@cat"]);
    expect(await msg(ben.page, "please send the fonts").locator(".mention.to-me").count()).toBe(0);
    await until(() => row(bensGroup), { title: "Design crew", preview: "Ann Archer: thanks @cat please send the fonts", unread: null, mentions: null });

    // The README's picture: a reply, a reaction, an edit mark and a mention.
    await ann.page.locator(".messages").evaluate((el) => (el.scrollTop = el.scrollHeight));
    await ann.page.mouse.move(5, 790);
    await shots(ann.page, "conversation-desktop");
    if (process.env.RIM_SCREENSHOT) copyFileSync(join(SHOTS, "rim-msg-conversation-desktop-light.png"), DOCS_SHOT);
    await shots(ben.page, "conversation-phone");

    // Ben deletes his own slip; Ann deletes (as the group's owner) a message of Ben's.
    await send(ben.page, "oops, wrong chat");
    await settled(ben.page);
    const slip = msg(ben.page, "oops, wrong chat");
    await slip.locator(".bubble").click({ button: "right" });
    await slip.getByRole("button", { name: "Delete" }).click();
    await ben.page.getByRole("dialog", { name: "Delete message" }).getByRole("button", { name: "Delete for everyone" }).click();
    await send(ben.page, "Selling my old bike, DM me");
    await settled(ben.page);
    const bike = msg(ann.page, "Selling my old bike, DM me");
    await bike.waitFor();
    await bike.locator(".bubble").hover();
    await bike.getByRole("button", { name: "Delete" }).click();
    const confirm = ann.page.getByRole("dialog", { name: "Delete message" });
    expect(await confirm.textContent()).toContain("Delete Ben Baker's message for everyone?");
    await confirm.getByRole("button", { name: "Delete for everyone" }).click();
    const tail = async (page: Page) => (await shown(page)).slice(-2).map((m) => [m.text, m.deleted]);
    for (const p of [ann.page, ben.page])
      await until(() => tail(p), [
        ["Message deleted", true],
        ["Message deleted", true],
      ]);
    expect(await conv(ann.page, "Design crew").locator(".preview").textContent()).toBe("Ben Baker: Message deleted");

    // Markdown: bold, italics, code, a code block, a quote and a link that opens in a new tab.
    const md = "**Logo** is _final_, run `npm run build`\n> ship it\n\nsee https://example.com/brand?v=2\n\n```\nnpm run build\n  --minify\n```";
    await send(ann.page, md);
    await settled(ann.page);
    const rich = msg(ben.page, "is final");
    await rich.waitFor();
    const bubble = rich.locator(".bubble");
    expect(await bubble.locator("strong").textContent()).toBe("Logo");
    expect(await bubble.locator("em").textContent()).toBe("final");
    expect(await bubble.locator("p code").textContent()).toBe("npm run build");
    expect(await bubble.locator("blockquote").textContent()).toBe("ship it");
    expect(await bubble.locator("pre code").textContent()).toBe("npm run build\n  --minify\n");
    const link = bubble.getByRole("link", { name: "https://example.com/brand?v=2" });
    expect(await link.evaluate((a) => [a.getAttribute("href"), a.getAttribute("target"), a.getAttribute("rel")])).toEqual(["https://example.com/brand?v=2", "_blank", "noopener noreferrer"]);
    const [tab] = await Promise.all([ben.ctx.waitForEvent("page"), link.click()]);
    await tab.waitForLoadState();
    expect(tab.url()).toBe("https://example.com/brand?v=2");
    expect(await tab.evaluate(() => window.opener)).toBeNull();
    await tab.close();
    // HTML in a message is text: nothing of it runs, no element comes of it.
    const hostile = `Look: <script>window.pwned = 1</script><img src=x onerror="window.pwned = 2"> <b>not bold</b> [x](javascript:window.pwned=3)`;
    const hostileShown = hostile.replace("[x](javascript:window.pwned=3)", "x");
    await send(ann.page, hostile);
    await settled(ann.page);
    const evil = msg(ben.page, "not bold");
    await evil.waitFor();
    expect(await evil.locator(".bubble").textContent()).toBe(hostileShown);
    expect(await evil.locator(".bubble script, .bubble img, .bubble b, .bubble a").count()).toBe(0);
    expect(await msg(ann.page, "not bold").locator(".bubble script, .bubble img, .bubble b, .bubble a").count()).toBe(0);
    expect(await ann.page.evaluate(() => (window as any).pwned)).toBeUndefined();
    expect(await ben.page.evaluate(() => (window as any).pwned)).toBeUndefined();

    // Ann and Ben see the same conversation.
    const final = await shown(ann.page);
    await until(() => shown(ben.page), final);
    expect(final.map((m) => m.text)).toEqual([
      "Welcome to the crew",
      "Can someone review the new logo?",
      "Looks great, ship it",
      "Review at 4pm in room B",
      "@ben can you check the colours?",
      "thanks @cat please send the fonts",
      "Message deleted",
      "Message deleted",
      (await msg(ann.page, "is final").locator(".bubble").textContent())!,
      hostileShown,
    ]);
    await ben.page.mouse.move(1, 1);
    await shots(ben.page, "markdown-phone");

    // ---- Cat comes out of the tunnel ----
    await cat.ctx.setOffline(false);
    await cat.page.locator(".banner").waitFor({ state: "detached", timeout: 15_000 });
    // Her dot is back for Ann.
    await conv(ann.page, "Cat Cole").locator(".presence-dot").waitFor();
    // Resumed by Sync: the group's row counts what she missed and the one mention of her.
    const catsGroup = conv(cat.page, "Design crew");
    const missed = { title: "Design crew", preview: `Ann Archer: ${hostileShown}`, unread: "9", mentions: "@1" };
    await until(() => row(catsGroup), missed);
    // Exactly what a fresh load of her account shows, in another browser.
    const fresh = await person(DESKTOP);
    await kit.logIn(fresh.page, suite.server.url, "cat");
    await until(() => row(conv(fresh.page, "Design crew")), missed);
    // The conversation itself, to the last attribute.
    await catsGroup.click();
    await conv(fresh.page, "Design crew").click();
    for (const p of [cat.page, fresh.page]) await msg(p, "not bold").waitFor();
    // Both with the whole conversation loaded, back to its start (a page still loading shows "Loading…").
    for (const p of [cat.page, fresh.page]) await p.locator(".history-edge", { hasText: "Start of the conversation" }).waitFor();
    const html = (p: Page) => p.locator(".messages").evaluate((el) => el.innerHTML.replace(/ data-found=""/g, ""));
    await until(() => html(cat.page), await html(fresh.page));
    await until(() => shown(cat.page), final);
    expect(await msg(cat.page, "please send the fonts").locator(".mention.to-me").allTextContents()).toEqual(["@cat"]);
    await shots(cat.page, "resumed-desktop");

    expect(await cat.page.evaluate(() => (window as any).pwned)).toBeUndefined();
    expect(violations).toEqual([]);
  },
  120_000,
);

const LONG_NAME = "Maximiliana Bartholomew-Featherstonehaugh of Llanfairpwllgwyngyll";
const LONG_GROUP = "The quarterly planning committee for the northern hemisphere offices and friends";
const LONG_TEXT = "Could everyone please send me their availability for the offsite in March before Friday, including dietary needs?";

run(
  "long names and previews stay inside the sidebar on a phone and a desktop; a short chat sits by the composer; one colour per person",
  async () => {
    const app = suite.server.app;
    const zoe = await user(app, "zoe");
    const max = await user(app, "maximiliana");
    await setName(fixture(app), max.uid, LONG_NAME.slice(0, 64));
    await setName(fixture(app), zoe.uid, "Zoe Zhang");
    const gid = await group(app, max, [zoe], { name: LONG_GROUP.slice(0, 100) });
    const direct = await group(app, max, [zoe], { mode: 1, name: "" });
    const ctx = fixture(app);
    await sendMessage(ctx, max.uid, { gid, kind: "Text", content: "Kick-off notes are in the drive", clientMsgId: "l-1" });

    for (const [name, viewport] of [["phone", PHONE], ["desktop", DESKTOP]] as const) {
      // Each time: unread long messages in both (the one before read them and answered).
      await sendMessage(ctx, max.uid, { gid, kind: "Text", content: `${LONG_TEXT} (${name})`, clientMsgId: `l-${name}-1` });
      await sendMessage(ctx, max.uid, { gid: direct, kind: "Text", content: `${LONG_TEXT} ${LONG_TEXT} (${name})`, clientMsgId: `l-${name}-2` });
      const { page } = await person(viewport);
      await kit.logIn(page, suite.server.url, "zoe");
      const rows = page.locator(".conv");
      await until(() => rows.count(), 2);
      // Every row's time and badge are inside the row, its title and preview cut short with an ellipsis.
      const fits = await rows.evaluateAll((els) =>
        els.map((el) => {
          const box = el.getBoundingClientRect();
          const inside = (sel: string) => {
            const r = el.querySelector(sel)?.getBoundingClientRect();
            return !!r && r.width > 0 && r.left >= box.left && r.right <= box.right - 4;
          };
          const cut = (sel: string) => {
            const t = el.querySelector(sel) as HTMLElement;
            return t.scrollWidth > t.clientWidth && getComputedStyle(t).textOverflow === "ellipsis";
          };
          return { time: inside("time"), badge: inside(".badge"), title: cut(".conv-title"), preview: cut(".preview") };
        }),
      );
      expect(fits).toEqual([
        { time: true, badge: true, title: true, preview: true },
        { time: true, badge: true, title: true, preview: true },
      ]);
      expect(await page.evaluate(() => document.documentElement.scrollWidth <= innerWidth)).toBe(true);
      await shots(page, `long-list-${name}`);

      // The direct chat: a short conversation ends by the composer, not at the top of the screen.
      await conv(page, "Maximiliana").click();
      await msg(page, `(${name})`).waitFor();
      const gap = await page.evaluate(() => {
        const last = [...document.querySelectorAll(".messages .msg")].at(-1)!.getBoundingClientRect();
        return document.querySelector(".composer")!.getBoundingClientRect().top - last.bottom;
      });
      expect(gap).toBeGreaterThanOrEqual(0);
      expect(gap).toBeLessThan(40);
      // The name in the chat's header: whole where it fits, else cut short with an ellipsis, never past the header.
      const title = page.getByRole("heading", { name: LONG_NAME.slice(0, 64) });
      expect(
        await title.evaluate((h) => {
          const head = h.closest(".chat-head")!.getBoundingClientRect();
          const fits = h.scrollWidth <= h.clientWidth || getComputedStyle(h).textOverflow === "ellipsis";
          return fits && h.getBoundingClientRect().right <= head.right;
        }),
      ).toBe(true);
      // Maximiliana's colour is the same in the list, the chat's header and the group's members.
      const colour = (l: Locator) => l.evaluate((el) => getComputedStyle(el).backgroundColor);
      const inList = await colour(conv(page, "Maximiliana").locator(".avatar"));
      expect(await colour(page.locator(".chat-head .avatar"))).toBe(inList);
      expect(await page.evaluate(() => document.documentElement.scrollWidth <= innerWidth)).toBe(true);
      await shots(page, `long-direct-${name}`);
      if (name === "phone") await page.getByRole("button", { name: "Back to conversations" }).click();
      await conv(page, "quarterly planning").click();
      await page.getByRole("button", { name: "Members" }).click();
      const member = page.getByRole("dialog").locator(".people li", { hasText: "Maximiliana" });
      expect(await colour(member.locator(".avatar"))).toBe(inList);
      await page.getByRole("button", { name: "Close" }).click();
      // A reply to the long message: its quote is cut short too.
      const long = msg(page, `(${name})`);
      await long.locator(".bubble").hover();
      await long.getByRole("button", { name: "Reply" }).click();
      await send(page, "Sure, adding mine now");
      await settled(page);
      await shots(page, `long-group-${name}`);
    }
    expect(violations).toEqual([]);
  },
  60_000,
);

run(
  "a reply to a message far back: its quote is fetched by itself, a click loads the history up to it and scrolls there",
  async () => {
    const app = suite.server.app;
    const [yan, uma] = [await user(app, "yan"), await user(app, "uma")];
    await setName(fixture(app), yan.uid, "Yan Yu");
    const gid = await group(app, yan, [uma], { name: "Archive" });
    const ctx = fixture(app);
    const first = await sendMessage(ctx, yan.uid, { gid, kind: "Text", content: "The budget is **approved**", clientMsgId: "far-0" });
    for (let i = 1; i <= 80; i++) await sendMessage(ctx, i % 2 ? uma.uid : yan.uid, { gid, kind: "Text", content: `filler ${i}`, clientMsgId: `far-${i}` });
    await sendMessage(ctx, uma.uid, { gid, kind: "Text", content: "Which budget was that again?", clientMsgId: "far-q", replyTo: first.message.id });

    const { page } = await person(DESKTOP);
    await kit.logIn(page, suite.server.url, "uma");
    await conv(page, "Archive").click();
    const reply = msg(page, "Which budget was that again?");
    // The quote names the sender and shows the text without its Markdown marks, though that message is 80 back.
    await until(() => reply.locator(".quote").textContent(), "Yan YuThe budget is approved");
    expect(await msg(page, "The budget is").count()).toBe(0);
    await reply.locator(".quote").click();
    const target = msg(page, "The budget is");
    await target.waitFor();
    await until(() => target.evaluate((el) => el.hasAttribute("data-found")), true);
    expect(await target.evaluate((el) => {
      const r = el.getBoundingClientRect();
      const view = el.closest(".messages")!.getBoundingClientRect();
      return r.top >= view.top && r.bottom <= view.bottom;
    })).toBe(true);
    expect(await target.locator(".bubble strong").textContent()).toBe("approved");

    // On a touch phone there is no hover: a long press opens the actions (the finger stays down until they show).
    const hostile = `<img src=x onerror="window.pwned = 4"><script>window.pwned = 5</script>`;
    await sendMessage(ctx, yan.uid, { gid, kind: "Text", content: hostile, clientMsgId: "far-h" });
    const phone = await person(PHONE, true);
    await kit.logIn(phone.page, suite.server.url, "uma");
    await conv(phone.page, "Archive").tap();
    const last = msg(phone.page, "onerror");
    await last.waitFor();
    // HTML as a block of its own is text too.
    expect(await last.locator(".bubble").textContent()).toBe(hostile);
    expect(await last.locator(".bubble img, .bubble script").count()).toBe(0);
    const actionsShown = () => last.locator(".msg-actions").isVisible();
    expect(await actionsShown()).toBe(false);
    const box = (await last.locator(".bubble").boundingBox())!;
    const cdp = await phone.ctx.newCDPSession(phone.page);
    const at = [{ x: box.x + 20, y: box.y + box.height / 2 }];
    await cdp.send("Input.dispatchTouchEvent", { type: "touchStart", touchPoints: at });
    await phone.page.locator(".msg.menu-open").waitFor();
    await cdp.send("Input.dispatchTouchEvent", { type: "touchEnd", touchPoints: [] });
    expect(await last.locator(".msg-actions button").evaluateAll((bs) => bs.map((b) => b.getAttribute("aria-label")))).toEqual(["Reply", "React"]);
    await last.getByRole("button", { name: "React" }).tap();
    await last.getByRole("group", { name: "Pick a reaction" }).waitFor();
    await shots(phone.page, "long-press-phone");
    await last.getByRole("button", { name: "React with ❤️" }).tap();
    await last.locator('.reaction[data-emoji="❤️"]').waitFor();
    expect(await last.locator(".reaction").allTextContents()).toEqual(["❤️1"]);
    await phone.page.locator(".msg.menu-open").waitFor({ state: "detached" });
    expect(await actionsShown()).toBe(false);
    await shots(phone.page, "touch-phone");
    expect(await phone.page.evaluate(() => (window as any).pwned)).toBeUndefined();
    expect(violations).toEqual([]);
  },
  30_000,
);
