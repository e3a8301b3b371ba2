import { and, eq, or } from "drizzle-orm";
import { friendRequests, users } from "../db/schema";
import { badRequest, conflict, notFound } from "../errors";
import type { Ctx } from "./context";
import type { WriteCtx } from "../write/writer";
import { assertUsersExist } from "./users";
import { runSync } from "./store";
import { userView, type UserView } from "./views";

export const FRIEND = { applied: 0, confirmed: 1, rejected: 2 } as const;

const between = (a: number, b: number) =>
  or(
    and(eq(friendRequests.applicantUid, a), eq(friendRequests.targetUid, b)),
    and(eq(friendRequests.applicantUid, b), eq(friendRequests.targetUid, a)),
  );

/**
 * The caller asks fid to be friends. If fid had already asked the caller,
 * this confirms that request instead of making a second one.
 */
export function requestFriend(ctx: WriteCtx, callerId: number, fid: number): void {
  if (fid === callerId) throw badRequest("fid: you cannot befriend yourself");
  runSync(assertUsersExist(ctx, [fid]));
  const existing = ctx.db.select().from(friendRequests).where(between(callerId, fid)).get();
  const now = ctx.clock();
  if (!existing) {
    ctx.db.insert(friendRequests).values({ applicantUid: callerId, targetUid: fid, status: FRIEND.applied, createdAt: now, updatedAt: now }).run();
  } else if (existing.status === FRIEND.confirmed) {
    throw conflict("already friends");
  } else if (existing.applicantUid === callerId) {
    throw conflict("friend request already sent");
  } else {
    ctx.db.update(friendRequests).set({ status: FRIEND.confirmed, updatedAt: now }).where(eq(friendRequests.id, existing.id)).run();
  }
}

/** The addressee confirms (1) or rejects (2) the request that fid sent. */
export function respondToFriend(ctx: WriteCtx, callerId: number, fid: number, status: 1 | 2): void {
  const request = ctx.db
    .select()
    .from(friendRequests)
    .where(and(eq(friendRequests.applicantUid, fid), eq(friendRequests.targetUid, callerId), eq(friendRequests.status, FRIEND.applied)))
    .get();
  if (!request) throw notFound("no pending friend request from that user");
  if (status === FRIEND.confirmed) {
    ctx.db.update(friendRequests).set({ status: FRIEND.confirmed, updatedAt: ctx.clock() }).where(eq(friendRequests.id, request.id)).run();
  } else {
    ctx.db.delete(friendRequests).where(eq(friendRequests.id, request.id)).run();
  }
}

/**
 * rim's list: status 0 lists the people the caller asked (or, with
 * incoming, the people who asked the caller); 1 lists friends; 2 is
 * always empty because a rejected request is deleted.
 */
export function listFriends(ctx: Ctx, callerId: number, status: 0 | 1 | 2, incoming = false): UserView[] {
  if (status === FRIEND.rejected) return [];
  const rows =
    status === FRIEND.confirmed
      ? ctx.db
          .select({ user: users })
          .from(friendRequests)
          .innerJoin(users, or(
            and(eq(friendRequests.applicantUid, callerId), eq(users.id, friendRequests.targetUid)),
            and(eq(friendRequests.targetUid, callerId), eq(users.id, friendRequests.applicantUid)),
          ))
          .where(and(eq(friendRequests.status, FRIEND.confirmed), or(eq(friendRequests.applicantUid, callerId), eq(friendRequests.targetUid, callerId))))
          .all()
      : ctx.db
          .select({ user: users })
          .from(friendRequests)
          .innerJoin(users, eq(users.id, incoming ? friendRequests.applicantUid : friendRequests.targetUid))
          .where(and(eq(incoming ? friendRequests.targetUid : friendRequests.applicantUid, callerId), eq(friendRequests.status, FRIEND.applied)))
          .all();
  return rows.map((r) => userView(r.user)).sort((a, b) => a.id - b.id);
}
