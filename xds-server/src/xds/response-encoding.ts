// SotW responses are encoded once per snapshot and shared by every stream
// that gets the same answer; each stream only appends its own nonce.
//
// Protobuf lets a field follow the others in any order, so a response is the
// cached body (version, resources, type URL, control plane) plus field 5
// (nonce) appended as bytes: its tag, its length as a varint, its UTF-8.
import { DiscoveryResponse } from '../gen/envoy/service/discovery/v3/discovery.js';
import type { Selection } from './named-selection.js';
import type { WireResource } from './resources.js';
import type { TypeSnapshot } from './snapshot.js';
import type { TypeUrl } from './type-urls.js';

const NONCE_FIELD = 5;
/**
 * Per type snapshot: the body for each selection (named-selection.ts) at the
 * version it was made for (a selection with clusters held back for a proxy
 * answers at a version of its own).
 */
const bodies = new WeakMap<TypeSnapshot, Map<string, { version: string; body: Buffer }>>();
/** Distinct selections' bodies kept per type snapshot: clients choose the names, so the cache must not grow with them. */
const MAX_BODIES_PER_TYPE = 64;

/** The encoded response body (no nonce) for this type snapshot, version and selection of its resources. */
export function sotwResponseBody(typeSnapshot: TypeSnapshot, typeUrl: TypeUrl, version: string, selection: Selection): Buffer {
  let perType = bodies.get(typeSnapshot);
  if (!perType) bodies.set(typeSnapshot, (perType = new Map()));
  const found = perType.get(selection.key);
  if (found?.version === version) return found.body;
  const body = encodeBody(typeUrl, version, selection.list);
  if (found || perType.size < MAX_BODIES_PER_TYPE) perType.set(selection.key, { version, body });
  return body;
}

function encodeBody(typeUrl: TypeUrl, version: string, resources: readonly WireResource[]): Buffer {
  const bytes = DiscoveryResponse.encode(DiscoveryResponse.fromPartial({ versionInfo: version, typeUrl, resources: resources.map((r) => r.packed), controlPlane: { identifier: 'mediamesh' } })).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The body and its nonce field in one buffer: one allocation and one copy per stream. */
export function withNonce(body: Buffer, nonce: string): Buffer {
  const nonceBytes = Buffer.byteLength(nonce, 'utf8');
  let lengthBytes = 1;
  for (let n = nonceBytes; n > 0x7f; n >>>= 7) lengthBytes++;
  const out = Buffer.allocUnsafe(body.length + 1 + lengthBytes + nonceBytes);
  body.copy(out, 0);
  let at = body.length;
  out[at++] = (NONCE_FIELD << 3) | 2;
  let n = nonceBytes;
  for (; n > 0x7f; n >>>= 7) out[at++] = (n & 0x7f) | 0x80;
  out[at++] = n;
  out.write(nonce, at, 'utf8');
  return out;
}
