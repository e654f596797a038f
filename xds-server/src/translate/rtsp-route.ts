// RtspRoute listeners → Envoy: a TCP listener whose filter chain is
// [RTSP Wasm filter, tcp_proxy]. The filter reads the first request, matches
// its URL against the route's rules and sets envoy.tcp_proxy.cluster to the
// matching rule's cluster; tcp_proxy (upstream_connect_mode
// ON_DOWNSTREAM_DATA) then connects there. Each rule has one EDS cluster whose
// endpoints are its backends' endpoints weighted by backend (canary across
// sessions), health-checked with an RTSP OPTIONS and ejected after
// consecutive connect failures, so a dead backend stops getting sessions
// without the filter having to know.
import { Cluster, Cluster_DiscoveryType, Cluster_LbPolicy } from '../gen/envoy/config/cluster/v3/cluster.js';
import { SocketAddress_Protocol } from '../gen/envoy/config/core/v3/address.js';
import { ApiVersion } from '../gen/envoy/config/core/v3/config_source.js';
import { HealthStatus } from '../gen/envoy/config/core/v3/health_check.js';
import { ClusterLoadAssignment } from '../gen/envoy/config/endpoint/v3/endpoint.js';
import { Listener } from '../gen/envoy/config/listener/v3/listener.js';
import { StdoutAccessLog } from '../gen/envoy/extensions/access_loggers/stream/v3/stream.js';
import { Echo } from '../gen/envoy/extensions/filters/network/echo/v3/echo.js';
import { TcpProxy, UpstreamConnectMode } from '../gen/mediamesh/envoy/tcp_proxy.js';
import type { BackendModel, RtspListenerModel, RtspRuleModel } from '../model/ir.js';
import { emptyResources, type EnvoyResources, packAny } from '../xds/resources.js';
import { RTSP_REJECT_CLUSTER, RTSP_REJECT_LISTENER, rtspClusterName, rtspListenerName, rtspStatPrefix } from './names.js';
import { durationFromMs } from './proto-values.js';
import { type RtspFilterSource, type RtspRelaysConfig, rtspNetworkFilter } from './rtsp-filter.js';

/** Each backend's weight is spread over its endpoints; this keeps integer shares precise. */
const ENDPOINT_WEIGHT_SCALE = 1000;
/** What tcp_proxy holds while it connects; the first request's head is far smaller (the filter's limits). */
export const EARLY_DATA_BYTES = 64 * 1024;
/** A failed connect is retried once, on whichever endpoint the balancer picks next. */
const CONNECT_ATTEMPTS = 2;

export const RTSP_HEALTH_CHECK_REQUEST = 'OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n';
export const RTSP_HEALTH_CHECK_REPLY = 'RTSP/1.0 200';

export interface RtspTranslateOptions {
  /** Where Envoy loads the RTSP filter from; RTSP routes need it. */
  rtspFilter?: RtspFilterSource;
  /** UDP transport gets relays from the control plane through this bootstrap cluster (serve --relay-ports). */
  rtspRelays?: { cluster: string; timeoutMs: number };
  /** A sidecar's view: the proxy shares its clients' network namespace. */
  transparent?: boolean;
  /**
   * false: the listener binds no socket and takes the connections a
   * use_original_dst listener hands it (an intercepted sidecar's outbound
   * RTSP entry, interception-listeners.ts). Default true.
   */
  bindToPort?: boolean;
}

export function translateRtspListener(model: RtspListenerModel, options: RtspTranslateOptions = {}): EnvoyResources {
  if (!options.rtspFilter) {
    throw new Error('RtspRoute needs the RTSP filter (mediamesh_rtsp_filter.wasm), and none is configured (build it with `npm run setup`, or pass --rtsp-filter)');
  }
  const resources = emptyResources();
  const bindToPort = options.bindToPort !== false;
  // A sidecar's client is in its own network namespace: it reaches the relays at its own address.
  const relays = relaysConfig(options, options.transparent || !bindToPort ? 'client' : 'local');
  resources.listeners.push(rtspListener(model, options.rtspFilter, bindToPort, relays));
  for (const rule of model.rules) {
    const name = rtspClusterName(model.route, model.port, rule.index);
    resources.clusters.push(ruleCluster(name, model));
    resources.endpoints.push(weightedAssignment(name, rule));
  }
  return resources;
}

