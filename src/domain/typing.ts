// "Typing…" is forwarded at most once per user and group every TYPING_MS:
// a client may send it on every keystroke, the others hear of it now and then.
// In memory only; nothing about typing is stored or replayed.
import type { Clock } from "../time";

export const TYPING_MS = 2000;

export type TypingThrottle = ReturnType<typeof createTypingThrottle>;

export function createTypingThrottle(clock: Clock) {
  const last = new Map<string, number>();
  return {
    /** Whether a Typing of uid in gid is forwarded now; if so, the next one is after TYPING_MS. Returns an undo. */
    take(uid: number, gid: number): (() => void) | null {
      const key = `${uid}:${gid}`;
      const now = clock();
      const before = last.get(key);
      if (before !== undefined && now - before < TYPING_MS) return null;
      if (last.size > 50_000) for (const [k, at] of last) if (now - at >= TYPING_MS) last.delete(k);
      last.set(key, now);
      return () => (before === undefined ? last.delete(key) : last.set(key, before));
    },
  };
}
