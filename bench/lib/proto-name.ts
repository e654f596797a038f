// Reads the `name` of a serialized Cluster, Listener or ClusterLoadAssignment
// (field 1, a string, in all three) without decoding the whole message, so a
// thousand simulated proxies stay cheap next to the server they measure.

const textDecoder = new TextDecoder();

function readVarint(bytes: Uint8Array, at: number): [value: number, next: number] {
  let value = 0;
  let shift = 0;
  for (;;) {
    if (at >= bytes.length) throw new Error('truncated varint');
    const b = bytes[at++]!;
    value += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return [value, at];
    shift += 7;
    if (shift > 63) throw new Error('varint too long');
  }
}

/** The first occurrence of string field `field` at the top level, or '' if absent. */
export function topLevelStringField(bytes: Uint8Array, field = 1): string {
  let at = 0;
  while (at < bytes.length) {
    const [key, afterKey] = readVarint(bytes, at);
    const wireType = key & 7;
    const number = Math.floor(key / 8);
    at = afterKey;
    switch (wireType) {
      case 0: at = readVarint(bytes, at)[1]; break;
      case 1: at += 8; break;
      case 5: at += 4; break;
      case 2: {
        const [length, start] = readVarint(bytes, at);
        if (number === field) return textDecoder.decode(bytes.subarray(start, start + length));
        at = start + length;
        break;
      }
      default: throw new Error(`unsupported wire type ${wireType}`);
    }
  }
  return '';
}
