// sendMessage's idempotency holds whatever changed since the first send.
import { expect, test } from "bun:test";
import { removeMembers, sqlGet } from "./helpers";
import { sendMessage } from "./helpers";
import { group, makeApp, user, fixture } from "./helpers";

test.each([
  ["the sender has left the group", "left"],
  ["the resend's content is now too long", "long"],
  ["the resend names another, unknown group", "nogroup"],
  ["nothing changed", "same"],
] as const)("a resend is answered with the original message when %s", async (_label, change) => {
  const app = await makeApp({ maxContent: 10 });
  const [owner, member] = [await user(app), await user(app)];
  const gid = await group(app, owner, [member]);
  const first = await sendMessage(fixture(app), member.uid, { gid, kind: "Text", content: "hello", clientMsgId: "c1" });
  expect(first.duplicate).toBe(false);
  let input = { gid, kind: "Text" as const, content: "hello", clientMsgId: "c1" };
  if (change === "left") await removeMembers(fixture(app), member.uid, gid, [member.uid]);
  if (change === "long") input = { ...input, content: "x".repeat(11) };
  if (change === "nogroup") input = { ...input, gid: 9999 };
  const again = await sendMessage(fixture(app), member.uid, input);
  expect(again).toEqual({ message: first.message, duplicate: true });
  expect(await sqlGet(app, "SELECT count(*) AS n FROM messages")).toEqual({ n: 1 });
  app.close();
});

test("without an earlier message the same cases are refused", async () => {
  const app = await makeApp({ maxContent: 10 });
  const [owner, member, outsider] = [await user(app), await user(app), await user(app)];
  const gid = await group(app, owner, [member]);
  const send = (uid: number, over: Partial<{ gid: number; content: string }>) => () =>
    sendMessage(fixture(app), uid, { gid, kind: "Text", content: "hi", clientMsgId: "new", ...over });
  expect(send(outsider.uid, {})).toThrow("not a member");
  expect(send(member.uid, { content: "x".repeat(11) })).toThrow("longer than 10 bytes");
  expect(send(member.uid, { gid: 9999 })).toThrow("group not found");
  expect(await sqlGet(app, "SELECT count(*) AS n FROM messages")).toEqual({ n: 0 });
  app.close();
});
