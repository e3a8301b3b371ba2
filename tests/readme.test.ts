// README is part of the product: every flag and every route must be in it.
import { expect, test } from "bun:test";
import { envName, flagName, OPTIONS } from "../src/config";

const readme = await Bun.file(new URL("../README.md", import.meta.url)).text();

test.each(Object.keys(OPTIONS))("README documents the option %s and its env variable", (key) => {
  expect(readme).toContain("`" + flagName(key) + "`");
  expect(readme).toContain("`" + envName(key) + "`");
});

test.each(["Login", "Msg", "Ack", "Read", "Heart", "Logout", "Sync", "Notify", "MemberAdded", "MemberRemoved", "GroupUpdated", "Edit", "Delete", "React", "Typing", "Edited", "Deleted", "Reacted", "Presence"])(
  "README documents the %s frame",
  (name) => expect(readme).toContain("`" + name + "`"),
);

test("README names the two setup commands", () => {
  expect(readme).toContain("npm start");
  expect(readme).toContain("npm test");
});
