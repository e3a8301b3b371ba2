// GET /api/user/presence?uids=1,2,3: who of these is online, and when each was
// last seen, for the users who share a group with the caller (others are left out).
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import type { ServingApp as App } from "../app";
import { sharingAGroup } from "../domain/users";
import { formatTime } from "../time";
import { callerUid, reply } from "./context";
import { BEARER, Presence as PresenceInfo, replies, RestRoutes } from "./openapi";
import { id } from "./schemas";

export const MAX_PRESENCE_UIDS = 1000;

export const presenceQuery = z.object({
  uids: z
    .string()
    .regex(/^\d{1,16}(,\d{1,16})*$/, "comma-separated user ids")
    .transform((s) => s.split(",").map(Number))
    .pipe(z.array(id).max(MAX_PRESENCE_UIDS))
    .describe(`comma-separated user ids, at most ${MAX_PRESENCE_UIDS}`),
});

export type Presence = { uid: number; online: boolean; lastSeen: string | null };

export function presenceRoutes(app: App) {
  const route = createRoute({
    method: "get",
    path: "/presence",
    summary: "Online state and last seen of users sharing a group with you (others left out)",
    security: BEARER,
    request: { query: presenceQuery },
    responses: replies(z.array(PresenceInfo)),
  });
  return new RestRoutes().openapi(route, async (c) => {
    const { uids } = c.req.valid("query") as z.output<typeof presenceQuery>;
    const me = callerUid(c);
    const wanted = [...new Set(uids)];
    const shared = await app.read(sharingAGroup(app, me, wanted));
    const visible = wanted.filter((uid) => shared.has(uid));
    // In a cluster, online means a logged-in socket on any node (Redis answers); alone, this node's hub.
    const flags = app.shared.presence.online(visible);
    const online = flags instanceof Promise ? await flags : flags;
    const out: Presence[] = visible.map((uid, i) => {
      const seen = shared.get(uid) ?? null;
      return { uid, online: online[i]!, lastSeen: seen === null ? null : formatTime(seen) };
    });
    return reply(c, out);
  });
}
