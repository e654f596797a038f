// `kubectl apply -k manifests/` on a real kube-apiserver, as a user runs it:
// every object is accepted; the control plane's pod passes the namespace's
// "restricted" Pod Security admission; and the API server's own authorizer
// agrees with the RBAC table (test/helpers/control-plane-manifests.ts): the
// control plane's ServiceAccount may do each thing in it, and not the things
// next to them.
import assert from 'node:assert/strict';
import { CONTROL_PLANE_RBAC, type Grant, LEASE_NAME, MANIFESTS_DIR, NAME, NAMESPACE, readKustomization } from '../helpers/control-plane-manifests.js';
import { startKubeApiServer } from '../helpers/kube-apiserver.js';

type KubeApiServer = Awaited<ReturnType<typeof startKubeApiServer>>;

const SERVICE_ACCOUNT = `system:serviceaccount:${NAMESPACE}:${NAME}`;

/** What the API server's authorizer says about one request of the control plane's ServiceAccount. */
function accessReview(g: Pick<Grant, 'apiGroup' | 'resource' | 'verb'>, name?: string, namespace?: string): string {
  const [resource, subresource] = g.resource.split('/');
  return JSON.stringify({
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SubjectAccessReview',
    spec: {
      user: SERVICE_ACCOUNT,
      groups: ['system:serviceaccounts', `system:serviceaccounts:${NAMESPACE}`, 'system:authenticated'],
      resourceAttributes: { group: g.apiGroup, resource, verb: g.verb, ...(subresource ? { subresource } : {}), ...(name ? { name } : {}), ...(namespace ? { namespace } : {}) },
    },
  });
}

describe('manifests on a real kube-apiserver (kubectl apply -k manifests/)', function () {
  this.timeout(120_000);
  let api: KubeApiServer;

  // A SubjectAccessReview rather than `kubectl auth can-i`, whose "no" and whose errors both exit 1.
  const allowed = async (review: string): Promise<boolean> => {
    const answer = JSON.parse(await api.kubectl(['create', '-f', '-', '-o', 'json'], review)) as { status?: { allowed?: boolean } };
    return answer.status?.allowed === true;
  };

  before(async function () {
    this.timeout(900_000); // a cold machine builds kube-apiserver first
    api = await startKubeApiServer();
    await api.kubectl(['apply', '--server-side', '-k', MANIFESTS_DIR]);
  });

  after(async () => {
    await api?.stop();
  });

  it('creates every object the kustomization lists', async () => {
    await api.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/udproutes.mediamesh.io', 'crd/rtsproutes.mediamesh.io']);
    const listed = (await api.kubectl(['get', '-k', MANIFESTS_DIR, '-o', 'name'])).split('\n').filter(Boolean);
    assert.equal(listed.length, readKustomization(MANIFESTS_DIR).objects.length, listed.join('\n'));
  });

  it('runs a pod of the Deployment past "restricted" Pod Security admission', async () => {
    const deployment = JSON.parse(await api.kubectl(['get', 'deployment', NAME, '-n', NAMESPACE, '-o', 'json'])) as { spec: { template: { metadata: object; spec: object } } };
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { ...deployment.spec.template.metadata, name: `${NAME}-admission-check`, namespace: NAMESPACE }, spec: deployment.spec.template.spec };
    await api.kubectl(['create', '--dry-run=server', '-f', '-'], JSON.stringify(pod));
  });

  it('lets the control plane do everything in the RBAC table', async () => {
    for (const g of CONTROL_PLANE_RBAC.cluster) assert.ok(await allowed(accessReview(g)), `cluster-wide: ${g.verb} ${g.resource}`);
    for (const g of CONTROL_PLANE_RBAC.namespace) {
      for (const name of g.resourceNames ?? [undefined]) assert.ok(await allowed(accessReview(g, name, NAMESPACE)), `${NAMESPACE}: ${g.verb} ${g.resource} ${name ?? ''}`);
    }
  });

  it('and nothing next to it', async () => {
    const denied: [Pick<Grant, 'apiGroup' | 'resource' | 'verb'>, string?, string?][] = [
      [{ apiGroup: 'mediamesh.io', resource: 'udproutes', verb: 'create' }],
      [{ apiGroup: 'mediamesh.io', resource: 'udproutes', verb: 'patch' }],
      [{ apiGroup: 'mediamesh.io', resource: 'rtsproutes', verb: 'delete' }],
      [{ apiGroup: 'mediamesh.io', resource: 'udproutes/status', verb: 'update' }],
      [{ apiGroup: '', resource: 'secrets', verb: 'list' }],
      [{ apiGroup: '', resource: 'configmaps', verb: 'get' }],
      [{ apiGroup: '', resource: 'pods', verb: 'create' }],
      [{ apiGroup: '', resource: 'services', verb: 'update' }],
      [{ apiGroup: 'discovery.k8s.io', resource: 'endpointslices', verb: 'create' }],
      [{ apiGroup: 'coordination.k8s.io', resource: 'leases', verb: 'get' }, 'another-lease', NAMESPACE],
      [{ apiGroup: 'coordination.k8s.io', resource: 'leases', verb: 'update' }, 'another-lease', NAMESPACE],
      [{ apiGroup: 'coordination.k8s.io', resource: 'leases', verb: 'delete' }, LEASE_NAME, NAMESPACE],
      [{ apiGroup: 'coordination.k8s.io', resource: 'leases', verb: 'list' }, undefined, NAMESPACE],
      [{ apiGroup: 'coordination.k8s.io', resource: 'leases', verb: 'create' }, undefined, 'default'],
      [{ apiGroup: 'coordination.k8s.io', resource: 'leases', verb: 'get' }, LEASE_NAME, 'default'],
    ];
    for (const [g, name, namespace] of denied) assert.equal(await allowed(accessReview(g, name, namespace)), false, `${g.verb} ${g.resource} ${name ?? ''} in ${namespace ?? 'any namespace'}`);
  });
});
