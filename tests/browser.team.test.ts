// The web client's team management in real headless Chromium, between real
// users each in their own browser context: finding people by part of their
// account or name, profiles, a group's life (roles, leave, transfer, delete),
// invite links, and the admin screen. No sleeps: every wait is on the DOM.
// Screenshots at phone and desktop widths, light and dark, go to $RIM_SHOTS
// (default /tmp) as rim-team-*.png.
import { afterAll, beforeAll, expect } from "bun:test";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { setName, setUserAdmin } from "./helpers";
import { saveSettings } from "./helpers";
import { searchUser } from "./helpers";
import { settingsOf } from "../src/http/admin";
import * as kit from "./browser.kit";
import { conv, send, settled, until } from "./browser.kit";
import { fixture, serve, user } from "./helpers";

const run = kit.browserTest("browser.team.test.ts");
const SHOTS = process.env.RIM_SHOTS ?? "/tmp";
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };

let browser: Browser;
const contexts: BrowserContext[] = [];
const servers: Awaited<ReturnType<typeof serve>>[] = [];

beforeAll(async () => {
  if (kit.available) browser = await kit.launch();
});
afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close();
  for (const s of servers) await s.stop();
});

async function server(overrides: Parameters<typeof serve>[0] = {}) {
  const s = await serve(overrides);
  servers.push(s);
  return s;
}

// Avatars point at https://pictures.example/NAME.svg; each browser is served a drawing for them.
const picture = (hue: number) =>
  `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 40"><rect width="40" height="40" fill="hsl(${hue} 70% 55%)"/><circle cx="20" cy="16" r="8" fill="#fff"/><rect x="8" y="27" width="24" height="14" rx="7" fill="#fff"/></svg>`;

async function person(viewport: { width: number; height: number }, colorScheme: "light" | "dark" = "light"): Promise<kit.Person> {
  const p = await kit.person(browser, viewport, { colorScheme });
  contexts.push(p.ctx);
  await p.ctx.route("https://pictures.example/**", (route) => route.fulfill({ contentType: "image/svg+xml", body: picture(route.request().url().length * 37) }));
  return p;
}

/** Light and dark screenshots of the page as it is now. */
async function shots(page: Page, name: string) {
  for (const scheme of ["light", "dark"] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.screenshot({ path: join(SHOTS, `rim-team-${name}-${scheme}.png`) });
  }
  await page.emulateMedia({ colorScheme: "light" });
}

/** Someone registered without a browser, under a display name. */
async function named(app: Awaited<ReturnType<typeof serve>>["app"], account: string, name: string) {
  const u = await user(app, account);
  await setName(fixture(app), u.uid, name);
  return u;
}

const dialog = (page: Page) => page.getByRole("dialog");
const memberRow = (page: Page, name: string) => dialog(page).getByRole("list", { name: "Members" }).getByRole("listitem").filter({ hasText: name });
const listbox = (page: Page) => page.getByRole("listbox", { name: "Matching people" });
/** The people offered, and the one Enter would pick (the avatar's initials left out). */
const offered = (page: Page) => listbox(page).getByRole("option").locator(".who").allTextContents();
const active = (page: Page) => listbox(page).getByRole("option", { selected: true }).locator(".who").textContent();

