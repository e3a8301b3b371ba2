// argon2 work is the one slow, memory-hungry step (64 MiB and tens of
// milliseconds per hash by default). It runs on Bun's thread pool, and without
// a bound a burst of registrations would queue dozens of hashes ahead of
// everyone's login. This gate runs at most `size` at once, and when a slot
// frees it goes to a waiting login before any registration or password change.
export type HashPriority = "login" | "other";

export type HashGate = {
  run<T>(priority: HashPriority, work: () => Promise<T>): Promise<T>;
  /** For metrics and tests: hashes running, and waiting by priority. */
  stats(): { running: number; login: number; other: number };
};

export function createHashGate(size: number): HashGate {
  if (!Number.isInteger(size) || size < 1) throw new Error(`hash gate size must be a positive integer, got ${size}`);
  let running = 0;
  const waiting: Record<HashPriority, (() => void)[]> = { login: [], other: [] };

  const next = () => {
    const start = waiting.login.shift() ?? waiting.other.shift();
    if (start) start();
    else running--;
  };

  return {
    async run<T>(priority: HashPriority, work: () => Promise<T>): Promise<T> {
      // A freed slot is handed straight to the next waiter, so `running` never drops in between.
      if (running < size) running++;
      else await new Promise<void>((resolve) => waiting[priority].push(resolve));
      try {
        return await work();
      } finally {
        next();
      }
    },
    stats: () => ({ running, login: waiting.login.length, other: waiting.other.length }),
  };
}
