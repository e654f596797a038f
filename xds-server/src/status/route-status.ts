// Route status in Gateway API's shape: per route and parent, Accepted (the
// newest generation was admitted, or why not and which generation still
// serves), ResolvedRefs (backends exist and have ready endpoints) and
// Programmed (every connected proxy given the route has ACKed it; a NACK
// makes it False with Envoy's words). `/debug/routes`, `mediamesh status` and
// the Kubernetes source all read this.
import type { ProblemCode } from '../api/check-shape.js';
import { objectKey, type ParentRef } from '../api/types.js';
import type { Admission, RouteAdmission } from '../api/validate.js';
import type { BackendModel, MeshModel } from '../model/ir.js';
import { rtspClusterName, rtspListenerName, udpClusterName, udpListenerName } from '../translate/names.js';
import { holdsSnapshot, resourceState, type ResourceRef } from '../xds/resource-state.js';
import type { SnapshotCache } from '../xds/snapshot-cache.js';
import type { Snapshot } from '../xds/snapshot.js';
import type { TranslationError } from '../translate/translate.js';
import { TypeUrl } from '../xds/type-urls.js';

export type ConditionType = 'Accepted' | 'ResolvedRefs' | 'Programmed';
export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface RouteCondition {
  type: ConditionType;
  status: ConditionStatus;
  reason: string;
  message: string;
  observedGeneration: number;
  lastTransitionTime: string;
}

export interface RouteParentStatus {
  parentRef: ParentRef;
  conditions: RouteCondition[];
}

export interface RouteStatusEntry {
  kind: string;
  namespace: string;
  name: string;
  /** Where the object was read (file, or source name). */
  source: string;
  generation: number;
  /** The generation serving, if any (lower than `generation` when the newest was rejected). */
  servedGeneration?: number;
  status: { parents: RouteParentStatus[] };
}

type Condition = Omit<RouteCondition, 'observedGeneration' | 'lastTransitionTime'>;

/** Proxies named in a Programmed message at most; the rest are counted. */
const NAMED_PROXIES = 3;

export interface RouteStatusInputs {
  admission: Admission;
  model: MeshModel;
  cache: SnapshotCache;
  /** Listeners the translator could not build (by resource name), with why. */
  translationErrors?: readonly TranslationError[];
}

/**
 * Remembers when each condition last changed, so lastTransitionTime means
 * what Gateway API says. Keyed by routes that exist: entries of deleted
 * routes are dropped on each read.
 */
export class RouteStatusTracker {
  private readonly since = new Map<string, { status: ConditionStatus; reason: string; at: string }>();

  constructor(private readonly now: () => Date = () => new Date()) {}

  statuses(inputs: RouteStatusInputs): RouteStatusEntry[] {
    const listenersByRoute = new Map<string, StatusListener[]>();
    for (const l of statusListeners(inputs.model)) {
      const key = objectKey(l.kind, l.route);
      listenersByRoute.set(key, [...(listenersByRoute.get(key) ?? []), l]);
    }
    const proxies = proxyStates(inputs.cache);
    const live = new Set<string>();
    const entries = inputs.admission.routes.map((route) => {
      const parents = route.parentRefs.map((parentRef, index) => {
        const listeners = (listenersByRoute.get(route.identity.key) ?? []).filter((l) => servesParent(l, parentRef, route.identity.namespace));
        const conditions = [accepted(route, index), resolvedRefs(route, listeners), programmed(route, listeners, proxies, inputs.cache, inputs.translationErrors ?? [])].map((c) => {
          const key = `${route.identity.key}\0${index}\0${c.type}`;
          live.add(key);
          return { ...c, observedGeneration: route.generation, lastTransitionTime: this.transition(key, c) };
        });
        return { parentRef, conditions };
      });
      return {
        kind: route.identity.kind,
        namespace: route.identity.namespace,
        name: route.identity.name,
        source: route.origin.source,
        generation: route.generation,
        ...(route.servedGeneration === undefined ? {} : { servedGeneration: route.servedGeneration }),
        status: { parents },
      };
    });
    for (const key of this.since.keys()) if (!live.has(key)) this.since.delete(key);
    return entries;
  }

