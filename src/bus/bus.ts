// The bus between the nodes of one rim cluster: each node publishes the
// effects of its commits (one batch per commit) and applies the others'. A
// batch travels in an envelope naming its publisher and that publisher's
// sequence number on the channel, so a subscriber sees a batch missing (a
// gap) instead of silently dropping a push. On a gap, and when its own
// connection to the bus was lost or comes back, a node cannot know what it
// missed: it calls onResync, and the server tells its clients to Sync from
// their cursor (the database has everything; the bus only says "look").

export type ResyncReason =
  /** A publisher's sequence number skipped (a batch it published never arrived, or it failed to publish one). */
  | "gap"
  /** This node's subscription is down: other nodes' pushes are not arriving until "reconnected". */
  | "lost"
  /** Subscribed again after "lost": anything published in between was missed. */
  | "reconnected"
  /** A node died (effects.ts): it may have committed a batch it never published. */
  | "node_gone";

export type Bus<T> = {
  /** This node's publisher id (its batches come back to it from Redis, and are dropped). */
  readonly id: string;
  /** Publishes a batch; false when the bus could not take it (subscribers will see a gap). Never rejects. */
  publish(channel: string, batch: T): Promise<boolean>;
  /** Receives the batches other nodes publish on the channel, in each publisher's order. One handler per channel. */
  subscribe(channel: string, onBatch: (batch: T, publisher: string) => void): Promise<void>;
  unsubscribe(channel: string): Promise<void>;
  /** Resolves once both the publishing and the subscribing connections are up. */
  connected(): Promise<void>;
  close(): Promise<void>;
};

export type BusOptions = {
  /** Told about every gap and every loss and return of the subscription; `channel` for a gap. */
  onResync(reason: ResyncReason, channel?: string): void;
};

/** What crosses the bus: publisher, sequence number, and the batch (absent in a marker, sent only to reveal a gap). */
export type Envelope<T> = { p: string; s: number; b?: T };

export const encodeEnvelope = <T>(e: Envelope<T>): string => JSON.stringify(e);

export function decodeEnvelope<T>(text: string): Envelope<T> | null {
  try {
    const e = JSON.parse(text) as Envelope<T>;
    return typeof e === "object" && e !== null && typeof e.p === "string" && Number.isSafeInteger(e.s) ? e : null;
  } catch {
    return null;
  }
}

/**
 * The last sequence number seen per publisher and channel. The first batch of
 * a publisher sets where it starts (it may have published before we
 * subscribed); after that, anything but the next number is a gap, and a
 * number not above the last is stale: a batch Redis delivered late, after
 * later ones of its publisher (its publish timed out while Redis was silent,
 * but Redis had taken it and ran it once it woke: src/bus/redis.ts). It must
 * not be applied, and it shows something was out of order: a gap too.
 */
export class SequenceTracker {
  private last = new Map<string, number>();

  /** "next" in order, "first" from a publisher not seen on this channel yet, "stale" for a number not above the last, "gap" otherwise. */
  observe(channel: string, publisher: string, seq: number): "first" | "next" | "gap" | "stale" {
    const key = `${channel}\u0000${publisher}`;
    const before = this.last.get(key);
    if (before !== undefined && seq <= before) return "stale";
    this.last.set(key, seq);
    if (before === undefined) return "first";
    return seq === before + 1 ? "next" : "gap";
  }

  /** Forgets everything: after a reconnection every publisher starts afresh. */
  reset(): void {
    this.last.clear();
  }
}

/**
 * p, or a rejection with fail() once ms have passed without it settling; the timer goes either way. A Redis
 * that is frozen, or cut off without a reset, answers nothing and closes nothing: every wait on it has one.
 */
export function withDeadline<T>(p: Promise<T>, ms: number, fail: () => Error): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(fail()), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
