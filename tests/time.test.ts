// formatTime keeps the last second's text: whatever order the times come in, the text is the one
// computed afresh (local time, rim's "YYYY-MM-DD HH:MM:SS").
import { expect, test } from "bun:test";
import { formatTime } from "../src/time";

const pad = (n: number) => String(n).padStart(2, "0");
const fresh = (ms: number) => {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
};

const T = Date.UTC(2026, 2, 29, 0, 59, 59, 0);
test.each([
  ["a second", [T, T + 1, T + 999]],
  ["the next second, then back", [T + 999, T + 1000, T + 999, T]],
  ["across a minute, an hour and a day", [T - 1, T, T + 60_000, T + 3_600_000, T + 86_400_000]],
  ["before 1970 and far ahead", [-1, -1000, -1001, 0, 4_102_444_800_123]],
])("%s", (_name, times) => {
  for (const ms of times) expect(formatTime(ms)).toBe(fresh(ms));
});
