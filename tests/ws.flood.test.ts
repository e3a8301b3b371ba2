// A socket refused with 429 more than --ws-burst times within 10 s is closed
// with 4029, whatever its pace: at once, or flooding steadily just above the
// rate so that a frame gets through now and then (which used to reset the
// count, so such a socket was never closed). On a manual clock, each frame's
// reply awaited before the clock moves: no sleeps.
import { afterEach, expect, test } from "bun:test";
import { manualClock } from "../src/time";
import { Client, serve } from "./helpers";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

async function floodServer(rate: number, burst: number) {
  const clock = manualClock();
  const s = await serve({ wsRate: rate, wsBurst: burst }, { clock });
  cleanups.push(() => s.stop());
  const c = await Client.open(s.wsUrl);
  cleanups.push(() => c.closed || c.close());
  let n = 0;
  /** Sends a Heart and waits for its reply: "Ok", 429, or "closed" when the socket is closed instead. */
  const heart = async (): Promise<"Ok" | 429 | "closed"> => {
    const clientMsgId = `h${++n}`;
    c.send({ event: "Heart", body: { kind: "Text", content: "", clientMsgId } });
    const reply = c.next((f) => f.clientMsgId === clientMsgId);
    const outcome = await Promise.race([reply.then((f) => (f.content === "Ok" ? ("Ok" as const) : (f.code as 429))), c.waitClose().then(() => "closed" as const)]);
    reply.catch(() => {});
    return outcome;
  };
  return { clock, c, heart };
}

type Step = { advanceMs: number; want: "Ok" | 429 | "closed" };
const steps = (n: number, advanceMs: number, want: (i: number) => Step["want"]): Step[] => Array.from({ length: n }, (_, i) => ({ advanceMs, want: want(i) }));

test.each<[string, number, number, Step[]]>([
  ["a burst at once: the (burst+1)th refusal closes", 5, 5, [...steps(5, 0, () => "Ok"), ...steps(5, 0, () => 429), { advanceMs: 0, want: "closed" }]],
  [
    // 5 frames/s is one token per 200 ms: every other frame, 100 ms apart, gets through. Refusals 1-5 are answered,
    // the 6th within 10 s closes, though Oks came in between.
    "a steady flood just above the rate, with frames getting through in between",
    5,
    5,
    [...steps(5, 0, () => "Ok"), ...steps(10, 100, (i) => (i % 2 === 0 ? 429 : "Ok")), { advanceMs: 100, want: "closed" }],
  ],
  [
    // One frame a second allowed, burst 2: the client sends one frame too many each second.
    "a slow flood: one frame over the rate each second",
    1,
    2,
    [{ advanceMs: 0, want: "Ok" }, { advanceMs: 0, want: "Ok" }, { advanceMs: 0, want: 429 }, { advanceMs: 1000, want: "Ok" }, { advanceMs: 0, want: 429 }, { advanceMs: 1000, want: "Ok" }, { advanceMs: 0, want: "closed" }],
  ],
  [
    "hostile but patient: burst-many refusals, then 10 s of calm, then burst-many again: never more than burst within 10 s, so it stays",
    5,
    5,
    [...steps(5, 0, () => "Ok"), ...steps(5, 0, () => 429), { advanceMs: 10_001, want: "Ok" }, ...steps(4, 0, () => "Ok"), ...steps(5, 0, () => 429), { advanceMs: 10_001, want: "Ok" }],
  ],
])("%s", async (_label, rate, burst, plan) => {
  const { clock, c, heart } = await floodServer(rate, burst);
  const got: Step["want"][] = [];
  for (const step of plan) {
    clock.advance(step.advanceMs);
    got.push(await heart());
    if (got.at(-1) === "closed") break;
  }
  expect(got).toEqual(plan.map((s) => s.want));
  if (got.at(-1) === "closed") expect((await c.waitClose()).code).toBe(4029);
  else expect(c.closed).toBeNull();
});

test("a socket flooding as fast as it can is closed after burst+1 refusals, with every earlier frame answered", async () => {
  const { c } = await floodServer(100, 20);
  const replies: unknown[] = [];
  c.ws.addEventListener("message", (ev) => replies.push(JSON.parse(String((ev as MessageEvent).data))));
  for (let i = 0; i < 5000 && c.ws.readyState === WebSocket.OPEN; i++) c.send({ event: "Heart", body: { kind: "Text", content: "", clientMsgId: `f${i}` } });
  expect((await c.waitClose()).code).toBe(4029);
  // The manual clock never moves: 20 from the burst, then 20 refusals; the 21st closes.
  const codes = replies.map((r: any) => (r.content === "Ok" ? "Ok" : r.code));
  expect(codes).toEqual([...Array(20).fill("Ok"), ...Array(20).fill(429)]);
});
