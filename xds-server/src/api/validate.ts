// Turns raw documents into a validated MeshConfig plus one ConfigProblem per
// rejected document. A bad document is dropped alone; everything else keeps
// serving. Checks shape (JSON Schema) first, then meaning: references that
// resolve, ports that do not clash, weights that sum above zero, RE2-safe regexes.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { parseDurationMs } from './duration.js';
import { schemasByKind } from './schemas.js';
import {
  type BackendRef,
  type DocumentOrigin,
  type EndpointSlice,
  type MeshConfig,
  type MeshDocument,
  namespaceOf,
  type ObjectMeta,
  type ParentRef,
  type RtspRoute,
  type Service,
  type SourcedDocument,
  type UdpRoute,
} from './types.js';

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
}

export function formatProblem(p: ConfigProblem): string {
  const where = p.index >= 0 ? `${p.source}: document ${p.index + 1}` : p.source;
  const what = p.kind && p.name ? ` (${p.kind} ${p.namespace ?? 'default'}/${p.name})` : '';
  const field = p.field ? `${p.field}: ` : '';
  return `${where}${what}: ${field}${p.reason}`;
}

export interface ValidationResult {
  config: MeshConfig;
  problems: ConfigProblem[];
}

/** A Service's ports, with the listener ranges UdpRoutes may claim. */
const MAX_PORT_RANGE = 1000;

const ajv = new Ajv({ allErrors: true, strict: false });
const validators = new Map<string, ValidateFunction>(Object.entries(schemasByKind).map(([kind, { schema }]) => [kind, ajv.compile(schema)]));

export function validateDocuments(documents: readonly SourcedDocument[]): ValidationResult {
  const problems: ConfigProblem[] = [];
  const shaped: { origin: DocumentOrigin; doc: MeshDocument }[] = [];
  const seen = new Map<string, DocumentOrigin>();

  for (const { origin, document } of documents) {
    const doc = checkShape(origin, document, problems);
    if (!doc) continue;
    const key = `${doc.kind} ${namespaceOf(doc.metadata)}/${doc.metadata.name}`;
    const first = seen.get(key);
    if (first) {
      problems.push(problemFor(origin, doc, 'metadata.name', `duplicate ${key}; first declared in ${first.source} document ${first.index + 1}`));
      continue;
    }
    seen.set(key, origin);
    shaped.push({ origin, doc });
  }

  const services = shaped.filter((s): s is { origin: DocumentOrigin; doc: Service } => s.doc.kind === 'Service');
  const serviceIndex = new Map(services.map((s) => [`${namespaceOf(s.doc.metadata)}/${s.doc.metadata.name}`, s.doc]));
  const config: MeshConfig = {
    services: services.map((s) => s.doc),
    endpointSlices: shaped.filter((s) => s.doc.kind === 'EndpointSlice').map((s) => s.doc as EndpointSlice),
    udpRoutes: [],
    rtspRoutes: [],
  };

  // Listener addresses already claimed, so a second route on one port is rejected, not merged.
  const claimed = new Map<string, string>();
  for (const { origin, doc } of shaped) {
    if (doc.kind === 'UdpRoute') {
      const found = checkUdpRoute(doc, serviceIndex, claimed);
      if (found.length) problems.push(...found.map((f) => problemFor(origin, doc, f.field, f.reason)));
      else config.udpRoutes.push(doc);
    } else if (doc.kind === 'RtspRoute') {
      const found = checkRtspRoute(doc, serviceIndex, claimed);
      if (found.length) problems.push(...found.map((f) => problemFor(origin, doc, f.field, f.reason)));
      else config.rtspRoutes.push(doc);
    }
  }
  return { config, problems };
}

