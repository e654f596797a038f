// JSON for people: resources with their Any fields unpacked (with "@type"),
// as Envoy's own /config_dump shows them. Used by debug endpoints and golden tests.
import { Cluster } from '../gen/envoy/config/cluster/v3/cluster.js';
import { ClusterLoadAssignment } from '../gen/envoy/config/endpoint/v3/endpoint.js';
import { Listener } from '../gen/envoy/config/listener/v3/listener.js';
import { RouteConfiguration } from '../gen/envoy/config/route/v3/route.js';
import { StdoutAccessLog } from '../gen/envoy/extensions/access_loggers/stream/v3/stream.js';
import { Router } from '../gen/envoy/extensions/filters/http/router/v3/router.js';
import { HttpConnectionManager } from '../gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js';
import { Echo } from '../gen/envoy/extensions/filters/network/echo/v3/echo.js';
import { OriginalDst } from '../gen/envoy/extensions/filters/listener/original_dst/v3/original_dst.js';
import { Route as UdpProxyRoute } from '../gen/envoy/extensions/filters/udp/udp_proxy/v3/route.js';
import { UdpProxyConfig } from '../gen/envoy/extensions/filters/udp/udp_proxy/v3/udp_proxy.js';
import { Secret } from '../gen/envoy/extensions/transport_sockets/tls/v3/secret.js';
import { StringValue } from '../gen/google/protobuf/wrappers.js';
import { DynamicModuleUdpListenerFilter } from '../gen/mediamesh/envoy/dynamic_modules.js';
import { TcpProxy } from '../gen/mediamesh/envoy/tcp_proxy.js';
import { WasmNetworkFilter } from '../gen/mediamesh/envoy/wasm.js';

interface Codec {
  decode(bytes: Uint8Array): unknown;
  toJSON(message: never): unknown;
}

const codecs: Record<string, Codec> = {
  'envoy.config.cluster.v3.Cluster': Cluster,
  'envoy.config.endpoint.v3.ClusterLoadAssignment': ClusterLoadAssignment,
  'envoy.config.listener.v3.Listener': Listener,
  'envoy.config.route.v3.RouteConfiguration': RouteConfiguration,
  'envoy.extensions.transport_sockets.tls.v3.Secret': Secret,
  'envoy.extensions.filters.udp.udp_proxy.v3.UdpProxyConfig': UdpProxyConfig,
  'envoy.extensions.filters.udp.udp_proxy.v3.Route': UdpProxyRoute,
  'envoy.extensions.filters.udp.dynamic_modules.v3.DynamicModuleUdpListenerFilter': DynamicModuleUdpListenerFilter,
  // Our declarations of the newer Envoy messages we send (proto/mediamesh/envoy/).
  'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy': TcpProxy,
  'envoy.extensions.filters.network.wasm.v3.Wasm': WasmNetworkFilter,
  'envoy.extensions.filters.network.echo.v3.Echo': Echo,
  'envoy.extensions.filters.listener.original_dst.v3.OriginalDst': OriginalDst,
  'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager': HttpConnectionManager,
  'envoy.extensions.filters.http.router.v3.Router': Router,
  'envoy.extensions.access_loggers.stream.v3.StdoutAccessLog': StdoutAccessLog,
  'google.protobuf.StringValue': StringValue,
};

/** Replaces every {typeUrl, value} Any in a toJSON() tree with its decoded form. */
export function unpackAnys(json: unknown): unknown {
  if (Array.isArray(json)) return json.map(unpackAnys);
  if (json === null || typeof json !== 'object') return json;
  const obj = json as Record<string, unknown>;
  // An Any of an empty message (Echo) has no value on the wire, so none in JSON either.
  const value = obj.value ?? '';
  if (typeof obj.typeUrl === 'string' && typeof value === 'string' && Object.keys(obj).length === ('value' in obj ? 2 : 1)) {
    const typeName = obj.typeUrl.replace(/^type\.googleapis\.com\//, '');
    const codec = codecs[typeName];
    if (codec) return { '@type': obj.typeUrl, ...(unpackAnys(codec.toJSON(codec.decode(Buffer.from(value, 'base64')) as never)) as object) };
  }
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, unpackAnys(v)]));
}