run(
  "find people as you type, start a chat from the list; a profile change reaches the other person; others' emails never show",
  async () => {
    const s = await server();
    await named(s.app, "bella", "Bella Brightwater");
    const a = await person(DESKTOP);
    const b = await person(PHONE);
    await kit.register(a.page, s.url, "ann", "Ann Archer");
    await kit.register(b.page, s.url, "ben", "Ben Baker");

    // "BE", upper case: Bella and Ben (accounts starting with it first), not Ann herself.
    await a.page.getByRole("button", { name: "New chat" }).click();
    const box = a.page.getByRole("combobox", { name: "Account or name" });
    await box.fill("BE");
    await until(() => offered(a.page), ["Bella Brightwater @bella", "Ben Baker @ben"]);
    expect(await box.getAttribute("aria-expanded")).toBe("true");
    // Keyboard: the first is active; ArrowDown moves to Ben, Enter picks him and opens the chat.
    await until(() => active(a.page), "Bella Brightwater @bella");
    await box.press("ArrowDown");
    await until(() => active(a.page), "Ben Baker @ben");
    expect(await box.getAttribute("aria-activedescendant")).toBe(await listbox(a.page).getByRole("option", { selected: true }).getAttribute("id"));
    await box.press("Enter");
    await a.page.getByRole("heading", { name: "Ben Baker" }).waitFor();
    await send(a.page, "Hi Ben, found you in the directory");
    await settled(a.page);

    // A name in the middle, any case, found with the mouse.
    await a.page.getByRole("button", { name: "New chat" }).click();
    await a.page.getByRole("combobox", { name: "Account or name" }).fill("brightWATER");
    await listbox(a.page).getByRole("option", { name: /Bella Brightwater/ }).click();
    await a.page.getByRole("heading", { name: "Bella Brightwater" }).waitFor();

    // Ben changes his profile: a long name, a picture, an email.
    await conv(b.page, "Ann Archer").waitFor();
    await b.page.getByRole("button", { name: "Profile" }).click();
    const profile = dialog(b.page);
    const long = "Benjamin Bartholomew Baker-Montgomery of the Long Names";
    await profile.getByLabel("Display name").fill(long);
    await profile.getByLabel(/Avatar/).fill("https://pictures.example/ben.svg");
    await profile.getByLabel(/Email/).fill("ben@example.com");
    await profile.getByRole("button", { name: "Save" }).click();
    await profile.getByRole("status").filter({ hasText: "Saved." }).waitFor();
    await b.page.locator(".me-name strong", { hasText: long }).waitFor();
    await shots(b.page, "profile-phone");
    await profile.getByRole("button", { name: "Close" }).click();
    // His own email is his to see.
    await b.page.getByRole("button", { name: "Profile" }).click();
    expect(await dialog(b.page).getByLabel(/Email/).inputValue()).toBe("ben@example.com");
    await dialog(b.page).getByRole("button", { name: "Close" }).click();

    // Ann opens their chat: his new name and picture; his email nowhere.
    await conv(a.page, "Ben Baker").click();
    await a.page.getByRole("heading", { name: long }).waitFor();
    await a.page.locator(`.conv[data-gid] img[src="https://pictures.example/ben.svg"]`).waitFor();
    await a.page.getByRole("button", { name: "New chat" }).click();
    await a.page.getByRole("combobox", { name: "Account or name" }).fill("montgomery");
    await listbox(a.page).getByRole("option", { name: new RegExp(long) }).waitFor();
    expect(await a.page.content()).not.toContain("ben@example.com");
    await shots(a.page, "new-chat-desktop");
    await a.page.keyboard.press("Escape"); // closes the list first…
    await until(() => listbox(a.page).count(), 0);
    expect(await dialog(a.page).isVisible()).toBe(true);
    await a.page.keyboard.press("Escape"); // …then the dialog
    await until(() => dialog(a.page).count(), 0);

    // Ben, on his phone, answers in the chat Ann started.
    await conv(b.page, "Ann Archer").click();
    await until(() => kit.bubbles(b.page), ["Hi Ben, found you in the directory"]);
    await shots(b.page, "chat-phone");
  },
  60_000,
);

