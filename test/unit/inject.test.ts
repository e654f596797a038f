// Sidecar injection, the pure part: who is injected (opt-in by pod
// annotation or label, or namespace label; opt-out; host network; twice),
// what an injected pod gets (the proxy, the init container with the
// interception script's contract, Istio's exclusions merged with what the
// user wrote), the JSON Patch that makes it, and `mediamesh inject -f` over
// every workload kind, with other documents coming out byte for byte.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { projectRoot } from '../../xds-server/src/sidecar/envoy-binary.js';
import { ANNOTATIONS, type Container, defaultInjectOptions, INIT_CONTAINER, injectPod, type InjectResult, INTERCEPT_SCRIPT, MAX_INBOUND_UDP_PORTS, MAX_ISTIO_UDP_PORTS, type Pod, PROXY_CONTAINER, PROXY_TMP_VOLUME } from '../../xds-server/src/webhook/inject.js';
import { injectManifests, type InjectManifestsOptions } from '../../xds-server/src/webhook/inject-manifests.js';
import { applyPatch, topLevelPatch } from '../../xds-server/src/webhook/json-patch.js';
import { mergeCommaList, parsePortList } from '../../xds-server/src/interception/port-list.js';
import { BOOTSTRAP_ENV, expandKubernetesReferences } from '../../xds-server/src/webhook/sidecar-bootstrap.js';

const options = defaultInjectOptions('0.1.0');
const ENABLED = { 'mediamesh.io/inject': 'enabled' };

function pod(meta: { annotations?: Record<string, string>; labels?: Record<string, string> } = {}, spec: Record<string, unknown> = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'cam', namespace: 'media', ...meta },
    spec: { containers: [{ name: 'app', image: 'app:1' }], ...spec },
  };
}

function injected(result: InjectResult): Pod {
  assert.ok(result.ok, result.ok ? '' : result.error);
  assert.equal(result.skipped, undefined, `skipped: ${result.skipped}`);
  return result.pod;
}

const containerOf = (p: Pod, name: string): Container | undefined => [...(p.spec?.containers ?? []), ...(p.spec?.initContainers ?? [])].find((c) => c.name === name);
const initArgs = (p: Pod) => (containerOf(p, INIT_CONTAINER)!.args as string[]);
const flagOf = (args: string[], flag: string) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);

