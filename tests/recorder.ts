// Shared by the tests of things that arrive on their own time (bus batches, log lines, shared-state answers).
/** Things as they arrive, and a wait for the moment they satisfy a condition. */
export function recorder<T>() {
  const items: T[] = [];
  let waiters: { pred: (items: T[]) => boolean; resolve: () => void }[] = [];
  return {
    items,
    push(item: T) {
      items.push(item);
      waiters = waiters.filter((w) => !(w.pred(items) && (w.resolve(), true)));
    },
    until(pred: (items: T[]) => boolean): Promise<void> {
      if (pred(items)) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ pred, resolve }));
    },
  };
}
