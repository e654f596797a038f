// The admission webhooks' answers (AdmissionReview v1) and their HTTPS server:
// a pod being created gets the injecting JSON Patch (or nothing, or a refusal
// that names its bad annotation); a route gets the validator's words for
// what the CRD schema cannot say; the server answers on its three paths over
// TLS and picks up a renewed certificate without a restart.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { reviewInjection, reviewValidation, type AdmissionRequest, type AdmissionReview, routeDocumentProblems } from '../../xds-server/src/webhook/admission.js';
import { defaultInjectOptions, PROXY_CONTAINER, type Pod } from '../../xds-server/src/webhook/inject.js';
import { applyPatch, type JsonPatchOperation } from '../../xds-server/src/webhook/json-patch.js';
import { WEBHOOK_PATHS, WebhookServer } from '../../xds-server/src/webhook/webhook-server.js';
import { TestPki } from '../helpers/test-pki.js';

const options = defaultInjectOptions('0.1.0');

const podRequest = (object: unknown, extra: Partial<AdmissionRequest> = {}): AdmissionRequest => ({
  uid: 'u-1',
  kind: { group: '', version: 'v1', kind: 'Pod' },
  namespace: 'media',
  operation: 'CREATE',
  object,
  ...extra,
});

const routeRequest = (kind: string, spec: unknown, operation = 'CREATE'): AdmissionRequest => ({
  uid: 'u-2',
  kind: { group: 'mediamesh.io', version: 'v1alpha1', kind },
  namespace: 'media',
  name: 'feed',
  operation,
  // As the API server sends it: no namespace in the object's metadata yet, server fields, a status.
  object: { apiVersion: 'mediamesh.io/v1alpha1', kind, metadata: { name: 'feed', uid: 'abc', generation: 3, managedFields: [{}] }, spec, status: { parents: [] } },
});

const udpSpec = (extra: Record<string, unknown> = {}) => ({ parentRefs: [{ name: 'feed', port: 5004 }], backendRefs: [{ name: 'feed-v1', port: 5004 }], ...extra });
const rtspSpec = (path: unknown) => ({ parentRefs: [{ name: 'cams', port: 554 }], rules: [{ matches: [{ path }], backendRefs: [{ name: 'cam-v1', port: 8554 }] }] });

const decodePatch = (review: AdmissionReview): JsonPatchOperation[] => JSON.parse(Buffer.from(review.response.patch!, 'base64').toString()) as JsonPatchOperation[];

