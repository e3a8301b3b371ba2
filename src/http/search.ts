// GET /api/message/search: messages of the caller's groups matching words.
import { Hono } from "hono";
import type { App } from "../app";
import { searchMessages } from "../domain/search";
import { callerUid, readQuery, reply, type Env } from "./context";
import { searchQuery } from "./schemas";

export function searchRoutes(app: App) {
  return new Hono<Env>().get("/search", (c) => {
    const q = readQuery(c, searchQuery);
    return reply(c, searchMessages(app, callerUid(c), q));
  });
}
