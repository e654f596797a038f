// The admission webhooks on a real kube-apiserver, registered exactly as
// manifests/webhooks/ has them (selectors, match conditions, failure
// policies), only pointed at a `mediamesh serve` process on loopback by URL
// with a throwaway CA instead of at the Service:
//   - a pod in a labelled namespace is stored with the sidecar and the init
//     container, and its sidecar, started as the kubelet would start it (the
//     downward API's values in place), connects to the control plane under
//     the pod's name and namespace;
//   - a pod that opts in by annotation elsewhere is injected; an unlabelled
//     pod and an opted-out one are stored as sent;
//   - a stand-in for Istio's injector, registered under Istio's name, sees the
//     exclusions ours merged (ours runs first) and both sidecars are stored;
//   - a bad UdpRoute is refused with the validator's words;
//   - with the process killed, pods that did not opt in (and kube-system's)
//     are still admitted, opted-in pods wait, routes are still admitted;
//   - webhook-cert.sh provisions the Secret and the caBundle, and rolls the
//     CA over on a second run.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { EnvoyProcess } from '../../xds-server/src/sidecar/envoy-process.js';
import { projectRoot } from '../../xds-server/src/sidecar/envoy-binary.js';
import { INIT_CONTAINER, type Pod, PROXY_CONTAINER } from '../../xds-server/src/webhook/inject.js';
import { BOOTSTRAP_ENV, expandKubernetesReferences } from '../../xds-server/src/webhook/sidecar-bootstrap.js';
import { ControlPlaneProcess } from '../helpers/control-plane-process.js';
import { MANIFESTS_DIR, readKustomization, type WebhookConfiguration } from '../helpers/control-plane-manifests.js';
import { startKubeApiServer } from '../helpers/kube-apiserver.js';
import { ConfigDir } from '../helpers/mesh-files.js';
import { waitFor } from '../helpers/poll.js';
import { freeTcpPort } from '../helpers/ports.js';
import { TestPki } from '../helpers/test-pki.js';

type KubeApiServer = Awaited<ReturnType<typeof startKubeApiServer>>;

const LABELLED = 'media';
const PLAIN = 'plain';

/** The manifests' webhook configurations, pointed at a URL instead of the Service. */
function webhookConfigurations(baseUrl: string, caBundle: string): WebhookConfiguration[] {
  const { objects } = readKustomization(MANIFESTS_DIR);
  return objects
    .filter((o) => o.kind === 'MutatingWebhookConfiguration' || o.kind === 'ValidatingWebhookConfiguration')
    .map(({ file: _file, ...o }) => {
      const config = structuredClone(o) as unknown as WebhookConfiguration;
      for (const w of config.webhooks) w.clientConfig = { url: `${baseUrl}${w.clientConfig.service!.path}`, caBundle };
      return config;
    });
}

function podManifest(name: string, namespace: string, meta: { annotations?: Record<string, string>; labels?: Record<string, string> } = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, ...meta },
    spec: { containers: [{ name: 'app', image: 'registry.example/cam:1', ports: [{ name: 'rtsp', containerPort: 8554 }, { name: 'rtp', containerPort: 5004, protocol: 'UDP' }] }] },
  };
}

const names = (list: { name: string }[] | undefined) => (list ?? []).map((c) => c.name);

/** A stand-in for Istio's sidecar injector: records what it is sent, adds an istio-proxy container. */
class FakeIstioInjector {
  readonly seen: Pod[] = [];
  private server?: https.Server;