function checkShape(origin: DocumentOrigin, document: unknown, problems: ConfigProblem[]): MeshDocument | undefined {
  if (document === null || typeof document !== 'object' || Array.isArray(document)) {
    problems.push({ source: origin.source, index: origin.index, field: '', reason: 'document is not a mapping (expected apiVersion, kind, metadata, ...)' });
    return undefined;
  }
  const raw = document as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
  const kind = typeof raw.kind === 'string' ? raw.kind : undefined;
  const name = typeof raw.metadata?.name === 'string' ? raw.metadata.name : undefined;
  const namespace = typeof raw.metadata?.namespace === 'string' ? raw.metadata.namespace : undefined;
  const base = { source: origin.source, index: origin.index, kind, name, namespace };
  const entry = kind ? schemasByKind[kind] : undefined;
  if (!entry) {
    problems.push({ ...base, field: 'kind', reason: `unknown kind ${JSON.stringify(raw.kind ?? null)}; expected one of ${Object.keys(schemasByKind).join(', ')}` });
    return undefined;
  }
  if (raw.apiVersion !== entry.apiVersion) {
    problems.push({ ...base, field: 'apiVersion', reason: `${kind} must have apiVersion ${entry.apiVersion}, got ${JSON.stringify(raw.apiVersion ?? null)}` });
    return undefined;
  }
  const validate = validators.get(kind!)!;
  if (!validate(document)) {
    for (const err of validate.errors ?? []) problems.push({ ...base, field: fieldPath(err), reason: describeSchemaError(err) });
    return undefined;
  }
  return document as MeshDocument;
}

function fieldPath(err: ErrorObject): string {
  const parts = err.instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (err.keyword === 'additionalProperties') parts.push(String((err.params as { additionalProperty: string }).additionalProperty));
  if (err.keyword === 'required') parts.push(String((err.params as { missingProperty: string }).missingProperty));
  return parts.reduce((path, part) => (/^[0-9]+$/.test(part) ? `${path}[${part}]` : path ? `${path}.${part}` : part), '');
}

