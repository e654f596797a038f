// The real API server the Kubernetes tests run against (test/helpers/kube-apiserver.ts):
// our CRDs applied with the built kubectl, routes stored and validated by the
// CRD schemas, ServiceAccount tokens authenticated, and objects surviving an
// API server restart.
import assert from 'node:assert/strict';
import { ApiException, AuthenticationV1Api, CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { type KubeApiServer, startKubeApiServer } from '../helpers/kube-apiserver.js';

const GROUP = 'mediamesh.io';
const VERSION = 'v1alpha1';
const NAMESPACE = 'media';

interface UdpRouteObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; uid?: string; generation?: number };
  spec: Record<string, unknown>;
}

function udpRoute(name: string, spec: Record<string, unknown>): UdpRouteObject {
  return { apiVersion: `${GROUP}/${VERSION}`, kind: 'UdpRoute', metadata: { name, namespace: NAMESPACE }, spec };
}

const validSpec = {
  parentRefs: [{ kind: 'Service', name: 'feed', port: 5004 }],
  protocol: 'RTP',
  sessionAffinity: 'SourceIP',
  idleTimeout: '60s',
  backendRefs: [
    { name: 'feed-v1', port: 5004, weight: 90 },
    { name: 'feed-v2', port: 5004, weight: 10 },
  ],
};

/** The HTTP status and the Status message of a failed client-node call. */
function apiFailure(err: unknown): { code: number; message: string } {
  assert.ok(err instanceof ApiException, `expected an ApiException, got ${String(err)}`);
  const body: unknown = typeof err.body === 'string' ? JSON.parse(err.body || '{}') : err.body;
  return { code: err.code, message: (body as { message?: string } | undefined)?.message ?? '' };
}

async function rejection(promise: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await promise;
  } catch (err) {
    return apiFailure(err);
  }
  assert.fail('the API server accepted the request');
}

/** A KubeConfig for the same cluster that authenticates with `token` instead of the admin's. */
function kubeConfigWithToken(admin: KubeConfig, user: string, token: string): KubeConfig {
  const cluster = admin.getCurrentCluster();
  assert.ok(cluster);
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [cluster],
    users: [{ name: user, token }],
    contexts: [{ name: user, cluster: cluster.name, user }],
    currentContext: user,
  });
  return kc;
}

