// Every Kubernetes API call the control plane makes, in one table: the kinds
// it watches, the status it writes and the Lease it holds. The RBAC in
// manifests/ must grant exactly this (a unit test compares them).

export interface WatchedKind {
  kind: 'UdpRoute' | 'RtspRoute' | 'Service' | 'EndpointSlice' | 'Pod';
  /** API group ('' for core). */
  group: string;
  version: string;
  plural: string;
}

export const WATCHED_KINDS: readonly WatchedKind[] = [
  { kind: 'UdpRoute', group: 'mediamesh.io', version: 'v1alpha1', plural: 'udproutes' },
  { kind: 'RtspRoute', group: 'mediamesh.io', version: 'v1alpha1', plural: 'rtsproutes' },
  { kind: 'Service', group: '', version: 'v1', plural: 'services' },
  { kind: 'EndpointSlice', group: 'discovery.k8s.io', version: 'v1', plural: 'endpointslices' },
];

/** Pods are not config: the source reads their addresses to know which pod a plaintext proxy connects from. */
export const POD_KIND: WatchedKind = { kind: 'Pod', group: '', version: 'v1', plural: 'pods' };

/** Route kinds whose status the leader writes (the status subresource, by merge patch). */
export const STATUS_KINDS: readonly WatchedKind[] = WATCHED_KINDS.filter((k) => k.group === 'mediamesh.io');

export const LEASE = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases' } as const;
export const DEFAULT_LEASE_NAME = 'mediamesh-control-plane';

/** Rules as RBAC states them: what the ClusterRole (cluster-wide) and the Role (the lease's namespace) must grant. */
export interface AccessRule {
  group: string;
  resource: string;
  verbs: string[];
  resourceNames?: string[];
}

export function clusterAccess(): AccessRule[] {
  return [
    ...[...WATCHED_KINDS, POD_KIND].map((k) => ({ group: k.group, resource: k.plural, verbs: ['list', 'watch'] })),
    ...STATUS_KINDS.map((k) => ({ group: k.group, resource: `${k.plural}/status`, verbs: ['patch'] })),
  ];
}

export function leaseAccess(leaseName = DEFAULT_LEASE_NAME): AccessRule[] {
  // `create` cannot be limited by name; reading and renewing are.
  return [
    { group: LEASE.group, resource: LEASE.plural, verbs: ['create'] },
    { group: LEASE.group, resource: LEASE.plural, verbs: ['get', 'update'], resourceNames: [leaseName] },
  ];
}

export function collectionPath(k: { group: string; version: string; plural: string }, namespace?: string): string {
  const base = k.group === '' ? `/api/${k.version}` : `/apis/${k.group}/${k.version}`;
  return namespace === undefined ? `${base}/${k.plural}` : `${base}/namespaces/${encodeURIComponent(namespace)}/${k.plural}`;
}

export function objectPath(k: { group: string; version: string; plural: string }, namespace: string, name: string): string {
  return `${collectionPath(k, namespace)}/${encodeURIComponent(name)}`;
}
