// rim's wire format for times is "YYYY-MM-DD HH:MM:SS" in the server's local time.
export type Clock = () => number;

export const systemClock: Clock = () => Date.now();

const pad = (n: number) => (n < 10 ? "0" + n : String(n));

// The text depends on the whole second only (local offsets change on whole seconds), and a busy
// server formats the same second thousands of times (createTime and updateTime of every message).
let lastSecond = NaN;
let lastText = "";

export function formatTime(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second === lastSecond) return lastText;
  const d = new Date(ms);
  lastText = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  lastSecond = second;
  return lastText;
}

/** A clock tests can move by hand. */
export function manualClock(start = Date.UTC(2026, 0, 1)) {
  let now = start;
  const clock = (() => now) as Clock & { advance(ms: number): void; set(ms: number): void };
  clock.advance = (ms) => void (now += ms);
  clock.set = (ms) => void (now = ms);
  return clock;
}