  private transition(key: string, c: Condition): string {
    const before = this.since.get(key);
    if (before && before.status === c.status && before.reason === c.reason) return before.at;
    const at = this.now().toISOString();
    this.since.set(key, { status: c.status, reason: c.reason, at });
    return at;
  }
}

/** A route's listener as status sees it: what it serves, what it sends to, and the resources it became. */
interface StatusListener {
  kind: 'UdpRoute' | 'RtspRoute';
  route: { namespace: string; name: string };
  parent: string;
  port: number;
  backends: readonly BackendModel[];
  listenerName: string;
  /** Each is also the name of its ClusterLoadAssignment. */
  clusterNames: string[];
}

function statusListeners(model: MeshModel): StatusListener[] {
  return [
    ...model.udpListeners.map((l): StatusListener => ({ kind: 'UdpRoute', route: l.route, parent: l.parent, port: l.port, backends: l.backends, listenerName: udpListenerName(l.route, l.port), clusterNames: [udpClusterName(l.route, l.port)] })),
    ...model.rtspListeners.map((l): StatusListener => ({
      kind: 'RtspRoute',
      route: l.route,
      parent: l.parent,
      port: l.port,
      backends: l.rules.flatMap((r) => r.backends),
      listenerName: rtspListenerName(l.route, l.port),
      clusterNames: l.rules.map((r) => rtspClusterName(l.route, l.port, r.index)),
    })),
  ];
}

function servesParent(listener: StatusListener, ref: ParentRef, routeNamespace: string): boolean {
  const service = `${ref.namespace ?? routeNamespace}/${ref.name}`;
  return listener.parent.startsWith(`${service}:`) && listener.port >= ref.port && listener.port <= (ref.endPort ?? ref.port);
}

const parentField = (index: number) => `spec.parentRefs[${index}]`;

function accepted(route: RouteAdmission, index: number): Condition {
  if (route.problems.length === 0) return { type: 'Accepted', status: 'True', reason: 'Accepted', message: `generation ${route.generation} is serving` };
  // A problem on another parent's field says nothing about this one, but the route is taken whole or not at all.
  const mine = route.problems.filter((p) => !/^spec\.parentRefs\[\d+\]/.test(p.field) || p.field.startsWith(parentField(index)));
  const shown = mine.length > 0 ? mine : route.problems;
  const reason: ProblemCode = shown.find((p) => p.code && !isBackendRefProblem(p.code))?.code ?? 'Invalid';
  const serving = route.servedGeneration === undefined ? 'nothing of this route is serving' : `still serving generation ${route.servedGeneration}`;
  return { type: 'Accepted', status: 'False', reason, message: `${shown.map((p) => (p.field ? `${p.field}: ${p.reason}` : p.reason)).join('; ')}; ${serving}` };
}

function isBackendRefProblem(code: ProblemCode | undefined): boolean {
  return code === 'BackendNotFound' || code === 'RefNotPermitted';
}

