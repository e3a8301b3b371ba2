// Finding people and keeping one's own profile: the directory behind "New
// chat", "Add members" and @-autocomplete, and the profile screen.
import { badRequest } from "../errors";
import type { WriteCtx } from "../write/writer";
import type { Ctx } from "./context";
import { selfView, userView, type UserView } from "./views";
import { checkAvatar } from "./files";
import { escapeLike, foldName } from "./fold";
import type { Flow } from "./store";

/**
 * People whose account or name contains q, case- and diacritic-insensitively in any script (domain/fold.ts), best
 * matches first (account, then name); disabled users never; emails are never shown. Accounts are ASCII, so their
 * lower() is their fold: one folded q matches both.
 */
export function* directory(ctx: Ctx, q: string, limit: number): Flow<UserView[]> {
  const needle = escapeLike(foldName(q.trim()));
  return (yield* ctx.store.directory(`%${needle}%`, `${needle}%`, limit)).map(userView);
}

export type ProfileChange = { name?: string; avatar?: string; email?: string };

/** Changes the caller's own name, avatar or email; returns the profile as the caller sees it. */
export function* updateProfile(w: WriteCtx, uid: number, change: ProfileChange): Flow<UserView> {
  const set: ProfileChange = {};
  if (change.name !== undefined) {
    if (change.name.trim() === "") throw badRequest("name: must not be empty");
    set.name = change.name.trim();
  }
  if (change.avatar !== undefined) {
    yield* checkAvatar(w, uid, change.avatar);
    set.avatar = change.avatar;
  }
  if (change.email !== undefined) set.email = change.email;
  if (Object.keys(set).length === 0) throw badRequest("body: nothing to change (name, avatar or email)");
  const { name, ...rest } = set;
  yield* w.store.updateProfile(uid, { ...rest, ...(name === undefined ? {} : { name: { text: name, fold: foldName(name) } }) });
  return selfView((yield* w.store.userById(uid))!);
}

