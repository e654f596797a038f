// The static Envoy bootstrap of the UDP bench: one Envoy, two UDP listeners
// on 127.0.0.1, each udp_proxy → its own STATIC cluster → its own sink port:
//
//   plain   [udp_proxy]
//   filter  [mediamesh RTP filter (dynamic module), udp_proxy]
//
// Both listeners live in the same process (and so the same single worker),
// so the two configurations differ only by the filter. The udp_proxy is
// configured like the translator's (xds-server/src/translate/udp-route.ts):
// default udp_listener_config, matcher → route, idle timeout; the cluster is
// STATIC instead of EDS and the per-session access log is left out (it
// writes only when a session ends).

export type ProxiedConfig = 'plain' | 'filter';

export interface ProxiedListener {
  config: ProxiedConfig;
  listenPort: number;
  sinkPort: number;
}

/** The RTP filter's route key: its stats are mediamesh.rtp.<route>.<metric>. */
export const RTP_ROUTE = 'bench.rtp';

export function statPrefix(config: ProxiedConfig): string {
  return config === 'filter' ? 'bench.rtp' : 'bench.plain';
}

export function clusterName(config: ProxiedConfig): string {
  return config === 'filter' ? 'bench_rtp_sink' : 'bench_plain_sink';
}

/** The Envoy stat names a trial reads, for one listener. */
export function statNames(l: ProxiedListener) {
  return {
    listenerDrops: `listener.127.0.0.1_${l.listenPort}.udp.downstream_rx_datagram_dropped`,
    proxyRx: `udp.${statPrefix(l.config)}.downstream_sess_rx_datagrams`,
    proxyRxErrors: `udp.${statPrefix(l.config)}.downstream_sess_rx_errors`,
    upstreamTx: `cluster.${clusterName(l.config)}.udp.sess_tx_datagrams`,
    upstreamTxErrors: `cluster.${clusterName(l.config)}.udp.sess_tx_errors`,
    filterPackets: l.config === 'filter' ? `mediamesh.rtp.${RTP_ROUTE}.packets` : undefined,
    filterLost: l.config === 'filter' ? `mediamesh.rtp.${RTP_ROUTE}.lost` : undefined,
  };
}

/** Only the stats above, in one admin call. */
export const STATS_FILTER = '^(listener\\.127\\.0\\.0\\.1_[0-9]+\\.udp\\.|udp\\.bench\\.|cluster\\.bench_[a-z]+_sink\\.udp\\.|mediamesh\\.rtp\\.)';

export interface BenchFilterSettings {
  modulePath: string;
  /** The filter's gauge_interval_ms; undefined keeps the filter's default. */
  gaugeIntervalMs?: number;
}

function rtpFilter(f: BenchFilterSettings): string {
  const filterConfig = JSON.stringify({ route: RTP_ROUTE, stat_prefix: 'mediamesh', ...(f.gaugeIntervalMs === undefined ? {} : { gauge_interval_ms: f.gaugeIntervalMs }) });
  return `
    - name: envoy.filters.udp_listener.dynamic_modules
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.filters.udp.dynamic_modules.v3.DynamicModuleUdpListenerFilter
        dynamic_module_config:
          name: mediamesh_rtp_filter
          metrics_namespace: mediamesh
          do_not_close: true
          module: { local: { filename: ${JSON.stringify(f.modulePath)} } }
        filter_name: rtp
        filter_config:
          "@type": type.googleapis.com/google.protobuf.StringValue
          value: ${JSON.stringify(filterConfig)}`;
}

function listener(l: ProxiedListener, filter: BenchFilterSettings, rcvbuf: number): string {
  // SOL_SOCKET (1) / SO_RCVBUF (8), set before bind.
  const socketOptions = rcvbuf > 0 ? `
    socket_options:
    - { level: 1, name: 8, int_value: ${rcvbuf}, state: STATE_PREBIND, description: SO_RCVBUF }` : '';
  return `
  - name: udp~bench~${l.config}~${l.listenPort}
    address: { socket_address: { protocol: UDP, address: 127.0.0.1, port_value: ${l.listenPort} } }
    udp_listener_config: {}${socketOptions}
    listener_filters:${l.config === 'filter' ? rtpFilter(filter) : ''}
    - name: envoy.filters.udp_listener.udp_proxy
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.filters.udp.udp_proxy.v3.UdpProxyConfig
        stat_prefix: ${statPrefix(l.config)}
        idle_timeout: 60s
        matcher:
          on_no_match:
            action:
              name: route
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.udp.udp_proxy.v3.Route
                cluster: ${clusterName(l.config)}`;
}

function cluster(l: ProxiedListener): string {
  return `
  - name: ${clusterName(l.config)}
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: ${clusterName(l.config)}
      endpoints:
      - lb_endpoints:
        - endpoint: { address: { socket_address: { protocol: UDP, address: 127.0.0.1, port_value: ${l.sinkPort} } } }`;
}

export function benchBootstrap(listeners: ProxiedListener[], filter: BenchFilterSettings, rcvbuf: number): string {
  return `# mediamesh UDP bench (bench/udp-throughput.ts)
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
static_resources:
  listeners:${listeners.map((l) => listener(l, filter, rcvbuf)).join('')}
  clusters:${listeners.map(cluster).join('')}
`;
}