export function relaysConfig(options: RtspTranslateOptions, source: RtspRelaysConfig['source']): RtspRelaysConfig | undefined {
  return options.rtspRelays && { cluster: options.rtspRelays.cluster, timeout_ms: options.rtspRelays.timeoutMs, source };
}

function rtspListener(model: RtspListenerModel, filterSource: RtspFilterSource, bindToPort: boolean, relays: RtspRelaysConfig | undefined): Listener {
  const proxy = TcpProxy.fromPartial({
    statPrefix: rtspStatPrefix(model.route, model.port),
    // Used only if the filter could not set envoy.tcp_proxy.cluster: nothing unrouted reaches a backend.
    cluster: RTSP_REJECT_CLUSTER,
    idleTimeout: durationFromMs(model.idleTimeoutMs),
    maxConnectAttempts: CONNECT_ATTEMPTS,
    upstreamConnectMode: UpstreamConnectMode.ON_DOWNSTREAM_DATA,
    maxEarlyDataBytes: EARLY_DATA_BYTES,
    accessLog: [connectionAccessLog(model)],
  });
  return Listener.fromPartial({
    name: rtspListenerName(model.route, model.port),
    address: { address: { $case: 'socketAddress', value: { protocol: SocketAddress_Protocol.TCP, address: model.address, portSpecifier: { $case: 'portValue', value: model.port } } } },
    ...(!bindToPort && { bindToPort: false }),
    filterChains: [{
      filters: [
        rtspNetworkFilter(model, filterSource, relays),
        { name: 'envoy.filters.network.tcp_proxy', configType: { $case: 'typedConfig', value: packAny('envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', proxy, TcpProxy) } },
      ],
    }],
  });
}

function ruleCluster(name: string, model: RtspListenerModel): Cluster {
  const hc = model.healthCheck;
  const od = model.outlierDetection;
  return Cluster.fromPartial({
    name,
    clusterDiscoveryType: { $case: 'type', value: Cluster_DiscoveryType.EDS },
    edsClusterConfig: { edsConfig: { configSourceSpecifier: { $case: 'ads', value: {} }, resourceApiVersion: ApiVersion.V3 } },
    connectTimeout: durationFromMs(model.connectTimeoutMs),
    lbPolicy: Cluster_LbPolicy.ROUND_ROBIN,
    healthChecks: [{
      timeout: durationFromMs(hc.timeoutMs),
      interval: durationFromMs(hc.intervalMs),
      // Envoy's default is 60 s for a cluster without traffic: a dead camera would stay "healthy" that long.
      noTrafficInterval: durationFromMs(hc.intervalMs),
      unhealthyThreshold: hc.unhealthyThreshold,
      healthyThreshold: hc.healthyThreshold,
      healthChecker: {
        $case: 'tcpHealthCheck',
        value: {
          send: { payload: { $case: 'text', value: hex(RTSP_HEALTH_CHECK_REQUEST) } },
          receive: [{ payload: { $case: 'text', value: hex(RTSP_HEALTH_CHECK_REPLY) } }],
        },
      },
    }],
    outlierDetection: {
      // Connect failures are local-origin errors for tcp_proxy; counted on their own, they eject.
      splitExternalLocalOriginErrors: true,
      consecutiveLocalOriginFailure: od.consecutiveFailures,
      enforcingConsecutiveLocalOriginFailure: 100,
      enforcingConsecutive5xx: 0,
      enforcingConsecutiveGatewayFailure: 0,
      enforcingSuccessRate: 0,
      enforcingLocalOriginSuccessRate: 0,
      interval: durationFromMs(od.intervalMs),
      baseEjectionTime: durationFromMs(od.baseEjectionTimeMs),
      maxEjectionPercent: 100,
    },
    // No panic mode: with every endpoint unhealthy, sessions fail instead of going to dead backends.
    commonLbConfig: { healthyPanicThreshold: { value: 0 } },
  });
}

