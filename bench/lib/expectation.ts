// What a simulated proxy must hold after a config change: one resource, by
// type and name, with a value that only the new config has. Plain data so it
// crosses the IPC channel to the client workers.
import { ClusterLoadAssignment } from '../../xds-server/src/gen/envoy/config/endpoint/v3/endpoint.js';
import { Listener } from '../../xds-server/src/gen/envoy/config/listener/v3/listener.js';
import { UdpProxyConfig } from '../../xds-server/src/gen/envoy/extensions/filters/udp/udp_proxy/v3/udp_proxy.js';
import { TypeUrl } from '../../xds-server/src/xds/type-urls.js';

export type Expectation =
  /** EDS: the assignment of `clusterName` has an endpoint on `port`. */
  | { kind: 'endpoint-port'; clusterName: string; port: number }
  /** LDS: the udp_proxy of listener `listenerName` has this idle timeout. */
  | { kind: 'listener-idle-timeout'; listenerName: string; seconds: number };

export function expectationTypeUrl(e: Expectation): TypeUrl {
  return e.kind === 'endpoint-port' ? TypeUrl.ClusterLoadAssignment : TypeUrl.Listener;
}

export function expectationResourceName(e: Expectation): string {
  return e.kind === 'endpoint-port' ? e.clusterName : e.listenerName;
}

/** Decodes the serialized resource and checks the expected value. */
export function resourceMatches(e: Expectation, bytes: Uint8Array): boolean {
  switch (e.kind) {
    case 'endpoint-port': {
      const cla = ClusterLoadAssignment.decode(bytes);
      return cla.endpoints.some((locality) => locality.lbEndpoints.some((lb) => {
        if (lb.hostIdentifier?.$case !== 'endpoint') return false;
        const address = lb.hostIdentifier.value.address?.address;
        return address?.$case === 'socketAddress' && address.value.portSpecifier?.$case === 'portValue' && address.value.portSpecifier.value === e.port;
      }));
    }
    case 'listener-idle-timeout': {
      const listener = Listener.decode(bytes);
      return listener.listenerFilters.some((f) => {
        if (f.configType?.$case !== 'typedConfig' || !f.configType.value.typeUrl.endsWith('.UdpProxyConfig')) return false;
        return UdpProxyConfig.decode(f.configType.value.value).idleTimeout?.seconds === e.seconds;
      });
    }
  }
}
