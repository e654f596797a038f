// The Envoy bootstrap that points a sidecar at the control plane over ADS
// (gRPC on HTTP/2, optionally mTLS) with admin on a chosen port and the
// proxy's identity in its node metadata: what `mediamesh bootstrap` prints
// and the injector renders into a pod.
import { isIP } from 'node:net';
import { stringify } from 'yaml';
import { NODE_METADATA, type ProxyRole } from '../model/proxy-view.js';
import { capturedByGateway, checkProxyMetadata } from '../xds/proxy-view-of.js';

export interface BootstrapOptions {
  nodeId: string;
  cluster: string;
  xdsHost: string;
  xdsPort: number;
  adminAddress: string;
  adminPort: number;
  /** Incremental xDS (DeltaAggregatedResources) instead of State-of-the-World. */
  delta: boolean;
  /** Where remote extensions (the RTP filter .so, the RTSP filter .wasm) are fetched: the control plane's admin. */
  extensionsHost?: string;
  /** Defaults to 9090, the control plane's default admin port, on the xDS host. */
  extensionsPort?: number;
  /** The proxy's namespace; without one the proxy is a gateway. */
  namespace?: string;
  podIp?: string;
  /** Default: sidecar when a namespace is given, else gateway. */
  role?: ProxyRole;
  /**
   * A sidecar's captured ports, as the interception script is given them
   * ("554,8554"): the control plane makes the listeners the script sends
   * this traffic to (the RTSP entry, inbound RTSP and UDP).
   */
  capturedPorts?: BootstrapCapturedPorts;
  /** xDS over mTLS: paths as Envoy will see them. */
  tls?: BootstrapTls;
}

export interface BootstrapCapturedPorts {
  /** Outbound RTSP ports (the script's --rtsp-ports). */
  rtspPorts?: string;
  inboundRtspPorts?: string;
  inboundUdpPorts?: string;
}

export interface BootstrapTls {
  /** The proxy's certificate (its SPIFFE id as URI SAN) and key, presented to the control plane. */
  cert: string;
  key: string;
  /** The CA the control plane's certificate must chain to. */
  ca: string;
}

export const XDS_CLUSTER = 'mediamesh-xds';
export const EXTENSIONS_CLUSTER = 'mediamesh-extensions';

export function parseHostPort(text: string, defaultPort: number): { host: string; port: number } {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  const [host, port] = bracketed ? [bracketed[1]!, bracketed[2]] : (() => {
    const i = text.lastIndexOf(':');
    return i > 0 && text.indexOf(':') === i ? [text.slice(0, i), text.slice(i + 1)] : [text, undefined];
  })();
  const portNumber = port === undefined ? defaultPort : Number(port);
  if (!host || !Number.isInteger(portNumber) || portNumber < 1 || portNumber > 65535) throw new Error(`bad address "${text}": expected host:port`);
  return { host, port: portNumber };
}

/** Checks namespace, pod IP, role and captured ports the way the control plane will; throws naming the flag. */
export function proxyMetadata(o: Pick<BootstrapOptions, 'namespace' | 'podIp' | 'role' | 'capturedPorts'>): Record<string, string> {
  const flags = {
    namespace: '--namespace', podIp: '--pod-ip', role: '--role',
    rtspPorts: '--rtsp-ports', inboundRtspPorts: '--inbound-rtsp-ports', inboundUdpPorts: '--inbound-udp-ports',
  } as const;
  const lists = o.capturedPorts ?? {};
  const values = { namespace: o.namespace, podIp: o.podIp, role: o.role, ...lists };
  const checked = checkProxyMetadata(values, (key) => flags[key]);
  if (!checked.ok) throw new Error(checked.errors.join('; '));
  const { namespace, podIp } = checked.value;
  const role = checked.value.role ?? (namespace === undefined ? 'gateway' : 'sidecar');
  if (role === 'sidecar' && namespace === undefined) throw new Error('--role sidecar needs --namespace (a proxy without a namespace is a gateway)');
  if (role !== 'sidecar' && checked.value.captured !== undefined) throw new Error(capturedByGateway(values, (key) => flags[key]));
  // Only lists that capture something: an empty one says what no list says.
  const listed = (key: keyof BootstrapCapturedPorts) => (lists[key]?.trim() ? { [NODE_METADATA[key]]: lists[key].trim() } : {});
  return {
    ...(namespace !== undefined && { [NODE_METADATA.namespace]: namespace }),
    ...(podIp !== undefined && { [NODE_METADATA.podIp]: podIp }),
    [NODE_METADATA.role]: role,
    ...listed('rtspPorts'),
    ...listed('inboundRtspPorts'),
    ...listed('inboundUdpPorts'),
  };
}

/**
 * Envoy presents the proxy's certificate and checks the control plane's:
 * chained to the CA, and naming the host Envoy dials (an IP SAN for an IP,
 * a DNS SAN, also sent as SNI, for a name).
 */