function weightedAssignment(clusterName: string, rule: RtspRuleModel): ClusterLoadAssignment {
  return ClusterLoadAssignment.fromPartial({
    clusterName,
    endpoints: rule.backends
      .filter((b) => b.weight > 0 && b.endpoints.length > 0)
      .map((backend: BackendModel) => ({
        locality: { subZone: `${backend.service.namespace}/${backend.service.name}` },
        lbEndpoints: backend.endpoints.map((e) => ({
          hostIdentifier: { $case: 'endpoint', value: { address: { address: { $case: 'socketAddress', value: { protocol: SocketAddress_Protocol.TCP, address: e.address, portSpecifier: { $case: 'portValue', value: e.port } } } } } },
          healthStatus: HealthStatus.HEALTHY,
          loadBalancingWeight: Math.max(1, Math.round((backend.weight * ENDPOINT_WEIGHT_SCALE) / backend.endpoints.length)),
        })),
      })),
  });
}

/**
 * What every proxy with an RtspRoute needs once: the internal listener that
 * echoes the filter's own answers (404, 400) back to the client, and the
 * cluster that reaches it. Envoy's Wasm network filter cannot write to the
 * client itself; it replaces the held request with its answer and sends that
 * here. Internal listeners need the bootstrap extension
 * envoy.bootstrap.internal_listener (`mediamesh bootstrap` adds it).
 */
export function rtspSharedResources(): EnvoyResources {
  return rtspRejectResources(RTSP_REJECT_LISTENER);
}

/** An internal listener that echoes what it gets, and its cluster (both named `name`): where the RTSP filter's refusals come back from. */
export function rtspRejectResources(name: string): EnvoyResources {
  const resources = emptyResources();
  resources.listeners.push(Listener.fromPartial({
    name,
    listenerSpecifier: { $case: 'internalListener', value: {} },
    filterChains: [{
      filters: [{ name: 'envoy.filters.network.echo', configType: { $case: 'typedConfig', value: packAny('envoy.extensions.filters.network.echo.v3.Echo', {}, Echo) } }],
    }],
  }));
  resources.clusters.push(Cluster.fromPartial({
    name,
    clusterDiscoveryType: { $case: 'type', value: Cluster_DiscoveryType.STATIC },
    connectTimeout: durationFromMs(1000),
    loadAssignment: {
      clusterName: name,
      endpoints: [{ lbEndpoints: [{ hostIdentifier: { $case: 'endpoint', value: { address: { address: { $case: 'envoyInternalAddress', value: { addressNameSpecifier: { $case: 'serverListenerName', value: name } } } } } } }] }],
    },
  }));
  return resources;
}

/** One JSON line per RTSP connection on Envoy's stdout when it ends: which rule's cluster and which backend served it. */
function connectionAccessLog(model: RtspListenerModel) {
  const format = {
    kind: 'rtsp_connection',
    route: `${model.route.namespace}/${model.route.name}`,
    listener: rtspListenerName(model.route, model.port),
    start: '%START_TIME%',
    downstream: '%DOWNSTREAM_REMOTE_ADDRESS%',
    cluster: '%UPSTREAM_CLUSTER%',
    upstream: '%UPSTREAM_HOST%',
    bytes_received: '%BYTES_RECEIVED%',
    bytes_sent: '%BYTES_SENT%',
    flags: '%RESPONSE_FLAGS%',
    duration_ms: '%DURATION%',
  };
  const stdout = StdoutAccessLog.fromPartial({ accessLogFormat: { $case: 'logFormat', value: { format: { $case: 'jsonFormat', value: format } } } });
  return { name: 'envoy.access_loggers.stdout', configType: { $case: 'typedConfig' as const, value: packAny('envoy.extensions.access_loggers.stream.v3.StdoutAccessLog', stdout, StdoutAccessLog) } };
}

function hex(text: string): string {
  return Buffer.from(text, 'latin1').toString('hex').toUpperCase();
}
