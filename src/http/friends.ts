import { Hono } from "hono";
import type { App } from "../app";
import { listFriends, requestFriend, respondToFriend } from "../domain/friends";
import { friendAddBody, friendListQuery, friendModifyBody } from "./schemas";
import { callerUid, readBody, readQuery, reply, type Env } from "./context";

export function friendRoutes(app: App) {
  return new Hono<Env>()
    .post("/add", async (c) => {
      const b = await readBody(c, friendAddBody);
      const me = callerUid(c, b.uid);
      await app.write((w) => requestFriend(w, me, b.fid));
      return reply(c, true);
    })
    .get("/list", (c) => {
      const q = readQuery(c, friendListQuery);
      return reply(c, listFriends(app, callerUid(c), q.status, q.dir === "in"));
    })
    .post("/status/modify", async (c) => {
      const b = await readBody(c, friendModifyBody);
      const me = callerUid(c, b.uid);
      await app.write((w) => respondToFriend(w, me, b.fid, b.status));
      return reply(c, true);
    });
}
