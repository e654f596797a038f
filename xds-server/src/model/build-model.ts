// Turns the admitted configuration into the IR: each route's resolved
// listeners with their backends' ready endpoints (through EndpointSlices).
// References were resolved once, at admission; nothing is looked up again.
import { parseDurationMs } from '../api/duration.js';
import type { ListenerClaim, ResolvedBackend } from '../api/resolve-route.js';
import type { AdmittedConfig } from '../api/validate.js';
import { type EndpointSlice, namespaceOf, objectKey, type RtspRoute, SERVICE_NAME_LABEL, type ServicePort, type UdpRoute } from '../api/types.js';
import type { BackendModel, EndpointModel, MeshModel, RtspHealthCheckModel, RtspListenerModel, RtspOutlierDetectionModel, UdpListenerModel } from './ir.js';

export const DEFAULT_UDP_IDLE_TIMEOUT_MS = 60_000;

/**
 * RtspRoute defaults where the CR is silent. The idle timeout outlives RTSP's
 * default session timeout (60 s, refreshed by keep-alives) several times
 * over, so only a dead control connection is cut. Health checks notice a dead
 * backend in about interval × unhealthyThreshold; connect failures eject it
 * sooner.
 */
export const RTSP_DEFAULTS = {
  connectTimeoutMs: 5_000,
  idleTimeoutMs: 300_000,
  healthCheck: { intervalMs: 5_000, timeoutMs: 2_000, healthyThreshold: 1, unhealthyThreshold: 2 } satisfies RtspHealthCheckModel,
  outlierDetection: { consecutiveFailures: 3, intervalMs: 10_000, baseEjectionTimeMs: 30_000 } satisfies RtspOutlierDetectionModel,
} as const;

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
  const rtspListeners = config.rtspRoutes.flatMap((route) => {
    const resolved = config.resolved.get(objectKey('RtspRoute', route.metadata));
    return resolved ? rtspListenersFor(route, resolved.claims, resolved.backends, slicesByService) : [];
  });
  rtspListeners.sort((a, b) => compareText(listenerSortKey(a), listenerSortKey(b)));
  const consumerNamespaces = new Set([...udpListeners, ...rtspListeners].flatMap((l) => (l.consumerNamespace === undefined ? [] : [l.consumerNamespace])));
  return { udpListeners, rtspListeners, consumerNamespaces };
}

function listenerSortKey(l: UdpListenerModel | RtspListenerModel): string {
  return `${l.consumerNamespace ?? ''}|${l.route.namespace}/${l.route.name}|${String(l.port).padStart(5, '0')}`;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function backendModels(resolvedBackends: readonly ResolvedBackend[], slices: ReadonlyMap<string, EndpointSlice[]>): BackendModel[] {
  return resolvedBackends.map((b) => ({
    service: b.service,
    servicePort: b.servicePort.port,
    weight: b.weight,
    endpoints: readyEndpoints(b.servicePort, slices.get(`${b.service.namespace}/${b.service.name}`) ?? []),
  }));
}

function rtspListenersFor(route: RtspRoute, claims: readonly ListenerClaim[], resolvedRules: readonly (readonly ResolvedBackend[])[], slices: ReadonlyMap<string, EndpointSlice[]>): RtspListenerModel[] {
  const ns = namespaceOf(route.metadata);
  const ms = (duration: string | undefined, fallback: number) => (duration === undefined ? fallback : parseDurationMs(duration)!);
  const hc = route.spec.healthCheck ?? {};
  const od = route.spec.outlierDetection ?? {};
  const defaults = RTSP_DEFAULTS;
  const intervalMs = ms(hc.interval, defaults.healthCheck.intervalMs);
  const healthCheck: RtspHealthCheckModel = {
    intervalMs,
    // A probe must end before the next one starts (the CRD checks an explicit pair).
    timeoutMs: ms(hc.timeout, Math.min(defaults.healthCheck.timeoutMs, intervalMs)),
    healthyThreshold: hc.healthyThreshold ?? defaults.healthCheck.healthyThreshold,
    unhealthyThreshold: hc.unhealthyThreshold ?? defaults.healthCheck.unhealthyThreshold,
  };
  const outlierDetection: RtspOutlierDetectionModel = {
    consecutiveFailures: od.consecutiveFailures ?? defaults.outlierDetection.consecutiveFailures,
    intervalMs: ms(od.interval, defaults.outlierDetection.intervalMs),
    baseEjectionTimeMs: ms(od.baseEjectionTime, defaults.outlierDetection.baseEjectionTimeMs),
  };
  const rules = route.spec.rules.map((rule, index) => ({
    index,
    matches: (rule.matches ?? []).flatMap((m) => (m.path ? [{ type: m.path.type ?? 'PathPrefix', value: m.path.value }] : [])),
    backends: backendModels(resolvedRules[index] ?? [], slices),
    transport: rule.transport ?? 'Auto',
  }));
  return claims.map((claim) => ({
    route: { namespace: ns, name: route.metadata.name },
    parent: claim.parent,
    ...(claim.consumerNamespace === undefined ? {} : { consumerNamespace: claim.consumerNamespace }),
    address: claim.address.text,
    port: claim.port,
    hostnames: (route.spec.hostnames ?? []).map((h) => h.toLowerCase()),
    rules,
    connectTimeoutMs: ms(route.spec.timeouts?.connect, defaults.connectTimeoutMs),
    idleTimeoutMs: ms(route.spec.timeouts?.idle, defaults.idleTimeoutMs),
    healthCheck,
    outlierDetection,
  }));
}

function udpListenersFor(route: UdpRoute, claims: readonly ListenerClaim[], resolvedBackends: readonly ResolvedBackend[], slices: ReadonlyMap<string, EndpointSlice[]>): UdpListenerModel[] {
  const ns = namespaceOf(route.metadata);
  const backends = backendModels(resolvedBackends, slices);
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
