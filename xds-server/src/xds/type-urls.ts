// The resource types the ADS server serves, and the order a config change is
// pushed in: clusters (and their endpoints) exist before the listeners and
// routes that point at them (make-before-break).
export const TypeUrl = {
  Cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  ClusterLoadAssignment: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  Listener: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  RouteConfiguration: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  Secret: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
} as const;

export type TypeUrl = (typeof TypeUrl)[keyof typeof TypeUrl];

export const pushOrder: readonly TypeUrl[] = [
  TypeUrl.Cluster,
  TypeUrl.ClusterLoadAssignment,
  TypeUrl.Listener,
  TypeUrl.RouteConfiguration,
  TypeUrl.Secret,
];

/** Types whose SotW responses carry the full set (absence means removal). */
export const wildcardTypes: ReadonlySet<TypeUrl> = new Set([TypeUrl.Cluster, TypeUrl.Listener]);

const known: ReadonlySet<string> = new Set(Object.values(TypeUrl));

export function isTypeUrl(value: string): value is TypeUrl {
  return known.has(value);
}

export function shortTypeName(typeUrl: TypeUrl): string {
  switch (typeUrl) {
    case TypeUrl.Cluster: return 'CDS';
    case TypeUrl.ClusterLoadAssignment: return 'EDS';
    case TypeUrl.Listener: return 'LDS';
    case TypeUrl.RouteConfiguration: return 'RDS';
    case TypeUrl.Secret: return 'SDS';
  }
}
