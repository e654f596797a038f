// What `kubectl apply -k manifests/` creates, read the way kustomize reads it
// (kustomization.yaml's resources, in order), checked for what matters: every
// listed file exists; the control plane runs locked down, probed on the admin
// port its own arguments give; its RBAC is exactly the table below; the
// Service reaches the container's ports; the image's user is the pod's; the
// admission webhooks reach the control plane's webhook port through the
// Service, and cannot block a pod that did not opt in.
// The table (CONTROL_PLANE_RBAC) is in test/helpers/control-plane-manifests.ts;
// test/integration/manifests-apply.test.ts applies the same files to a real
// API server and asks its authorizer about it.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../xds-server/src/sidecar/envoy-binary.js';
import { INTERCEPT_SCRIPT, NAMESPACE_LABEL } from '../../xds-server/src/webhook/inject.js';
import { WEBHOOK_PATHS } from '../../xds-server/src/webhook/webhook-server.js';
import { CONTROL_PLANE_RBAC, type Grant, grants, type K8sObject, MANIFESTS_DIR, NAME, NAMESPACE, readKustomization, type Webhook, type WebhookConfiguration } from '../helpers/control-plane-manifests.js';

const root = projectRoot();

interface Container {
  name: string;
  image: string;
  args: string[];
  env?: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  ports: { name: string; containerPort: number; protocol?: string }[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: SecurityContext;
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}
interface Probe { httpGet?: { path: string; port: number | string } }
interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  runAsGroup?: number;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  capabilities?: { drop?: string[]; add?: string[] };
  seccompProfile?: { type: string };
  privileged?: boolean;
  fsGroup?: number;
}
interface PodSpec {
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  securityContext?: SecurityContext;
  containers: Container[];
  volumes?: { name: string; emptyDir?: object; secret?: { secretName: string; defaultMode?: number } }[];
  topologySpreadConstraints?: { topologyKey: string; labelSelector?: { matchLabels?: Record<string, string> } }[];
  affinity?: { podAntiAffinity?: unknown };
  hostNetwork?: boolean;
}
interface Deployment extends K8sObject {
  spec: { replicas: number; selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string> }; spec: PodSpec } };
}
interface Rule { apiGroups?: string[]; resources?: string[]; verbs: string[]; resourceNames?: string[]; nonResourceURLs?: string[] }
interface Binding extends K8sObject { roleRef: { apiGroup: string; kind: string; name: string }; subjects: { kind: string; name: string; namespace?: string }[] }

const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']);

/** The value after a flag in an argument list. */
function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

/** A probe's or Service's port (number or container port name) as a number. */
function containerPortOf(container: Container, port: number | string | undefined): number | undefined {
  if (typeof port === 'number') return port;
  return container.ports.find((p) => p.name === port)?.containerPort;
}

function expandRules(rules: Rule[]): Grant[] {
  return rules.flatMap((r) => {
    assert.equal(r.nonResourceURLs, undefined, 'no non-resource URLs');
    return (r.apiGroups ?? []).flatMap((apiGroup) => grants(apiGroup, r.resources ?? [], r.verbs, r.resourceNames));
  });
}

const grantKey = (g: Grant) => `${g.apiGroup || 'core'} ${g.resource} ${g.verb}${g.resourceNames ? ` [${[...g.resourceNames].sort().join(',')}]` : ''}`;
const sortedKeys = (list: Grant[]) => list.map(grantKey).sort();

/** The Dockerfile's last stage: its instructions, continuation lines joined. */
function finalDockerStage(): { from: string; instructions: [string, string][] } {
  const text = fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const stages: { from: string; instructions: [string, string][] }[] = [];
  for (const line of lines) {
    const [, op = '', rest = ''] = /^(\S+)\s+(.*)$/.exec(line) ?? [];
    if (op.toUpperCase() === 'FROM') stages.push({ from: rest, instructions: [] });
    else stages.at(-1)?.instructions.push([op.toUpperCase(), rest]);
  }
  assert.ok(stages.length >= 2, 'a multi-stage Dockerfile');
  return stages.at(-1)!;
}

