// Pushes before bookkeeping: while a new config fans out to every proxy,
// the proxies' requests (mostly ACKs of that same push) wait until it is done.
//
// A fan-out yields to the event loop between batches so the first responses
// leave at once. Without this, every ACK that arrives meanwhile is handled in
// those gaps, and the last proxies get their config only after the first
// ones' ACKs were recorded. An ACK changes only status, which may lag by the
// length of a fan-out; a request that asks for something new is answered as
// soon as the fan-out ends, in arrival order.

/** Requests held during one fan-out at most; past it, the queue is worked off first and nothing more waits. */
export const MAX_DEFERRED_REQUESTS = 50_000;

export class RequestDeferral {
  private fanOuts = 0;
  private queue: Array<() => void> = [];

  /** Runs `fanOut`, holding requests until it settles. */
  async during<T>(fanOut: () => Promise<T>): Promise<T> {
    this.fanOuts++;
    try {
      return await fanOut();
    } finally {
      if (--this.fanOuts === 0) this.drain();
    }
  }

  /** Handles a request now, or after the fan-out under way. Requests keep their order either way. */
  run(handle: () => void): void {
    if (this.fanOuts === 0) {
      handle();
      return;
    }
    if (this.queue.length >= MAX_DEFERRED_REQUESTS) {
      this.drain();
      handle();
      return;
    }
    this.queue.push(handle);
  }

  /** Requests waiting for the fan-out to end. */
  pending(): number {
    return this.queue.length;
  }

  private drain(): void {
    const queue = this.queue;
    this.queue = [];
    // Handlers do not throw: a stream turns its own errors into its status.
    for (const handle of queue) handle();
  }
}
