// Finding people and keeping one's own profile: the directory behind "New
// chat", "Add members" and @-autocomplete, and the profile screen.
import { eq } from "drizzle-orm";
import { users } from "../db/schema";
import { badRequest } from "../errors";
import type { WriteCtx } from "../write/writer";
import type { Ctx } from "./context";
import { selfView, type UserView } from "./views";
import { checkAvatar } from "./files";
import { runSync } from "./store";

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => "\\" + c);

// Prefix matches of the account, then of the name, then anything containing q; disabled users never.
const SQL_DIRECTORY = `SELECT id, name, avatar, '' AS email, account FROM users
  WHERE disabled_at IS NULL AND (lower(account) LIKE ?1 ESCAPE '\\' OR lower(name) LIKE ?1 ESCAPE '\\')
  ORDER BY CASE WHEN lower(account) LIKE ?2 ESCAPE '\\' THEN 0 WHEN lower(name) LIKE ?2 ESCAPE '\\' THEN 1 ELSE 2 END, lower(account)
  LIMIT ?3`;

/** People whose account or name contains q, case-insensitively, best matches first; emails are never shown. */
export function directory(ctx: Ctx, q: string, limit: number): UserView[] {
  const needle = escapeLike(q.trim().toLowerCase());
  return ctx.db.$client.query<UserView, [string, string, number]>(SQL_DIRECTORY).all(`%${needle}%`, `${needle}%`, limit).map((u) => ({ ...u }));
}

export type ProfileChange = { name?: string; avatar?: string; email?: string };

/** Changes the caller's own name, avatar or email; returns the profile as the caller sees it. */
export function updateProfile(w: WriteCtx, uid: number, change: ProfileChange): UserView {
  const set: ProfileChange = {};
  if (change.name !== undefined) {
    if (change.name.trim() === "") throw badRequest("name: must not be empty");
    set.name = change.name.trim();
  }
  if (change.avatar !== undefined) {
    runSync(checkAvatar(w, uid, change.avatar));
    set.avatar = change.avatar;
  }
  if (change.email !== undefined) set.email = change.email;
  if (Object.keys(set).length === 0) throw badRequest("body: nothing to change (name, avatar or email)");
  w.db.update(users).set(set).where(eq(users.id, uid)).run();
  return selfView(w.db.select().from(users).where(eq(users.id, uid)).get()!);
}