describe('admission webhooks', () => {
  describe('the mutating answer', () => {
    const pod: Pod = { metadata: { generateName: 'cam-', annotations: { 'mediamesh.io/inject': 'true' } }, spec: { containers: [{ name: 'app', image: 'app:1' }] } };

    it('answers an opted-in pod with a JSON Patch that injects it, echoing the uid', () => {
      const { review, outcome } = reviewInjection(podRequest(pod), {}, options);
      assert.equal(outcome, 'injected');
      assert.equal(review.apiVersion, 'admission.k8s.io/v1');
      assert.equal(review.kind, 'AdmissionReview');
      assert.equal(review.response.uid, 'u-1');
      assert.equal(review.response.allowed, true);
      assert.equal(review.response.patchType, 'JSONPatch');
      const patched = applyPatch(pod, decodePatch(review));
      assert.deepEqual(patched.spec!.containers!.map((c) => c.name), ['app', PROXY_CONTAINER]);
    });

    it('lets anything else through unchanged: no opt-in, another kind, an update', () => {
      const plain = { spec: { containers: [{ name: 'app', image: 'app:1' }] } };
      for (const [request, labels] of [
        [podRequest(plain), {}],
        [podRequest(pod, { kind: { group: '', version: 'v1', kind: 'Service' } }), {}],
        [podRequest(pod, { operation: 'UPDATE' }), {}],
        [podRequest({ ...pod, metadata: { annotations: { 'mediamesh.io/inject': 'false' } } }), { 'mediamesh.io/inject': 'enabled' }],
      ] as const) {
        const { review, outcome } = reviewInjection(request, labels, options);
        assert.equal(outcome, 'skipped');
        assert.deepEqual(review.response, { uid: 'u-1', allowed: true });
      }
      assert.equal(reviewInjection(podRequest(plain), { 'mediamesh.io/inject': 'enabled' }, options).outcome, 'injected');
    });

    it('refuses an opted-in pod whose port annotation is wrong, saying which', () => {
      const bad = { ...pod, metadata: { annotations: { 'mediamesh.io/inject': 'true', 'mediamesh.io/rtsp-ports': '554;8554' } } };
      const { review, outcome } = reviewInjection(podRequest(bad), {}, options);
      assert.equal(outcome, 'refused');
      assert.equal(review.response.allowed, false);
      assert.equal(review.response.status?.message, 'mediamesh sidecar injection: annotation mediamesh.io/rtsp-ports: "554;8554" is not a port (1-65535) or a range such as 5004-5005');
    });
  });

  describe('the validating answer', () => {
    it('admits a good route (server fields and status do not matter), and any other kind', () => {
      assert.deepEqual(reviewValidation(routeRequest('UdpRoute', udpSpec({ idleTimeout: '30s' }))).review.response, { uid: 'u-2', allowed: true });
      assert.deepEqual(reviewValidation(routeRequest('RtspRoute', rtspSpec({ type: 'RegularExpression', value: '/cam-[0-9]+' }))).review.response, { uid: 'u-2', allowed: true });
      assert.deepEqual(reviewValidation(routeRequest('Service', {})).review.response, { uid: 'u-2', allowed: true });
      assert.deepEqual(reviewValidation(routeRequest('UdpRoute', udpSpec({ idleTimeout: '0s' }), 'DELETE')).review.response, { uid: 'u-2', allowed: true });
    });

    const refused: { name: string; request: AdmissionRequest; message: string }[] = [
      { name: 'a zero idle timeout (the CRD\'s pattern allows it; Envoy does not)', request: routeRequest('UdpRoute', udpSpec({ idleTimeout: '0s' })), message: 'UdpRoute media/feed: spec.idleTimeout: "0s" must be at least 1ns' },
      { name: 'a duration past protobuf\'s bound', request: routeRequest('UdpRoute', udpSpec({ idleTimeout: '99999999999999h' }), 'UPDATE'), message: 'UdpRoute media/feed: spec.idleTimeout: "99999999999999h" is longer than Envoy accepts (at most 315576000000s)' },
      { name: 'a lookahead RE2 cannot run', request: routeRequest('RtspRoute', rtspSpec({ type: 'RegularExpression', value: '/cam(?=1)' })), message: 'RtspRoute media/feed: spec.rules[0].matches[0].path.value: lookahead/lookbehind is not supported by RE2' },
      { name: 'every problem at once', request: routeRequest('UdpRoute', udpSpec({ sessionAffinity: 'Sticky', idelTimeout: '30s' })), message: 'UdpRoute media/feed: spec.idelTimeout: unknown field; spec.sessionAffinity: must be one of "SourceIP", "SourceIPPort", "None"' },
    ];
    for (const c of refused) {
      it(`refuses ${c.name}, in the validator's words`, () => {
        const { review } = reviewValidation(c.request);
        assert.equal(review.response.allowed, false);
        assert.equal(review.response.status?.code, 422);
        assert.equal(review.response.status?.message, c.message);
      });
    }

    it('checks the route alone: a Service it names that does not exist is for the status, not for admission', () => {
      assert.deepEqual(routeDocumentProblems({ apiVersion: 'mediamesh.io/v1alpha1', kind: 'UdpRoute', metadata: { name: 'x', namespace: 'y' }, spec: udpSpec() }), []);
    });
  });

  describe('the HTTPS server', function () {
    this.timeout(30_000);
    const pki = new TestPki();
    let ca: ReturnType<TestPki['ca']>;
    let server: WebhookServer;
    let port: number;
    let certFile: string;
    let keyFile: string;

    before(async () => {
      ca = pki.ca('webhook-ca');
      const leaf = pki.issue('webhook', ca, ['IP = 127.0.0.1']);
      certFile = `${pki.dir}/serving.crt`;
      keyFile = `${pki.dir}/serving.key`;
      fs.copyFileSync(leaf.cert, certFile);
      fs.copyFileSync(leaf.key, keyFile);
      server = new WebhookServer({ certFile, keyFile, inject: options, reloadIntervalMs: 0 });
      port = await server.listen('127.0.0.1', 0);
    });

    after(async () => {
      await server?.stop();
      pki.cleanup();
    });

    const post = (path: string, body: unknown): Promise<{ status: number; body: string; peerCert: string }> => new Promise((resolve, reject) => {
      const req = https.request({ host: '127.0.0.1', port, path, method: 'POST', ca: fs.readFileSync(ca.cert), headers: { 'content-type': 'application/json' }, agent: false }, (res) => {
        let text = '';
        const peerCert = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
        res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => resolve({ status: res.statusCode ?? 0, body: text, peerCert }));
      });
      req.on('error', reject);
      req.end(typeof body === 'string' ? body : JSON.stringify(body));
    });
    const review = (request: AdmissionRequest) => ({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request });
    const plainPod = { spec: { containers: [{ name: 'app', image: 'app:1' }] } };

    it('/inject/enabled-namespace injects a pod that says nothing; /inject leaves it alone', async () => {
      const enabled = await post(WEBHOOK_PATHS.injectEnabledNamespace, review(podRequest(plainPod)));
      assert.equal(enabled.status, 200);
      assert.equal((JSON.parse(enabled.body) as AdmissionReview).response.patchType, 'JSONPatch');
      const plain = await post(WEBHOOK_PATHS.inject, review(podRequest(plainPod)));
      assert.deepEqual((JSON.parse(plain.body) as AdmissionReview).response, { uid: 'u-1', allowed: true });
    });

    it('/validate refuses a bad route', async () => {
      const answer = await post(WEBHOOK_PATHS.validate, review(routeRequest('UdpRoute', udpSpec({ idleTimeout: '0s' }))));
      assert.equal((JSON.parse(answer.body) as AdmissionReview).response.allowed, false);
    });

    it('answers 400 to what is not an AdmissionReview', async () => {
      const notReview = await post(WEBHOOK_PATHS.inject, { kind: 'Pod' });
      assert.equal(notReview.status, 400);
      assert.match(notReview.body, /expected kind AdmissionReview/);
      assert.equal((await post(WEBHOOK_PATHS.validate, '{not json')).status, 400);
      assert.equal((await post(WEBHOOK_PATHS.inject, { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' })).status, 400);
    });

    it('serves a renewed certificate once reloaded, and keeps the old one when the new files are broken', async () => {
      const before = (await post(WEBHOOK_PATHS.inject, review(podRequest(plainPod)))).peerCert;
      fs.writeFileSync(keyFile, 'not a key');
      server.reload();
      assert.equal((await post(WEBHOOK_PATHS.inject, review(podRequest(plainPod)))).peerCert, before, 'a half-written Secret changes nothing');
      const renewed = pki.issue('webhook-renewed', ca, ['IP = 127.0.0.1']);
      fs.copyFileSync(renewed.cert, certFile);
      fs.copyFileSync(renewed.key, keyFile);
      server.reload();
      const after = (await post(WEBHOOK_PATHS.inject, review(podRequest(plainPod)))).peerCert;
      assert.notEqual(after, before);
    });
  });
});
