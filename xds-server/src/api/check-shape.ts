// The first look at a raw document: which object it claims to be, whether it
// has the shape of its kind (JSON Schema), and the checks that need nothing
// but the document itself (addresses that are IPs, durations Envoy accepts,
// and route-rules.ts: the rules the CRDs state in CEL).
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { isIpAddress, parseIp } from './addresses.js';
import { durationProblem } from './duration.js';
import { routeRuleProblems } from './route-rules.js';
import { schemasByKind } from './schemas.js';
import type { FieldProblem, ProblemCode } from './field-problem.js';

export type { FieldProblem, ProblemCode };
import { type EndpointSlice, type MeshDocument, namespaceOf, objectKey, type RtspRoute, type Service, type UdpRoute } from './types.js';


/** What a document says it is, read without trusting its shape. */
export interface ObjectIdentity {
  kind: string;
  namespace: string;
  name: string;
  /** "Kind namespace/name": one object, whichever file or source it came from. */
  key: string;
}

export function objectIdentityOf(document: unknown): ObjectIdentity | undefined {
  if (document === null || typeof document !== 'object' || Array.isArray(document)) return undefined;
  const raw = document as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
  if (typeof raw.kind !== 'string' || typeof raw.metadata?.name !== 'string') return undefined;
  const meta = { name: raw.metadata.name, ...(typeof raw.metadata.namespace === 'string' ? { namespace: raw.metadata.namespace } : {}) };
  return { kind: raw.kind, namespace: namespaceOf(meta), name: meta.name, key: objectKey(raw.kind, meta) };
}

export type ShapeResult = { ok: true; doc: MeshDocument } | { ok: false; problems: FieldProblem[] };

const ajv = new Ajv({ allErrors: true, strict: false });
const validators = new Map<string, ValidateFunction>(Object.entries(schemasByKind).map(([kind, { schema }]) => [kind, ajv.compile(schema)]));

/** Documents are immutable once read (an unchanged file keeps its parsed objects), so their verdict can be kept with them. */
const verdicts = new WeakMap<object, ShapeResult>();

export function checkShape(document: unknown): ShapeResult {
  if (document === null || typeof document !== 'object') return checkShapeUncached(document);
  let verdict = verdicts.get(document);
  if (!verdict) verdicts.set(document, (verdict = checkShapeUncached(document)));
  return verdict;
}

function checkShapeUncached(document: unknown): ShapeResult {
  if (document === null || typeof document !== 'object' || Array.isArray(document)) {
    return { ok: false, problems: [{ field: '', reason: 'document is not a mapping (expected apiVersion, kind, metadata, ...)' }] };
  }
  const raw = document as { apiVersion?: unknown; kind?: unknown };
  const kind = typeof raw.kind === 'string' ? raw.kind : undefined;
  const entry = kind ? schemasByKind[kind] : undefined;
  if (!entry) return { ok: false, problems: [{ field: 'kind', reason: `unknown kind ${JSON.stringify(raw.kind ?? null)}; expected one of ${Object.keys(schemasByKind).join(', ')}` }] };
  if (raw.apiVersion !== entry.apiVersion) {
    return { ok: false, problems: [{ field: 'apiVersion', reason: `${kind} must have apiVersion ${entry.apiVersion}, got ${JSON.stringify(raw.apiVersion ?? null)}` }] };
  }
  const validate = validators.get(kind!)!;
  if (!validate(document)) return { ok: false, problems: (validate.errors ?? []).map((err) => ({ field: fieldPath(err), reason: describeSchemaError(err) })) };
  const doc = document as MeshDocument;
  const local = localProblems(doc);
  return local.length > 0 ? { ok: false, problems: local } : { ok: true, doc };
}

function localProblems(doc: MeshDocument): FieldProblem[] {
  switch (doc.kind) {
    case 'Service': return serviceProblems(doc);
    case 'EndpointSlice': return endpointSliceProblems(doc);
    case 'UdpRoute': return [...udpRouteDurations(doc), ...routeRuleProblems(doc)];
    case 'RtspRoute': return [...rtspRouteDurations(doc), ...routeRuleProblems(doc)];
  }
}

function serviceProblems(svc: Service): FieldProblem[] {
  const ip = svc.spec.clusterIP;
  if (ip === undefined || ip === 'None') return [];
  const parsed = parseIp(ip);
  return isIpAddress(parsed) ? [] : [{ field: 'spec.clusterIP', reason: `${parsed.problem} (or "None" for a headless Service)` }];
}

function endpointSliceProblems(slice: EndpointSlice): FieldProblem[] {
  if (slice.addressType === 'FQDN') return [];
  const want = slice.addressType === 'IPv4' ? 4 : 6;
  const problems: FieldProblem[] = [];
  slice.endpoints.forEach((endpoint, e) => endpoint.addresses.forEach((address, a) => {
    const parsed = parseIp(address);
    const field = `endpoints[${e}].addresses[${a}]`;
    if (!isIpAddress(parsed)) problems.push({ field, reason: parsed.problem });
    else if (parsed.family !== want) problems.push({ field, reason: `"${address}" is not an ${slice.addressType} address (addressType ${slice.addressType})` });
    else if (parsed.wildcard) problems.push({ field, reason: `"${address}" is a wildcard, not an endpoint` });
  }));
  return problems;
}

function durationProblems(fields: Record<string, unknown>): FieldProblem[] {
  const problems: FieldProblem[] = [];
  for (const [field, value] of Object.entries(fields)) {
    if (typeof value !== 'string') continue;
    const bad = durationProblem(value);
    if (bad) problems.push({ field, reason: bad });
  }
  return problems;
}

function udpRouteDurations(route: UdpRoute): FieldProblem[] {
  return durationProblems({ 'spec.idleTimeout': route.spec.idleTimeout });
}

function rtspRouteDurations(route: RtspRoute): FieldProblem[] {
  const fields: Record<string, unknown> = {};
  for (const group of ['timeouts', 'healthCheck', 'outlierDetection'] as const) {
    for (const [key, value] of Object.entries(route.spec[group] ?? {})) fields[`spec.${group}.${key}`] = value;
  }
  return durationProblems(fields);
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
