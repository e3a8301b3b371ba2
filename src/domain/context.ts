import type { BlobStore } from "../blobs";
import type { Clock } from "../time";
import type { WriteCtx } from "../write/writer";
import type { HashGate } from "./hashing";
import type { Flow, Store } from "./store";
import type { LoginLimit, RegistrationLimit } from "./shared-state";

/** Everything a domain function may touch, handed in explicitly: no globals. */
export type Ctx = {
  /** Storage, through the seam (store.ts): the domain's only way to it. */
  store: Store;
  clock: Clock;
  /** Random ids and tokens (nanoid). */
  newId: (size?: number) => string;
  auth: {
    tokenTtlMs: number;
    argon2: { memoryCost: number; timeCost: number };
    /** Failed logins per account and address (in memory, or shared by a cluster: shared-state.ts). */
    throttle: LoginLimit;
    /** Registrations per address (--register-max-per-ip). */
    registrations: RegistrationLimit;
    /** Bounds the argon2 work running at once; logins go first (hashing.ts). */
    hashing: HashGate;
    /** A hash to verify against when the account is unknown, so both failures cost the same. */
    dummyHash?: Promise<string>;
  };
  limits: { maxContent: number };
  /** The bytes of uploaded files. */
  files: BlobStore;
  /** Runs a flow outside the write path (a read): at once on SQLite, awaiting each query on PostgreSQL. */
  read<T>(flow: Flow<T>): Promise<T>;
  /** Runs fn on the one write path; resolves once it is durable and its effects are carried out. */
  write<T>(fn: (w: WriteCtx) => Flow<T>): Promise<T>;
  write<T>(fn: (w: WriteCtx) => T): Promise<T>;
};

export const MAX_ID = Number.MAX_SAFE_INTEGER;
