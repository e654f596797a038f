// AdmissionReview v1 in, AdmissionReview v1 out: the mutating webhook's
// answer (a JSON Patch that injects the sidecar) and the validating
// webhook's (a route refused with the validator's own words). Pure: the
// HTTPS server in webhook-server.ts only moves the JSON.
import { checkShape, type FieldProblem } from '../api/check-shape.js';
import { rtspMatchProblems } from '../api/resolve-route.js';
import type { RtspRoute } from '../api/types.js';
import { WATCHED_KINDS, type WatchedKind } from '../sources/kubernetes/api-access.js';
import { type ApiObject, toDocument } from '../sources/kubernetes/to-document.js';
import { injectPod, type InjectOptions, type Pod } from './inject.js';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';

export interface AdmissionRequest {
  uid: string;
  kind?: { group?: string; version?: string; kind?: string };
  namespace?: string;
  name?: string;
  operation?: string;
  object?: unknown;
  dryRun?: boolean;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; reason?: string; message: string };
  patchType?: 'JSONPatch';
  /** base64 of the JSON Patch. */
  patch?: string;
  warnings?: string[];
}

export interface AdmissionReview {
  apiVersion: typeof ADMISSION_API_VERSION;
  kind: 'AdmissionReview';
  response: AdmissionResponse;
}

/** A body that is not an AdmissionReview v1 with a request: the server answers 400. */
export class BadAdmissionReview extends Error {}

export function admissionRequestOf(body: unknown): AdmissionRequest {
  if (body === null || typeof body !== 'object') throw new BadAdmissionReview('expected an AdmissionReview (JSON object)');
  const review = body as { apiVersion?: unknown; kind?: unknown; request?: unknown };
  if (review.kind !== 'AdmissionReview' || review.apiVersion !== ADMISSION_API_VERSION) {
    throw new BadAdmissionReview(`expected kind AdmissionReview, apiVersion ${ADMISSION_API_VERSION}; got ${JSON.stringify(review.kind ?? null)}, ${JSON.stringify(review.apiVersion ?? null)}`);
  }
  const request = review.request as AdmissionRequest | undefined;
  if (request === null || typeof request !== 'object' || typeof request.uid !== 'string' || request.uid === '') throw new BadAdmissionReview('AdmissionReview has no request.uid');
  return request;
}

const answer = (response: AdmissionResponse): AdmissionReview => ({ apiVersion: ADMISSION_API_VERSION, kind: 'AdmissionReview', response });

export interface InjectionOutcome {
  review: AdmissionReview;
  /** For the log: injected, skipped (with why) or refused (with why). */
  outcome: 'injected' | 'skipped' | 'refused';
  reason?: string;
}

/**
 * The mutating webhook. `namespaceLabels` is what the calling webhook's
 * namespaceSelector established about the pod's namespace. Anything but a
 * pod being created is let through untouched.
 */
export function reviewInjection(request: AdmissionRequest, namespaceLabels: Readonly<Record<string, string>>, options: InjectOptions): InjectionOutcome {
  const { uid } = request;
  if (request.kind?.kind !== 'Pod' || request.operation !== 'CREATE' || request.object === null || typeof request.object !== 'object') {
    return { review: answer({ uid, allowed: true }), outcome: 'skipped', reason: `not a Pod being created (${request.kind?.kind ?? '?'} ${request.operation ?? '?'})` };
  }
  const result = injectPod(request.object as Pod, namespaceLabels, options);
  if (!result.ok) {
    return { review: answer({ uid, allowed: false, status: { code: 400, reason: 'BadRequest', message: `mediamesh sidecar injection: ${result.error}` } }), outcome: 'refused', reason: result.error };
  }
  if (result.skipped !== undefined || result.patch.length === 0) return { review: answer({ uid, allowed: true }), outcome: 'skipped', reason: result.skipped };
  const patch = Buffer.from(JSON.stringify(result.patch)).toString('base64');
  return { review: answer({ uid, allowed: true, patchType: 'JSONPatch', patch }), outcome: 'injected' };
}

/**
 * What `mediamesh validate` finds wrong with a route on its own: its shape,
 * durations Envoy would refuse, the rules the CRDs also state in CEL, and
 * RE2's limits on path regexes. References to Services and clashes with
 * other routes are not checked here: they depend on objects that may come
 * later (or go), so the control plane reports them in the route's status.
 */
export function routeDocumentProblems(document: unknown): FieldProblem[] {
  const shape = checkShape(document);
  if (!shape.ok) return shape.problems;
  return shape.doc.kind === 'RtspRoute' ? rtspMatchProblems(shape.doc as RtspRoute) : [];
}

const ROUTE_KINDS = new Map<string, WatchedKind>(WATCHED_KINDS.filter((k) => k.kind === 'UdpRoute' || k.kind === 'RtspRoute').map((k) => [k.kind, k]));

/** The validating webhook: a UdpRoute or RtspRoute with problems is refused with all of them. */
export function reviewValidation(request: AdmissionRequest): { review: AdmissionReview; problems: string[] } {
  const { uid } = request;
  const kind = request.kind?.kind;
  const watched = kind === undefined ? undefined : ROUTE_KINDS.get(kind);
  if (!watched || (request.operation !== 'CREATE' && request.operation !== 'UPDATE')) {
    return { review: answer({ uid, allowed: true }), problems: [] };
  }
  // The document the Kubernetes source would make of it (status and server bookkeeping dropped).
  const object = withNamespace(request.object, request.namespace);
  const document = object !== null && typeof object === 'object' ? toDocument(watched, object as ApiObject)?.document ?? object : object;
  const problems = routeDocumentProblems(document).map((p) => (p.field ? `${p.field}: ${p.reason}` : p.reason));
  if (problems.length === 0) return { review: answer({ uid, allowed: true }), problems };
  const message = `${kind} ${request.namespace ?? 'default'}/${request.name ?? '?'}: ${problems.join('; ')}`;
  return { review: answer({ uid, allowed: false, status: { code: 422, reason: 'Invalid', message } }), problems };
}

/** The request's namespace in the object's metadata, where the validator looks for it. */
function withNamespace(object: unknown, namespace: string | undefined): unknown {
  if (namespace === undefined || object === null || typeof object !== 'object') return object;
  const o = object as { metadata?: { namespace?: unknown } };
  if (o.metadata === null || typeof o.metadata !== 'object' || o.metadata.namespace !== undefined) return object;
  return { ...o, metadata: { ...o.metadata, namespace } };
}