run(
  "a group's life in the members dialog: roles, leave refused then handed over, add back by name, delete; the other member's screen follows",
  async () => {
    const s = await server();
    await named(s.app, "quinn", "Quinn Quartermaine");
    await named(s.app, "rosa", "Rosa Ramírez");
    await named(s.app, "sam", "Samantha Sørensen-Oyelaran-Whitfield");
    const o = await person(DESKTOP);
    const p = await person(PHONE, "dark");
    await kit.register(o.page, s.url, "olga", "Olga Ostrowska-Vanderbilt");
    await kit.register(p.page, s.url, "pete", "Pete Peterson");

    // Olga creates a group: Pete picked with the mouse, Quinn with the keyboard.
    const title = "Quarterly planning for the northern hemisphere logistics team";
    await o.page.getByRole("button", { name: "New group" }).click();
    await dialog(o.page).getByLabel("Name").fill(title);
    const members = dialog(o.page).getByRole("combobox", { name: "Members" });
    await members.fill("pet");
    await listbox(o.page).getByRole("option", { name: /Pete Peterson/ }).click();
    await members.fill("QUART");
    await until(() => active(o.page), "Quinn Quartermaine @quinn");
    await members.press("Enter");
    await until(() => dialog(o.page).getByRole("list", { name: "Chosen people" }).getByRole("listitem").allTextContents(), ["Pete Peterson✕", "Quinn Quartermaine✕"]);
    await members.fill("s");
    // An account starting with it first, then a name containing it.
    await until(() => offered(o.page), ["Samantha Sørensen-Oyelaran-Whitfield @sam", "Rosa Ramírez @rosa"]);
    await shots(o.page, "new-group-desktop");
    await o.page.setViewportSize(PHONE);
    await shots(o.page, "new-group-phone");
    await o.page.setViewportSize(DESKTOP);
    await members.fill("");
    await o.page.getByRole("button", { name: "Create group" }).click();
    await o.page.getByRole("heading", { name: title }).waitFor();
    await send(o.page, "Kick-off on Monday");
    await settled(o.page);

    // Pete opens the group and its members: the dialog is "Members", roles shown.
    await conv(p.page, title).click();
    await p.page.getByRole("button", { name: "Members" }).click();
    await p.page.getByRole("dialog", { name: "Members" }).getByRole("heading", { name: "Members", exact: true }).waitFor();
    await until(() => memberRow(p.page, "Olga").locator(".role").textContent(), "owner");
    await until(() => memberRow(p.page, "Pete").locator(".role").textContent(), "member");
    expect(await dialog(p.page).getByRole("button", { name: "Delete group" }).count()).toBe(0);

    // Olga makes Pete an admin; his open dialog follows (RoleChanged) and gives him the admin's tools.
    await o.page.getByRole("button", { name: "Members" }).click();
    await until(() => memberRow(o.page, "Olga").locator(".role").textContent(), "owner");
    await dialog(o.page).getByLabel("Role of Pete Peterson").selectOption("2");
    await until(() => memberRow(p.page, "Pete").locator(".role").textContent(), "admin");
    await dialog(p.page).getByLabel("Group name").waitFor();
    await shots(o.page, "members-desktop");
    // And takes it back.
    await dialog(o.page).getByLabel("Role of Pete Peterson").selectOption("1");
    await until(() => memberRow(p.page, "Pete").locator(".role").textContent(), "member");
    await dialog(o.page).getByLabel("Role of Pete Peterson").selectOption("2");
    await until(() => memberRow(p.page, "Pete").locator(".role").textContent(), "admin");

    // The owner cannot just leave: the server's reason shows, and the hand-over is offered.
    await dialog(o.page).getByRole("button", { name: "Leave group" }).click();
    await dialog(o.page).getByRole("alert").filter({ hasText: "the owner must transfer the group" }).waitFor();
    await shots(o.page, "leave-refused-desktop");
    await dialog(o.page).getByLabel("New owner").selectOption({ label: "Pete Peterson (@pete)" });
    await dialog(o.page).getByRole("button", { name: "Transfer and leave" }).click();
    await conv(o.page, title).waitFor({ state: "detached" });
    // Pete is the owner now and Olga is gone from his list.
    await until(() => memberRow(p.page, "Pete").locator(".role").textContent(), "owner");
    await until(() => memberRow(p.page, "Olga").count(), 0);
    await dialog(p.page).getByRole("button", { name: "Delete group" }).waitFor();

    // Pete adds Olga back by typing part of her name; the group comes back to her.
    const add = dialog(p.page).getByRole("combobox", { name: "Add members" });
    await add.fill("ostrow");
    await until(() => active(p.page), "Olga Ostrowska-Vanderbilt @olga");
    await add.press("Enter");
    await dialog(p.page).getByRole("button", { name: "Add", exact: true }).click();
    await memberRow(p.page, "Olga").waitFor();
    await conv(o.page, title).click();
    await o.page.getByRole("heading", { name: title }).waitFor();
    await shots(p.page, "members-phone");

    // Pete hands ownership over with the role menu, confirms, then takes it back the same way.
    await dialog(p.page).getByLabel("Role of Olga Ostrowska-Vanderbilt").selectOption("3");
    await dialog(p.page).getByRole("alertdialog").filter({ hasText: "Make Olga Ostrowska-Vanderbilt the owner" }).waitFor();
    await dialog(p.page).getByRole("button", { name: "Cancel" }).click();
    expect(await memberRow(p.page, "Olga").getByRole("combobox").inputValue()).toBe("1");

    // Pete deletes the group, after confirming; Olga, looking at it, sees it go.
    await dialog(p.page).getByRole("button", { name: "Delete group" }).click();
    await dialog(p.page).getByRole("alertdialog").filter({ hasText: "for all 3 members" }).waitFor();
    await shots(p.page, "delete-confirm-phone");
    await dialog(p.page).getByRole("button", { name: "Delete for everyone" }).click();
    await conv(p.page, title).waitFor({ state: "detached" });
    await conv(o.page, title).waitFor({ state: "detached" });
    await o.page.getByRole("alert").filter({ hasText: "was deleted by its owner" }).waitFor();
    await o.page.getByText("Pick a conversation, or start a new one.").waitFor();
  },
  60_000,
);

