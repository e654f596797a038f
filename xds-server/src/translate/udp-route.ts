// UdpRoute listeners → Envoy: a UDP listener whose udp_proxy sends sessions to
// an EDS cluster; the cluster's endpoints are every backend's endpoints, each
// weighted by its backend's share (canary across sessions).
import { Cluster, Cluster_DiscoveryType, Cluster_LbPolicy } from '../gen/envoy/config/cluster/v3/cluster.js';
import { ApiVersion } from '../gen/envoy/config/core/v3/config_source.js';
import { SocketAddress_Protocol } from '../gen/envoy/config/core/v3/address.js';
import { type SocketOption, SocketOption_SocketState } from '../gen/envoy/config/core/v3/socket_option.js';
import { HealthStatus } from '../gen/envoy/config/core/v3/health_check.js';
import { ClusterLoadAssignment } from '../gen/envoy/config/endpoint/v3/endpoint.js';
import { Listener } from '../gen/envoy/config/listener/v3/listener.js';
import { Route as UdpProxyRoute } from '../gen/envoy/extensions/filters/udp/udp_proxy/v3/route.js';
import { UdpProxyConfig } from '../gen/envoy/extensions/filters/udp/udp_proxy/v3/udp_proxy.js';
import type { BackendModel, UdpListenerModel } from '../model/ir.js';
import { packAny } from '../xds/resources.js';
import { udpClusterName, udpListenerName, udpStatPrefix } from './names.js';
import { durationFromMs } from './proto-values.js';
import { type RtpModuleSource, rtpListenerFilter } from './rtp-filter.js';
import type { ListenerFilter } from '../gen/envoy/config/listener/v3/listener_components.js';
import { StdoutAccessLog } from '../gen/envoy/extensions/access_loggers/stream/v3/stream.js';

const SOL_SOCKET = 1;
const SO_RCVBUF = 8;
const MEDIA_RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;

/** Each backend's weight is spread over its endpoints; this keeps integer shares precise. */
const ENDPOINT_WEIGHT_SCALE = 1000;

export interface UdpRouteResources {
  listener: Listener;
  cluster: Cluster;
  assignment: ClusterLoadAssignment;
}

export interface UdpTranslateOptions {
  /** Where Envoy loads the RTP filter from; RTP routes need it. */
  rtpModule?: RtpModuleSource;
  /**
   * Bind the listener with IP_TRANSPARENT (Envoy's `transparent`). A
   * sidecar's listener serves a Service's clusterIP, which is no address of
   * the pod: the interception script (manifests/interception) delivers the
   * Service's traffic to the pod unchanged, and only a transparent socket
   * may bind that address and answer from it. Envoy then needs CAP_NET_ADMIN
   * (or CAP_NET_RAW).
   */
  transparent?: boolean;
}

export function translateUdpListener(model: UdpListenerModel, options: UdpTranslateOptions = {}): UdpRouteResources {
  const clusterName = udpClusterName(model.route, model.port);
  if (model.protocol === 'RTP' && !options.rtpModule) {
    throw new Error('protocol RTP needs the RTP filter module, and none is configured (build it with `npm run setup`, or pass --rtp-module)');
  }
  const filters = model.protocol === 'RTP' && options.rtpModule ? [rtpListenerFilter(model, options.rtpModule)] : [];
  return {
    listener: udpListener(model, clusterName, filters, options.transparent === true),
    cluster: edsCluster(clusterName, model),
    assignment: weightedAssignment(clusterName, model.backends),
  };
}

function udpListener(model: UdpListenerModel, clusterName: string, filtersBeforeProxy: ListenerFilter[], transparent: boolean): Listener {
  const proxy = UdpProxyConfig.fromPartial({
    statPrefix: udpStatPrefix(model.route, model.port),
    routeSpecifier: {
      $case: 'matcher',
      value: {
        onNoMatch: {
          onMatch: {
            $case: 'action',
            value: { name: 'route', typedConfig: packAny('envoy.extensions.filters.udp.udp_proxy.v3.Route', { cluster: clusterName }, UdpProxyRoute) },
          },
        },
      },
    },
    idleTimeout: durationFromMs(model.idleTimeoutMs),
    // SourceIP: every datagram from one client IP hashes to one backend.
    hashPolicies: model.affinity === 'SourceIP' ? [{ policySpecifier: { $case: 'sourceIp', value: true } }] : [],
    usePerPacketLoadBalancing: model.affinity === 'None',
    accessLog: [sessionAccessLog(model)],
  });
  return Listener.fromPartial({
    name: udpListenerName(model.route, model.port),
    address: { address: { $case: 'socketAddress', value: { protocol: SocketAddress_Protocol.UDP, address: model.address, portSpecifier: { $case: 'portValue', value: model.port } } } },
    udpListenerConfig: {},
    ...(transparent && { transparent: true }),
    socketOptions: [mediaReceiveBuffer()],
    listenerFilters: [
      ...filtersBeforeProxy,
      { name: 'envoy.filters.udp_listener.udp_proxy', configType: { $case: 'typedConfig', value: packAny('envoy.extensions.filters.udp.udp_proxy.v3.UdpProxyConfig', proxy, UdpProxyConfig) } },
    ],
  });
}

