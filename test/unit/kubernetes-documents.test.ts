// The Kubernetes source's pure parts: API objects as mediamesh documents (the
// same model as files), endpoints' conditions, and which status writes are
// needed. The informers, the Lease and the writes themselves run against a
// real API server in test/integration/kubernetes-source.test.ts.
import assert from 'node:assert/strict';
import { validateDocuments } from '../../xds-server/src/api/validate.js';
import { buildModel } from '../../xds-server/src/model/build-model.js';
import { WATCHED_KINDS } from '../../xds-server/src/sources/kubernetes/api-access.js';
import { CONTROLLER_NAME, desiredParents } from '../../xds-server/src/sources/kubernetes/status-writer.js';
import { toDocument } from '../../xds-server/src/sources/kubernetes/to-document.js';
import type { RouteStatusEntry } from '../../xds-server/src/status/route-status.js';

const kind = (k: string) => WATCHED_KINDS.find((w) => w.kind === k)!;

const service = {
  metadata: { name: 'feed', namespace: 'media', uid: 'u1', resourceVersion: '7', creationTimestamp: '2026-11-30T10:00:00Z', managedFields: [{ manager: 'kubectl' }], annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"big":true}', keep: 'me' } },
  spec: { type: 'ClusterIP', clusterIP: '127.96.0.10', clusterIPs: ['127.96.0.10'], ports: [{ name: 'rtp', port: 5004, targetPort: 'rtp', protocol: 'UDP' }], sessionAffinity: 'None' },
  status: { loadBalancer: {} },
};

const slice = (endpoints: unknown[]) => ({
  metadata: { name: 'feed-v1-abcde', namespace: 'media', labels: { 'kubernetes.io/service-name': 'feed-v1', 'endpointslice.kubernetes.io/managed-by': 'test' } },
  addressType: 'IPv4',
  ports: [{ name: 'rtp', port: 25004, protocol: 'UDP' }],
  endpoints,
});

