// Turns the admitted configuration into the IR: each route's resolved
// listeners with their backends' ready endpoints (through EndpointSlices).
// References were resolved once, at admission; nothing is looked up again.
import { parseDurationMs } from '../api/duration.js';
import type { ListenerClaim, ResolvedBackend } from '../api/resolve-route.js';
import type { AdmittedConfig } from '../api/validate.js';
import { type EndpointSlice, namespaceOf, objectKey, SERVICE_NAME_LABEL, type ServicePort, type UdpRoute } from '../api/types.js';
import type { BackendModel, EndpointModel, MeshModel, UdpListenerModel } from './ir.js';

export const DEFAULT_UDP_IDLE_TIMEOUT_MS = 60_000;

export function buildModel(config: AdmittedConfig): MeshModel {
  const slicesByService = new Map<string, EndpointSlice[]>();
  for (const slice of config.endpointSlices) {
    const key = `${namespaceOf(slice.metadata)}/${slice.metadata.labels?.[SERVICE_NAME_LABEL]}`;
    slicesByService.set(key, [...(slicesByService.get(key) ?? []), slice]);
  }
  const udpListeners = config.udpRoutes.flatMap((route) => {
    const resolved = config.resolved.get(objectKey('UdpRoute', route.metadata));
    return resolved ? udpListenersFor(route, resolved.claims, resolved.backends[0] ?? [], slicesByService) : [];
  });
  udpListeners.sort((a, b) => compareText(listenerSortKey(a), listenerSortKey(b)));
  const consumerNamespaces = new Set(udpListeners.flatMap((l) => (l.consumerNamespace === undefined ? [] : [l.consumerNamespace])));
  return { udpListeners, consumerNamespaces };
}

function listenerSortKey(l: UdpListenerModel): string {
  return `${l.consumerNamespace ?? ''}|${l.route.namespace}/${l.route.name}|${String(l.port).padStart(5, '0')}`;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function udpListenersFor(route: UdpRoute, claims: readonly ListenerClaim[], resolvedBackends: readonly ResolvedBackend[], slices: ReadonlyMap<string, EndpointSlice[]>): UdpListenerModel[] {
  const ns = namespaceOf(route.metadata);
  const backends: BackendModel[] = resolvedBackends.map((b) => ({
    service: b.service,
    servicePort: b.servicePort.port,
    weight: b.weight,
    endpoints: readyEndpoints(b.servicePort, slices.get(`${b.service.namespace}/${b.service.name}`) ?? []),
  }));
  const clockRates: Record<number, number> = {};
  for (const [pt, hz] of Object.entries(route.spec.rtp?.clockRate ?? {})) clockRates[Number(pt)] = hz;
  return claims.map((claim) => ({
    route: { namespace: ns, name: route.metadata.name },
    parent: claim.parent,
    ...(claim.consumerNamespace === undefined ? {} : { consumerNamespace: claim.consumerNamespace }),
    address: claim.address.text,
    port: claim.port,
    protocol: route.spec.protocol ?? 'Raw',
    affinity: route.spec.sessionAffinity ?? 'SourceIPPort',
    idleTimeoutMs: route.spec.idleTimeout ? parseDurationMs(route.spec.idleTimeout)! : DEFAULT_UDP_IDLE_TIMEOUT_MS,
    backends,
    clockRates,
  }));
}

/**
 * Endpoints of the slices' port matching the Service port (by name, else
 * targetPort): the ready ones (a missing `ready` means ready, as Kubernetes
 * says). When none is ready, endpoints that are terminating but still serving
 * take the traffic instead of none, as kube-proxy does during a rollout.
 */
function readyEndpoints(svcPort: ServicePort, slices: readonly EndpointSlice[]): EndpointModel[] {
  const ready: EndpointModel[] = [];
  const draining: EndpointModel[] = [];
  for (const slice of slices) {
    if (slice.addressType === 'FQDN') continue;
    const slicePort = slice.ports?.find((p) => (p.name ?? '') === (svcPort.name ?? '')) ?? (slice.ports?.length === 1 ? slice.ports[0] : undefined);
    const port = slicePort?.port ?? (typeof svcPort.targetPort === 'number' ? svcPort.targetPort : svcPort.port);
    for (const endpoint of slice.endpoints) {
      const c = endpoint.conditions;
      const into = c?.ready !== false ? ready : c.serving === true && c.terminating === true ? draining : undefined;
      for (const address of endpoint.addresses) into?.push({ address, port });
    }
  }
  const out = ready.length > 0 ? ready : draining;
  const unique = new Map(out.map((e) => [`${e.address}:${e.port}`, e]));
  return [...unique.values()].sort((a, b) => compareText(`${a.address}:${a.port}`, `${b.address}:${b.port}`));
}
