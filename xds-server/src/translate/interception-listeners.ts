// A sidecar's listeners where the interception script
// (manifests/interception/mediamesh-intercept.sh) sends its pod's traffic,
// made from the ports the pod declares (ProxyView.captured):
//
//   outbound RTSP: the script REDIRECTs it to 127.0.0.1:15101. The entry
//     listener there restores the original destination (original_dst
//     listener filter) and, with use_original_dst, hands the connection to
//     the RtspRoute listener of that Service address and port (which binds
//     nothing: RtspTranslateOptions.bindToPort). A connection no RtspRoute
//     listener takes stays on the entry and passes through to where it was
//     going (ORIGINAL_DST cluster): RTSP to a camera outside the mesh works.
//   inbound RTSP: REDIRECTed to 15106; passed on to the app at its original
//     destination (the pod's address and the port the client dialled). With
//     UDP relays (serve --relay-ports) the RTSP filter runs there too, with
//     one catch-all rule: a UDP-transport session between two sidecars gets
//     relays on both, since the app sends its media to where its RTSP
//     connection comes from, which is this proxy, not the client's.
//   inbound UDP: the n-th declared port (ascending) arrives on 15200 + n, a
//     UDP listener cannot learn the original port, and goes on to the app at
//     127.0.0.1:<port>, through the RTP filter when it is configured.
//
// None of them depends on the model: one translation per distinct set of
// captured ports.
import { Cluster, Cluster_DiscoveryType, Cluster_LbPolicy } from '../gen/envoy/config/cluster/v3/cluster.js';
import { SocketAddress_Protocol } from '../gen/envoy/config/core/v3/address.js';
import { Listener } from '../gen/envoy/config/listener/v3/listener.js';
import type { Filter, ListenerFilter } from '../gen/envoy/config/listener/v3/listener_components.js';
import { OriginalDst } from '../gen/envoy/extensions/filters/listener/original_dst/v3/original_dst.js';
import { Route as UdpProxyRoute } from '../gen/envoy/extensions/filters/udp/udp_proxy/v3/route.js';
import { UdpProxyConfig } from '../gen/envoy/extensions/filters/udp/udp_proxy/v3/udp_proxy.js';
import { TcpProxy, UpstreamConnectMode } from '../gen/mediamesh/envoy/tcp_proxy.js';
import { type CapturedPorts, INBOUND_RTSP_PROXY_PORT, INBOUND_UDP_PROXY_BASE, OUTBOUND_RTSP_PROXY_PORT } from '../interception/captured-ports.js';
import { addResources, emptyResources, type EnvoyResources, packAny } from '../xds/resources.js';
import {
  INBOUND_RTSP_CLUSTER, INBOUND_RTSP_LISTENER, INBOUND_RTSP_REJECT, INBOUND_RTSP_STAT_ROUTE, INBOUND_RTSP_STAT_PREFIX, inboundUdpName, inboundUdpStatPrefix, OUTBOUND_PASSTHROUGH_CLUSTER, OUTBOUND_PASSTHROUGH_STAT_PREFIX,
  OUTBOUND_RTSP_ENTRY_LISTENER,
} from './names.js';
import { durationFromMs } from './proto-values.js';
import { type RtpModuleSource, rtpFilterFor } from './rtp-filter.js';
import { type RtspFilterConfig, rtspWasmFilter } from './rtsp-filter.js';
import { EARLY_DATA_BYTES, relaysConfig, rtspRejectResources, type RtspTranslateOptions } from './rtsp-route.js';
import { mediaReceiveBuffer } from './udp-route.js';

export interface InterceptionTranslateOptions extends Pick<RtspTranslateOptions, 'rtspFilter' | 'rtspRelays'> {
  /** Inbound UDP gets the RTP filter (its stats: mediamesh.rtp.inbound.<port>.*) when there is one. */
  rtpModule?: RtpModuleSource;
}

/** Every listener and cluster the captured ports need. */
export function interceptionResources(captured: CapturedPorts, options: InterceptionTranslateOptions = {}): EnvoyResources {
  const resources = emptyResources();
  if (captured.outboundRtsp) {
    resources.listeners.push(tcpListener(OUTBOUND_RTSP_ENTRY_LISTENER, '127.0.0.1', OUTBOUND_RTSP_PROXY_PORT, OUTBOUND_PASSTHROUGH_STAT_PREFIX, OUTBOUND_PASSTHROUGH_CLUSTER, true));
    resources.clusters.push(originalDestinationCluster(OUTBOUND_PASSTHROUGH_CLUSTER));
  }
  if (captured.inboundRtsp) {
    const filter = inboundRtspFilter(options);
    resources.listeners.push(tcpListener(INBOUND_RTSP_LISTENER, '0.0.0.0', INBOUND_RTSP_PROXY_PORT, INBOUND_RTSP_STAT_PREFIX, INBOUND_RTSP_CLUSTER, false, filter));
    resources.clusters.push(originalDestinationCluster(INBOUND_RTSP_CLUSTER));
    if (filter) addResources(resources, rtspRejectResources(INBOUND_RTSP_REJECT));
  }
  captured.inboundUdp.forEach((appPort, index) => {
    resources.listeners.push(inboundUdpListener(appPort, INBOUND_UDP_PROXY_BASE + index, options.rtpModule));
    resources.clusters.push(loopbackUdpCluster(inboundUdpName(appPort), appPort));
  });
  return resources;
}