describe('kubernetes documents', () => {
  it('keeps only the fields mediamesh reads, in the shape files use', () => {
    const doc = toDocument(kind('Service'), service)!;
    assert.deepEqual(doc.origin, { source: 'kubernetes', index: -1 });
    assert.deepEqual(doc.document, {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'feed', namespace: 'media', annotations: { keep: 'me' }, creationTimestamp: '2026-11-30T10:00:00Z' },
      spec: { clusterIP: '127.96.0.10', ports: [{ name: 'rtp', port: 5004, targetPort: 'rtp', protocol: 'UDP' }] },
    });
  });

  it('leaves out what can matter to no route, and makes a headless Service one without an address', () => {
    assert.equal(toDocument(kind('Service'), { metadata: { name: 'ext', namespace: 'x' }, spec: { type: 'ExternalName', externalName: 'example.org' } }), undefined);
    assert.equal(toDocument(kind('EndpointSlice'), { ...slice([]), metadata: { name: 'orphan', namespace: 'media' } }), undefined);
    const headless = toDocument(kind('Service'), { metadata: { name: 'h', namespace: 'x' }, spec: { clusterIP: 'None', ports: [{ port: 5004 }] } })!;
    assert.deepEqual((headless.document as { spec: unknown }).spec, { ports: [{ port: 5004 }] });
  });

  it('builds the same model from cluster objects as from the same objects in files', () => {
    const route = {
      apiVersion: 'mediamesh.io/v1alpha1', kind: 'UdpRoute',
      metadata: { name: 'feed', namespace: 'media', generation: 3 },
      spec: { parentRefs: [{ name: 'feed', port: 5004 }], backendRefs: [{ name: 'feed-v1', port: 5004 }] },
      status: { parents: [] },
    };
    const backend = { metadata: { name: 'feed-v1', namespace: 'media' }, spec: { clusterIP: '127.96.0.11', ports: [{ name: 'rtp', port: 5004, targetPort: 'rtp', protocol: 'UDP' }] } };
    const documents = [
      toDocument(kind('Service'), service)!,
      toDocument(kind('Service'), backend)!,
      toDocument(kind('EndpointSlice'), slice([{ addresses: ['10.1.0.5'], conditions: { ready: true, serving: true, terminating: false } }]))!,
      toDocument(kind('UdpRoute'), route)!,
    ];
    const admitted = validateDocuments(documents);
    assert.deepEqual(admitted.problems, []);
    const model = buildModel(admitted.config);
    assert.equal(model.udpListeners.length, 1);
    // The Service's named targetPort resolves through the slice's port of the same name.
    assert.deepEqual(model.udpListeners[0]!.backends[0]!.endpoints, [{ address: '10.1.0.5', port: 25004 }]);
  });

  it('serves ready endpoints, and terminating-but-serving ones only when none is ready', () => {
    const model = (endpoints: unknown[]) => {
      const backend = { metadata: { name: 'feed-v1', namespace: 'media' }, spec: { ports: [{ name: 'rtp', port: 5004, protocol: 'UDP' }] } };
      const route = { metadata: { name: 'feed', namespace: 'media' }, spec: { parentRefs: [{ name: 'feed', port: 5004 }], backendRefs: [{ name: 'feed-v1', port: 5004 }] } };
      const docs = [toDocument(kind('Service'), service)!, toDocument(kind('Service'), backend)!, toDocument(kind('EndpointSlice'), slice(endpoints))!, toDocument(kind('UdpRoute'), route)!];
      return buildModel(validateDocuments(docs).config).udpListeners[0]!.backends[0]!.endpoints.map((e) => e.address);
    };
    const ready = { addresses: ['10.1.0.1'], conditions: { ready: true, serving: true, terminating: false } };
    const unknown = { addresses: ['10.1.0.2'], conditions: { ready: null, serving: null, terminating: null } };
    const draining = { addresses: ['10.1.0.3'], conditions: { ready: false, serving: true, terminating: true } };
    const gone = { addresses: ['10.1.0.4'], conditions: { ready: false, serving: false, terminating: true } };
    assert.deepEqual(model([ready, unknown, draining, gone]), ['10.1.0.1', '10.1.0.2']);
    assert.deepEqual(model([draining, gone]), ['10.1.0.3']);
    assert.deepEqual(model([gone]), []);
  });
});

describe('route status writes', () => {
  const entry = (status: 'True' | 'False', message = 'generation 2 is serving'): RouteStatusEntry => ({
    kind: 'UdpRoute', namespace: 'media', name: 'feed', source: 'kubernetes', generation: 2,
    status: { parents: [{ parentRef: { name: 'feed', port: 5004 }, conditions: [{ type: 'Accepted', status, reason: status === 'True' ? 'Accepted' : 'Invalid', message, observedGeneration: 2, lastTransitionTime: '2026-11-30T12:00:00.000Z' }] }] },
  });

  it('keeps the stored transition time of a condition whose status did not change (a new leader rewrites nothing)', () => {
    const stored = [{ parentRef: { name: 'feed', port: 5004 }, controllerName: CONTROLLER_NAME, conditions: [{ type: 'Accepted' as const, status: 'True' as const, reason: 'Accepted', message: 'generation 2 is serving', observedGeneration: 2, lastTransitionTime: '2026-11-30T09:00:00Z' }] }];
    const desired = desiredParents(entry('True'), stored);
    assert.deepEqual(desired, stored);
    const changed = desiredParents(entry('False', 'spec.idleTimeout: bad'), stored);
    assert.equal(changed[0]!.conditions[0]!.lastTransitionTime, '2026-11-30T12:00:00.000Z');
  });

  it('bounds a condition message (Envoy NACK texts can be long)', () => {
    const desired = desiredParents(entry('False', 'x'.repeat(100_000)), []);
    assert.ok(desired[0]!.conditions[0]!.message.length <= 4096);
  });
});
