// Time as a dependency: code that waits, debounces or expires state takes a
// Clock, so a test can move time forward and prove that nothing happened
// without sleeping.
export interface TimerHandle {
  readonly id: number;
}

export interface Clock {
  /** Milliseconds since an arbitrary origin; only differences mean anything. */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined): void;
}

/** The process's real timers. */
export const systemClock: Clock = (() => {
  const timers = new Map<number, NodeJS.Timeout>();
  let next = 0;
  return {
    now: () => performance.now(),
    setTimeout(fn, ms) {
      const id = ++next;
      const timer = setTimeout(() => {
        timers.delete(id);
        fn();
      }, ms);
      // A pending expiry or debounce never keeps a finished process alive.
      timer.unref?.();
      timers.set(id, timer);
      return { id };
    },
    clearTimeout(handle) {
      if (!handle) return;
      clearTimeout(timers.get(handle.id));
      timers.delete(handle.id);
    },
  };
})();
