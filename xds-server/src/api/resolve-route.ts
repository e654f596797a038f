// A route's references resolved once: the listener addresses its parents give
// it and the backend Services it sends to. What does not resolve is a problem
// on the field that named it. Rules on the document alone (port ranges, a port
// served twice, weights, path forms) were checked before, with the CRDs' own
// words (route-rules.ts).
import { type IpAddress, isIpAddress, parseIp } from './addresses.js';
import type { FieldProblem } from './field-problem.js';
import { rtspPathRegexProblem } from './rtsp-path-regex.js';
import { type BackendRef, namespaceOf, type ObjectMeta, type ParentRef, type RtspRoute, type Service, type ServicePort, type UdpRoute } from './types.js';

export type ListenerProtocol = 'UDP' | 'TCP';

/** One address and port a route's listener serves. */
export interface ListenerClaim {
  field: string;
  protocol: ListenerProtocol;
  address: IpAddress;
  port: number;
  /** "namespace/name:port" of the parent Service port: a consumer route overrides the producer route of the same one. */
  parent: string;
  /** Set for a consumer route's parent (GAMMA): the namespace whose proxies it applies to. */
  consumerNamespace?: string;
}

export interface ResolvedBackend {
  service: { namespace: string; name: string };
  servicePort: ServicePort;
  weight: number;
}

export interface ResolvedRoute {
  claims: ListenerClaim[];
  /** UdpRoute backends; for RtspRoute, per rule. */
  backends: ResolvedBackend[][];
}

export type RouteResolution = { ok: true; resolved: ResolvedRoute } | { ok: false; problems: FieldProblem[] };

export type ServiceIndex = ReadonlyMap<string, Service>;

export function serviceKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

export function resolveRoute(route: UdpRoute | RtspRoute, services: ServiceIndex): RouteResolution {
  const protocol: ListenerProtocol = route.kind === 'UdpRoute' ? 'UDP' : 'TCP';
  const { problems, claims } = resolveParents(route.spec.parentRefs, route.metadata, services, protocol, route.kind);
  const backends: ResolvedBackend[][] = [];
  if (route.kind === 'UdpRoute') {
    backends.push(resolveBackends(route.spec.backendRefs, route.metadata, services, 'spec.backendRefs', problems, protocol));
  } else {
    route.spec.rules.forEach((rule, r) => backends.push(resolveBackends(rule.backendRefs, route.metadata, services, `spec.rules[${r}].backendRefs`, problems, protocol)));
    problems.push(...rtspMatchProblems(route));
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, resolved: { claims, backends } };
}

function resolveParents(parents: readonly ParentRef[], meta: ObjectMeta, services: ServiceIndex, protocol: ListenerProtocol, kind: string): { problems: FieldProblem[]; claims: ListenerClaim[] } {
  const problems: FieldProblem[] = [];
  const claims: ListenerClaim[] = [];
  const routeNamespace = namespaceOf(meta);
  parents.forEach((ref, i) => {
    const field = `spec.parentRefs[${i}]`;
    const svcNamespace = ref.namespace ?? routeNamespace;
    const svc = services.get(serviceKey(svcNamespace, ref.name));
    if (!svc) return problems.push({ field: `${field}.name`, reason: `Service ${svcNamespace}/${ref.name} not found`, code: 'NoMatchingParent' });
    const address = svc.spec.clusterIP === undefined || svc.spec.clusterIP === 'None' ? undefined : parseIp(svc.spec.clusterIP);
    if (!address || !isIpAddress(address)) return problems.push({ field: `${field}.name`, reason: `Service ${svcNamespace}/${ref.name} has no clusterIP for the listener to serve`, code: 'NoMatchingParent' });
    const end = ref.endPort ?? ref.port;
    if (ref.endPort === undefined) {
      const svcPort = portFor(svc, ref.port, protocol);
      if (!svcPort) return problems.push({ field: `${field}.port`, reason: `Service ${svcNamespace}/${ref.name} has no port ${ref.port}`, code: 'NoMatchingParent' });
      if ((svcPort.protocol ?? 'TCP') !== protocol) return problems.push({ field: `${field}.port`, reason: `${kind} needs a ${protocol} port; Service port ${ref.port} is ${svcPort.protocol ?? 'TCP'}`, code: 'NoMatchingParent' });
    }
    // route-rules.ts has bounded the ports and kept them apart: one claim per port.
    for (let port = ref.port; port <= end; port++) {
      claims.push({
        field: `${field}.port`,
        protocol,
        address,
        port,
        parent: `${svcNamespace}/${ref.name}:${port}`,
        ...(svcNamespace === routeNamespace ? {} : { consumerNamespace: routeNamespace }),
      });
    }
    return undefined;
  });
  return { problems, claims };
}