function resolvedRefs(route: RouteAdmission, listeners: readonly StatusListener[]): Condition {
  const unresolved = route.problems.filter((p) => isBackendRefProblem(p.code));
  if (unresolved.length > 0) return { type: 'ResolvedRefs', status: 'False', reason: unresolved[0]!.code!, message: unresolved.map((p) => `${p.field}: ${p.reason}`).join('; ') };
  const empty = new Set<string>();
  for (const l of listeners) for (const b of l.backends) if (b.weight > 0 && b.endpoints.length === 0) empty.add(`${b.service.namespace}/${b.service.name} port ${b.servicePort}`);
  if (empty.size > 0) return { type: 'ResolvedRefs', status: 'False', reason: 'NoReadyEndpoints', message: `no ready endpoints for backend ${[...empty].join(', ')}: its share of new sessions is dropped until one is ready` };
  return { type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs', message: 'every backend resolved' };
}

/** A connected proxy, its snapshot, and whether it holds all of that snapshot (then no resource of it needs a look). */
interface ProxyState {
  id: string;
  snapshot: Snapshot;
  inSync: boolean;
}

const STATUS_TYPES = [TypeUrl.Listener, TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment] as const;

function proxyStates(cache: SnapshotCache): ProxyState[] {
  const states: ProxyState[] = [];
  for (const status of cache.allNodeStatuses()) {
    const snapshot = status.connected ? cache.getSnapshot(status.id) : undefined;
    if (snapshot) states.push({ id: status.id, snapshot, inSync: holdsSnapshot(cache, status.id, snapshot, STATUS_TYPES) });
  }
  return states;
}

/** The route's resources in one snapshot (none when that view does not include the route). */
function routeRefs(snapshot: Snapshot, listeners: readonly StatusListener[]): ResourceRef[] {
  const refs: ResourceRef[] = [];
  for (const l of listeners) {
    const named: [TypeUrl, string][] = [[TypeUrl.Listener, l.listenerName]];
    for (const cluster of l.clusterNames) named.push([TypeUrl.Cluster, cluster], [TypeUrl.ClusterLoadAssignment, cluster]);
    for (const [typeUrl, name] of named) {
      const resource = snapshot.forType(typeUrl).resources.get(name);
      if (resource) refs.push({ typeUrl, name, version: resource.version });
    }
  }
  return refs;
}

function programmed(route: RouteAdmission, listeners: readonly StatusListener[], proxies: readonly ProxyState[], cache: SnapshotCache, translationErrors: readonly TranslationError[]): Condition {
  if (route.servedGeneration === undefined) return { type: 'Programmed', status: 'False', reason: 'NotAccepted', message: 'not accepted, so given to no proxy' };
  if (listeners.length === 0) return { type: 'Programmed', status: 'Unknown', reason: 'NoListeners', message: `${route.identity.kind} serves no listener` };
  const names = new Set(listeners.map((l) => l.listenerName));
  const failed = translationErrors.filter((e) => names.has(e.resource));
  if (failed.length > 0) return { type: 'Programmed', status: 'False', reason: 'Invalid', message: failed.map((e) => `${e.resource}: ${e.reason}`).join('; ') };
  const rejected: string[] = [];
  const pending: string[] = [];
  let given = 0;
  // Proxies of one view share a snapshot object: find the route's resources in it once.
  const refsBySnapshot = new Map<Snapshot, ResourceRef[]>();
  for (const proxy of proxies) {
    let refs = refsBySnapshot.get(proxy.snapshot);
    if (!refs) refsBySnapshot.set(proxy.snapshot, (refs = routeRefs(proxy.snapshot, listeners)));
    // This proxy's view does not include the route (a consumer route elsewhere, or another namespace's).
    if (!refs.some((r) => r.typeUrl === TypeUrl.Listener)) continue;
    given++;
    if (proxy.inSync) continue;
    const states = refs.map((ref) => ({ ref, state: resourceState(cache, proxy.id, ref) }));
    const bad = states.find((s) => s.state.state === 'rejected');
    if (bad && bad.state.state === 'rejected') rejected.push(`${proxy.id} rejected ${bad.ref.name}: ${bad.state.error.trim()}`);
    else if (states.some((s) => s.state.state === 'pending')) pending.push(proxy.id);
  }
  if (rejected.length > 0) return { type: 'Programmed', status: 'False', reason: 'Rejected', message: listed(rejected, given, 'rejected it') };
  if (pending.length > 0) return { type: 'Programmed', status: 'False', reason: 'Pending', message: `${pending.length} of ${given} proxies have not ACKed it yet (${listed(pending, given, '')})` };
  if (given === 0) return { type: 'Programmed', status: 'Unknown', reason: 'NoProxies', message: 'no connected proxy is given this route' };
  return { type: 'Programmed', status: 'True', reason: 'Programmed', message: `ACKed by ${given} ${given === 1 ? 'proxy' : 'proxies'}` };
}

function listed(items: readonly string[], total: number, what: string): string {
  const shown = items.slice(0, NAMED_PROXIES).join('; ');
  const more = items.length > NAMED_PROXIES ? `; and ${items.length - NAMED_PROXIES} more` : '';
  return what ? `${items.length} of ${total} proxies ${what}: ${shown}${more}` : `${shown}${more}`;
}
