// SotW responses are encoded once per snapshot and shared by every stream
// that gets the same answer; each stream only appends its own nonce.
//
// Protobuf lets a field follow the others in any order, so a response is the
// cached body (version, resources, type URL, control plane) plus field 5
// (nonce) appended as bytes: its tag, its length as a varint, its UTF-8.
import { DiscoveryResponse } from '../gen/envoy/service/discovery/v3/discovery.js';
import type { Selection } from './named-selection.js';
import type { WireResource } from './resources.js';
import type { Snapshot } from './snapshot.js';
import type { TypeUrl } from './type-urls.js';

const NONCE_FIELD = 5;
/** Per snapshot and type: the body for each selection (named-selection.ts) at the version it was made for. */
const bodies = new WeakMap<Snapshot, Map<TypeUrl, Map<string, { version: string; body: Buffer }>>>();
/** Distinct selections' bodies kept per snapshot and type: clients choose the names, so the cache must not grow with them. */
const MAX_BODIES_PER_TYPE = 64;

/** The encoded response body (no nonce) for this snapshot, type, version and selection of resources. */
export function sotwResponseBody(snapshot: Snapshot, typeUrl: TypeUrl, version: string, selection: Selection): Buffer {
  let perSnapshot = bodies.get(snapshot);
  if (!perSnapshot) bodies.set(snapshot, (perSnapshot = new Map()));
  let perType = perSnapshot.get(typeUrl);
  if (!perType) perSnapshot.set(typeUrl, (perType = new Map()));
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
