// The ports RTSP relays listen on: `serve --relay-ports LO-HI`, handed out in
// pairs (RTP on the even port, RTCP on the next, as RFC 3550 asks), never two
// sessions on one pair, and back in the pool when a session ends.

export interface PortPair {
  rtp: number;
  rtcp: number;
}

export class PortPool {
  private readonly free: number[] = [];
  private readonly taken = new Set<number>();

  constructor(readonly low: number, readonly high: number) {
    if (!Number.isInteger(low) || !Number.isInteger(high) || low < 1024 || high > 65535 || high <= low) {
      throw new Error(`relay port range ${low}-${high}: must be within 1024-65535, low below high`);
    }
    for (let p = low % 2 === 0 ? low : low + 1; p + 1 <= high; p += 2) this.free.push(p);
    if (this.free.length === 0) throw new Error(`relay port range ${low}-${high} holds no even/odd pair`);
  }

  /** Parses "LO-HI". */
  static parse(text: string): PortPool {
    const m = /^(\d{1,5})-(\d{1,5})$/.exec(text.trim());
    if (!m) throw new Error(`relay port range "${text}": expected LO-HI, e.g. 40000-40999`);
    return new PortPool(Number(m[1]), Number(m[2]));
  }

  get capacity(): number {
    return this.free.length + this.taken.size;
  }

  get inUse(): number {
    return this.taken.size;
  }

  /** A free pair, or undefined when every pair is in use. Freed pairs go to the back, so a port is not reused at once. */
  take(): PortPair | undefined {
    const rtp = this.free.shift();
    if (rtp === undefined) return undefined;
    this.taken.add(rtp);
    return { rtp, rtcp: rtp + 1 };
  }

  give(pair: PortPair): void {
    if (!this.taken.delete(pair.rtp)) return;
    this.free.push(pair.rtp);
  }
}