  async listen(cert: string, key: string): Promise<number> {
    this.server = https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) }, (req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => {
        const review = JSON.parse(body) as { request: { uid: string; object: Pod } };
        this.seen.push(review.request.object);
        const patch = [{ op: 'add', path: '/spec/containers/-', value: { name: 'istio-proxy', image: 'docker.io/istio/proxyv2:1.28.0' } }];
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: review.request.uid, allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') } }));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return (this.server!.address() as { port: number }).port;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

describe('sidecar injection and route validation on a real kube-apiserver', function () {
  this.timeout(180_000);
  let api: KubeApiServer;
  const pki = new TestPki();
  const config = new ConfigDir();
  const istio = new FakeIstioInjector();
  let cp: ControlPlaneProcess | undefined;
  let envoy: EnvoyProcess | undefined;
  let xdsPort: number;
  let proxyAdminPort: number;

  const create = async (object: unknown): Promise<Pod> => JSON.parse(await api.kubectl(['create', '-f', '-', '-o', 'json'], JSON.stringify(object))) as Pod;
  const createFails = async (object: unknown): Promise<string> => {
    try {
      await api.kubectl(['create', '-f', '-'], JSON.stringify(object));
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error(`${JSON.stringify(object).slice(0, 200)} was admitted`);
  };

  before(async function () {
    this.timeout(900_000); // a cold machine builds kube-apiserver first
    api = await startKubeApiServer();
    await api.kubectl(['apply', '--server-side', '-f', path.join(MANIFESTS_DIR, 'crds')]);
    await api.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/udproutes.mediamesh.io', 'crd/rtsproutes.mediamesh.io']);
    await api.kubectl(['create', 'namespace', LABELLED]);
    await api.kubectl(['label', 'namespace', LABELLED, 'mediamesh.io/inject=enabled', 'istio-injection=enabled']);
    await api.kubectl(['create', 'namespace', PLAIN]);

    const ca = pki.ca('webhook-ca');
    const serving = pki.issue('webhook', ca, ['IP = 127.0.0.1']);
    xdsPort = await freeTcpPort();
    const adminPort = await freeTcpPort();
    proxyAdminPort = await freeTcpPort();
    cp = await ControlPlaneProcess.start(config.dir, xdsPort, [
      '--admin-port', String(adminPort),
      '--webhook-port', '0', '--webhook-cert', serving.cert, '--webhook-key', serving.key,
      // The sidecars this injects are started on this machine: they find the control plane on loopback.
      '--proxy-xds-address', `127.0.0.1:${xdsPort}`, '--proxy-extensions-address', `127.0.0.1:${adminPort}`, '--proxy-admin-port', String(proxyAdminPort),
    ]);
    assert.ok(cp.webhookPort, 'the ready line gives the webhook port');
    const caBundle = fs.readFileSync(ca.cert).toString('base64');
    const ours = webhookConfigurations(`https://127.0.0.1:${cp.webhookPort}`, caBundle);
    assert.deepEqual(ours.map((c) => c.kind).sort(), ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']);
    const istioPort = await istio.listen(serving.cert, serving.key);
    const istioConfig = {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata: { name: 'istio-sidecar-injector' },
      webhooks: [{
        name: 'rev.namespace.sidecar-injector.istio.io',
        admissionReviewVersions: ['v1'],
        sideEffects: 'None',
        failurePolicy: 'Ignore',
        clientConfig: { url: `https://127.0.0.1:${istioPort}/inject`, caBundle },
        rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
        namespaceSelector: { matchLabels: { 'istio-injection': 'enabled' } },
      }],
    };
    await api.kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [...ours, istioConfig] }));
    // The API server picks up webhook configurations from its informer: wait until a dry run is injected.
    await waitFor('the API server calls the injector', async () => {
      const probe = JSON.parse(await api.kubectl(['create', '--dry-run=server', '-o', 'json', '-f', '-'], JSON.stringify(podManifest('probe', PLAIN, { annotations: { 'mediamesh.io/inject': 'true' } })))) as Pod;
      return names(probe.spec?.containers).includes(PROXY_CONTAINER);
    }, 30_000, 250);
  });

  after(async () => {
    await envoy?.stop();
    await cp?.stop('SIGKILL');
    await istio.stop();
    await api?.stop();
    pki.cleanup();
    config.cleanup();
  });

  it('stores a pod of a labelled namespace with the sidecar and the init container, Istio\'s injector running after ours', async () => {
    const before = istio.seen.length;
    const stored = await create(podManifest('cam', LABELLED, { annotations: { 'traffic.sidecar.istio.io/excludeInboundPorts': '9100' } }));
    assert.deepEqual(names(stored.spec!.containers), ['app', PROXY_CONTAINER, 'istio-proxy']);
    assert.deepEqual(names(stored.spec!.initContainers), [INIT_CONTAINER]);
    const init = stored.spec!.initContainers![0]!;
    assert.deepEqual(init.args, ['apply', '--proxy-uid', '1339', '--proxy-gid', '1339', '--rtsp-ports', '554,8554', '--udp-ports', '5004', '--inbound-rtsp-ports', '8554', '--inbound-udp-ports', '5004']);
    const annotations = stored.metadata!.annotations!;
    assert.equal(annotations['traffic.sidecar.istio.io/excludeInboundPorts'], '9100,554,5004,8554', 'the user\'s 9100 kept, ours added');
    assert.equal(annotations['traffic.sidecar.istio.io/excludeOutboundPorts'], '554,5004,8554');
    // What Istio's injector was sent already carries our exclusions: it renders istio-init from them.
    const seen = istio.seen.slice(before).find((p) => p.metadata?.name === 'cam');
    assert.ok(seen, 'Istio\'s injector was called');
    assert.equal(seen.metadata!.annotations!['traffic.sidecar.istio.io/excludeInboundPorts'], '9100,554,5004,8554');
    assert.ok(names(seen.spec!.containers).includes(PROXY_CONTAINER));
  });

  it('the stored sidecar, started as the kubelet would start it, connects under the pod\'s name and namespace', async () => {
    const stored = JSON.parse(await api.kubectl(['get', 'pod', 'cam', '-n', LABELLED, '-o', 'json'])) as Pod;
    const proxy = stored.spec!.containers!.find((c) => c.name === PROXY_CONTAINER)!;
    const env = proxy.env as { name: string; value?: string }[];
    // The downward API's values for this pod (no kubelet here: the pod IP is the one it would be given).
    const values: Record<string, string> = { POD_NAME: stored.metadata!.name!, POD_NAMESPACE: stored.metadata!.namespace!, POD_IP: '127.0.0.1' };
    const bootstrap = expandKubernetesReferences(env.find((e) => e.name === BOOTSTRAP_ENV)!.value!, values);
    assert.deepEqual((proxy.args as string[]).slice(0, 2), ['--config-yaml', `$(${BOOTSTRAP_ENV})`]);
    envoy = await EnvoyProcess.start({ bootstrapYaml: bootstrap });
    assert.ok(envoy.admin.url.endsWith(`:${proxyAdminPort}`), `admin on the injected port: ${envoy.admin.url}`);
    const node = await waitFor('the sidecar connected', async () => (await cp!.debugNodes()).nodes.find((n) => n.id === 'cam.media' && n.connected));
    assert.ok(node);
    const raw = (await (await fetch(`${cp!.adminUrl}/debug/nodes`)).json()) as { nodes: { id: string; view?: unknown }[] };
    // With what its init container captures (RTSP 554 and 8554 out; its containerPorts in): the listeners it gets for that.
    assert.deepEqual(raw.nodes.find((n) => n.id === 'cam.media')?.view, { namespace: LABELLED, podIp: '127.0.0.1', role: 'sidecar', captured: { outboundRtsp: true, inboundRtsp: true, inboundUdp: [5004] } });
  });

  it('injects a pod that opts in by annotation in a namespace that is not labelled', async () => {
    const stored = await create(podManifest('opted-in', PLAIN, { annotations: { 'mediamesh.io/inject': 'true', 'mediamesh.io/udp-ports': '5004-5005' } }));
    assert.deepEqual(names(stored.spec!.containers), ['app', PROXY_CONTAINER]);
    assert.equal(stored.spec!.initContainers![0]!.name, INIT_CONTAINER);
  });

  it('stores a pod of an unlabelled namespace, and an opted-out pod of a labelled one, as sent', async () => {
    for (const manifest of [
      podManifest('untouched', PLAIN),
      podManifest('opted-out', LABELLED, { annotations: { 'mediamesh.io/inject': 'false' } }),
      podManifest('labelled-out', LABELLED, { labels: { 'mediamesh.io/inject': 'false' } }),
    ]) {
      const stored = await create(manifest);
      assert.deepEqual(names(stored.spec!.containers), ['app', ...(manifest.metadata!.namespace === LABELLED ? ['istio-proxy'] : [])], manifest.metadata!.name);
      assert.equal(stored.spec!.initContainers, undefined);
      for (const key of Object.keys(stored.metadata!.annotations ?? {})) assert.ok(!key.startsWith('traffic.sidecar.istio.io/') && key !== 'mediamesh.io/status', `${manifest.metadata!.name}: ${key}`);
    }
  });

  it('refuses a bad UdpRoute with the validator\'s words, and admits a good one whose Service does not exist yet', async () => {
    const route = (name: string, idleTimeout: string) => ({ apiVersion: 'mediamesh.io/v1alpha1', kind: 'UdpRoute', metadata: { name, namespace: PLAIN }, spec: { parentRefs: [{ name: 'feed', port: 5004 }], backendRefs: [{ name: 'feed-v1', port: 5004 }], idleTimeout } });
    const message = await createFails(route('feed', '0s'));
    assert.match(message, /admission webhook "routes\.validate\.mediamesh\.io" denied the request: UdpRoute plain\/feed: spec\.idleTimeout: "0s" must be at least 1ns/);
    await api.kubectl(['create', '-f', '-'], JSON.stringify(route('feed', '30s')));
    // An update is checked too.
    const update = JSON.stringify({ spec: { idleTimeout: '0ms' } });
    await assert.rejects(api.kubectl(['patch', 'udproute', 'feed', '-n', PLAIN, '--type=merge', '-p', update]), /must be at least 1ns/);
  });

  it('with the webhook process killed: unrelated pods, opted-out pods, kube-system and routes are still admitted; opted-in pods wait', async () => {
    await cp!.stop('SIGKILL');
    await api.kubectl(['label', 'namespace', 'kube-system', 'mediamesh.io/inject=enabled']);
    const admitted = [
      podManifest('while-down', PLAIN),
      podManifest('while-down-opted-out', LABELLED, { annotations: { 'mediamesh.io/inject': 'false' } }),
      podManifest('while-down-system', 'kube-system'),
    ];
    for (const manifest of admitted) {
      const stored = await create(manifest);
      assert.ok(!names(stored.spec!.containers).includes(PROXY_CONTAINER), manifest.metadata!.name);
    }
    assert.match(await createFails(podManifest('waits', LABELLED)), /failed calling webhook "namespace\.inject\.mediamesh\.io"/);
    assert.match(await createFails(podManifest('waits-too', PLAIN, { annotations: { 'mediamesh.io/inject': 'true' } })), /failed calling webhook "pod\.inject\.mediamesh\.io"/);
    // failurePolicy Ignore: a route goes to the control plane's own checks (its status) instead.
    await api.kubectl(['create', '-f', '-'], JSON.stringify({ apiVersion: 'mediamesh.io/v1alpha1', kind: 'UdpRoute', metadata: { name: 'while-down', namespace: PLAIN }, spec: { parentRefs: [{ name: 'feed', port: 5006 }], backendRefs: [{ name: 'feed-v1', port: 5006 }], idleTimeout: '0s' } }));
  });

  describe('webhook-cert.sh', () => {
    let kubectlCommand: string;
    const run = () => execFileSync('sh', [path.join(MANIFESTS_DIR, 'webhooks/webhook-cert.sh')], {
      encoding: 'utf8',
      env: { ...process.env, KUBECTL: kubectlCommand, MUTATING: 'cert-test-mutating', VALIDATING: 'cert-test-validating', DAYS: '2' },
    });
    const bundleOf = async (kind: string, name: string, index: number) => Buffer.from(await api.kubectl(['get', kind, name, '-o', `jsonpath={.webhooks[${index}].clientConfig.caBundle}`]), 'base64').toString();
    const certsIn = (pem: string) => pem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
    let saved = 0;
    const secretFile = async (key: string) => {
      const file = path.join(pki.dir, `secret-${++saved}-${key}`);
      fs.writeFileSync(file, Buffer.from(await api.kubectl(['get', 'secret', 'mediamesh-webhook-tls', '-n', 'mediamesh-system', '-o', `jsonpath={.data.${key.replace('.', '\\.')}}`]), 'base64'));
      return file;
    };
    const verifies = (caPem: string, cert: string) => {
      const caFile = path.join(pki.dir, 'bundle-ca.pem');
      fs.writeFileSync(caFile, caPem);
      return execFileSync('openssl', ['verify', '-CAfile', caFile, cert], { encoding: 'utf8' }).trim().endsWith(': OK');
    };

    before(async () => {
      const mod = (await import(pathToFileURL(path.join(projectRoot(), 'scripts/kubernetes-binaries.mjs')).href)) as { kubernetesBinaryPaths(): { kubectl: string } };
      kubectlCommand = `${mod.kubernetesBinaryPaths().kubectl} --kubeconfig ${api.kubeconfigPath}`;
      await api.kubectl(['create', 'namespace', 'mediamesh-system']);
      // The manifests' configurations as they are (Service clientConfig, no caBundle), under names of their own.
      const { objects } = readKustomization(MANIFESTS_DIR);
      const renamed = objects
        .filter((o) => o.kind.endsWith('WebhookConfiguration'))
        .map(({ file: _file, ...o }) => ({ ...o, metadata: { ...o.metadata, name: o.kind.startsWith('Mutating') ? 'cert-test-mutating' : 'cert-test-validating' } }));
      await api.kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: renamed }));
    });

    it('writes the Secret and a caBundle on every webhook that verifies it, for the Service\'s DNS name', async () => {
      assert.match(run(), /Secret mediamesh-system\/mediamesh-webhook-tls/);
      const cert = await secretFile('tls.crt');
      await secretFile('tls.key');
      const text = execFileSync('openssl', ['x509', '-in', cert, '-noout', '-ext', 'subjectAltName'], { encoding: 'utf8' });
      assert.match(text, /DNS:mediamesh-control-plane\.mediamesh-system\.svc\b/);
      const bundles = await Promise.all([bundleOf('mutatingwebhookconfiguration', 'cert-test-mutating', 0), bundleOf('mutatingwebhookconfiguration', 'cert-test-mutating', 1), bundleOf('validatingwebhookconfiguration', 'cert-test-validating', 0)]);
      for (const bundle of bundles) {
        assert.equal(certsIn(bundle).length, 1);
        assert.equal(bundle, bundles[0]);
        assert.ok(verifies(bundle, cert));
      }
      // The CA's key is gone with the script's temp dir: only the Secret's key exists.
      assert.equal(JSON.parse(await api.kubectl(['get', 'secret', 'mediamesh-webhook-tls', '-n', 'mediamesh-system', '-o', 'json'])).type, 'kubernetes.io/tls');
    });

    it('renews: the new CA first, the one it replaces after it, so both certificates are trusted meanwhile', async () => {
      const oldCert = await secretFile('tls.crt');
      const oldBundle = await bundleOf('validatingwebhookconfiguration', 'cert-test-validating', 0);
      run();
      const newCert = await secretFile('tls.crt');
      const bundle = await bundleOf('validatingwebhookconfiguration', 'cert-test-validating', 0);
      const certs = certsIn(bundle);
      assert.equal(certs.length, 2);
      assert.equal(certs[1], certsIn(oldBundle)[0]);
      assert.ok(verifies(bundle, newCert));
      assert.ok(verifies(bundle, oldCert));
      run();
      assert.equal(certsIn(await bundleOf('mutatingwebhookconfiguration', 'cert-test-mutating', 1)).length, 2, 'never more than two');
    });
  });
});
