// Envoy resources as the translator emits them (typed), and in the wire form
// the cache keeps (serialized once, with a content version per resource).
import { createHash } from 'node:crypto';
import type { Cluster } from '../gen/envoy/config/cluster/v3/cluster.js';
import { Cluster as ClusterCodec } from '../gen/envoy/config/cluster/v3/cluster.js';
import type { ClusterLoadAssignment } from '../gen/envoy/config/endpoint/v3/endpoint.js';
import { ClusterLoadAssignment as ClaCodec } from '../gen/envoy/config/endpoint/v3/endpoint.js';
import type { Listener } from '../gen/envoy/config/listener/v3/listener.js';
import { Listener as ListenerCodec } from '../gen/envoy/config/listener/v3/listener.js';
import type { RouteConfiguration } from '../gen/envoy/config/route/v3/route.js';
import { RouteConfiguration as RouteCodec } from '../gen/envoy/config/route/v3/route.js';
import type { Secret } from '../gen/envoy/extensions/transport_sockets/tls/v3/secret.js';
import { Secret as SecretCodec } from '../gen/envoy/extensions/transport_sockets/tls/v3/secret.js';
import type { Any } from '../gen/google/protobuf/any.js';
import { TypeUrl } from './type-urls.js';
import { unpackAnys } from './readable-json.js';

export interface EnvoyResources {
  listeners: Listener[];
  clusters: Cluster[];
  endpoints: ClusterLoadAssignment[];
  routes: RouteConfiguration[];
  secrets: Secret[];
}

export function emptyResources(): EnvoyResources {
  return { listeners: [], clusters: [], endpoints: [], routes: [], secrets: [] };
}

export function addResources(into: EnvoyResources, from: EnvoyResources): void {
  into.listeners.push(...from.listeners);
  into.clusters.push(...from.clusters);
  into.endpoints.push(...from.endpoints);
  into.routes.push(...from.routes);
  into.secrets.push(...from.secrets);
}

/** One resource ready for the wire: packed once, shared by every stream. */
export interface WireResource {
  readonly name: string;
  readonly typeUrl: TypeUrl;
  /** sha256 of the serialized bytes: the Delta per-resource version. */
  readonly version: string;
  readonly packed: Any;
  /** Readable JSON (Anys unpacked) for debug endpoints; computed on demand. */
  json(): unknown;
}

export function contentVersion(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 16);
}

function wire<T>(typeUrl: TypeUrl, name: string, message: T, codec: { encode(m: T): { finish(): Uint8Array }; toJSON(m: T): unknown }): WireResource {
  const value = asBuffer(codec.encode(message).finish());
  return Object.freeze({ name, typeUrl, version: contentVersion(value), packed: { typeUrl, value }, json: () => unpackAnys(codec.toJSON(message)) });
}

export function toWireResources(resources: EnvoyResources): WireResource[] {
  return [
    ...resources.clusters.map((c) => wire(TypeUrl.Cluster, c.name, c, ClusterCodec)),
    ...resources.endpoints.map((e) => wire(TypeUrl.ClusterLoadAssignment, e.clusterName, e, ClaCodec)),
    ...resources.listeners.map((l) => wire(TypeUrl.Listener, l.name, l, ListenerCodec)),
    ...resources.routes.map((r) => wire(TypeUrl.RouteConfiguration, r.name, r, RouteCodec)),
    ...resources.secrets.map((s) => wire(TypeUrl.Secret, s.name, s, SecretCodec)),
  ];
}

/** Packs a typed message into an Any (for typed_config fields). */
export function packAny<T>(typeName: string, message: T, codec: { encode(m: T): { finish(): Uint8Array } }): Any {
  return { typeUrl: `type.googleapis.com/${typeName}`, value: asBuffer(codec.encode(message).finish()) };
}

/** The generated types want Buffers; wrap the encoder's bytes without copying. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
