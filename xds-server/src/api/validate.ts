// Admission: raw documents in, the configuration to serve out, with one
// problem per rejected document. A bad document is dropped alone; a bad new
// version of an object that was accepted before keeps its last accepted
// version serving (the history carries it from one admission to the next).
// Deleting an object removes it.
//
// Order never depends on the input's: objects are taken by key, and where two
// routes want one socket the one already serving keeps it.
import { stableJson } from '../stable-json.js';
import { type FieldProblem, checkShape, objectIdentityOf, type ObjectIdentity, type ProblemCode } from './check-shape.js';
import { ListenerClaims } from './listener-claims.js';
import { type ResolvedRoute, resolveRoute, serviceKey } from './resolve-route.js';
import { type DocumentOrigin, type MeshConfig, type MeshDocument, namespaceOf, type ParentRef, type RtspRoute, type Service, type SourcedDocument, type UdpRoute } from './types.js';

export { regexProblem } from './resolve-route.js';

/** More objects than this in one admission are rejected: every map downstream is keyed by them. */
export const MAX_OBJECTS = 50_000;

export interface ConfigProblem {
  source: string;
  /** 0-based document index in the source file; -1 when the whole file failed. */
  index: number;
  kind?: string;
  name?: string;
  namespace?: string;
  /** Dotted field path, e.g. spec.backendRefs[1].name; empty for the whole document. */
  field: string;
  reason: string;
  code?: ProblemCode;
  /** The generation of the same object still serving in its place, if one is. */
  stillServing?: number;
}

export function formatProblem(p: ConfigProblem): string {
  const where = p.index >= 0 ? `${p.source}: document ${p.index + 1}` : p.source;
  const what = p.kind && p.name ? ` (${p.kind} ${p.namespace ?? 'default'}/${p.name})` : '';
  const field = p.field ? `${p.field}: ` : '';
  const serving = p.stillServing === undefined ? '' : `; still serving generation ${p.stillServing}`;
  return `${where}${what}: ${field}${p.reason}${serving}`;
}

/** The accepted configuration, with every route's references already resolved. */
export interface AdmittedConfig extends MeshConfig {
  /** Route key ("UdpRoute ns/name") → its resolved parents and backends. */
  resolved: ReadonlyMap<string, ResolvedRoute>;
}

export interface AcceptedObject {
  readonly document: MeshDocument;
  readonly origin: DocumentOrigin;
  readonly generation: number;
  readonly hash: string;
}

/** What one admission remembers for the next. */
export interface AdmissionHistory {
  readonly accepted: ReadonlyMap<string, AcceptedObject>;
  readonly seen: ReadonlyMap<string, { hash: string; generation: number }>;
}

export const EMPTY_HISTORY: AdmissionHistory = Object.freeze({ accepted: new Map(), seen: new Map() });

/** One route's outcome: what the newest version is, and what serves. */
export interface RouteAdmission {
  readonly identity: ObjectIdentity;
  readonly origin: DocumentOrigin;
  /** Generation of the newest version seen. */
  readonly generation: number;
  /** Generation serving now (the newest, or the last accepted), if any. */
  readonly servedGeneration?: number;
  /** Parents of the newest version when it had a shape, else of the served one. */
  readonly parentRefs: readonly ParentRef[];
  /** Why the newest version was rejected; empty when it is the one serving. */
  readonly problems: readonly FieldProblem[];
}

export interface Admission {
  config: AdmittedConfig;
  problems: ConfigProblem[];
  routes: RouteAdmission[];
  history: AdmissionHistory;
}

export interface ValidationResult {
  config: AdmittedConfig;
  problems: ConfigProblem[];
}

/** Stateless check (the `validate` command, golden tests): no history, nothing served before. */
export function validateDocuments(documents: readonly SourcedDocument[]): ValidationResult {
  const { config, problems } = admitDocuments(documents);
  return { config, problems };
}

interface Candidate {
  identity: ObjectIdentity;
  origin: DocumentOrigin;
  document: unknown;
  generation: number;
  hash: string;
}