describe('manifests (kubectl apply -k manifests/)', () => {
  let objects: ReturnType<typeof readKustomization>['objects'];
  let kustomization: ReturnType<typeof readKustomization>['kustomization'];
  let deployment: Deployment;
  let pod: PodSpec;
  let container: Container;
  const find = <T extends K8sObject>(kind: string, name = NAME): T => {
    const found = objects.filter((o) => o.kind === kind && o.metadata.name === name);
    assert.equal(found.length, 1, `one ${kind} ${name}`);
    return found[0] as unknown as T;
  };

  // Reading fails here, once, if a listed file is missing or is not YAML.
  before(() => {
    ({ objects, kustomization } = readKustomization(MANIFESTS_DIR));
    deployment = find<Deployment>('Deployment');
    pod = deployment.spec.template.spec;
    container = pod.containers[0]!;
  });

  it('list files that exist, holding the CRDs and the control plane, each object once', () => {
    const keys = objects.map((o) => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`);
    assert.equal(new Set(keys).size, keys.length, keys.join(', '));
    for (const kind of ['CustomResourceDefinition', 'Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'Deployment', 'Service', 'PodDisruptionBudget', 'MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']) {
      assert.ok(objects.some((o) => o.kind === kind), kind);
    }
    assert.equal(find('Namespace', NAMESPACE).metadata.name, NAMESPACE);
  });

  it('put every namespaced object in mediamesh-system, and the common labels on all of them (not on selectors)', () => {
    for (const o of objects) {
      if (CLUSTER_SCOPED.has(o.kind)) assert.equal(o.metadata.namespace, undefined, `${o.file}: ${o.kind} is cluster-scoped`);
      else assert.equal(o.metadata.namespace, NAMESPACE, `${o.file}: ${o.kind} ${o.metadata.name}`);
    }
    const common = kustomization.labels?.find((l) => l.pairs['app.kubernetes.io/part-of'] === 'mediamesh');
    assert.ok(common, 'kustomization labels app.kubernetes.io/part-of: mediamesh');
    assert.equal(common.includeSelectors, false, 'selectors are immutable on a Deployment: leave them alone');
    assert.equal(common.includeTemplates, true);
  });

  it('run the control plane as the brief says: 2 replicas, the image, the serve arguments, identity from the downward API', () => {
    assert.equal(deployment.spec.replicas, 2);
    assert.equal(pod.containers.length, 1);
    assert.match(container.image, /^ghcr\.io\/mediamesh\/control-plane:\d+\.\d+\.\d+$/);
    assert.deepEqual(container.args, ['serve', '--kubernetes', '--listen-host', '0.0.0.0', '--xds-port', '18000', '--admin-port', '9090', '--rtp-module', 'remote', '--rtsp-filter', 'remote', '--relay-ports', '41000-42999',
      '--webhook-port', '9443', '--webhook-cert', '/etc/mediamesh/webhook/tls.crt', '--webhook-key', '/etc/mediamesh/webhook/tls.key']);
    const fromField = (name: string) => container.env?.find((e) => e.name === name)?.valueFrom?.fieldRef?.fieldPath;
    assert.equal(fromField('POD_NAME'), 'metadata.name');
    assert.equal(fromField('POD_NAMESPACE'), 'metadata.namespace');
    assert.equal(pod.serviceAccountName, find('ServiceAccount').metadata.name);
    assert.equal(pod.automountServiceAccountToken, true, 'the control plane needs its token');
    for (const [k, v] of Object.entries(deployment.spec.selector.matchLabels)) assert.equal(deployment.spec.template.metadata.labels[k], v, `selector ${k}`);
  });

  it('lock the container down: non-root fixed UID, read-only root, no privilege escalation, no capabilities, RuntimeDefault seccomp, /tmp on an emptyDir', () => {
    const pc = pod.securityContext ?? {};
    const cc = container.securityContext ?? {};
    assert.equal(cc.runAsNonRoot ?? pc.runAsNonRoot, true);
    const uid = cc.runAsUser ?? pc.runAsUser;
    assert.ok(Number.isInteger(uid) && uid! > 0, `a fixed non-root UID, got ${uid}`);
    assert.equal(cc.readOnlyRootFilesystem, true);
    assert.equal(cc.allowPrivilegeEscalation, false);
    assert.notEqual(cc.privileged, true);
    assert.deepEqual(cc.capabilities?.drop, ['ALL']);
    assert.equal(cc.capabilities?.add, undefined);
    assert.equal((cc.seccompProfile ?? pc.seccompProfile)?.type, 'RuntimeDefault');
    assert.notEqual(pod.hostNetwork, true);
    const tmp = container.volumeMounts?.find((m) => m.mountPath === '/tmp');
    assert.ok(tmp, '/tmp is mounted');
    assert.ok(pod.volumes?.find((v) => v.name === tmp.name)?.emptyDir, '/tmp is an emptyDir');
  });

  it('probe /healthz and /readyz on the admin port the arguments give', () => {
    const adminPort = Number(flag(container.args, '--admin-port'));
    assert.equal(container.livenessProbe?.httpGet?.path, '/healthz');
    assert.equal(container.readinessProbe?.httpGet?.path, '/readyz');
    for (const probe of [container.livenessProbe, container.readinessProbe, container.startupProbe].filter((p) => p !== undefined)) {
      assert.equal(containerPortOf(container, probe.httpGet?.port), adminPort, JSON.stringify(probe));
    }
    assert.equal(containerPortOf(container, 'grpc-xds'), Number(flag(container.args, '--xds-port')));
    assert.equal(flag(container.args, '--listen-host'), '0.0.0.0', 'probes and sidecars come from outside the pod');
  });

  it('ask for resources and cap them', () => {
    for (const r of ['cpu', 'memory']) {
      assert.ok(container.resources?.requests?.[r], `requests.${r}`);
      assert.ok(container.resources?.limits?.[r], `limits.${r}`);
    }
  });

  it('spread the replicas over nodes', () => {
    const spread = pod.topologySpreadConstraints?.find((t) => t.topologyKey === 'kubernetes.io/hostname');
    assert.ok(spread || pod.affinity?.podAntiAffinity, 'topology spread or anti-affinity');
    if (spread) for (const [k, v] of Object.entries(spread.labelSelector?.matchLabels ?? {})) assert.equal(deployment.spec.template.metadata.labels[k], v);
  });

  it('give the Service xDS, admin and webhook ports that reach the container', () => {
    const svc = find<K8sObject & { spec: { selector: Record<string, string>; ports: { name: string; port: number; targetPort: number | string }[] } }>('Service');
    for (const [k, v] of Object.entries(svc.spec.selector)) assert.equal(deployment.spec.template.metadata.labels[k], v, `selector ${k}`);
    const byName = new Map(svc.spec.ports.map((p) => [p.name, p]));
    assert.deepEqual([...byName.keys()].sort(), ['grpc-xds', 'http-admin', 'https-webhook']);
    assert.equal(byName.get('grpc-xds')!.port, 18000);
    assert.equal(byName.get('http-admin')!.port, 9090);
    assert.equal(byName.get('https-webhook')!.port, 443);
    const target = (name: string) => containerPortOf(container, byName.get(name)!.targetPort);
    assert.equal(target('grpc-xds'), Number(flag(container.args, '--xds-port')));
    assert.equal(target('http-admin'), Number(flag(container.args, '--admin-port')));
    assert.equal(target('https-webhook'), Number(flag(container.args, '--webhook-port')));
    for (const p of svc.spec.ports) assert.ok(container.ports.some((c) => c.containerPort === containerPortOf(container, p.targetPort)), p.name);
    // With two replicas, a sidecar's relay calls must land where its xDS stream is: both come from its pod IP.
    assert.equal((svc.spec as { sessionAffinity?: string }).sessionAffinity, 'ClientIP');
  });

  it('keep one replica through disruptions', () => {
    const pdb = find<K8sObject & { spec: { minAvailable: number; selector: { matchLabels: Record<string, string> } } }>('PodDisruptionBudget');
    assert.equal(pdb.spec.minAvailable, 1);
    assert.ok(pdb.spec.minAvailable < deployment.spec.replicas, 'a drain can still move one replica');
    assert.deepEqual(pdb.spec.selector.matchLabels, deployment.spec.selector.matchLabels);
  });

  it('grant exactly the RBAC table, bound to the control plane only', () => {
    const clusterRole = find<K8sObject & { rules: Rule[] }>('ClusterRole');
    assert.deepEqual(sortedKeys(expandRules(clusterRole.rules)), sortedKeys(CONTROL_PLANE_RBAC.cluster));
    const roles = objects.filter((o) => o.kind === 'Role') as unknown as (K8sObject & { rules: Rule[] })[];
    assert.equal(roles.length, 1);
    assert.deepEqual(sortedKeys(expandRules(roles[0]!.rules)), sortedKeys(CONTROL_PLANE_RBAC.namespace));
    for (const list of [CONTROL_PLANE_RBAC.cluster, CONTROL_PLANE_RBAC.namespace]) {
      for (const g of list) assert.ok(!g.verb.includes('*') && !g.resource.includes('*') && !g.apiGroup.includes('*'), grantKey(g));
    }
    const sa = { kind: 'ServiceAccount', name: find('ServiceAccount').metadata.name, namespace: NAMESPACE };
    const bindings = objects.filter((o) => o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding') as unknown as Binding[];
    assert.equal(bindings.length, 2);
    for (const b of bindings) {
      assert.deepEqual(b.subjects, [sa], `${b.kind} ${b.metadata.name}`);
      const role = b.kind === 'ClusterRoleBinding' ? clusterRole : roles[0]!;
      assert.deepEqual(b.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: role.kind, name: role.metadata.name });
    }
  });

  it('run the image as the same non-root user the pod declares, starting the CLI from the built files it copies', () => {
    const stage = finalDockerStage();
    assert.match(stage.from, /^node:20-bookworm-slim\b/);
    const users = stage.instructions.filter(([op]) => op === 'USER').map(([, v]) => v);
    assert.equal(users.length, 1, 'one USER in the runtime stage');
    const [user, group] = users[0]!.split(':');
    const pc = pod.securityContext ?? {};
    const cc = container.securityContext ?? {};
    assert.equal(Number(user), cc.runAsUser ?? pc.runAsUser);
    if (group !== undefined) assert.equal(Number(group), cc.runAsGroup ?? pc.runAsGroup);
    const entrypoint = stage.instructions.find(([op]) => op === 'ENTRYPOINT')?.[1];
    assert.deepEqual(JSON.parse(entrypoint ?? 'null'), ['node', 'bin/mediamesh.js']);
    // bin/mediamesh.js loads the compiled CLI from build/: the runtime stage must copy it.
    const cli = /new URL\('\.\.\/(build\/[^']+)'/.exec(fs.readFileSync(path.join(root, 'bin/mediamesh.js'), 'utf8'))?.[1];
    assert.ok(cli, 'bin/mediamesh.js names the compiled CLI');
    const copies = stage.instructions.filter(([op]) => op === 'COPY').map(([, v]) => {
      const words = v.split(/\s+/).filter((w) => !w.startsWith('--'));
      return { sources: words.slice(0, -1), dest: words.at(-1)!.replace(/^\.\//, '') };
    });
    const dirs = copies.map((c) => c.dest).filter((d) => d !== '' && d !== '.');
    assert.ok(dirs.some((dest) => cli.startsWith(dest)), `${cli} is under one of ${dirs.join(', ')}`);
    assert.ok(copies.some((c) => c.sources.includes('package.json')), 'package.json (ES modules, the project root) is in the image');
  });

  describe('admission webhooks', () => {
    let mutating: WebhookConfiguration;
    let validating: WebhookConfiguration;
    before(() => {
      [mutating] = objects.filter((o) => o.kind === 'MutatingWebhookConfiguration') as unknown as WebhookConfiguration[];
      [validating] = objects.filter((o) => o.kind === 'ValidatingWebhookConfiguration') as unknown as WebhookConfiguration[];
      assert.ok(mutating && validating);
    });
    const all = () => [...mutating.webhooks, ...validating.webhooks];
    const expression = (selector: Webhook['namespaceSelector'], key: string) => selector?.matchExpressions?.find((e) => e.key === key);

    it('call the control plane through its Service\'s https-webhook port, on paths it serves, AdmissionReview v1, without side effects', () => {
      const svc = find<K8sObject & { spec: { ports: { name: string; port: number }[] } }>('Service');
      const webhookPort = svc.spec.ports.find((p) => p.name === 'https-webhook')!.port;
      const served = new Set<string>(Object.values(WEBHOOK_PATHS));
      for (const w of all()) {
        assert.deepEqual(w.clientConfig.service && { ...w.clientConfig.service, path: undefined }, { name: NAME, namespace: NAMESPACE, port: webhookPort, path: undefined }, w.name);
        assert.ok(served.has(w.clientConfig.service!.path!), `${w.name}: ${w.clientConfig.service!.path}`);
        assert.equal(w.clientConfig.url, undefined);
        assert.deepEqual(w.admissionReviewVersions, ['v1']);
        assert.equal(w.sideEffects, 'None');
        assert.ok(w.timeoutSeconds !== undefined && w.timeoutSeconds <= 10, `${w.name}: a short timeout`);
      }
      assert.deepEqual(mutating.webhooks.map((w) => w.clientConfig.service!.path).sort(), [WEBHOOK_PATHS.inject, WEBHOOK_PATHS.injectEnabledNamespace].sort());
      assert.deepEqual(validating.webhooks.map((w) => w.clientConfig.service!.path), [WEBHOOK_PATHS.validate]);
    });

    it('inject pods on creation only, and never in kube-system or mediamesh-system', () => {
      for (const w of mutating.webhooks) {
        assert.deepEqual(w.rules, [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }], w.name);
        const names = expression(w.namespaceSelector, 'kubernetes.io/metadata.name');
        assert.equal(names?.operator, 'NotIn', w.name);
        assert.deepEqual([...names!.values!].sort(), ['kube-system', NAMESPACE]);
      }
    });

    it('fail closed only for pods that opted in: each injecting webhook is narrowed to them before it is called', () => {
      const byPath = new Map(mutating.webhooks.map((w) => [w.clientConfig.service!.path, w]));
      const namespaceWide = byPath.get(WEBHOOK_PATHS.injectEnabledNamespace)!;
      assert.deepEqual(expression(namespaceWide.namespaceSelector, NAMESPACE_LABEL), { key: NAMESPACE_LABEL, operator: 'In', values: ['enabled'] });
      assert.deepEqual(expression(namespaceWide.objectSelector, NAMESPACE_LABEL), { key: NAMESPACE_LABEL, operator: 'NotIn', values: ['false'] }, 'a pod labelled out is never sent');
      assert.ok(namespaceWide.matchConditions?.some((c) => c.expression.includes(`annotations['${NAMESPACE_LABEL}'] != 'false'`)), 'a pod annotated out is never sent');
      const perPod = byPath.get(WEBHOOK_PATHS.inject)!;
      assert.deepEqual(expression(perPod.namespaceSelector, NAMESPACE_LABEL), { key: NAMESPACE_LABEL, operator: 'NotIn', values: ['enabled'] }, 'the two webhooks never both see a pod');
      const optIn = perPod.matchConditions?.find((c) => c.name === 'opted-in')?.expression ?? '';
      assert.ok(optIn.includes(`annotations['${NAMESPACE_LABEL}'] == 'true'`) && optIn.includes(`labels['${NAMESPACE_LABEL}'] == 'true'`), 'only pods that opt in themselves are sent');
      for (const w of mutating.webhooks) {
        assert.equal(w.failurePolicy, 'Fail', `${w.name}: an opted-in pod does not start outside the mesh`);
        assert.ok(w.matchConditions?.some((c) => c.expression.includes('hostNetwork')), `${w.name}: host-network pods are never sent`);
      }
    });

    it('run before Istio\'s injector, which reads the exclusions this one merges', () => {
      for (const istio of ['istio-sidecar-injector', 'istio-revision-tag-default']) assert.ok(mutating.metadata.name < istio, `${mutating.metadata.name} sorts before ${istio}`);
    });

    it('validate routes on create and update (not status writes), and let them through while the control plane is down', () => {
      const [w] = validating.webhooks;
      assert.deepEqual(w!.rules, [{ operations: ['CREATE', 'UPDATE'], apiGroups: ['mediamesh.io'], apiVersions: ['v1alpha1'], resources: ['udproutes', 'rtsproutes'], scope: 'Namespaced' }]);
      assert.equal(w!.failurePolicy, 'Ignore');
    });

    it('are served by the Deployment from the Secret webhook-cert.sh writes, readable by the control plane\'s user', () => {
      const script = fs.readFileSync(path.join(MANIFESTS_DIR, 'webhooks/webhook-cert.sh'), 'utf8');
      const certPath = flag(container.args, '--webhook-cert')!;
      const keyPath = flag(container.args, '--webhook-key')!;
      assert.equal(path.dirname(certPath), path.dirname(keyPath));
      const mount = container.volumeMounts?.find((m) => m.mountPath === path.dirname(certPath));
      assert.ok(mount?.readOnly, 'the certificate directory is mounted read-only');
      const secret = pod.volumes?.find((v) => v.name === mount.name)?.secret;
      assert.ok(secret, 'from a Secret volume');
      assert.match(script, new RegExp(`SECRET=\\$\\{SECRET:-${secret.secretName}\\}`));
      assert.deepEqual([path.basename(certPath), path.basename(keyPath)], ['tls.crt', 'tls.key'], 'a kubernetes.io/tls Secret\'s keys');
      const mode = secret.defaultMode ?? 0o644;
      assert.ok((mode & 0o004) !== 0 || ((mode & 0o040) !== 0 && pod.securityContext?.fsGroup === (container.securityContext?.runAsGroup ?? pod.securityContext?.runAsGroup)), 'the files are readable by the control plane\'s group or by all');
      assert.match(script, new RegExp(`MUTATING=\\$\\{MUTATING:-${mutating.metadata.name}\\}`));
      assert.match(script, new RegExp(`VALIDATING=\\$\\{VALIDATING:-${validating.metadata.name}\\}`));
    });

    it('find the interception script, iptables and iproute2 in the control plane image the init container runs', () => {
      const stage = finalDockerStage();
      const installs = stage.instructions.filter(([op]) => op === 'RUN').map(([, v]) => v).join(' ');
      for (const pkg of ['iptables', 'iproute2']) assert.match(installs, new RegExp(`apt-get install [^&]*\\b${pkg}\\b`), pkg);
      const workdir = stage.instructions.filter(([op]) => op === 'WORKDIR').at(-1)?.[1];
      const copied = stage.instructions.filter(([op]) => op === 'COPY').map(([, v]) => v.split(/\s+/)).find((w) => w[0] === 'manifests/interception/');
      assert.ok(copied, 'the runtime stage copies manifests/interception/');
      assert.equal(path.posix.join(workdir!, copied.at(-1)!, path.basename(INTERCEPT_SCRIPT)), INTERCEPT_SCRIPT);
    });
  });
});
