// Decodes ADS requests without decoding their node until someone reads it.
//
// Envoy sends its whole node (id, metadata, extensions, features) with every
// request, but a stream reads it from the first request only; on every later
// one, the ACKs of a push to every proxy among them, decoding it was a large
// share of the server's work. So the node's bytes are set aside and decoded
// on first access of `node`; the other fields are decoded as before.
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { Node } from '../gen/envoy/config/core/v3/base.js';
import { DeltaDiscoveryRequest, DiscoveryRequest } from '../gen/envoy/service/discovery/v3/discovery.js';

/** The field number of `node` in each request message. */
const SOTW_NODE_FIELD = 2;
const DELTA_NODE_FIELD = 1;

export function decodeSotwRequest(bytes: Uint8Array): DiscoveryRequest {
  return withLazyNode(bytes, SOTW_NODE_FIELD, (rest) => DiscoveryRequest.decode(rest));
}

export function decodeDeltaRequest(bytes: Uint8Array): DeltaDiscoveryRequest {
  return withLazyNode(bytes, DELTA_NODE_FIELD, (rest) => DeltaDiscoveryRequest.decode(rest));
}

/**
 * `decode` gets the message without its node field; `node` is then a getter
 * decoding the node's bytes once. As in the full decode, the last occurrence
 * of the field wins; malformed framing throws here, a malformed node when read.
 */
function withLazyNode<T extends { node?: Node | undefined }>(bytes: Uint8Array, nodeField: number, decode: (rest: Uint8Array) => T): T {
  const reader = new BinaryReader(bytes);
  const kept: Uint8Array[] = [];
  let keptFrom = 0;
  let nodeBytes: Uint8Array | undefined;
  while (reader.pos < reader.len) {
    const start = reader.pos;
    const [field, wireType] = reader.tag();
    if (field === nodeField && wireType === WireType.LengthDelimited) {
      nodeBytes = reader.bytes();
      kept.push(bytes.subarray(keptFrom, start));
      keptFrom = reader.pos;
    } else {
      reader.skip(wireType, field);
    }
  }
  if (nodeBytes === undefined) return decode(bytes);
  kept.push(bytes.subarray(keptFrom));
  const message = decode(kept.length === 1 ? kept[0]! : Buffer.concat(kept));
  let node: Node | undefined;
  const raw = nodeBytes;
  Object.defineProperty(message, 'node', { enumerable: true, configurable: true, get: () => (node ??= Node.decode(raw)) });
  return message;
}
