// API objects as the documents the rest of mediamesh reads (api/types.ts):
// the same shapes a config directory holds, so both sources build the same
// model. Only the fields mediamesh reads are kept: a cluster's objects carry
// much more (managedFields, status, ...) that would only cost memory.
//
// Objects that cannot matter to any route are left out rather than reported:
// a cluster is full of Services mediamesh has nothing to do with, and an
// ExternalName Service without ports or a hand-made EndpointSlice owned by no
// Service would otherwise be a problem on every reload.
import type { SourcedDocument } from '../../api/types.js';
import type { WatchedKind } from './api-access.js';

/** What every API object has, as far as we read it. */
export interface ApiObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    generation?: number;
    creationTimestamp?: string;
    resourceVersion?: string;
    uid?: string;
  };
  spec?: unknown;
  status?: unknown;
  [field: string]: unknown;
}

/** Where the documents of this source say they came from, in every problem and status. */
export const KUBERNETES_ORIGIN = 'kubernetes';

export function toDocument(kind: WatchedKind, object: ApiObject): SourcedDocument | undefined {
  const document = project(kind, object);
  return document === undefined ? undefined : { origin: { source: KUBERNETES_ORIGIN, index: -1 }, document };
}

function project(kind: WatchedKind, o: ApiObject): Record<string, unknown> | undefined {
  const metadata = projectMetadata(o);
  if (!metadata) return undefined;
  const apiVersion = kind.group === '' ? kind.version : `${kind.group}/${kind.version}`;
  switch (kind.kind) {
    case 'UdpRoute':
    case 'RtspRoute':
      // Our own CRs: the spec as stored (the CRD schema has already checked it; our validation checks the rest).
      return { apiVersion, kind: kind.kind, metadata, spec: o.spec };
    case 'Service':
      return projectService(apiVersion, metadata, o.spec as ServiceSpec | undefined);
    case 'EndpointSlice':
      return projectEndpointSlice(apiVersion, metadata, o);
    case 'Pod':
      return undefined;
  }
}

function projectMetadata(o: ApiObject): Record<string, unknown> | undefined {
  const m = o.metadata;
  if (!m?.name) return undefined;
  return {
    name: m.name,
    ...(m.namespace ? { namespace: m.namespace } : {}),
    ...(m.labels ? { labels: m.labels } : {}),
    ...(m.annotations ? { annotations: withoutLastApplied(m.annotations) } : {}),
    ...(m.generation !== undefined ? { generation: m.generation } : {}),
    ...(m.creationTimestamp ? { creationTimestamp: String(m.creationTimestamp) } : {}),
  };
}

/** kubectl's copy of the whole object is the largest annotation and nothing reads it. */
function withoutLastApplied(annotations: Record<string, string>): Record<string, string> {
  const { 'kubectl.kubernetes.io/last-applied-configuration': _, ...rest } = annotations;
  return rest;
}

interface ServiceSpec {
  type?: string;
  clusterIP?: string;
  ports?: { name?: string; port?: number; targetPort?: number | string; protocol?: string }[];
  selector?: Record<string, string>;
}

function projectService(apiVersion: string, metadata: Record<string, unknown>, spec: ServiceSpec | undefined): Record<string, unknown> | undefined {
  const ports = (spec?.ports ?? []).map((p) => ({
    ...(p.name ? { name: p.name } : {}),
    port: p.port,
    ...(p.targetPort !== undefined ? { targetPort: p.targetPort } : {}),
    ...(p.protocol ? { protocol: p.protocol } : {}),
  }));
  if (ports.length === 0) return undefined;
  // A headless Service ("None") has no address to listen on: as if it had none, which routes report.
  const clusterIP = spec?.clusterIP && spec.clusterIP !== 'None' ? spec.clusterIP : undefined;
  return {
    apiVersion,
    kind: 'Service',
    metadata,
    spec: { ...(clusterIP ? { clusterIP } : {}), ports, ...(spec?.selector ? { selector: spec.selector } : {}) },
  };
}

interface SliceEndpoint {
  addresses?: string[];
  conditions?: { ready?: boolean | null; serving?: boolean | null; terminating?: boolean | null };
}

function projectEndpointSlice(apiVersion: string, metadata: Record<string, unknown>, o: ApiObject): Record<string, unknown> | undefined {
  const labels = metadata.labels as Record<string, string> | undefined;
  if (!labels?.['kubernetes.io/service-name']) return undefined;
  const endpoints = ((o.endpoints as SliceEndpoint[] | null | undefined) ?? []).map((e) => ({
    addresses: e.addresses ?? [],
    ...(e.conditions ? { conditions: definedConditions(e.conditions) } : {}),
  }));
  const ports = ((o.ports as { name?: string | null; port?: number | null; protocol?: string | null }[] | null | undefined) ?? []).map((p) => ({
    ...(p.name ? { name: p.name } : {}),
    ...(typeof p.port === 'number' ? { port: p.port } : {}),
    ...(p.protocol ? { protocol: p.protocol } : {}),
  }));
  return { apiVersion, kind: 'EndpointSlice', metadata, addressType: o.addressType, ports, endpoints };
}

/** The API server sends null for an unknown condition; our documents say nothing instead. */
function definedConditions(c: NonNullable<SliceEndpoint['conditions']>): Record<string, boolean> {
  const out: Record<string, boolean> = {};
  for (const key of ['ready', 'serving', 'terminating'] as const) if (typeof c[key] === 'boolean') out[key] = c[key];
  return out;
}

/** A pod as far as proxy identity needs it: where it is, and whether its address is its own. */
export interface PodAddresses {
  namespace: string;
  name: string;
  ips: string[];
  /** A host-network pod shares the node's address with every other such pod: it identifies nobody. */
  hostNetwork: boolean;
}

export function podAddresses(o: ApiObject): PodAddresses | undefined {
  const m = o.metadata;
  if (!m?.name || !m.namespace) return undefined;
  const status = o.status as { podIP?: string; podIPs?: { ip?: string }[] } | undefined;
  const ips = [...new Set([status?.podIP, ...(status?.podIPs ?? []).map((p) => p.ip)].filter((ip): ip is string => typeof ip === 'string' && ip.length > 0))];
  return { namespace: m.namespace, name: m.name, ips, hostNetwork: (o.spec as { hostNetwork?: boolean } | undefined)?.hostNetwork === true };
}

/**
 * Drops, in place, what the informer's cache need not keep: every object's
 * managedFields and kubectl's last-applied copy, and all of a pod but its
 * name, namespace, version, host-network flag and addresses. The cache holds
 * every pod of the cluster; a pod's spec is most of its size.
 */
export function slimInPlace(kind: WatchedKind, o: ApiObject): void {
  const m = o.metadata as (ApiObject['metadata'] & { managedFields?: unknown }) | undefined;
  if (m) {
    delete m.managedFields;
    if (m.annotations) m.annotations = withoutLastApplied(m.annotations);
  }
  if (kind.kind !== 'Pod') return;
  const spec = o.spec as { hostNetwork?: boolean } | undefined;
  const status = o.status as { podIP?: string; podIPs?: unknown } | undefined;
  o.spec = spec?.hostNetwork ? { hostNetwork: true } : {};
  o.status = { ...(status?.podIP ? { podIP: status.podIP } : {}), ...(status?.podIPs ? { podIPs: status.podIPs } : {}) };
  if (m) o.metadata = { name: m.name, namespace: m.namespace, resourceVersion: m.resourceVersion, uid: m.uid };
}
