// Loss at the receiver from RTP sequence numbers (RFC 3550 §6.4.1, A.3):
// expected = highest extended sequence - first + 1, lost = expected - received.
// Sequence numbers are 16 bits and wrap; the extension counts the wraps.

const SEQ_MOD = 0x10000;
/** A jump this far back is reordering; farther is taken as a wrap forward. */
const MAX_MISORDER = 100;

export class RtpSequence {
  received = 0;
  outOfOrder = 0;
  private first: number | undefined;
  private highest = 0;

  /** Counts one packet's 16-bit sequence number. */
  push(seq: number): void {
    this.received++;
    if (this.first === undefined) {
      this.first = seq;
      this.highest = seq;
      return;
    }
    const last16 = this.highest % SEQ_MOD;
    const delta = (seq - last16 + SEQ_MOD) % SEQ_MOD;
    if (delta === 0) return;
    if (delta < SEQ_MOD - MAX_MISORDER) this.highest += delta;
    else this.outOfOrder++;
  }

  get expected(): number {
    return this.first === undefined ? 0 : this.highest - this.first + 1;
  }

  /** Never negative: duplicates are not negative loss. */
  get lost(): number {
    return Math.max(0, this.expected - this.received);
  }
}

/** The sequence number of an RTP packet, or undefined if it is not RTP version 2. */
export function rtpSequenceNumber(packet: Buffer): number | undefined {
  if (packet.length < 12 || packet[0]! >> 6 !== 2) return undefined;
  return packet.readUInt16BE(2);
}
