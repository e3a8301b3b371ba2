// The limits every node of a cluster must agree on: login and registration
// throttles, typing, sockets per user and presence. One node keeps them in
// memory (createLocalSharedState: today's behaviour, synchronous); a cluster
// keeps them in Redis (src/bus/shared-state.ts: asynchronous). A method whose
// result may be a Promise returns a plain value in memory, so the single
// node's paths gain no await; callers await only what is a Promise. Both
// measure the throttles' windows on the node's Clock, so an injected clock
// moves them alike (in Redis, every node's clock must then agree: NTP).
import { createLoginThrottle, createRegistrationThrottle, type LoginThrottle, type RegistrationThrottle } from "./throttle";
import { createTypingThrottle, type TypingThrottle } from "./typing";
import type { Clock } from "../time";

export type MaybeAsync<T> = T | Promise<T>;

/** Failed logins per account and per address (also wrong old passwords). */
export type LoginLimit = {
  /** Throws 429 when the account or the address failed too often; else counts a failure in advance (a success takes it back). */
  attempt(account: string, ip: string): MaybeAsync<void>;
  /** Forgives the account and takes back the failure attempt() counted for ip. */
  succeeded(account: string, ip: string): void;
};

export type RegistrationLimit = {
  /** Takes a slot for ip or throws 429 with Retry-After; resolves with the function that gives it back. */
  reserve(ip: string): MaybeAsync<() => void>;
};

export type TypingLimit = {
  /** In memory: null (not forwarded) or the undo of taking the window. In Redis: whether to forward. */
  take(uid: number, gid: number): (() => void) | null | Promise<boolean>;
};

/** Sockets per user cluster-wide; absent (null) in memory, where the hub counts them (hub.socketCountOf). */
export type SocketLimit = {
  /** Counts ws as a socket of uid if fewer than max are counted (cluster-wide); false when refused. A socket counts once. */
  reserve(ws: object, uid: number, max: number, localCount: () => number): Promise<boolean>;
  /** ws no longer counts (closed, logged out, or its Login failed); resolves once Redis knows. */
  release(ws: object): Promise<void> | void;
};

/**
 * Presence across nodes. The hub tells arrive/depart for a user's first and
 * last logged-in socket on this node; the answer says whether that made them
 * online / offline cluster-wide (in memory: always, this node is the cluster).
 */
export type PresenceState = {
  arrive(uid: number): MaybeAsync<boolean>;
  depart(uid: number): MaybeAsync<boolean>;
  /** Online (a logged-in socket on any live node) for each uid, in order. */
  online(uids: number[]): MaybeAsync<boolean[]>;
};

export type SharedState = {
  /** "local" (this process) or "redis". */
  readonly kind: "local" | "redis";
  login: LoginLimit;
  registrations: RegistrationLimit;
  typing: TypingLimit;
  sockets: SocketLimit | null;
  presence: PresenceState;
  /** Resolves once every call made so far was answered (a stopping node waits for its sockets' departures). */
  settled(): Promise<void>;
  /** Resolves once the shared store answers (immediately in memory). */
  ready(): Promise<void>;
  /** Stops; in Redis, this node's share is taken out (resolves once it is). */
  close(): Promise<void> | void;
};

export type LimitSettings = {
  login: { windowMs: number; maxPerAccount: number; maxPerIp: number };
  registrations: { windowMs: number; max: number };
};

/** The in-memory limits each node also keeps: the single node's, and a cluster node's fallback while Redis is down. */
export type LocalLimits = { login: LoginThrottle; registrations: RegistrationThrottle; typing: TypingThrottle };

export function createLocalLimits(settings: LimitSettings, clock: Clock): LocalLimits {
  return {
    login: createLoginThrottle({ ...settings.login, clock }),
    registrations: createRegistrationThrottle({ ...settings.registrations, clock }),
    typing: createTypingThrottle(clock),
  };
}

/** One node: everything in this process, synchronous, exactly as before there were clusters. */
export function createLocalSharedState(local: LocalLimits, isOnline: (uid: number) => boolean): SharedState {
  return {
    kind: "local",
    login: {
      attempt(account, ip) {
        local.login.assertAllowed(account, ip);
        local.login.recordFailure(account, ip);
      },
      succeeded: (account, ip) => local.login.recordSuccess(account, ip),
    },
    registrations: { reserve: (ip) => local.registrations.reserve(ip) },
    typing: { take: (uid, gid) => local.typing.take(uid, gid) },
    sockets: null,
    presence: { arrive: () => true, depart: () => true, online: (uids) => uids.map(isOnline) },
    ready: () => Promise.resolve(),
    settled: () => Promise.resolve(),
    close() {},
  };
}
