// `mediamesh bootstrap`: the Envoy bootstrap that points a sidecar at the
// control plane over ADS (gRPC on HTTP/2) with admin on a chosen port.
import { isIP } from 'node:net';
import { stringify } from 'yaml';

export interface BootstrapOptions {
  nodeId: string;
  cluster: string;
  xdsHost: string;
  xdsPort: number;
  adminAddress: string;
  adminPort: number;
  /** Incremental xDS (DeltaAggregatedResources) instead of State-of-the-World. */
  delta: boolean;
  /** Where remote extensions (the RTP filter .so) are fetched: the control plane's admin. */
  extensionsHost?: string;
  /** Defaults to 9090, the control plane's default admin port, on the xDS host. */
  extensionsPort?: number;
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

export function bootstrapConfig(o: BootstrapOptions): Record<string, unknown> {
  const extensionsHost = o.extensionsHost ?? o.xdsHost;
  const extensionsPort = o.extensionsPort ?? 9090;
  const socketAddress = (address: string, port: number) => ({ socket_address: { address, port_value: port } });
  const adsSource = { ads: {}, resource_api_version: 'V3' };
  return {
    node: { id: o.nodeId, cluster: o.cluster, metadata: { 'mediamesh.io/bootstrap': 'v1' } },
    admin: { address: socketAddress(o.adminAddress, o.adminPort) },
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
        load_assignment: {
          cluster_name: XDS_CLUSTER,
          endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress(o.xdsHost, o.xdsPort) } }] }],
        },
      }, {
        // Plain HTTP/1.1 to the control plane's admin, for extensions pushed as remote sources.
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