export function admitDocuments(documents: readonly SourcedDocument[], history: AdmissionHistory = EMPTY_HISTORY): Admission {
  const problems: ConfigProblem[] = [];
  const candidates = pickCandidates(documents, history, problems);
  const accepted = new Map<string, AcceptedObject>();
  const seen = new Map<string, { hash: string; generation: number }>();
  const shaped = new Map<string, MeshDocument>();
  const shapeProblems = new Map<string, FieldProblem[]>();

  for (const c of candidates) {
    seen.set(c.identity.key, { hash: c.hash, generation: c.generation });
    const shape = checkShape(c.document);
    if (shape.ok) shaped.set(c.identity.key, shape.doc);
    else shapeProblems.set(c.identity.key, shape.problems);
  }

  const config: MeshConfig = { services: [], endpointSlices: [], udpRoutes: [], rtspRoutes: [] };
  const resolved = new Map<string, ResolvedRoute>();
  const report = (c: Candidate, found: readonly FieldProblem[], stillServing?: number) => {
    for (const f of found) problems.push({ source: c.origin.source, index: c.origin.index, kind: c.identity.kind, name: c.identity.name, namespace: c.identity.namespace, field: f.field, reason: f.reason, ...(f.code ? { code: f.code } : {}), ...(stillServing === undefined ? {} : { stillServing }) });
  };
  const serve = (c: Candidate, doc: MeshDocument, fresh: boolean) => {
    const previous = history.accepted.get(c.identity.key);
    accepted.set(c.identity.key, fresh || !previous ? { document: doc, origin: c.origin, generation: c.generation, hash: c.hash } : previous);
    return fresh || !previous ? c.generation : previous.generation;
  };

  // Services and EndpointSlices need nothing else to be accepted.
  for (const c of candidates) {
    if (c.identity.kind !== 'Service' && c.identity.kind !== 'EndpointSlice') continue;
    const doc = shaped.get(c.identity.key) ?? history.accepted.get(c.identity.key)?.document;
    const fresh = shaped.has(c.identity.key);
    if (!fresh) report(c, shapeProblems.get(c.identity.key) ?? [], history.accepted.get(c.identity.key)?.generation);
    if (!doc) continue;
    serve(c, doc, fresh);
    if (doc.kind === 'Service') config.services.push(doc);
    else if (doc.kind === 'EndpointSlice') config.endpointSlices.push(doc);
  }
  for (const c of candidates) {
    if (!isRouteKind(c.identity.kind) && c.identity.kind !== 'Service' && c.identity.kind !== 'EndpointSlice') report(c, shapeProblems.get(c.identity.key) ?? []);
  }

  const services = new Map(config.services.map((s) => [serviceKey(namespaceOf(s.metadata), s.metadata.name), s] as [string, Service]));
  const claims = new ListenerClaims();
  const routes: RouteAdmission[] = [];
  for (const c of routeOrder(candidates.filter((c) => isRouteKind(c.identity.kind)), shaped, history)) {
    const fresh = shaped.get(c.identity.key) as UdpRoute | RtspRoute | undefined;
    const previous = history.accepted.get(c.identity.key);
    const newestProblems: FieldProblem[] = [...(shapeProblems.get(c.identity.key) ?? [])];
    let served: { doc: UdpRoute | RtspRoute; resolved: ResolvedRoute; fresh: boolean } | undefined;
    if (fresh) {
      const outcome = admitRoute(fresh, c.identity.key, services, claims);
      if (outcome.ok) served = { doc: fresh, resolved: outcome.resolved, fresh: true };
      else newestProblems.push(...outcome.problems);
    }
    if (!served && previous && previous.hash !== c.hash) {
      const old = previous.document as UdpRoute | RtspRoute;
      const outcome = admitRoute(old, c.identity.key, services, claims);
      if (outcome.ok) served = { doc: old, resolved: outcome.resolved, fresh: false };
    }
    let servedGeneration: number | undefined;
    if (served) {
      servedGeneration = serve(c, served.doc, served.fresh);
      resolved.set(c.identity.key, served.resolved);
      if (served.doc.kind === 'UdpRoute') config.udpRoutes.push(served.doc);
      else config.rtspRoutes.push(served.doc);
    }
    report(c, newestProblems, served && !served.fresh ? servedGeneration : undefined);
    routes.push({
      identity: c.identity,
      origin: c.origin,
      generation: c.generation,
      ...(servedGeneration === undefined ? {} : { servedGeneration }),
      parentRefs: (fresh ?? served?.doc)?.spec.parentRefs ?? readableParentRefs(c.document),
      problems: newestProblems,
    });
  }
  routes.sort((a, b) => compareText(a.identity.key, b.identity.key));
  problems.sort((a, b) => compareText(a.source, b.source) || a.index - b.index);
  return { config: { ...config, resolved }, problems, routes, history: { accepted, seen } };
}

/** The parents a malformed route names, as far as they can be read, so its status has somewhere to go. */
function readableParentRefs(document: unknown): ParentRef[] {
  const refs = (document as { spec?: { parentRefs?: unknown } } | undefined)?.spec?.parentRefs;
  if (!Array.isArray(refs)) return [];
  return refs.filter((r): r is ParentRef => r !== null && typeof r === 'object' && typeof (r as ParentRef).name === 'string' && typeof (r as ParentRef).port === 'number').slice(0, 16);
}

function admitRoute(route: UdpRoute | RtspRoute, owner: string, services: ReadonlyMap<string, Service>, claims: ListenerClaims): { ok: true; resolved: ResolvedRoute } | { ok: false; problems: FieldProblem[] } {
  const resolution = resolveRoute(route, services);
  if (!resolution.ok) return resolution;
  const clash = claims.tryClaim(owner, resolution.resolved.claims);
  return clash.length > 0 ? { ok: false, problems: clash } : resolution;
}