describe('a real Kubernetes API server for tests', function () {
  this.timeout(180_000);
  let api: KubeApiServer;
  let customObjects: CustomObjectsApi;
  let core: CoreV1Api;

  before(async function () {
    this.timeout(240_000);
    const started = Date.now();
    api = await startKubeApiServer();
    const ready = Date.now();
    const applied = await api.kubectl(['apply', '--server-side', '-f', 'manifests/crds/']);
    assert.match(applied, /customresourcedefinition.apiextensions.k8s.io\/udproutes.mediamesh.io serverside-applied/);
    assert.match(applied, /customresourcedefinition.apiextensions.k8s.io\/rtsproutes.mediamesh.io serverside-applied/);
    await api.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/udproutes.mediamesh.io', 'crd/rtsproutes.mediamesh.io']);
    customObjects = api.kubeConfig().makeApiClient(CustomObjectsApi);
    core = api.kubeConfig().makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: NAMESPACE } } });
    process.stderr.write(`      (API server ready in ${ready - started} ms; CRDs applied and Established in ${Date.now() - ready} ms)\n`);
  });

  after(async () => {
    await api?.stop();
  });

  it('is the Kubernetes version we built, and serves both CRDs as Established', async () => {
    const version = JSON.parse(await api.kubectl(['version', '--output=json'])) as { clientVersion: { gitVersion: string }; serverVersion: { gitVersion: string } };
    assert.equal(version.serverVersion.gitVersion, 'v1.37.2');
    assert.equal(version.clientVersion.gitVersion, 'v1.37.2');
    for (const crd of ['udproutes.mediamesh.io', 'rtsproutes.mediamesh.io']) {
      const status = await api.kubectl(['get', `crd/${crd}`, '-o', 'jsonpath={.status.conditions[?(@.type=="Established")].status}']);
      assert.equal(status, 'True', crd);
    }
  });

  it('stores a valid UdpRoute and gives it back through CustomObjectsApi', async () => {
    await customObjects.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: NAMESPACE, plural: 'udproutes', body: udpRoute('feed', validSpec) });
    const read = (await customObjects.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: NAMESPACE, plural: 'udproutes', name: 'feed' })) as UdpRouteObject;
    assert.equal(read.kind, 'UdpRoute');
    assert.deepEqual(read.spec, validSpec);
    assert.equal(read.metadata.generation, 1);
    assert.ok(read.metadata.uid);
  });

  it('rejects a UdpRoute without backendRefs, naming the field', async () => {
    const { backendRefs: _omitted, ...withoutBackends } = validSpec;
    const failure = await rejection(customObjects.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: NAMESPACE, plural: 'udproutes', body: udpRoute('no-backends', withoutBackends) }));
    assert.equal(failure.code, 422, failure.message);
    assert.match(failure.message, /spec\.backendRefs: Required value/);
  });

  it('rejects a UdpRoute with a protocol outside the enum and a weight out of range, naming both fields', async () => {
    const spec = { ...validSpec, protocol: 'SRTP', backendRefs: [{ name: 'feed-v1', port: 5004, weight: -1 }] };
    const failure = await rejection(customObjects.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: NAMESPACE, plural: 'udproutes', body: udpRoute('bad-fields', spec) }));
    assert.equal(failure.code, 422, failure.message);
    assert.match(failure.message, /spec\.protocol: Unsupported value: "SRTP"/);
    assert.match(failure.message, /spec\.backendRefs\[0\]\.weight: Invalid value: -1/);
  });

  it('issues ServiceAccount tokens that the API server authenticates, and RBAC then authorizes', async () => {
    await core.createNamespacedServiceAccount({ namespace: NAMESPACE, body: { metadata: { name: 'probe' } } });
    const token = await api.serviceAccountToken(NAMESPACE, 'probe');
    const asProbe = kubeConfigWithToken(api.kubeConfig(), 'probe', token);

    const review = await asProbe.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } });
    assert.equal(review.status?.userInfo?.username, `system:serviceaccount:${NAMESPACE}:probe`);
    assert.ok(review.status?.userInfo?.groups?.includes(`system:serviceaccounts:${NAMESPACE}`), JSON.stringify(review.status?.userInfo));

    // Authenticated (not 401) but given no role: RBAC denies with 403 and says who asked.
    const denied = await rejection(asProbe.makeApiClient(CoreV1Api).listNamespacedSecret({ namespace: 'kube-system' }));
    assert.equal(denied.code, 403);
    assert.match(denied.message, /system:serviceaccount:media:probe/);

    // A token the API server did not sign is not authenticated at all.
    const forged = `${token.slice(0, -8)}AAAAAAAA`;
    const unauthenticated = await rejection(kubeConfigWithToken(api.kubeConfig(), 'forged', forged).makeApiClient(CoreV1Api).listNamespacedSecret({ namespace: 'kube-system' }));
    assert.equal(unauthenticated.code, 401);
  });

  it('comes back after restart() on the same URL, with its objects and tokens still valid', async () => {
    const before = (await customObjects.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: NAMESPACE, plural: 'udproutes', name: 'feed' })) as UdpRouteObject;
    const token = await api.serviceAccountToken(NAMESPACE, 'probe');
    const url = api.url;

    const started = Date.now();
    await api.restart();
    process.stderr.write(`      (kube-apiserver restarted and ready in ${Date.now() - started} ms)\n`);

    assert.equal(api.url, url);
    // The same client objects keep working: same port, same serving certificate.
    const after = (await customObjects.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: NAMESPACE, plural: 'udproutes', name: 'feed' })) as UdpRouteObject;
    assert.equal(after.metadata.uid, before.metadata.uid);
    assert.deepEqual(after.spec, validSpec);
    const listed = await api.kubectl(['get', 'udproutes', '-n', NAMESPACE, '-o', 'name']);
    assert.equal(listed.trim(), 'udproute.mediamesh.io/feed');
    const review = await kubeConfigWithToken(api.kubeConfig(), 'probe', token).makeApiClient(AuthenticationV1Api).createSelfSubjectReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } });
    assert.equal(review.status?.userInfo?.username, `system:serviceaccount:${NAMESPACE}:probe`);
  });
});
