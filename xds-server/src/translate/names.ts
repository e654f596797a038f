// Resource and stat names a person can trace back to the CR that made them.
import type { RouteId } from '../model/ir.js';

export function udpListenerName(route: RouteId, port: number): string {
  return `udp~${route.namespace}~${route.name}~${port}`;
}

/** UdpRoutes get one cluster per listener: its endpoints carry the backend weights. */
export function udpClusterName(route: RouteId, port: number): string {
  return udpListenerName(route, port);
}

export function serviceClusterName(service: RouteId, port: number): string {
  return `svc~${service.namespace}~${service.name}~${port}`;
}

/** udp_proxy stats appear as udp.<prefix>.* in Envoy admin. */
export function udpStatPrefix(route: RouteId, port: number): string {
  return `${route.namespace}.${route.name}.${port}`;
}

export function rtspListenerName(route: RouteId, port: number): string {
  return `rtsp~${route.namespace}~${route.name}~${port}`;
}

/** One cluster per rule of an RtspRoute listener: its endpoints carry the rule's backend weights. */
export function rtspClusterName(route: RouteId, port: number, ruleIndex: number): string {
  return `${rtspListenerName(route, port)}~${ruleIndex}`;
}

/** tcp_proxy stats appear as tcp.rtsp.<prefix>.* in Envoy admin. */
export function rtspStatPrefix(route: RouteId, port: number): string {
  return `rtsp.${route.namespace}.${route.name}.${port}`;
}

/** The route key in the RTSP filter's stat names: mediamesh.rtsp.<namespace>.<name>.*. */
export function rtspStatRoute(route: RouteId): string {
  return `${route.namespace}.${route.name}`;
}

/**
 * Where the RTSP filter sends the answers it gives itself (404, 400): an
 * internal listener that echoes them back, and the cluster that reaches it.
 * One of each per proxy, shared by every RtspRoute.
 */
export const RTSP_REJECT_LISTENER = 'mediamesh-rtsp-reject';
export const RTSP_REJECT_CLUSTER = 'mediamesh-rtsp-reject';

/**
 * A sidecar's listeners for what the interception script captures
 * (manifests/interception): the outbound RTSP entry (127.0.0.1:15101) and the
 * cluster that passes through what no RtspRoute takes, inbound RTSP (15106)
 * and its cluster to the app, one listener and cluster per inbound UDP port.
 */
export const OUTBOUND_RTSP_ENTRY_LISTENER = 'outbound~rtsp';
export const OUTBOUND_PASSTHROUGH_CLUSTER = 'outbound~passthrough';
export const INBOUND_RTSP_LISTENER = 'inbound~rtsp';
export const INBOUND_RTSP_CLUSTER = 'inbound~rtsp';
/** The inbound RTSP filter's own refusal echo (the shared one exists only beside RtspRoute listeners). */
export const INBOUND_RTSP_REJECT = 'inbound~rtsp~reject';
/** The inbound RTSP filter's stat route: mediamesh.rtsp.inbound.rtsp.*. */
export const INBOUND_RTSP_STAT_ROUTE = 'inbound.rtsp';

export function inboundUdpName(appPort: number): string {
  return `inbound~udp~${appPort}`;
}

/** tcp_proxy and udp_proxy stats: tcp.outbound.passthrough.*, tcp.inbound.rtsp.*, udp.inbound.<port>.*. */
export const OUTBOUND_PASSTHROUGH_STAT_PREFIX = 'outbound.passthrough';
export const INBOUND_RTSP_STAT_PREFIX = 'inbound.rtsp';
export function inboundUdpStatPrefix(appPort: number): string {
  return `inbound.${appPort}`;
}
