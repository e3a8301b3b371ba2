// Finding people and keeping one's own profile: the directory behind "New
// chat", "Add members" and @-autocomplete, and the profile screen.
import { badRequest } from "../errors";
import type { WriteCtx } from "../write/writer";
import type { Ctx } from "./context";
import { selfView, userView, type UserView } from "./views";
import { checkAvatar } from "./files";
import { escapeLike, foldName } from "./fold";
import type { Flow, Store } from "./store";

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
  const set: Parameters<Store["updateProfile"]>[1] = {};
  if (change.name !== undefined) {
    const name = change.name.trim();
    if (name === "") throw badRequest("name: must not be empty");
    set.name = { text: name, fold: foldName(name) };
  }
  if (change.avatar !== undefined) {
    yield* checkAvatar(w, uid, change.avatar);
    set.avatar = change.avatar;
  }
  if (change.email !== undefined) set.email = change.email;
  if (Object.keys(set).length === 0) throw badRequest("body: nothing to change (name, avatar or email)");
  yield* w.store.updateProfile(uid, set);
  return selfView((yield* w.store.userById(uid))!);
}

