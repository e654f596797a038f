// The control plane's manifests as `kubectl apply -k manifests/` reads them,
// and the RBAC table they must grant: shared by the unit test that reads the
// files (test/unit/manifests.test.ts) and the one that applies them to a real
// API server (test/integration/manifests-apply.test.ts).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { projectRoot } from '../../xds-server/src/sidecar/envoy-binary.js';
import { clusterAccess, DEFAULT_LEASE_NAME, leaseAccess } from '../../xds-server/src/sources/kubernetes/api-access.js';

export const MANIFESTS_DIR = path.join(projectRoot(), 'manifests');

export const NAMESPACE = 'mediamesh-system';
export const NAME = 'mediamesh-control-plane';
/** The Lease the leader holds (the Role names it). */
export const LEASE_NAME = DEFAULT_LEASE_NAME;

export interface Grant {
  apiGroup: string;
  resource: string;
  verb: string;
  /** Set when the grant is for these objects only. */
  resourceNames?: string[];
}

export const grants = (apiGroup: string, resources: string[], verbs: string[], resourceNames?: string[]): Grant[] =>
  resources.flatMap((resource) => verbs.map((verb) => ({ apiGroup, resource, verb, ...(resourceNames ? { resourceNames } : {}) })));

/**
 * Everything the control plane may do, and nothing more: exactly the API
 * calls the code declares in one place (sources/kubernetes/api-access.ts:
 * informers list + watch, status patches, the leader's Lease).
 */
export const CONTROL_PLANE_RBAC: { cluster: Grant[]; namespace: Grant[] } = {
  cluster: clusterAccess().flatMap((r) => grants(r.group, [r.resource], r.verbs, r.resourceNames)),
  namespace: leaseAccess(LEASE_NAME).flatMap((r) => grants(r.group, [r.resource], r.verbs, r.resourceNames)),
};

export type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; [key: string]: unknown };

export interface Kustomization {
  resources?: string[];
  labels?: { pairs: Record<string, string>; includeSelectors?: boolean; includeTemplates?: boolean }[];
}

/** The objects a kustomization lists, following nested kustomizations. */
export function readKustomization(dir: string): { objects: (K8sObject & { file: string })[]; kustomization: Kustomization } {
  const kustomization = readYaml(path.join(dir, 'kustomization.yaml'))[0] as Kustomization;
  const objects: (K8sObject & { file: string })[] = [];
  for (const entry of kustomization.resources ?? []) {
    const target = path.join(dir, entry);
    assert.ok(fs.existsSync(target), `${path.relative(projectRoot(), target)} is listed in kustomization.yaml but does not exist`);
    if (fs.statSync(target).isDirectory()) objects.push(...readKustomization(target).objects);
    else objects.push(...readYaml(target).map((o) => ({ ...(o as K8sObject), file: path.relative(projectRoot(), target) })));
  }
  return { objects, kustomization };
}

function readYaml(file: string): unknown[] {
  return parseAllDocuments(fs.readFileSync(file, 'utf8')).map((d) => {
    assert.deepEqual(d.errors, [], file);
    return d.toJS();
  }).filter((o) => o !== null);
}

/** A webhook of a Mutating- or ValidatingWebhookConfiguration, as far as the tests read it. */
export interface Webhook {
  name: string;
  admissionReviewVersions: string[];
  sideEffects: string;
  failurePolicy?: 'Fail' | 'Ignore';
  timeoutSeconds?: number;
  clientConfig: { service?: { name: string; namespace: string; port?: number; path?: string }; url?: string; caBundle?: string };
  rules: { operations: string[]; apiGroups: string[]; apiVersions: string[]; resources: string[]; scope?: string }[];
  namespaceSelector?: LabelSelector;
  objectSelector?: LabelSelector;
  matchConditions?: { name: string; expression: string }[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
}

export type WebhookConfiguration = K8sObject & { webhooks: Webhook[] };