export function xdsTlsTransportSocket(tls: BootstrapTls, xdsHost: string): Record<string, unknown> {
  const ip = isIP(xdsHost) !== 0;
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
      // SNI carries host names only (RFC 6066).
      ...(!ip && { sni: xdsHost }),
      common_tls_context: {
        // grpc-js (Node's HTTP/2) refuses a TLS connection that does not negotiate h2.
        alpn_protocols: ['h2'],
        tls_certificates: [{ certificate_chain: { filename: tls.cert }, private_key: { filename: tls.key } }],
        validation_context: {
          trusted_ca: { filename: tls.ca },
          match_typed_subject_alt_names: [{ san_type: ip ? 'IP_ADDRESS' : 'DNS', matcher: { exact: xdsHost } }],
        },
      },
    },
  };
}

/**
 * Prometheus labels for the RTSP filter's stats. Envoy keeps Wasm metrics as
 * wasmcustom.mediamesh.rtsp.<namespace>.<route>.<stat>; these tag extractors
 * turn the route, the method, the status class and the direction into labels,
 * so /stats/prometheus shows e.g.
 *   mediamesh_rtsp_requests{rtsp_route="media.cameras",rtsp_method="SETUP"} 1
 * (/stats keeps the full names).
 */
export const RTSP_STATS_TAGS = [
  { tag_name: 'rtsp_route', regex: '^wasmcustom\\.mediamesh\\.rtsp\\.((.+?)\\.)(?:connections_|requests|responses\\.|sessions_|setup_latency|bytes\\.|no_route|parse_errors|bad_requests|rtp\\.|relays\\.|transport_refused)' },
  { tag_name: 'rtsp_method', regex: '^wasmcustom\\.mediamesh\\.rtsp\\..+\\.requests(\\.([A-Z_]+|other))$' },
  { tag_name: 'rtsp_status_class', regex: '^wasmcustom\\.mediamesh\\.rtsp\\..+\\.responses(\\.([1-5]xx))$' },
  { tag_name: 'rtsp_direction', regex: '^wasmcustom\\.mediamesh\\.rtsp\\..+\\.bytes(\\.(client_to_server|server_to_client))$' },
] as const;

export function bootstrapConfig(o: BootstrapOptions): Record<string, unknown> {
  const extensionsHost = o.extensionsHost ?? o.xdsHost;
  const extensionsPort = o.extensionsPort ?? 9090;
  const socketAddress = (address: string, port: number) => ({ socket_address: { address, port_value: port } });
  const adsSource = { ads: {}, resource_api_version: 'V3' };
  return {
    node: { id: o.nodeId, cluster: o.cluster, metadata: { 'mediamesh.io/bootstrap': 'v1', ...proxyMetadata(o) } },
    admin: { address: socketAddress(o.adminAddress, o.adminPort) },
    // Internal listeners (Envoy-to-Envoy sockets with no port): the RTSP filter's
    // refusals are echoed back to the client by one (translate/rtsp-route.ts).
    stats_config: { stats_tags: RTSP_STATS_TAGS },
    bootstrap_extensions: [{
      name: 'envoy.bootstrap.internal_listener',
      typed_config: { '@type': 'type.googleapis.com/envoy.extensions.bootstrap.internal_listener.v3.InternalListener' },
    }],
    dynamic_resources: {
      ads_config: {
        api_type: o.delta ? 'DELTA_GRPC' : 'GRPC',
        transport_api_version: 'V3',
        set_node_on_first_message_only: true,
        grpc_services: [{
          envoy_grpc: { cluster_name: XDS_CLUSTER },
          // Reconnect quickly when the control plane restarts; config keeps serving meanwhile.
          retry_policy: { retry_back_off: { base_interval: '0.25s', max_interval: '5s' } },
        }],
      },
      cds_config: adsSource,
      lds_config: adsSource,
    },
    static_resources: {
      clusters: [{
        name: XDS_CLUSTER,
        type: isIP(o.xdsHost) ? 'STATIC' : 'STRICT_DNS',
        connect_timeout: '1s',
        typed_extension_protocol_options: {
          'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
            '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
            explicit_http_config: { http2_protocol_options: { connection_keepalive: { interval: '30s', timeout: '10s' } } },
          },
        },
        ...(o.tls && { transport_socket: xdsTlsTransportSocket(o.tls, o.xdsHost) }),
        load_assignment: {
          cluster_name: XDS_CLUSTER,
          endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress(o.xdsHost, o.xdsPort) } }] }],
        },
      }, {
        // Plain HTTP/1.1 to the control plane's admin, for extensions pushed as remote sources.
        // It stays plain under mTLS too: the admin port serves no TLS, and each file is
        // checked against the sha256 the (authenticated) xDS config names.
        name: EXTENSIONS_CLUSTER,
        type: isIP(extensionsHost) ? 'STATIC' : 'STRICT_DNS',
        connect_timeout: '1s',
        load_assignment: {
          cluster_name: EXTENSIONS_CLUSTER,
          endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress(extensionsHost, extensionsPort) } }] }],
        },
      }],
    },
  };
}

export function bootstrapYaml(o: BootstrapOptions): string {
  return stringify(bootstrapConfig(o));
}
