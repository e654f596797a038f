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
