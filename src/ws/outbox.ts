// What a frame's handler wants to happen once its transaction has committed:
// replies, publishes and subscription changes, kept in order. Nothing leaves
// the server before the commit, so an ack never announces a lost write.
import type { Hub, Sock } from "./hub";

export type Action = () => void;

export class Outbox {
  readonly actions: Action[] = [];
  constructor(private readonly hub: Hub) {}

  reply(ws: Sock, frame: unknown) {
    const data = typeof frame === "string" ? frame : JSON.stringify(frame);
    this.actions.push(() => send(ws, data));
  }
  publish(topic: string, data: string, except?: Sock) {
    this.actions.push(() => this.hub.publish(topic, data, except));
  }
  effect(fn: Action) {
    this.actions.push(fn);
  }
}

export function send(ws: Sock, data: string) {
  if (ws.readyState === 1) ws.send(data);
}