describe('sidecar injection', () => {
  describe('who is injected', () => {
    const cases: { name: string; pod: Pod; namespaceLabels: Record<string, string>; inject: boolean; reason?: RegExp }[] = [
      { name: 'pod annotation "true", namespace not labelled', pod: pod({ annotations: { 'mediamesh.io/inject': 'true' } }), namespaceLabels: {}, inject: true },
      { name: 'pod label "true", namespace not labelled', pod: pod({ labels: { 'mediamesh.io/inject': 'true' } }), namespaceLabels: {}, inject: true },
      { name: 'namespace labelled, pod says nothing', pod: pod(), namespaceLabels: ENABLED, inject: true },
      { name: 'namespace labelled, pod annotation "true"', pod: pod({ annotations: { 'mediamesh.io/inject': 'true' } }), namespaceLabels: ENABLED, inject: true },
      { name: 'no opt-in at all', pod: pod(), namespaceLabels: {}, inject: false, reason: /no opt-in/ },
      { name: 'namespace label with another value', pod: pod(), namespaceLabels: { 'mediamesh.io/inject': 'disabled' }, inject: false, reason: /no opt-in/ },
      { name: 'namespace labelled, pod annotation "false"', pod: pod({ annotations: { 'mediamesh.io/inject': 'false' } }), namespaceLabels: ENABLED, inject: false, reason: /opts out/ },
      { name: 'namespace labelled, pod label "false"', pod: pod({ labels: { 'mediamesh.io/inject': 'false' } }), namespaceLabels: ENABLED, inject: false, reason: /opts out/ },
      { name: 'label "false" wins over annotation "true"', pod: pod({ labels: { 'mediamesh.io/inject': 'false' }, annotations: { 'mediamesh.io/inject': 'true' } }), namespaceLabels: {}, inject: false, reason: /opts out/ },
      { name: 'an annotation that is neither true nor false', pod: pod({ annotations: { 'mediamesh.io/inject': 'yes' } }), namespaceLabels: ENABLED, inject: false, reason: /"yes": neither "true" nor "false"/ },
      { name: 'host network', pod: pod({ annotations: { 'mediamesh.io/inject': 'true' } }, { hostNetwork: true }), namespaceLabels: ENABLED, inject: false, reason: /host network/ },
    ];
    for (const c of cases) {
      it(`${c.inject ? 'injects' : 'leaves alone'}: ${c.name}`, () => {
        const before = structuredClone(c.pod);
        const result = injectPod(c.pod, c.namespaceLabels, options);
        assert.ok(result.ok);
        assert.deepEqual(c.pod, before, 'the input is never modified');
        if (c.inject) {
          assert.ok(containerOf(injected(result), PROXY_CONTAINER));
          assert.ok(result.patch.length > 0);
        } else {
          assert.match(result.skipped ?? '', c.reason!);
          assert.deepEqual(result.pod, before);
          assert.deepEqual(result.patch, []);
        }
      });
    }

    it('changes nothing the second time (by our annotation, or by our container)', () => {
      const once = injected(injectPod(pod(), ENABLED, options));
      const twice = injectPod(once, ENABLED, options);
      assert.ok(twice.ok);
      assert.equal(twice.skipped, 'already injected');
      assert.deepEqual(twice.patch, []);
      assert.deepEqual(twice.pod, once);
      // Someone removed the annotation: the container still says it.
      const { [ANNOTATIONS.status]: _, ...withoutStatus } = once.metadata!.annotations!;
      const again = injectPod({ ...once, metadata: { ...once.metadata, annotations: withoutStatus } }, ENABLED, options);
      assert.ok(again.ok && again.skipped === 'already injected');
    });

    it('refuses a pod whose port annotation does not parse or asks for more inbound UDP ports than interception takes, or that already has a container or volume by our names', () => {
      const bad = injectPod(pod({ annotations: { 'mediamesh.io/inject': 'true', 'mediamesh.io/udp-ports': '5004,rtp' } }), {}, options);
      assert.deepEqual(bad, { ok: false, error: 'annotation mediamesh.io/udp-ports: "rtp" is not a port (1-65535) or a range such as 5004-5005' });
      const backwards = injectPod(pod({ annotations: { 'mediamesh.io/rtsp-ports': '8554-554' } }), ENABLED, options);
      assert.equal(backwards.ok, false);
      const clash = injectPod(pod({}, { initContainers: [{ name: INIT_CONTAINER, image: 'x' }] }), ENABLED, options);
      assert.deepEqual(clash, { ok: false, error: `the pod already has a container named ${INIT_CONTAINER}` });
      const volume = injectPod(pod({}, { volumes: [{ name: PROXY_TMP_VOLUME, emptyDir: {} }] }), ENABLED, options);
      assert.equal(volume.ok, false);
      const wide = injectPod(pod({ annotations: { 'mediamesh.io/inbound-udp-ports': '10000-10064' } }), ENABLED, options);
      assert.deepEqual(wide, { ok: false, error: `annotation mediamesh.io/inbound-udp-ports: 65 inbound UDP ports; interception takes at most ${MAX_INBOUND_UDP_PORTS} (each gets a proxy port of its own)` });
      assert.ok(injectPod(pod({ annotations: { 'mediamesh.io/inbound-udp-ports': '10000-10063' } }), ENABLED, options).ok);
      // The proxy's own ports: the script would refuse them at pod start, and the sidecar's bootstrap too.
      const own = injectPod(pod({ annotations: { 'mediamesh.io/inbound-udp-ports': '15230', 'mediamesh.io/inbound-rtsp-ports': '554,15106' } }), ENABLED, options);
      assert.equal(own.ok, false);
      assert.match(!own.ok ? own.error : '', /15200-15263 are the proxy's own inbound UDP ports/);
      assert.match(!own.ok ? own.error : '', /15106 is the proxy's own inbound RTSP port/);
    });
  });

  describe('what an injected pod gets', () => {
    const base = pod({ annotations: { 'mediamesh.io/inject': 'true' } }, {
      initContainers: [{ name: 'migrate', image: 'migrate:1' }],
      containers: [{ name: 'app', image: 'app:1', ports: [{ containerPort: 8554, name: 'rtsp' }, { containerPort: 8080, name: 'http' }, { containerPort: 5004, protocol: 'UDP' }, { containerPort: 5005, protocol: 'UDP' }, { containerPort: 53, protocol: 'UDP' }] }],
    });
    const result = injectPod(base, {}, options);

    it('the proxy after the app: stock Envoy in group 1339 with NET_ADMIN and NET_BIND_SERVICE only, read-only root, /tmp on an emptyDir', () => {
      const p = injected(result);
      assert.deepEqual(p.spec!.containers!.map((c) => c.name), ['app', PROXY_CONTAINER]);
      const proxy = containerOf(p, PROXY_CONTAINER)!;
      assert.equal(proxy.image, 'envoyproxy/envoy:v1.40.0');
      // Transparent listeners need NET_ADMIN, which Kubernetes gives no non-root container.
      assert.deepEqual(proxy.securityContext, { runAsUser: 0, runAsGroup: 1339, runAsNonRoot: false, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, privileged: false, capabilities: { drop: ['ALL'], add: ['NET_ADMIN', 'NET_BIND_SERVICE'] } });
      assert.deepEqual(proxy.volumeMounts, [{ name: PROXY_TMP_VOLUME, mountPath: '/tmp' }]);
      assert.deepEqual(p.spec!.volumes, [{ name: PROXY_TMP_VOLUME, emptyDir: { sizeLimit: '64Mi' } }]);
      const resources = proxy.resources as { requests: Record<string, string>; limits: Record<string, string> };
      for (const r of ['cpu', 'memory']) assert.ok(resources.requests[r] && resources.limits[r], r);
      assert.equal(p.metadata!.annotations![ANNOTATIONS.defaultContainer], 'app', 'kubectl logs/exec still pick the app');
    });

    it('--proxy-security unprivileged: UID 1339, no capabilities, and the script exempts it by UID alone', () => {
      const p = injected(injectPod(base, {}, { ...options, proxySecurity: 'unprivileged' }));
      assert.deepEqual(containerOf(p, PROXY_CONTAINER)!.securityContext, { runAsUser: 1339, runAsGroup: 1339, runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, privileged: false, capabilities: { drop: ['ALL'] } });
      assert.deepEqual(initArgs(p).slice(0, 3), ['apply', '--proxy-uid', '1339']);
      assert.equal(flagOf(initArgs(p), '--proxy-gid'), undefined);
    });

    it('the proxy\'s bootstrap: identity from the downward API, admin on 127.0.0.1, xDS and extensions at the control plane', () => {
      const proxy = containerOf(injected(result), PROXY_CONTAINER)!;
      const env = proxy.env as { name: string; value?: string; valueFrom?: { fieldRef: { fieldPath: string } } }[];
      assert.deepEqual(env.map((e) => e.name), ['POD_NAME', 'POD_NAMESPACE', 'POD_IP', BOOTSTRAP_ENV], 'the bootstrap refers to the three before it');
      assert.deepEqual(env.slice(0, 3).map((e) => e.valueFrom?.fieldRef.fieldPath), ['metadata.name', 'metadata.namespace', 'status.podIP']);
      assert.deepEqual((proxy.args as string[]).slice(0, 2), ['--config-yaml', `$(${BOOTSTRAP_ENV})`]);
      // What the kubelet hands Envoy.
      const text = expandKubernetesReferences(env[3]!.value!, { POD_NAME: 'cam-5f7c', POD_NAMESPACE: 'media', POD_IP: '10.1.2.3' });
      const bootstrap = parseAllDocuments(text)[0]!.toJS() as { node: { id: string; metadata: Record<string, string> }; admin: { address: { socket_address: { address: string; port_value: number } } }; static_resources: { clusters: { name: string; load_assignment: { endpoints: { lb_endpoints: { endpoint: { address: { socket_address: { address: string; port_value: number } } } }[] }[] } }[] } };
      assert.equal(bootstrap.node.id, 'cam-5f7c.media');
      // The same lists the init container's script gets (outbound UDP aside): the control plane makes the listeners they land on.
      assert.deepEqual(bootstrap.node.metadata, {
        'mediamesh.io/bootstrap': 'v1', 'mediamesh.io/namespace': 'media', 'mediamesh.io/pod-ip': '10.1.2.3', 'mediamesh.io/role': 'sidecar',
        'mediamesh.io/rtsp-ports': flagOf(initArgs(injected(result)), '--rtsp-ports'),
        'mediamesh.io/inbound-rtsp-ports': flagOf(initArgs(injected(result)), '--inbound-rtsp-ports'),
        'mediamesh.io/inbound-udp-ports': flagOf(initArgs(injected(result)), '--inbound-udp-ports'),
      });
      assert.equal(bootstrap.node.metadata['mediamesh.io/inbound-udp-ports'], '5004-5005');
      assert.deepEqual(bootstrap.admin.address.socket_address, { address: '127.0.0.1', port_value: 15100 });
      const endpoint = (name: string) => bootstrap.static_resources.clusters.find((c) => c.name === name)!.load_assignment.endpoints[0]!.lb_endpoints[0]!.endpoint.address.socket_address;
      assert.deepEqual(endpoint('mediamesh-xds'), { address: 'mediamesh-control-plane.mediamesh-system.svc', port_value: 18000 });
      assert.deepEqual(endpoint('mediamesh-extensions'), { address: 'mediamesh-control-plane.mediamesh-system.svc', port_value: 9090 });
    });

    it('a namespace that YAML would read as a number stays a string; a "$" in the bootstrap is escaped', () => {
      const env = (containerOf(injected(result), PROXY_CONTAINER)!.env as { value?: string }[])[3]!.value!;
      const text = expandKubernetesReferences(env, { POD_NAME: 'x', POD_NAMESPACE: '1e3', POD_IP: 'fd00::1' });
      const meta = (parseAllDocuments(text)[0]!.toJS() as { node: { metadata: Record<string, unknown> } }).node.metadata;
      assert.equal(meta['mediamesh.io/namespace'], '1e3');
      assert.equal(meta['mediamesh.io/pod-ip'], 'fd00::1');
      assert.equal(expandKubernetesReferences('a$$(B)c$(B)', { B: 'x' }), 'a$(B)cx');
    });

    it('the init container last: the interception script with the pod\'s ports, as root with NET_ADMIN and NET_RAW only', () => {
      const p = injected(result);
      assert.deepEqual(p.spec!.initContainers!.map((c) => c.name), ['migrate', INIT_CONTAINER], 'the pod\'s own init containers run before interception');
      const init = containerOf(p, INIT_CONTAINER)!;
      assert.equal(init.image, 'ghcr.io/mediamesh/control-plane:0.1.0');
      assert.deepEqual(init.command, ['sh', INTERCEPT_SCRIPT]);
      // RTSP: 554 and 8554 out; in, the containerPort named rtsp. UDP: the UDP containerPorts but DNS.
      assert.deepEqual(init.args, ['apply', '--proxy-uid', '1339', '--proxy-gid', '1339', '--rtsp-ports', '554,8554', '--udp-ports', '5004-5005', '--inbound-rtsp-ports', '8554', '--inbound-udp-ports', '5004-5005']);
      const sc = init.securityContext as { runAsUser: number; runAsNonRoot: boolean; privileged: boolean; capabilities: { drop: string[]; add: string[] } };
      assert.equal(sc.runAsUser, 0);
      assert.equal(sc.runAsNonRoot, false, 'explicit, for pods whose own securityContext says runAsNonRoot');
      assert.equal(sc.privileged, false);
      assert.deepEqual(sc.capabilities, { drop: ['ALL'], add: ['NET_ADMIN', 'NET_RAW'] });
    });

    const portCases: { name: string; annotations?: Record<string, string>; ports?: { containerPort: number; protocol?: string; name?: string }[]; args: Record<string, string | undefined>; istio: string }[] = [
      { name: 'no ports at all: RTSP 554 and 8554 out, nothing in', args: { '--rtsp-ports': '554,8554', '--udp-ports': undefined, '--inbound-rtsp-ports': undefined, '--inbound-udp-ports': undefined }, istio: '554,8554' },
      { name: 'a TCP containerPort in the RTSP list is RTSP inbound; another is not', ports: [{ containerPort: 554 }, { containerPort: 8080 }], args: { '--inbound-rtsp-ports': '554' }, istio: '554,8554' },
      { name: 'annotations win over containerPorts', annotations: { 'mediamesh.io/rtsp-ports': '1554', 'mediamesh.io/udp-ports': '6000-6001, 7000', 'mediamesh.io/inbound-rtsp-ports': '9554', 'mediamesh.io/inbound-udp-ports': '' }, ports: [{ containerPort: 5004, protocol: 'UDP' }, { containerPort: 554 }], args: { '--rtsp-ports': '1554', '--udp-ports': '6000-6001,7000', '--inbound-rtsp-ports': '9554', '--inbound-udp-ports': undefined }, istio: '1554,6000,6001,7000,9554' },
      { name: 'an RTSP containerPort outside the list, named rtsp-*', ports: [{ containerPort: 7554, name: 'rtsp-alt' }], args: { '--inbound-rtsp-ports': '7554' }, istio: '554,7554,8554' },
      { name: 'a wide RTP range goes to the script but not, port by port, to Istio (which captures no UDP)', annotations: { 'mediamesh.io/udp-ports': '10000-20000' }, args: { '--udp-ports': '10000-20000' }, istio: '554,8554' },
      { name: `up to ${MAX_ISTIO_UDP_PORTS} UDP ports are listed for Istio`, annotations: { 'mediamesh.io/udp-ports': `10000-${10000 + MAX_ISTIO_UDP_PORTS - 1}` }, args: {}, istio: ['554', '8554', ...Array.from({ length: MAX_ISTIO_UDP_PORTS }, (_, i) => String(10000 + i))].sort((a, b) => Number(a) - Number(b)).join(',') },
    ];
    for (const c of portCases) {
      it(`ports: ${c.name}`, () => {
        const p = injected(injectPod(pod({ annotations: c.annotations }, { containers: [{ name: 'app', image: 'app:1', ports: c.ports }] }), ENABLED, options));
        for (const [flag, value] of Object.entries(c.args)) assert.equal(flagOf(initArgs(p), flag), value, flag);
        assert.equal(p.metadata!.annotations![ANNOTATIONS.istioExcludeInbound], c.istio);
        assert.equal(p.metadata!.annotations![ANNOTATIONS.istioExcludeOutbound], c.istio);
      });
    }

    it('Istio\'s exclusions keep what the user wrote, in order, and add each port once', () => {
      const p = injected(injectPod(pod({ annotations: { [ANNOTATIONS.istioExcludeInbound]: '9999, 554', [ANNOTATIONS.istioExcludeOutbound]: '8554,3306,8554' } }), ENABLED, options));
      assert.equal(p.metadata!.annotations![ANNOTATIONS.istioExcludeInbound], '9999,554,8554');
      assert.equal(p.metadata!.annotations![ANNOTATIONS.istioExcludeOutbound], '8554,3306,8554,554', 'the user\'s own duplicate stays: nothing of theirs is removed');
      assert.equal(mergeCommaList('15020,*weird*', [5004, 15020]), '15020,*weird*,5004');
      assert.equal(mergeCommaList(undefined, [8554, 554, 554]), '554,8554');
      assert.equal(mergeCommaList('', []), '');
    });

    it('port lists: single ports and ranges, merged and sorted; nonsense refused', () => {
      assert.deepEqual(parsePortList(' 8554, 554,5004-5005,5005-5006 '), { ok: true, ranges: [{ from: 554, to: 554 }, { from: 5004, to: 5006 }, { from: 8554, to: 8554 }] });
      assert.deepEqual(parsePortList(''), { ok: true, ranges: [] });
      for (const bad of ['0', '65536', '1-', 'a', '10-5', '1.5', '-3']) assert.equal(parsePortList(bad).ok, false, bad);
    });
  });

  describe('the JSON Patch', () => {
    it('turns the pod the API server has into the injected pod, whole fields at a time', () => {
      const original = pod({ annotations: { 'mediamesh.io/inject': 'true', keep: 'me' } }, { volumes: [{ name: 'data', emptyDir: {} }] });
      const result = injectPod(original, {}, options);
      const p = injected(result);
      assert.deepEqual(applyPatch(original, result.ok ? result.patch : []), p);
      assert.deepEqual(result.ok && result.patch.map((o) => o.path), ['/metadata/annotations', '/spec/initContainers', '/spec/containers', '/spec/volumes']);
      assert.equal(p.metadata!.annotations!.keep, 'me');
    });

    it('creates what the pod lacks (no annotations, no init containers, no volumes, not even metadata)', () => {
      const bare: Pod = { spec: { containers: [{ name: 'app', image: 'app:1' }] } };
      const result = injectPod(bare, ENABLED, options);
      assert.ok(result.ok);
      assert.deepEqual(result.patch.map((o) => o.path), ['/metadata', '/spec/initContainers', '/spec/containers', '/spec/volumes']);
      assert.deepEqual(applyPatch(bare, result.patch), result.pod);
      assert.deepEqual(topLevelPatch(result.pod, result.pod), []);
    });
  });

  describe('mediamesh inject -f', () => {
    const injectOptions: InjectManifestsOptions = { inject: options, defaultNamespace: 'default' };
    const template = (kind: string, annotations = '        mediamesh.io/inject: "true"\n') => `apiVersion: apps/v1
kind: ${kind}
metadata:
  name: cam
  namespace: media
spec:
  selector: {matchLabels: {app: cam}}
  template:
    metadata:
      labels: {app: cam}
      annotations:
${annotations}    spec:
      containers:
        - name: app   # the camera
          image: app:1
`;
    const podOf = (docs: unknown[], i: number): Pod => {
      const d = docs[i] as { kind: string; spec: { template: Pod } } & Pod;
      return d.kind === 'Pod' ? d : d.spec.template;
    };
    const run = (text: string, o = injectOptions) => {
      const result = injectManifests(text, 'test.yaml', o);
      assert.ok(result.ok, result.ok ? '' : result.errors.join('\n'));
      return { ...result, docs: parseAllDocuments(result.text).map((d) => d.toJS() as unknown) };
    };

    for (const kind of ['Deployment', 'StatefulSet', 'DaemonSet']) {
      it(`injects a ${kind}'s pod template, keeping the comments`, () => {
        const { docs, text, workloads } = run(template(kind));
        const p = podOf(docs, 0);
        assert.deepEqual(p.spec!.containers!.map((c) => c.name), ['app', PROXY_CONTAINER]);
        assert.deepEqual(p.spec!.initContainers!.map((c) => c.name), [INIT_CONTAINER]);
        assert.match(text, /- name: app # the camera/);
        assert.deepEqual(workloads, [{ object: `${kind} media/cam`, injected: true }]);
      });
    }

    it('injects a Pod, and the items of a List', () => {
      const text = `apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Pod
    metadata: {name: a, annotations: {mediamesh.io/inject: "true"}}
    spec: {containers: [{name: app, image: app:1}]}
  - apiVersion: v1
    kind: ConfigMap
    metadata: {name: b}
    data: {k: v}
---
apiVersion: v1
kind: Pod
metadata: {name: c, namespace: media, annotations: {mediamesh.io/inject: "true"}}
spec: {containers: [{name: app, image: app:1}]}
`;
      const { docs, workloads } = run(text);
      const list = docs[0] as { items: [Pod, { data: unknown }] };
      assert.ok(containerOf(list.items[0], PROXY_CONTAINER));
      assert.deepEqual(list.items[1].data, { k: 'v' });
      assert.ok(containerOf(podOf(docs, 1), PROXY_CONTAINER));
      assert.deepEqual(workloads.map((w) => w.object), ['Pod default/a', 'Pod media/c']);
    });

    it('passes every other document, and pods that did not opt in, through byte for byte', () => {
      const others = `# a Service, as written
apiVersion: v1
kind: Service
metadata: {name: cam,   namespace: media}   # odd spacing kept
spec:
  ports: [{port: 554}]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  text: |
    line one
    --- not a separator
---
apiVersion: batch/v1
kind: Job
metadata: {name: once, annotations: {mediamesh.io/inject: "true"}}
spec: {template: {spec: {containers: [{name: app, image: app:1}], restartPolicy: Never}}}
...
---
apiVersion: v1
kind: Pod
metadata: {name: plain}
spec: {containers: [{name: app, image: app:1}]}
`;
      const { text, workloads } = run(others);
      assert.equal(text, others);
      assert.deepEqual(workloads, [{ object: 'Pod default/plain', injected: false, reason: 'no opt-in: neither mediamesh.io/inject: "true" on the pod nor mediamesh.io/inject=enabled on its namespace' }]);
    });

    it('reads namespace labels from Namespace documents in the input and from --enabled-namespace; the opt-out holds', () => {
      const input = `apiVersion: v1
kind: Namespace
metadata: {name: media, labels: {mediamesh.io/inject: enabled}}
---
${template('Deployment', '        team: cams\n')}---
${template('StatefulSet', '        mediamesh.io/inject: "false"\n')}---
${template('DaemonSet', '        team: cams\n').replace('namespace: media', 'namespace: edge')}`;
      const first = run(input);
      assert.deepEqual(first.workloads.map((w) => [w.object, w.injected]), [['Deployment media/cam', true], ['StatefulSet media/cam', false], ['DaemonSet edge/cam', false]]);
      const second = run(input, { ...injectOptions, enabledNamespaces: ['edge'] });
      assert.deepEqual(second.workloads.map((w) => w.injected), [true, false, true]);
    });

    it('changes nothing the second time', () => {
      const once = run(template('Deployment'));
      const twice = run(once.text);
      assert.equal(twice.text, once.text);
      assert.deepEqual(twice.workloads, [{ object: 'Deployment media/cam', injected: false, reason: 'already injected' }]);
    });

    it('refuses bad YAML and bad annotations, naming the document', () => {
      const bad = injectManifests('a: [1,\n', 'x.yaml', injectOptions);
      assert.ok(!bad.ok && /^x\.yaml: document 1: /.test(bad.errors[0]!));
      const ports = injectManifests(template('Deployment', '        mediamesh.io/inject: "true"\n        mediamesh.io/rtsp-ports: "rtsp"\n'), 'x.yaml', injectOptions);
      assert.deepEqual(ports, { ok: false, errors: ['x.yaml: document 1 (Deployment media/cam): annotation mediamesh.io/rtsp-ports: "rtsp" is not a port (1-65535) or a range such as 5004-5005'] });
    });

    it('golden: test/testdata/inject/deployment.yaml (regenerate with UPDATE_GOLDEN=1)', () => {
      const dir = path.join(projectRoot(), 'test/testdata/inject');
      const { text } = run(fs.readFileSync(path.join(dir, 'deployment.yaml'), 'utf8'));
      const golden = path.join(dir, 'deployment.injected.yaml');
      if (process.env.UPDATE_GOLDEN === '1') fs.writeFileSync(golden, text);
      assert.equal(text, fs.readFileSync(golden, 'utf8'));
    });
  });
});
