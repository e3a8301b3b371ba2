// The effects of a cluster's commits on the bus (src/bus/bus.ts), whatever
// the storage engine. After a batch commits, its writer hands the batch's
// effects to publishCommitted (and applies them on this node's sockets as a
// single node does, before or after): the effects that concern other nodes'
// sockets go out as ONE bus batch, and the promise settles once Redis
// answered. Every node
// applies the others' batches to its own hub in arrival order; a node's own
// batches come back to it and are dropped by the bus.
//
// Why the writer awaits this while it holds the ids lock: a client keeps one
// cursor (the highest msgId/eventId it saw) across all its groups. If id 11
// (committed on node B) reached a socket before id 10 (node A) and the client
// then disconnected, it would Sync from 11 and never see 10. Publishing before
// the next batch may take ids makes the bus order the id order on every node.
//
// Redis silent (frozen, or packets dropped without a reset): the publish has a
// deadline (bus/redis.ts, BUS_DEADLINE_MS), past which it counts as failed, as
// when Redis is down, and the writer lets the lock go and acks. Why nothing
// acked is lost and clients still end with everything in order:
// - an ack follows the COMMIT (durable), never the publish: the message is in
//   the database whatever the bus did with it; the bus only says "look".
// - the batch may never arrive, or arrive late (Redis had taken it and runs it
//   when it wakes). Either way its publisher skipped its sequence number, so
//   the next envelope of that publisher that reaches a node (the marker it
//   sends once reconnected, or its next batch) is a gap there: Resync to every
//   socket of every node. A publisher that never comes back is reaped: Resync
//   too (nodeGone).
// - arriving after a later batch of its publisher, it is stale: not applied
//   (it would put that node's pushes out of order), a gap. Arriving before,
//   it is applied in its publisher's order, but perhaps after another node's
//   batch with greater ids (the lock was let go before it was on the bus):
//   the Resync above still follows it.
// - the web client Syncs from its cursor at the previous Resync and keeps
//   messages by id. That cursor was taken either before the batch committed,
//   so below its ids (no greater id exists before it: ids are taken under the
//   lock), or after, at a Resync whose own Sync started later and brought it:
//   the client ends with every acked message once, in id order.
// What a client sees: its own acks as usual; no live pushes of the other
// nodes while Redis is silent (perhaps, as it wakes, a few that came late, out
// of id order with another node's); then Resync, and its Sync fills in the
// rest. The one window left is a client reconnecting between a later id's
// push and that Resync: it resumes from the later id and its next Resync
// Syncs from there, past the late one (as when a node dies between its COMMIT
// and its publish): stored and in the group's history, but never pushed to
// that session.
//
// Which effects cross: publish (to the group's subscribers on every node; the
// `except` socket is this node's, so other nodes publish to all), join and
// leave (the users' sockets everywhere), offline (Presence), revoke (the
// token's sockets everywhere, 4001). Which stay: send, bind, unbind and close
// of a socket, which only exists here. Nothing with a socket in it is sent.
import type { Logger } from "../log";
import type { Metrics } from "../metrics";
import { resyncFrame } from "../push";
import { applyEffect } from "../write/apply";
import type { Effect } from "../write/effects";
import type { Hub } from "../ws/hub";
import type { Bus, ResyncReason } from "./bus";
import { connectRedisBus } from "./redis";

/** An effect as it crosses the bus: plain data, no socket. */
export type WireEffect =
  | { type: "publish"; gid: number; data: string }
  | { type: "join"; gid: number; uids: number[] }
  | { type: "leave"; gid: number; uids: number[] }
  | { type: "offline"; uid: number; gids: number[] }
  | { type: "revoke"; tokenHashes: string[]; reason: string }
  /** A node died: every node sends its sockets Resync (see nodeGone). */
  | { type: "resync" };

export type EffectBatch = WireEffect[];

export type EffectBus = {
  /**
   * A committed batch's effects, in commit order: publishes the ones other
   * nodes need as one bus batch (the writer's onCommitted). Resolves once
   * Redis answered, or the publish failed or passed its deadline (subscribers
   * will see a gap and Resync); never rejects. Nothing to send: resolves at
   * once, nothing sent.
   */
  publishCommitted(effects: readonly Effect[]): Promise<void>;
  /**
   * A node died (the shared state reaped it): it may have committed a batch and died before its
   * publish, a loss no sequence number shows. This node's sockets and every other node's get Resync.
   */
  nodeGone(): void;
  /** Resolves once the bus is connected and subscribed at start; rejects when Redis could not be reached then. */
  ready(): Promise<void>;
  /** Resolves once both connections to the bus are up (again, after an outage). */
  connected(): Promise<void>;
  close(): Promise<void>;
};

/** The bus channel of a cluster's effects (the prefix separates clusters sharing one Redis). */
export const effectsChannel = (prefix: string) => `${prefix}effects`;

