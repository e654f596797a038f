// Resolves validated documents into the IR: routes to listener addresses,
// backend Services to ready endpoints (through their EndpointSlices).
import { parseDurationMs } from '../api/duration.js';
import { type EndpointSlice, type MeshConfig, namespaceOf, SERVICE_NAME_LABEL, type Service, type ServicePort, type UdpRoute } from '../api/types.js';
import type { BackendModel, EndpointModel, MeshModel, UdpListenerModel } from './ir.js';

export const DEFAULT_UDP_IDLE_TIMEOUT_MS = 60_000;

export function buildModel(config: MeshConfig): MeshModel {
  const services = new Map(config.services.map((s) => [`${namespaceOf(s.metadata)}/${s.metadata.name}`, s]));
  const slicesByService = new Map<string, EndpointSlice[]>();
  for (const slice of config.endpointSlices) {
    const key = `${namespaceOf(slice.metadata)}/${slice.metadata.labels?.[SERVICE_NAME_LABEL]}`;
    slicesByService.set(key, [...(slicesByService.get(key) ?? []), slice]);
  }
  const udpListeners = config.udpRoutes.flatMap((route) => udpListenersFor(route, services, slicesByService));
  udpListeners.sort((a, b) => compareText(`${a.address}:${a.port}`, `${b.address}:${b.port}`));
  return { udpListeners };
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function udpListenersFor(route: UdpRoute, services: ReadonlyMap<string, Service>, slices: ReadonlyMap<string, EndpointSlice[]>): UdpListenerModel[] {
  const ns = namespaceOf(route.metadata);
  const backends: BackendModel[] = route.spec.backendRefs.map((ref) => {
    const svcNs = ref.namespace ?? ns;
    const svc = services.get(`${svcNs}/${ref.name}`)!;
    const svcPort = svc.spec.ports.find((p) => p.port === ref.port)!;
    return {
      service: { namespace: svcNs, name: ref.name },
      servicePort: ref.port,
      weight: ref.weight ?? 1,
      endpoints: readyEndpoints(svcPort, slices.get(`${svcNs}/${ref.name}`) ?? []),
    };
  });
  const clockRates: Record<number, number> = {};
  for (const [pt, hz] of Object.entries(route.spec.rtp?.clockRate ?? {})) clockRates[Number(pt)] = hz;
  const listeners: UdpListenerModel[] = [];
  for (const parent of route.spec.parentRefs) {
    const svc = services.get(`${parent.namespace ?? ns}/${parent.name}`)!;
    for (let port = parent.port; port <= (parent.endPort ?? parent.port); port++) {
      listeners.push({
        route: { namespace: ns, name: route.metadata.name },
        address: svc.spec.clusterIP!,
        port,
        protocol: route.spec.protocol ?? 'Raw',
        affinity: route.spec.sessionAffinity ?? 'SourceIPPort',
        idleTimeoutMs: route.spec.idleTimeout ? parseDurationMs(route.spec.idleTimeout)! : DEFAULT_UDP_IDLE_TIMEOUT_MS,
        backends,
        clockRates,
      });
    }
  }
  return listeners;
}

/** Endpoints of the slices' port matching the Service port (by name, else targetPort). */
function readyEndpoints(svcPort: ServicePort, slices: readonly EndpointSlice[]): EndpointModel[] {
  const out: EndpointModel[] = [];
  for (const slice of slices) {
    if (slice.addressType === 'FQDN') continue;
    const slicePort = slice.ports?.find((p) => (p.name ?? '') === (svcPort.name ?? '')) ?? (slice.ports?.length === 1 ? slice.ports[0] : undefined);
    const port = slicePort?.port ?? (typeof svcPort.targetPort === 'number' ? svcPort.targetPort : svcPort.port);
    for (const endpoint of slice.endpoints) {
      if (endpoint.conditions?.ready === false) continue;
      for (const address of endpoint.addresses) out.push({ address, port });
    }
  }
  const unique = new Map(out.map((e) => [`${e.address}:${e.port}`, e]));
  return [...unique.values()].sort((a, b) => compareText(`${a.address}:${a.port}`, `${b.address}:${b.port}`));
}
