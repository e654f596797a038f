// The bench's config in a real API server (`--source kubernetes`): the same
// documents as the config directory, applied with kubectl, and each round's
// change written as what a controller would write (a PATCH of the
// EndpointSlice whose endpoint moved), so convergence is measured from the
// API request through the watch to every proxy's ACK.
//
// Two adjustments keep the API server's rules: it allocates Service
// clusterIPs itself (from the loopback range the test API server serves), and
// it refuses loopback endpoint addresses, so endpoints get a TEST-NET-1
// address. Neither changes what a round checks (an endpoint's port in EDS).
import { parseAllDocuments } from 'yaml';
import type { KubeClient } from '../../xds-server/src/sources/kubernetes/kube-client.js';

const ENDPOINT_ADDRESS = '192.0.2.1';

interface Doc {
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  spec?: { clusterIP?: string };
  endpoints?: { addresses?: string[] }[];
  ports?: unknown;
}

/** A file's documents as the API server will take them. */
export function clusterDocuments(text: string): Doc[] {
  return parseAllDocuments(text).map((d) => d.toJS() as Doc).filter(Boolean).map((doc) => {
    if (doc.kind === 'Service' && doc.spec) delete doc.spec.clusterIP;
    for (const e of doc.endpoints ?? []) e.addresses = (e.addresses ?? []).map(() => ENDPOINT_ADDRESS);
    return doc;
  });
}

export function namespacesOf(docs: readonly Doc[]): string[] {
  return [...new Set(docs.map((d) => d.metadata?.namespace ?? 'default'))].sort();
}

/** The EndpointSlices of `after` whose ports or endpoints differ from `before`. */
export function changedSlices(before: readonly Doc[], after: readonly Doc[]): Doc[] {
  const key = (d: Doc) => `${d.metadata?.namespace}/${d.metadata?.name}`;
  const old = new Map(before.filter((d) => d.kind === 'EndpointSlice').map((d) => [key(d), JSON.stringify([d.ports, d.endpoints])]));
  return after.filter((d) => d.kind === 'EndpointSlice' && old.get(key(d)) !== JSON.stringify([d.ports, d.endpoints]));
}

/** Writes the slices' new ports and endpoints (a merge patch replaces both lists whole). */
export async function patchSlices(client: KubeClient, slices: readonly Doc[]): Promise<void> {
  await Promise.all(slices.map((s) => client.patch(
    `/apis/discovery.k8s.io/v1/namespaces/${s.metadata!.namespace}/endpointslices/${s.metadata!.name}`,
    { ports: s.ports, endpoints: s.endpoints },
    'merge',
  )));
}