run(
  "invite links: a member makes one, the link opens sign-up with the code filled in, the account is created; admins-only invites refuse members",
  async () => {
    const s = await server({ registration: "invite" });
    await user(s.app, "rita");
    const r = await person(DESKTOP);
    await r.ctx.grantPermissions(["clipboard-read", "clipboard-write"], { origin: s.url });
    await kit.logIn(r.page, s.url, "rita");

    await r.page.getByRole("button", { name: "Invite people" }).click();
    await dialog(r.page).getByRole("button", { name: "Create an invite link" }).click();
    const linkBox = dialog(r.page).getByLabel("Invite link");
    await linkBox.waitFor();
    const link = await linkBox.inputValue();
    expect(link).toMatch(new RegExp(`^${s.url}/app/#invite=[\\w-]+$`));
    await dialog(r.page).getByRole("button", { name: "Copy" }).click();
    await dialog(r.page).getByRole("button", { name: "Copied" }).waitFor();
    expect(await r.page.evaluate(() => navigator.clipboard.readText())).toBe(link);
    await shots(r.page, "invite-desktop");
    const code = decodeURIComponent(link.split("#invite=")[1]!);

    // Without a code, sign-up is refused with the server's reason.
    const n = await person(PHONE);
    await n.page.goto(s.url + "/app/");
    await n.page.getByRole("button", { name: "Create an account" }).click();
    await n.page.getByRole("textbox", { name: "Account", exact: true }).fill("nadia");
    await n.page.getByLabel("Password", { exact: true }).fill("password1");
    await n.page.getByRole("button", { name: "Create account" }).click();
    await n.page.getByRole("alert").filter({ hasText: "registration needs an invite code" }).waitFor();

    // The link, in a fresh browser: the sign-up tab with the code in its field.
    const v = await person(PHONE, "dark");
    await v.page.goto(link);
    await v.page.getByRole("form", { name: "Create account" }).waitFor();
    expect(await v.page.getByLabel(/Invite code/).inputValue()).toBe(code);
    await v.page.getByRole("textbox", { name: "Account", exact: true }).fill("victor");
    await v.page.getByRole("textbox", { name: "Display name" }).fill("Victor Villanueva-Ramírez y Santísima Trinidad");
    await v.page.getByLabel("Password", { exact: true }).fill("password1");
    await shots(v.page, "signup-invite-phone");
    await v.page.getByRole("button", { name: "Create account" }).click();
    await v.page.getByRole("button", { name: "Log out" }).waitFor();
    expect(new URL(v.page.url()).hash).toBe("#/");
    expect((await searchUser(s.app, "victor"))?.name).toBe("Victor Villanueva-Ramírez y Santísima Trinidad");
    await shots(v.page, "home-new-member-phone");

    // A used code does not work twice.
    await n.page.getByLabel(/Invite code/).fill(code);
    await n.page.getByRole("button", { name: "Create account" }).click();
    await n.page.getByRole("alert").filter({ hasText: "unknown, used or expired code" }).waitFor();

    // Admins only: Rita's next attempt shows the server's 403.
    await saveSettings(fixture(s.app), { inviters: "admins" });
    await dialog(r.page).getByRole("button", { name: "Create another link" }).click();
    await dialog(r.page).getByRole("alert").filter({ hasText: "only server admins may create invites" }).waitFor();
  },
  60_000,
);