/**
 * A route may send to a Service of another namespace only if that Service
 * says so: the owner of a backend decides who may route to it (Gateway API's
 * ReferenceGrant idea, as an annotation on the Service so that files and
 * clusters without Gateway API's CRDs work the same).
 */
export const ALLOW_ROUTES_FROM = 'mediamesh.io/allow-routes-from';

function allowsRoutesFrom(svc: Service, routeNamespace: string): boolean {
  if (namespaceOf(svc.metadata) === routeNamespace) return true;
  const allowed = svc.metadata.annotations?.[ALLOW_ROUTES_FROM];
  if (allowed === undefined) return false;
  return allowed.split(',').map((n) => n.trim()).some((n) => n === '*' || n === routeNamespace);
}

/** A Service may declare one port number twice, over TCP and over UDP: the route's protocol picks. */
function portFor(svc: Service, port: number, protocol: ListenerProtocol): ServicePort | undefined {
  return svc.spec.ports.find((p) => p.port === port && (p.protocol ?? 'TCP') === protocol) ?? svc.spec.ports.find((p) => p.port === port);
}

function resolveBackends(refs: readonly BackendRef[], meta: ObjectMeta, services: ServiceIndex, fieldPrefix: string, problems: FieldProblem[], protocol: ListenerProtocol): ResolvedBackend[] {
  const resolved: ResolvedBackend[] = [];
  refs.forEach((ref, i) => {
    const field = `${fieldPrefix}[${i}]`;
    const namespace = ref.namespace ?? namespaceOf(meta);
    const svc = services.get(serviceKey(namespace, ref.name));
    if (!svc) return problems.push({ field: `${field}.name`, reason: `backend Service ${namespace}/${ref.name} not found`, code: 'BackendNotFound' });
    if (!allowsRoutesFrom(svc, namespaceOf(meta))) {
      return problems.push({ field: `${field}.namespace`, reason: `backend Service ${namespace}/${ref.name} does not allow routes from namespace ${namespaceOf(meta)}: its annotation ${ALLOW_ROUTES_FROM} must list it (or be "*")`, code: 'RefNotPermitted' });
    }
    const servicePort = portFor(svc, ref.port, protocol);
    if (!servicePort) return problems.push({ field: `${field}.port`, reason: `backend Service ${namespace}/${ref.name} has no port ${ref.port}`, code: 'BackendNotFound' });
    return resolved.push({ service: { namespace, name: ref.name }, servicePort, weight: ref.weight ?? 1 });
  });
  return resolved;
}

/** Envoy matches with RE2: no lookaround, no backreferences. */
export function regexProblem(pattern: string): string | undefined {
  try {
    new RegExp(pattern, 'u');
  } catch (err) {
    return `invalid regular expression: ${(err as Error).message}`;
  }
  if (/\(\?<?[=!]/.test(pattern)) return 'lookahead/lookbehind is not supported by RE2';
  if (/\\[1-9]/.test(pattern)) return 'backreferences are not supported by RE2';
  return undefined;
}

/** RegularExpression paths Envoy's RE2 would refuse: a check on the route alone. */
export function rtspMatchProblems(route: RtspRoute): FieldProblem[] {
  const problems: FieldProblem[] = [];
  route.spec.rules.forEach((rule, r) => (rule.matches ?? []).forEach((match, m) => {
    const path = match.path;
    if (!path) return;
    if ((path.type ?? 'PathPrefix') !== 'RegularExpression') return;
    const bad = regexProblem(path.value) ?? rtspPathRegexProblem(path.value);
    if (bad) problems.push({ field: `spec.rules[${r}].matches[${m}].path.value`, reason: bad });
  }));
  return problems;
}
