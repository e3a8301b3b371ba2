// Finding people and keeping one's own profile: the directory behind "New
// chat", "Add members" and @-autocomplete, and the profile screen.
import { badRequest } from "../errors";
import type { WriteCtx } from "../write/writer";
import type { Ctx } from "./context";
import { selfView, userView, type UserView } from "./views";
import { checkAvatar } from "./files";
import type { Flow } from "./store";

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => "\\" + c);

/** People whose account or name contains q, case-insensitively, best matches first (account, then name); disabled users never; emails are never shown. */
export function* directory(ctx: Ctx, q: string, limit: number): Flow<UserView[]> {
  const needle = escapeLike(q.trim().toLowerCase());
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
  yield* w.store.updateProfile(uid, set);
  return selfView((yield* w.store.userById(uid))!);
}

