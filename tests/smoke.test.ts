import { afterAll, beforeAll, expect, test } from "bun:test";
import { Client, group, serve, user } from "./helpers";

let s: Awaited<ReturnType<typeof serve>>;
beforeAll(async () => {
  s = await serve();
});
afterAll(() => s.stop());

test("two users exchange a message over real sockets", async () => {
  const a = await user(s.app, "smoke_a");
  const b = await user(s.app, "smoke_b");
  const gid = await group(s.app, a, [b]);
  const ca = await Client.open(s.wsUrl);
  const cb = await Client.open(s.wsUrl);
  expect(await ca.login(a)).toMatchObject({ content: "Ok", serverMsgId: null });
  expect(await cb.login(b)).toMatchObject({ content: "Ok" });
  const ack = await ca.request("Msg", { gid, uid: a.uid, content: "hi" });
  expect(ack).toMatchObject({ kind: "Ack", content: "Ok", seq: 1 });
  const push = await cb.next((f) => f.event === "Msg");
  expect(push.body).toMatchObject({ gid, uid: a.uid, content: "hi", msgId: ack.serverMsgId, seq: 1, kind: "Text" });
  ca.close();
  cb.close();
});
