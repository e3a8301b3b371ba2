// GET /api/message/search: messages of the caller's groups matching words.
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import type { ServingApp as App } from "../app";
import { searchScope, searchWithin } from "../domain/search";
import { catchUpSearch } from "../search-indexer";
import { callerUid, reply } from "./context";
import { BEARER, MessageInfo, replies, RestRoutes } from "./openapi";
import { searchQuery } from "./schemas";

const SearchHit = MessageInfo.extend({ snippet: z.string().describe("the match with some context: matches in <mark>, everything else HTML-escaped") });

export function searchRoutes(app: App) {
  return new RestRoutes().openapi(
    createRoute({
      method: "get",
      path: "/search",
      summary: "Messages of your groups matching every word of q (any order, any case, words by prefix; CJK by any substring of 2+ characters), newest first",
      security: BEARER,
      request: { query: searchQuery },
      responses: replies(z.array(SearchHit)),
    }),
    async (c) => {
      const uid = callerUid(c);
      const q = c.req.valid("query");
      // A refused search writes nothing; an allowed one first has the messages stored before it indexed.
      const scope = await app.read(searchScope(app, uid, q));
      await catchUpSearch(app);
      return reply(c, await app.read(searchWithin(app, uid, q, scope)));
    },
  );
}