/** The effects of a batch other nodes apply, as data; `isOnline` says whether a user still has a socket here. */
export function crossNodeEffects(effects: readonly Effect[], isOnline: (uid: number) => boolean): EffectBatch {
  const out: EffectBatch = [];
  for (const e of effects) {
    switch (e.type) {
      case "publish":
        out.push({ type: "publish", gid: e.gid, data: e.data });
        break;
      case "join":
      case "leave":
        out.push({ type: e.type, gid: e.gid, uids: e.uids });
        break;
      case "offline":
        // A socket of theirs came back here meanwhile (applied already): they are not offline.
        if (!isOnline(e.uid)) out.push({ type: "offline", uid: e.uid, gids: e.gids });
        break;
      case "revoke":
        out.push({ type: "revoke", tokenHashes: e.tokenHashes, reason: e.reason });
        break;
      // send, bind, unbind, close: a socket of this node.
    }
  }
  return out;
}

const isIds = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => Number.isSafeInteger(x));

/** A wire effect from another node, checked; null when it is not one (a newer node's kind, or garbage). */
export function readWireEffect(v: unknown): WireEffect | null {
  if (typeof v !== "object" || v === null) return null;
  const e = v as Record<string, unknown>;
  switch (e.type) {
    case "publish":
      return Number.isSafeInteger(e.gid) && typeof e.data === "string" ? { type: "publish", gid: e.gid as number, data: e.data } : null;
    case "join":
    case "leave":
      return Number.isSafeInteger(e.gid) && isIds(e.uids) ? { type: e.type, gid: e.gid as number, uids: e.uids } : null;
    case "offline":
      return Number.isSafeInteger(e.uid) && isIds(e.gids) ? { type: "offline", uid: e.uid as number, gids: e.gids } : null;
    case "revoke":
      return Array.isArray(e.tokenHashes) && e.tokenHashes.every((t) => typeof t === "string") && typeof e.reason === "string"
        ? { type: "revoke", tokenHashes: e.tokenHashes as string[], reason: e.reason }
        : null;
    case "resync":
      return { type: "resync" };
    default:
      return null;
  }
}

/**
 * The effect bus of one node over a bus of effect batches (connectRedisBus in
 * production; the bus's onResync must call the returned onResync).
 */
export function createEffectBus(deps: { bus: Promise<Bus<EffectBatch>>; channel: string; hub: Hub; log: Logger; metrics?: Metrics }): EffectBus & { onResync(reason: ResyncReason): void } {
  const { hub, log, channel } = deps;
  let bus: Bus<EffectBatch> | null = null;
  let closed = false;

  const applyBatch = (batch: EffectBatch, publisher: string) => {
    if (!Array.isArray(batch)) return log.warn("bus.bad_batch", { publisher });
    for (const raw of batch) {
      const e = readWireEffect(raw);
      if (!e) {
        log.warn("bus.bad_effect", { publisher });
        continue;
      }
      try {
        if (e.type === "resync") onResync("node_gone");
        else applyEffect(hub, e);
      } catch (err) {
        log.error("bus.effect_failed", { error: String((err as Error)?.stack ?? err) });
      }
    }
  };

  const started = deps.bus.then(async (b) => {
    bus = b;
    await b.subscribe(channel, applyBatch);
    await b.connected();
    if (closed) await b.close();
  });
  // A failure at start is the caller's to see through ready(); publishes meanwhile are dropped (and logged).
  started.catch(() => {});

  const send = async (b: Bus<EffectBatch>, batch: EffectBatch) => {
    // publish never rejects: false when Redis did not take it (logged by the bus; subscribers see a gap).
    await b.publish(channel, batch);
  };

  const onResync = (reason: ResyncReason) => {
    log.warn("bus.resync", { reason });
    deps.metrics?.inc("rim_bus_resyncs_total");
    hub.sendToLoggedIn(resyncFrame);
  };

  return {
    publishCommitted(effects) {
      if (closed || effects.length === 0) return Promise.resolve();
      const batch = crossNodeEffects(effects, (uid) => hub.isOnline(uid));
      if (batch.length === 0) return Promise.resolve();
      if (bus) return send(bus, batch);
      // Not connected yet (a start-up job): after the connection, in the order published.
      return started.then(
        () => send(bus!, batch),
        () => log.warn("bus.publish_dropped", { effects: batch.length }),
      );
    },
    onResync,
    nodeGone() {
      if (closed) return;
      onResync("node_gone");
      if (bus) void send(bus, [{ type: "resync" }]);
    },
    ready: () => started,
    connected: () => started.then(() => bus!.connected()),
    async close() {
      closed = true;
      await bus?.close();
    },
  };
}

/** A node's effect bus on the Redis at url, connecting in the background: ready() says when (or that it failed). */
export function connectEffectBus(url: string, opts: { prefix: string; hub: Hub; log: Logger; metrics?: Metrics; deadlineMs?: number }): EffectBus {
  const effects = createEffectBus({
    bus: connectRedisBus<EffectBatch>(url, { onResync: (reason) => effects.onResync(reason), log: opts.log, deadlineMs: opts.deadlineMs }),
    channel: effectsChannel(opts.prefix),
    hub: opts.hub,
    log: opts.log,
    metrics: opts.metrics,
  });
  return effects;
}
