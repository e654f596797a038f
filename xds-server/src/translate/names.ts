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
