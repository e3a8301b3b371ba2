// The directory and one's own profile, under /api/user.
import { Hono } from "hono";
import type { App } from "../app";
import { directory, updateProfile } from "../domain/people";
import { callerUid, readBody, readQuery, reply, type Env } from "./context";
import { directoryQuery, profileBody } from "./schemas";

export function peopleRoutes(app: App) {
  return new Hono<Env>()
    .get("/directory", (c) => {
      const q = readQuery(c, directoryQuery);
      return reply(c, directory(app, q.q, q.limit));
    })
    .post("/update", async (c) => {
      const b = await readBody(c, profileBody);
      const me = callerUid(c);
      return reply(c, await app.write((w) => updateProfile(w, me, b)));
    });
}
