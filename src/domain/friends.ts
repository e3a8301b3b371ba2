import { badRequest, conflict, notFound } from "../errors";
import type { Ctx } from "./context";
import type { WriteCtx } from "../write/writer";
import { assertUsersExist } from "./users";
import type { Flow } from "./store";
import { userView, type UserView } from "./views";

export const FRIEND = { applied: 0, confirmed: 1, rejected: 2 } as const;

/**
 * The caller asks fid to be friends. If fid had already asked the caller,
 * this confirms that request instead of making a second one.
 */
export function* requestFriend(ctx: WriteCtx, callerId: number, fid: number): Flow<void> {
  if (fid === callerId) throw badRequest("fid: you cannot befriend yourself");
  yield* assertUsersExist(ctx, [fid]);
  const existing = yield* ctx.store.friendRequestBetween(callerId, fid);
  const now = ctx.clock();
  if (!existing) {
    yield* ctx.store.insertFriendRequest(callerId, fid, FRIEND.applied, now);
  } else if (existing.status === FRIEND.confirmed) {
    throw conflict("already friends");
  } else if (existing.applicantUid === callerId) {
    throw conflict("friend request already sent");
  } else {
    yield* ctx.store.setFriendRequestStatus(existing.id, FRIEND.confirmed, now);
  }
}

/** The addressee confirms (1) or rejects (2) the request that fid sent. */
export function* respondToFriend(ctx: WriteCtx, callerId: number, fid: number, status: 1 | 2): Flow<void> {
  const request = yield* ctx.store.pendingFriendRequest(fid, callerId);
  if (!request) throw notFound("no pending friend request from that user");
  if (status === FRIEND.confirmed) yield* ctx.store.setFriendRequestStatus(request.id, FRIEND.confirmed, ctx.clock());
  else yield* ctx.store.deleteFriendRequest(request.id);
}

/**
 * rim's list: status 0 lists the people the caller asked (or, with
 * incoming, the people who asked the caller); 1 lists friends; 2 is
 * always empty because a rejected request is deleted.
 */
export function* listFriends(ctx: Ctx, callerId: number, status: 0 | 1 | 2, incoming = false): Flow<UserView[]> {
  if (status === FRIEND.rejected) return [];
  const side = status === FRIEND.confirmed ? "either" : incoming ? "incoming" : "outgoing";
  return (yield* ctx.store.friendRequestUsers(callerId, status, side)).map(userView).sort((a, b) => a.id - b.id);
}
