// Test-only builders for small, valid Envoy resource sets.
import { Cluster, Cluster_DiscoveryType } from '../../xds-server/src/gen/envoy/config/cluster/v3/cluster.js';
import { SocketAddress_Protocol } from '../../xds-server/src/gen/envoy/config/core/v3/address.js';
import { ApiVersion } from '../../xds-server/src/gen/envoy/config/core/v3/config_source.js';
import { ClusterLoadAssignment } from '../../xds-server/src/gen/envoy/config/endpoint/v3/endpoint.js';
import { Listener } from '../../xds-server/src/gen/envoy/config/listener/v3/listener.js';
import { Route as UdpRoute } from '../../xds-server/src/gen/envoy/extensions/filters/udp/udp_proxy/v3/route.js';
import { UdpProxyConfig } from '../../xds-server/src/gen/envoy/extensions/filters/udp/udp_proxy/v3/udp_proxy.js';
import { type EnvoyResources, emptyResources, packAny } from '../../xds-server/src/xds/resources.js';

export function edsCluster(name: string): Cluster {
  return Cluster.fromPartial({
    name,
    clusterDiscoveryType: { $case: 'type', value: Cluster_DiscoveryType.EDS },
    edsClusterConfig: { edsConfig: { configSourceSpecifier: { $case: 'ads', value: {} }, resourceApiVersion: ApiVersion.V3 } },
  });
}

export function assignment(clusterName: string, ports: number[]): ClusterLoadAssignment {
  return ClusterLoadAssignment.fromPartial({
    clusterName,
    endpoints: [{ lbEndpoints: ports.map((port) => ({ hostIdentifier: { $case: 'endpoint' as const, value: { address: { address: { $case: 'socketAddress' as const, value: { protocol: SocketAddress_Protocol.UDP, address: '127.0.0.1', portSpecifier: { $case: 'portValue' as const, value: port } } } } } } })) }],
  });
}

export function udpListener(name: string, port: number, cluster: string): Listener {
  const proxy = UdpProxyConfig.fromPartial({
    statPrefix: name,
    routeSpecifier: { $case: 'matcher', value: { onNoMatch: { onMatch: { $case: 'action', value: { name: 'route', typedConfig: packAny('envoy.extensions.filters.udp.udp_proxy.v3.Route', { cluster }, UdpRoute) } } } } },
  });
  return Listener.fromPartial({
    name,
    address: { address: { $case: 'socketAddress', value: { protocol: SocketAddress_Protocol.UDP, address: '127.0.0.1', portSpecifier: { $case: 'portValue', value: port } } } },
    listenerFilters: [{ name: 'envoy.filters.udp_listener.udp_proxy', configType: { $case: 'typedConfig', value: packAny('envoy.extensions.filters.udp.udp_proxy.v3.UdpProxyConfig', proxy, UdpProxyConfig) } }],
  });
}

/** One listener → one EDS cluster → endpoints, per entry. */
export function udpResources(entries: { listener: string; port: number; cluster: string; endpoints: number[] }[]): EnvoyResources {
  const r = emptyResources();
  for (const e of entries) {
    r.listeners.push(udpListener(e.listener, e.port, e.cluster));
    if (!r.clusters.some((c) => c.name === e.cluster)) {
      r.clusters.push(edsCluster(e.cluster));
      r.endpoints.push(assignment(e.cluster, e.endpoints));
    }
  }
  return r;
}