function describeSchemaError(err: ErrorObject): string {
  switch (err.keyword) {
    case 'additionalProperties': return 'unknown field';
    case 'required': return 'required field is missing';
    case 'enum': return `must be one of ${(err.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'pattern': return `${err.message ?? 'does not match the expected pattern'}`;
    default: return err.message ?? err.keyword;
  }
}

function problemFor(origin: DocumentOrigin, doc: MeshDocument, field: string, reason: string): ConfigProblem {
  return { source: origin.source, index: origin.index, kind: doc.kind, name: doc.metadata.name, namespace: doc.metadata.namespace, field, reason };
}

interface FieldProblem {
  field: string;
  reason: string;
}

function lookupService(ref: { name: string; namespace?: string }, routeMeta: ObjectMeta, services: ReadonlyMap<string, Service>): Service | undefined {
  return services.get(`${ref.namespace ?? namespaceOf(routeMeta)}/${ref.name}`);
}

function checkParents(
  parents: readonly ParentRef[],
  meta: ObjectMeta,
  services: ReadonlyMap<string, Service>,
  wantProtocol: 'UDP' | 'TCP',
  listenerKind: string,
): { problems: FieldProblem[]; addresses: { field: string; key: string }[] } {
  const problems: FieldProblem[] = [];
  const addresses: { field: string; key: string }[] = [];
  parents.forEach((ref, i) => {
    const field = `spec.parentRefs[${i}]`;
    const svc = lookupService(ref, meta, services);
    if (!svc) {
      problems.push({ field: `${field}.name`, reason: `Service ${ref.namespace ?? namespaceOf(meta)}/${ref.name} not found` });
      return;
    }
    const ip = svc.spec.clusterIP;
    if (!ip || ip === 'None') {
      problems.push({ field: `${field}.name`, reason: `Service ${namespaceOf(svc.metadata)}/${svc.metadata.name} has no clusterIP for the listener to serve` });
      return;
    }
    const end = ref.endPort ?? ref.port;
    if (end < ref.port) {
      problems.push({ field: `${field}.endPort`, reason: `endPort ${end} is below port ${ref.port}` });
      return;
    }
    if (end - ref.port + 1 > MAX_PORT_RANGE) {
      problems.push({ field: `${field}.endPort`, reason: `a port range may span at most ${MAX_PORT_RANGE} ports (got ${end - ref.port + 1})` });
      return;
    }
    if (ref.endPort === undefined) {
      const svcPort = svc.spec.ports.find((p) => p.port === ref.port);
      if (!svcPort) {
        problems.push({ field: `${field}.port`, reason: `Service ${namespaceOf(svc.metadata)}/${svc.metadata.name} has no port ${ref.port}` });
        return;
      }
      if ((svcPort.protocol ?? 'TCP') !== wantProtocol) {
        problems.push({ field: `${field}.port`, reason: `${listenerKind} needs a ${wantProtocol} port; Service port ${ref.port} is ${svcPort.protocol ?? 'TCP'}` });
        return;
      }
    }
    for (let p = ref.port; p <= end; p++) addresses.push({ field: `${field}.port`, key: `${wantProtocol} ${ip}:${p}` });
  });
  return { problems, addresses };
}

function checkBackends(backends: readonly BackendRef[], meta: ObjectMeta, services: ReadonlyMap<string, Service>, fieldPrefix: string): FieldProblem[] {
  const problems: FieldProblem[] = [];
  backends.forEach((ref, i) => {
    const field = `${fieldPrefix}[${i}]`;
    const svc = lookupService(ref, meta, services);
    if (!svc) problems.push({ field: `${field}.name`, reason: `backend Service ${ref.namespace ?? namespaceOf(meta)}/${ref.name} not found` });
    else if (!svc.spec.ports.some((p) => p.port === ref.port)) problems.push({ field: `${field}.port`, reason: `backend Service ${namespaceOf(svc.metadata)}/${svc.metadata.name} has no port ${ref.port}` });
  });
  if (backends.length > 0 && backends.reduce((sum, b) => sum + (b.weight ?? 1), 0) === 0) {
    problems.push({ field: fieldPrefix, reason: 'backend weights sum to 0: no backend would get traffic' });
  }
  return problems;
}

function claimAddresses(addresses: readonly { field: string; key: string }[], owner: string, claimed: Map<string, string>): FieldProblem[] {
  const problems: FieldProblem[] = [];
  for (const a of addresses) {
    const holder = claimed.get(a.key);
    if (holder && holder !== owner) problems.push({ field: a.field, reason: `${a.key} is already served by ${holder}` });
  }
  if (problems.length === 0) for (const a of addresses) claimed.set(a.key, owner);
  return problems;
}

function checkUdpRoute(route: UdpRoute, services: ReadonlyMap<string, Service>, claimed: Map<string, string>): FieldProblem[] {
  const { problems, addresses } = checkParents(route.spec.parentRefs, route.metadata, services, 'UDP', 'UdpRoute');
  problems.push(...checkBackends(route.spec.backendRefs, route.metadata, services, 'spec.backendRefs'));
  if (route.spec.idleTimeout !== undefined && !parseDurationMs(route.spec.idleTimeout)) {
    problems.push({ field: 'spec.idleTimeout', reason: `"${route.spec.idleTimeout}" must be a positive duration such as 60s` });
  }
  if (route.spec.rtp && route.spec.protocol === 'Raw') problems.push({ field: 'spec.rtp', reason: 'rtp settings need protocol: RTP' });
  if (problems.length === 0) problems.push(...claimAddresses(addresses, `UdpRoute ${namespaceOf(route.metadata)}/${route.metadata.name}`, claimed));
  return problems;
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

function checkRtspRoute(route: RtspRoute, services: ReadonlyMap<string, Service>, claimed: Map<string, string>): FieldProblem[] {
  const { problems, addresses } = checkParents(route.spec.parentRefs, route.metadata, services, 'TCP', 'RtspRoute');
  route.spec.rules.forEach((rule, r) => {
    problems.push(...checkBackends(rule.backendRefs, route.metadata, services, `spec.rules[${r}].backendRefs`));
    (rule.matches ?? []).forEach((match, m) => {
      const path = match.path;
      if (!path) return;
      const field = `spec.rules[${r}].matches[${m}].path.value`;
      if ((path.type ?? 'PathPrefix') === 'RegularExpression') {
        const bad = regexProblem(path.value);
        if (bad) problems.push({ field, reason: bad });
      } else if (!path.value.startsWith('/')) {
        problems.push({ field, reason: `path "${path.value}" must start with /` });
      }
    });
  });
  for (const group of ['timeouts', 'healthCheck', 'outlierDetection'] as const) {
    for (const [key, value] of Object.entries(route.spec[group] ?? {})) {
      if (typeof value === 'string' && !parseDurationMs(value)) problems.push({ field: `spec.${group}.${key}`, reason: `"${value}" must be a positive duration` });
    }
  }
  if (problems.length === 0) problems.push(...claimAddresses(addresses, `RtspRoute ${namespaceOf(route.metadata)}/${route.metadata.name}`, claimed));
  return problems;
}