function isRouteKind(kind: string): kind is 'UdpRoute' | 'RtspRoute' {
  return kind === 'UdpRoute' || kind === 'RtspRoute';
}

/**
 * Producer routes claim sockets before consumer routes; within each, routes
 * serving before this admission go first (a new route never takes a live
 * route's socket), then the oldest (creationTimestamp), then by key.
 */
function routeOrder(routes: readonly Candidate[], shaped: ReadonlyMap<string, MeshDocument>, history: AdmissionHistory): Candidate[] {
  const rank = (c: Candidate): [number, number] => {
    const doc = (shaped.get(c.identity.key) ?? history.accepted.get(c.identity.key)?.document) as UdpRoute | RtspRoute | undefined;
    const consumer = doc?.spec.parentRefs.some((p) => p.namespace !== undefined && p.namespace !== namespaceOf(doc.metadata)) ?? false;
    return [consumer ? 1 : 0, history.accepted.has(c.identity.key) ? 0 : 1];
  };
  // Gateway API's tie-break: the oldest object (creationTimestamp, set by the API server) wins; files carry none.
  const created = (c: Candidate): string => {
    const doc = (shaped.get(c.identity.key) ?? history.accepted.get(c.identity.key)?.document) as { metadata?: { creationTimestamp?: unknown } } | undefined;
    const at = doc?.metadata?.creationTimestamp;
    return typeof at === 'string' ? at : '\uffff';
  };
  return [...routes].sort((a, b) => {
    const [ra, rb] = [rank(a), rank(b)];
    return ra[0] - rb[0] || ra[1] - rb[1] || compareText(created(a), created(b)) || compareText(a.identity.key, b.identity.key);
  });
}

/**
 * One candidate per object key. The same object twice (two files) keeps the
 * copy from where it was accepted before, else the first by source and
 * position; the other is a problem naming both.
 */
function pickCandidates(documents: readonly SourcedDocument[], history: AdmissionHistory, problems: ConfigProblem[]): Candidate[] {
  const byKey = new Map<string, SourcedDocument[]>();
  let count = 0;
  for (const d of documents) {
    const identity = objectIdentityOf(d.document);
    if (!identity) {
      const shape = checkShape(d.document);
      const found = shape.ok ? [{ field: 'metadata.name', reason: 'required field is missing' }] : shape.problems;
      for (const f of found) problems.push({ source: d.origin.source, index: d.origin.index, field: f.field, reason: f.reason });
      continue;
    }
    if (++count > MAX_OBJECTS) {
      problems.push({ source: d.origin.source, index: d.origin.index, kind: identity.kind, name: identity.name, namespace: identity.namespace, field: '', reason: `more than ${MAX_OBJECTS} objects; the rest are ignored`, code: 'ResourceLimit' });
      continue;
    }
    byKey.set(identity.key, [...(byKey.get(identity.key) ?? []), d]);
  }
  const candidates: Candidate[] = [];
  for (const [key, copies] of [...byKey].sort(([a], [b]) => compareText(a, b))) {
    const before = history.accepted.get(key)?.origin.source;
    const ordered = [...copies].sort((a, b) => Number(b.origin.source === before) - Number(a.origin.source === before) || compareText(a.origin.source, b.origin.source) || a.origin.index - b.origin.index);
    const winner = ordered[0]!;
    const identity = objectIdentityOf(winner.document)!;
    for (const other of ordered.slice(1)) {
      problems.push({ source: other.origin.source, index: other.origin.index, kind: identity.kind, name: identity.name, namespace: identity.namespace, field: 'metadata.name', reason: `duplicate ${key}; first declared in ${winner.origin.source} document ${winner.origin.index + 1}`, code: 'Duplicate' });
    }
    const hash = contentHash(winner.document);
    const seen = history.seen.get(key);
    const declared = (winner.document as { metadata?: { generation?: unknown } }).metadata?.generation;
    const generation = typeof declared === 'number' && Number.isInteger(declared) && declared > 0 ? declared : !seen ? 1 : seen.hash === hash ? seen.generation : seen.generation + 1;
    candidates.push({ identity, origin: winner.origin, document: winner.document, generation, hash });
  }
  return candidates;
}

const hashes = new WeakMap<object, string>();

/** Content identity of a document, ignoring what a server writes back (status, bookkeeping metadata). */
function contentHash(document: unknown): string {
  if (document === null || typeof document !== 'object') return stableJson(document);
  let hash = hashes.get(document);
  if (hash === undefined) hashes.set(document, (hash = contentHashUncached(document)));
  return hash;
}

function contentHashUncached(document: unknown): string {
  const { status: _status, metadata, ...rest } = document as { status?: unknown; metadata?: Record<string, unknown> };
  const { resourceVersion: _rv, managedFields: _mf, generation: _g, uid: _u, creationTimestamp: _ct, ...meta } = metadata ?? {};
  return stableJson({ ...rest, metadata: meta });
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