run(
  "the admin screen: only admins see it; users searched and paged, a disabled user's open tab is signed out, new password, invites, registration policy, stats",
  async () => {
    const s = await server();
    const root = await user(s.app, "root");
    await setUserAdmin(fixture(s.app), root.uid, true);
    for (let i = 1; i <= 22; i++) await user(s.app, `crew${String(i).padStart(2, "0")}`);
    const adm = await person(DESKTOP);
    const vic = await person(PHONE);

    // Vic is not an admin: the probe is refused and no Admin button shows.
    const probed = vic.page.waitForResponse((res) => res.url().endsWith("/api/admin/settings"));
    await kit.register(vic.page, s.url, "vic", "Vic Vega");
    expect((await probed).status()).toBe(403);
    expect(await vic.page.getByRole("button", { name: "Admin" }).count()).toBe(0);

    await kit.logIn(adm.page, s.url, "root");
    await adm.page.getByRole("button", { name: "Admin" }).click();
    const panel = dialog(adm.page).getByRole("tabpanel");
    const users = panel.getByRole("list", { name: "Users" });
    // 24 users, 20 a page, newest first.
    await panel.getByText("1–20 of 24").waitFor();
    expect(await users.getByRole("listitem").first().textContent()).toContain("@vic");
    await panel.getByRole("button", { name: "Next ›" }).click();
    await panel.getByText("21–24 of 24").waitFor();
    await until(() => users.getByRole("listitem").count(), 4);
    await shots(adm.page, "admin-users-desktop");

    // Search, then disable Vic: his open tab goes back to sign-in, saying why.
    await panel.getByLabel("Search users").fill("VIC");
    await panel.getByText("1–1 of 1").waitFor();
    await panel.getByRole("button", { name: "Disable vic" }).click();
    await panel.getByRole("status").filter({ hasText: "vic disabled." }).waitFor();
    await users.getByText("disabled", { exact: true }).waitFor();
    await vic.page.getByText("You were signed out: account disabled.").waitFor();
    await vic.page.getByRole("button", { name: "Log in" }).waitFor();
    await shots(vic.page, "signed-out-phone");
    await vic.page.getByRole("textbox", { name: "Account", exact: true }).fill("vic");
    await vic.page.getByLabel("Password", { exact: true }).fill("password1");
    await vic.page.getByRole("button", { name: "Log in" }).click();
    await vic.page.getByRole("alert").waitFor(); // a disabled account cannot log in

    // Enable and give him a new password: he logs in with it.
    await panel.getByRole("button", { name: "Enable vic" }).click();
    await panel.getByRole("button", { name: "Disable vic" }).waitFor();
    await panel.getByRole("button", { name: "Set password of vic" }).click();
    await panel.getByLabel("New password for vic").fill("brand-new-pass");
    await panel.getByRole("button", { name: "Set", exact: true }).click();
    await panel.getByRole("status").filter({ hasText: "New password set for vic" }).waitFor();
    await kit.logIn(vic.page, s.url, "vic", "brand-new-pass");

    // Invites: create one (a full link), see it live, revoke it.
    await dialog(adm.page).getByRole("tab", { name: "Invites" }).click();
    await panel.getByRole("button", { name: "Create an invite link" }).click();
    expect(await panel.getByLabel("New invite link").inputValue()).toMatch(new RegExp(`^${s.url}/app/#invite=[\\w-]+$`));
    const invites = panel.getByRole("list", { name: "Invites" });
    await invites.getByText("live", { exact: true }).waitFor();
    await invites.getByRole("button", { name: /Revoke invite/ }).click();
    await invites.getByText("expired", { exact: true }).waitFor();
    await panel.getByRole("button", { name: "Create an invite link" }).click();
    await until(() => invites.getByRole("listitem").count(), 2);
    await shots(adm.page, "admin-invites-desktop");

    // Registration policy: closed, kept by the server; a visitor's sign-up is refused.
    await dialog(adm.page).getByRole("tab", { name: "Registration" }).click();
    await panel.getByLabel("Who may create an account").selectOption("closed");
    await panel.getByLabel("Who may create invite links").selectOption("admins");
    await panel.getByRole("button", { name: "Save settings" }).click();
    await panel.getByRole("status").filter({ hasText: "Saved: registration closed, invites by admins." }).waitFor();
    expect(await settingsOf(s.app)).toEqual({ registration: "closed", inviters: "admins" });
    await shots(adm.page, "admin-settings-desktop");
    const guest = await person(PHONE);
    await guest.page.goto(s.url + "/app/");
    await guest.page.getByRole("button", { name: "Create an account" }).click();
    await guest.page.getByRole("textbox", { name: "Account", exact: true }).fill("guest");
    await guest.page.getByLabel("Password", { exact: true }).fill("password1");
    await guest.page.getByRole("button", { name: "Create account" }).click();
    await guest.page.getByRole("alert").filter({ hasText: "registration is closed" }).waitFor();

    // Stats, reached with the arrow keys from the tab in use.
    await dialog(adm.page).getByRole("tab", { name: "Registration" }).focus();
    await adm.page.keyboard.press("ArrowRight");
    await until(() => dialog(adm.page).getByRole("tab", { selected: true }).textContent(), "Stats");
    await panel.locator(".stats div", { hasText: "Users" }).filter({ hasText: "24" }).waitFor();
    await shots(adm.page, "admin-stats-desktop");

    // The admin screen on a phone.
    await adm.page.setViewportSize(PHONE);
    await dialog(adm.page).getByRole("tab", { name: "Users" }).click();
    await panel.getByText("1–20 of 24").waitFor();
    await shots(adm.page, "admin-users-phone");
  },
  60_000,
);