/** The RTSP filter for inbound sessions, when there are relays to ask for: every path to the app. */
function inboundRtspFilter(options: InterceptionTranslateOptions): Filter | undefined {
  const relays = relaysConfig(options, 'local');
  if (!relays || !options.rtspFilter) return undefined;
  const config: RtspFilterConfig = {
    route: INBOUND_RTSP_STAT_ROUTE,
    matches: [{ path: { type: 'PathPrefix', value: '/' }, rule: 0, cluster: INBOUND_RTSP_CLUSTER, transport: 'Auto' }],
    reject_cluster: INBOUND_RTSP_REJECT,
    relays,
  };
  return rtspWasmFilter(INBOUND_RTSP_LISTENER, config, options.rtspFilter);
}

const originalDstFilter: ListenerFilter = {
  name: 'envoy.filters.listener.original_dst',
  configType: { $case: 'typedConfig', value: packAny('envoy.extensions.filters.listener.original_dst.v3.OriginalDst', {}, OriginalDst) },
};

function socketAddress(protocol: SocketAddress_Protocol, address: string, port: number) {
  return { address: { $case: 'socketAddress' as const, value: { protocol, address, portSpecifier: { $case: 'portValue' as const, value: port } } } };
}

/**
 * A REDIRECTed TCP port: the original destination restored (SO_ORIGINAL_DST),
 * then tcp_proxy to an ORIGINAL_DST cluster, which connects there. The
 * proxy's own connections are never captured again (the script exempts its
 * UID/GID).
 */
function tcpListener(name: string, address: string, port: number, statPrefix: string, cluster: string, useOriginalDst: boolean, rtspFilter?: Filter): Listener {
  // Behind the RTSP filter, tcp_proxy connects once the first request is read (rtsp-route.ts).
  const proxy = TcpProxy.fromPartial({ statPrefix, cluster, ...(rtspFilter && { upstreamConnectMode: UpstreamConnectMode.ON_DOWNSTREAM_DATA, maxEarlyDataBytes: EARLY_DATA_BYTES }) });
  return Listener.fromPartial({
    name,
    address: socketAddress(SocketAddress_Protocol.TCP, address, port),
    ...(useOriginalDst && { useOriginalDst: true }),
    listenerFilters: [originalDstFilter],
    filterChains: [{
      filters: [
        ...(rtspFilter ? [rtspFilter] : []),
        { name: 'envoy.filters.network.tcp_proxy', configType: { $case: 'typedConfig', value: packAny('envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', proxy, TcpProxy) } },
      ],
    }],
  });
}

function originalDestinationCluster(name: string): Cluster {
  return Cluster.fromPartial({
    name,
    clusterDiscoveryType: { $case: 'type', value: Cluster_DiscoveryType.ORIGINAL_DST },
    lbPolicy: Cluster_LbPolicy.CLUSTER_PROVIDED,
    connectTimeout: durationFromMs(1000),
  });
}

function inboundUdpListener(appPort: number, proxyPort: number, rtpModule: RtpModuleSource | undefined): Listener {
  const name = inboundUdpName(appPort);
  const proxy = UdpProxyConfig.fromPartial({
    statPrefix: inboundUdpStatPrefix(appPort),
    routeSpecifier: {
      $case: 'matcher',
      value: {
        onNoMatch: {
          onMatch: { $case: 'action', value: { name: 'route', typedConfig: packAny('envoy.extensions.filters.udp.udp_proxy.v3.Route', { cluster: name }, UdpProxyRoute) } },
        },
      },
    },
  });
  return Listener.fromPartial({
    name,
    address: socketAddress(SocketAddress_Protocol.UDP, '0.0.0.0', proxyPort),
    udpListenerConfig: {},
    socketOptions: [mediaReceiveBuffer()],
    listenerFilters: [
      // No clock rates are known for a port (they come with a UdpRoute): jitter is not measured here, loss and order are.
      ...(rtpModule ? [rtpFilterFor(inboundUdpStatPrefix(appPort), {}, rtpModule)] : []),
      { name: 'envoy.filters.udp_listener.udp_proxy', configType: { $case: 'typedConfig', value: packAny('envoy.extensions.filters.udp.udp_proxy.v3.UdpProxyConfig', proxy, UdpProxyConfig) } },
    ],
  });
}

function loopbackUdpCluster(name: string, appPort: number): Cluster {
  return Cluster.fromPartial({
    name,
    clusterDiscoveryType: { $case: 'type', value: Cluster_DiscoveryType.STATIC },
    connectTimeout: durationFromMs(1000),
    loadAssignment: {
      clusterName: name,
      endpoints: [{ lbEndpoints: [{ hostIdentifier: { $case: 'endpoint', value: { address: socketAddress(SocketAddress_Protocol.UDP, '127.0.0.1', appPort) } } }] }],
    },
  });
}