/** Video frames arrive as bursts of packets; the kernel default (~208 KiB) overflows under load. Linux caps this at net.core.rmem_max. */
export function mediaReceiveBuffer(): SocketOption {
  return {
    description: 'SO_RCVBUF for bursty media',
    level: SOL_SOCKET,
    name: SO_RCVBUF,
    value: { $case: 'intValue', value: MEDIA_RECEIVE_BUFFER_BYTES },
    state: SocketOption_SocketState.STATE_PREBIND,
  };
}

function edsCluster(name: string, model: UdpListenerModel): Cluster {
  return Cluster.fromPartial({
    name,
    clusterDiscoveryType: { $case: 'type', value: Cluster_DiscoveryType.EDS },
    edsClusterConfig: { edsConfig: { configSourceSpecifier: { $case: 'ads', value: {} }, resourceApiVersion: ApiVersion.V3 } },
    connectTimeout: durationFromMs(1000),
    // Hashing needs a hash-aware balancer; otherwise weighted round robin across sessions.
    lbPolicy: model.affinity === 'SourceIP' ? Cluster_LbPolicy.MAGLEV : Cluster_LbPolicy.ROUND_ROBIN,
  });
}

function weightedAssignment(clusterName: string, backends: readonly BackendModel[]): ClusterLoadAssignment {
  return ClusterLoadAssignment.fromPartial({
    clusterName,
    endpoints: backends
      .filter((b) => b.weight > 0 && b.endpoints.length > 0)
      .map((backend) => ({
        locality: { subZone: `${backend.service.namespace}/${backend.service.name}` },
        lbEndpoints: backend.endpoints.map((e) => ({
          hostIdentifier: { $case: 'endpoint', value: { address: { address: { $case: 'socketAddress', value: { protocol: SocketAddress_Protocol.UDP, address: e.address, portSpecifier: { $case: 'portValue', value: e.port } } } } } },
          healthStatus: HealthStatus.HEALTHY,
          loadBalancingWeight: Math.max(1, Math.round((backend.weight * ENDPOINT_WEIGHT_SCALE) / backend.endpoints.length)),
        })),
      })),
  });
}

/** One JSON line per UDP session on Envoy's stdout when the session ends. */
function sessionAccessLog(model: UdpListenerModel) {
  const session = (key: string) => `%DYNAMIC_METADATA(udp.proxy.session:${key})%`;
  const format = {
    kind: 'udp_session',
    route: `${model.route.namespace}/${model.route.name}`,
    listener: udpListenerName(model.route, model.port),
    start: '%START_TIME%',
    downstream: '%DOWNSTREAM_REMOTE_ADDRESS%',
    upstream: '%UPSTREAM_HOST%',
    cluster: session('cluster_name'),
    datagrams_sent: session('datagrams_sent'),
    datagrams_received: session('datagrams_received'),
    // Counted from the client's side: *_received came from the client, *_sent went back to it.
    bytes_sent: '%BYTES_SENT%',
    bytes_received: '%BYTES_RECEIVED%',
    errors_sent: session('errors_sent'),
    duration_ms: '%DURATION%',
  };
  const stdout = StdoutAccessLog.fromPartial({ accessLogFormat: { $case: 'logFormat', value: { format: { $case: 'jsonFormat', value: format } } } });
  return { name: 'envoy.access_loggers.stdout', configType: { $case: 'typedConfig' as const, value: packAny('envoy.extensions.access_loggers.stream.v3.StdoutAccessLog', stdout, StdoutAccessLog) } };
}
