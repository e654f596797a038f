// `serve --kubernetes` against a real kube-apiserver (and etcd): routes,
// Services and EndpointSlices applied with kubectl reach a real Envoy, which
// forwards to a backend pod (a network namespace: the API server refuses
// loopback endpoint addresses); the route's status is written back with
// Envoy's NACK text when there is one; the oldest of two conflicting routes
// wins; an API server restart loses nothing; and of two replicas only the
// leader writes status, with the Lease handed over when the leader is killed.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import path from 'node:path';
import { bootstrapYaml } from '../../xds-server/src/bootstrap/envoy-bootstrap.js';
import { rtpModuleFromOption } from '../../xds-server/src/cli/rtp-module-option.js';
import { type RunningControlPlane, startControlPlane } from '../../xds-server/src/cli/serve.js';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeClient } from '../../xds-server/src/sources/kubernetes/kube-client.js';
import { ConfigDir } from '../helpers/mesh-files.js';
import { EnvoyProcess } from '../../xds-server/src/sidecar/envoy-process.js';
import { type KubeApiServer, startKubeApiServer } from '../helpers/kube-apiserver.js';
import { NetnsLab, type PodProcess } from '../helpers/netns.js';
import { waitFor } from '../helpers/poll.js';

const root = path.resolve(import.meta.dirname, '../../..');
const NS = 'media';

interface Condition { type: string; status: string; reason: string; message: string; observedGeneration?: number }
interface RouteObject {
  metadata: { name: string; generation: number; creationTimestamp: string };
  status?: { parents?: { controllerName: string; conditions: Condition[] }[] };
}

const yaml = (...docs: string[]) => docs.join('\n---\n');

const service = (name: string, clusterIP: string, port: number, annotations = '') => `
apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${NS}${annotations}}
spec:
  clusterIP: ${clusterIP}
  ports: [{name: rtp, port: ${port}, protocol: UDP, targetPort: rtp}]`;

const slice = (name: string, serviceName: string, address: string, port: number) => `
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ${name}, namespace: ${NS}, labels: {kubernetes.io/service-name: ${serviceName}}}
addressType: IPv4
ports: [{name: rtp, port: ${port}, protocol: UDP}]
endpoints: [{addresses: ["${address}"], conditions: {ready: true}}]`;

/** A route from `parent`'s `port` to `backend`'s port 5004. */
const udpRoute = (name: string, parent: string, port: number, backend: string, extra = '') => `
apiVersion: mediamesh.io/v1alpha1
kind: UdpRoute
metadata: {name: ${name}, namespace: ${NS}}
spec:
  parentRefs: [{name: ${parent}, port: ${port}}]
  backendRefs: [{name: ${backend}, port: 5004}]
${extra}`;

/** A UDP echo in a pod: answers every datagram with "<label>:<payload>". */
function echoArgv(label: string, port: number): string[] {
  const script = `import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(("0.0.0.0",${port}))\nprint("ready",flush=True)\nwhile True:\n  d,a=s.recvfrom(65535)\n  s.sendto(b"${label}:"+d,a)\n`;
  return ['python3', '-c', script];
}

async function udpAsk(host: string, port: number, payload: string, timeoutMs = 1000): Promise<string | undefined> {
  const socket = dgram.createSocket('udp4');
  try {
    return await new Promise<string | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), timeoutMs);
      socket.on('message', (m) => {
        clearTimeout(timer);
        resolve(m.toString());
      });
      socket.send(payload, port, host);
    });
  } finally {
    socket.close();
  }
}

describe('Kubernetes source against a real API server', function () {
  this.timeout(240_000);
  let api: KubeApiServer;
  let lab: NetnsLab;
  let echoes: PodProcess[] = [];
  let cp: RunningControlPlane;
  let envoy: EnvoyProcess;
  let client: KubeClient;
  const routePath = (name: string) => `/apis/mediamesh.io/v1alpha1/namespaces/${NS}/udproutes/${name}`;
  const routeObject = (name: string) => client.get<RouteObject>(routePath(name));
  const condition = async (name: string, type: string) => (await routeObject(name)).status?.parents?.[0]?.conditions.find((c) => c.type === type);

  before(async () => {
    lab = NetnsLab.create(['v1', 'v2']);
    echoes = [lab.spawn('v1', 'echo-v1', echoArgv('v1', 25004)), lab.spawn('v2', 'echo-v2', echoArgv('v2', 25004))];
    await Promise.all(echoes.map((e) => e.line(/ready/, 10_000)));
    api = await startKubeApiServer();
    client = new KubeClient(api.kubeConfig());
    await api.kubectl(['apply', '--server-side', '-f', path.join(root, 'manifests/crds/')]);
    await api.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/udproutes.mediamesh.io', 'crd/rtsproutes.mediamesh.io']);
    await api.kubectl(['create', 'namespace', NS]);
    await api.kubectl(['create', 'namespace', 'mediamesh-system']);
    await api.kubectl(['apply', '-f', '-'], yaml(
      service('feed', '127.96.0.10', 5004),
      service('feed-v1', '127.96.0.11', 5004),
      slice('feed-v1-a', 'feed-v1', lab.pod('v1').ip, 25004),
      udpRoute('feed', 'feed', 5004, 'feed-v1', '  idleTimeout: 30s'),
    ));
    cp = await startControlPlane({
      listenHost: '127.0.0.1', xdsPort: 0, adminPort: 0, debounceMs: 50, rtpModule: rtpModuleFromOption(undefined),
      kubernetes: { client, leaseNamespace: 'mediamesh-system', leaderId: 'in-test', leaseDurationMs: 3000 },
    });
    envoy = await EnvoyProcess.start({
      bootstrapYaml: bootstrapYaml({ nodeId: 'sidecar-1', cluster: 'mediamesh-proxy', xdsHost: '127.0.0.1', xdsPort: cp.xdsPort, adminAddress: '127.0.0.1', adminPort: 0, delta: false, namespace: NS }),
    });
  });

  after(async () => {
    await envoy?.stop();
    await cp?.stop();
    await api?.stop();
    for (const e of echoes) await e.stop().catch(() => undefined);
    lab?.destroy();
  });

  it('programs a route from the cluster into Envoy, which forwards to the backend pod', async () => {
    const answer = await waitFor('an echo through Envoy', async () => (await udpAsk('127.96.0.10', 5004, 'hello')) ?? false, 30_000, 200);
    assert.equal(answer, 'v1:hello');
  });

  it('writes Accepted, ResolvedRefs and Programmed with the observed generation', async () => {
    const route = await waitFor('status on the route', async () => {
      const r = await routeObject('feed');
      const conditions = r.status?.parents?.[0]?.conditions ?? [];
      return conditions.length === 3 && conditions.every((c) => c.status === 'True') ? r : false;
    }, 30_000, 200);
    const parent = route.status!.parents![0]!;
    assert.equal(parent.controllerName, 'mediamesh.io/control-plane');
    assert.deepEqual(parent.conditions.map((c) => c.type), ['Accepted', 'ResolvedRefs', 'Programmed']);
    for (const c of parent.conditions) assert.equal(c.observedGeneration, route.metadata.generation);
  });

  it('follows an EndpointSlice change to the other backend pod', async () => {
    await api.kubectl(['apply', '-f', '-'], slice('feed-v1-a', 'feed-v1', lab.pod('v2').ip, 25004));
    const answer = await waitFor('the echo of v2', async () => {
      const a = await udpAsk('127.96.0.10', 5004, 'again');
      return a === 'v2:again' ? a : false;
    }, 30_000, 200);
    assert.equal(answer, 'v2:again');
  });

  it('reports an Envoy NACK in Programmed=False with Envoy\'s words, and keeps the rest serving', async () => {
    // A socket we hold makes Envoy's bind of the new listener fail: Envoy rejects the update.
    const squatter = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => squatter.bind(5006, '127.96.0.20', resolve));
    try {
      await api.kubectl(['apply', '-f', '-'], yaml(service('squatted', '127.96.0.20', 5006), udpRoute('squatted', 'squatted', 5006, 'feed-v1', '')));
      const programmed = await waitFor('Programmed=False', async () => {
        const c = await condition('squatted', 'Programmed');
        return c?.status === 'False' ? c : false;
      }, 30_000, 200);
      assert.match(programmed.message, /sidecar-1/);
      assert.match(programmed.message, /bind|address/i, programmed.message);
      assert.equal(await udpAsk('127.96.0.10', 5004, 'still'), 'v2:still');
    } finally {
      squatter.close();
      await api.kubectl(['delete', 'udproute', '-n', NS, 'squatted']);
    }
  });

  it('gives a contested port to the oldest route and says why on the other', async () => {
    await api.kubectl(['apply', '-f', '-'], udpRoute('zz-first', 'feed', 5004, 'feed-v1'));
    // `feed` is older than zz-first and already serves; aa-late is newer still but sorts first by name.
    await new Promise((r) => setTimeout(r, 1100));
    await api.kubectl(['apply', '-f', '-'], udpRoute('aa-late', 'feed', 5004, 'feed-v1'));
    for (const loser of ['zz-first', 'aa-late']) {
      const accepted = await waitFor(`${loser} Accepted=False`, async () => {
        const c = await condition(loser, 'Accepted');
        return c?.status === 'False' ? c : false;
      }, 30_000, 200);
      assert.equal(accepted.reason, 'Conflicted');
      assert.match(accepted.message, /feed/);
    }
    assert.equal((await condition('feed', 'Accepted'))?.status, 'True');
    await api.kubectl(['delete', 'udproute', '-n', NS, 'zz-first', 'aa-late']);
  });

  it('keeps serving through an API server restart, says so, and resumes', async () => {
    await api.restart(async () => {
      const problem = await waitFor('a watch problem', () => cp.controlPlane.configStatus().problems.find((p) => /watching \w+s failed/.test(p.message)) ?? false, 60_000, 200);
      assert.match(problem.message, /still serving/);
      assert.equal(await udpAsk('127.96.0.10', 5004, 'during'), 'v2:during');
    });
    await waitFor('the watch problem to clear', () => !cp.controlPlane.configStatus().problems.some((p) => /watching/.test(p.message)), 90_000, 200);
    await api.kubectl(['apply', '-f', '-'], slice('feed-v1-a', 'feed-v1', lab.pod('v1').ip, 25004));
    await waitFor('the echo of v1 after the restart', async () => (await udpAsk('127.96.0.10', 5004, 'after')) === 'v1:after', 30_000, 200);
  });

  it('follows deletions: no endpoints is reported and drops the traffic, no route removes the listener', async () => {
    await api.kubectl(['delete', 'endpointslice', '-n', NS, 'feed-v1-a']);
    const resolved = await waitFor('ResolvedRefs=False', async () => {
      const c = await condition('feed', 'ResolvedRefs');
      return c?.status === 'False' ? c : false;
    }, 30_000, 200);
    assert.equal(resolved.reason, 'NoReadyEndpoints');
    assert.equal(await udpAsk('127.96.0.10', 5004, 'nobody', 500), undefined);
    await api.kubectl(['delete', 'udproute', '-n', NS, 'feed']);
    await waitFor('the listener to leave Envoy', async () => !(await envoy.admin.listenerNames()).some((n) => n.includes('~feed~')), 30_000, 200);
  });
});

describe('the manifests\' ServiceAccount and RBAC, beside a config directory', function () {
  this.timeout(240_000);
  let api: KubeApiServer;
  let cp: RunningControlPlane;
  let client: KubeClient;
  const config = new ConfigDir();

  before(async () => {
    api = await startKubeApiServer();
    await api.kubectl(['apply', '--server-side', '-k', path.join(root, 'manifests/')]);
    await api.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/udproutes.mediamesh.io', 'crd/rtsproutes.mediamesh.io']);
    await api.kubectl(['create', 'namespace', NS]);
    await api.kubectl(['apply', '-f', '-'], yaml(service('feed', '127.96.0.10', 5004), service('feed-v1', '127.96.0.11', 5004), service('other', '127.96.0.12', 5006), service('third', '127.96.0.14', 5008), udpRoute('feed', 'feed', 5004, 'feed-v1'), udpRoute('dup', 'third', 5008, 'feed-v1')));
    // The control plane's own identity: only what manifests/control-plane/rbac.yaml grants.
    const token = await api.serviceAccountToken('mediamesh-system', 'mediamesh-control-plane');
    const admin = api.kubeConfig();
    const sa = new KubeConfig();
    sa.loadFromOptions({
      clusters: admin.clusters,
      users: [{ name: 'control-plane', token }],
      contexts: [{ name: 'control-plane', cluster: admin.getCurrentCluster()!.name, user: 'control-plane' }],
      currentContext: 'control-plane',
    });
    client = new KubeClient(admin);
    // A file route on a cluster Service, and a second copy of the cluster's route.
    config.write('from-file.yaml', udpRoute('from-file', 'other', 5006, 'feed-v1'));
    config.write('copy.yaml', udpRoute('dup', 'third', 5008, 'feed-v1', '  idleTimeout: 99s'));
    cp = await startControlPlane({
      configDir: config.dir, listenHost: '127.0.0.1', xdsPort: 0, adminPort: 0, debounceMs: 50, rtpModule: rtpModuleFromOption(undefined),
      kubernetes: { client: new KubeClient(sa), leaseNamespace: 'mediamesh-system', leaderId: 'rbac-test', leaseDurationMs: 3000 },
    });
  });

  after(async () => {
    await cp?.stop();
    await api?.stop();
    config.cleanup();
  });

  it('lists, holds the Lease and writes status with nothing more than its RBAC', async () => {
    const accepted = await waitFor('status written with the ServiceAccount', async () => {
      const r = await client.get<RouteObject>(`/apis/mediamesh.io/v1alpha1/namespaces/${NS}/udproutes/feed`);
      return r.status?.parents?.[0]?.conditions.find((c) => c.type === 'Accepted') ?? false;
    }, 30_000, 200);
    assert.equal(accepted.status, 'True');
    assert.equal(cp.kubernetes!.isLeader(), true);
    assert.deepEqual(cp.controlPlane.configStatus().problems.filter((p) => /forbidden|watching/i.test(p.message)), []);
  });

  it('serves the directory and the cluster together, and names both copies of an object in both', () => {
    const routes = cp.controlPlane.currentModel().udpListeners.map((l) => `${l.route.namespace}/${l.route.name}`).sort();
    assert.deepEqual(routes, ['media/dup', 'media/feed', 'media/from-file']);
    const duplicate = cp.controlPlane.configStatus().problems.find((p) => /UdpRoute media\/dup/.test(p.message) && /kubernetes/.test(p.message) && p.message.includes(config.dir));
    assert.ok(duplicate, cp.controlPlane.configStatus().problems.map((p) => p.message).join('\n'));
  });

  it('writes nothing when a change leaves every route\'s status as it is', async () => {
    const kubernetes = cp.kubernetes!;
    await waitFor('status to settle', () => kubernetes.statusFlushes() > 0 && kubernetes.statusWrites() > 0, 30_000, 100);
    const { resourceVersion } = (await client.get<{ metadata: { resourceVersion: string } }>(`/apis/mediamesh.io/v1alpha1/namespaces/${NS}/udproutes/feed`)).metadata;
    const [writes, flushes] = [kubernetes.statusWrites(), kubernetes.statusFlushes()];
    // An unrelated change: a reload, a status comparison, and nothing to write.
    await api.kubectl(['apply', '-f', '-'], service('unrelated', '127.96.0.13', 7000));
    await waitFor('a status comparison after the change', () => kubernetes.statusFlushes() > flushes, 30_000, 50);
    assert.equal(kubernetes.statusWrites(), writes);
    const after = (await client.get<{ metadata: { resourceVersion: string } }>(`/apis/mediamesh.io/v1alpha1/namespaces/${NS}/udproutes/feed`)).metadata;
    assert.equal(after.resourceVersion, resourceVersion);
  });
});

describe('leader election between two control plane processes', function () {
  this.timeout(240_000);
  let api: KubeApiServer;
  const processes = new Map<string, ChildProcess>();

  const spawnReplica = (id: string): ChildProcess => {
    const child = spawn(process.execPath, [path.join(root, 'bin/mediamesh.js'), 'serve', '--kubernetes', '--lease-namespace', 'mediamesh-system', '--leader-id', id, '--lease-duration', '3s', '--xds-port', '0', '--admin-port', '0'], {
      env: { ...process.env, KUBECONFIG: api.kubeconfigPath },
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    processes.set(id, child);
    return child;
  };
  const holder = async () => (await api.kubectl(['get', 'lease', '-n', 'mediamesh-system', 'mediamesh-control-plane', '-o', 'jsonpath={.spec.holderIdentity}']).catch(() => '')).trim();
  const acceptedMessage = async () => (await api.kubectl(['get', 'udproute', '-n', NS, 'feed', '-o', 'jsonpath={.status.parents[0].conditions[0].message}']).catch(() => '')).trim();

  before(async () => {
    api = await startKubeApiServer();
    await api.kubectl(['apply', '--server-side', '-f', path.join(root, 'manifests/crds/')]);
    await api.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/udproutes.mediamesh.io', 'crd/rtsproutes.mediamesh.io']);
    await api.kubectl(['create', 'namespace', NS]);
    await api.kubectl(['create', 'namespace', 'mediamesh-system']);
    await api.kubectl(['apply', '-f', '-'], yaml(service('feed', '127.96.0.10', 5004), service('feed-v1', '127.96.0.11', 5004), udpRoute('feed', 'feed', 5004, 'feed-v1')));
    spawnReplica('replica-a');
    spawnReplica('replica-b');
  });

  after(async () => {
    for (const child of processes.values()) if (child.exitCode === null) child.kill('SIGKILL');
    await api?.stop();
  });

  it('elects one leader, which writes status; when it is killed the other takes over and writes the next change', async () => {
    const first = await waitFor('a leader', async () => (await holder()) || false, 30_000, 200);
    assert.ok(['replica-a', 'replica-b'].includes(first), first);
    await waitFor('status by the leader', async () => /generation 1 is serving/.test(await acceptedMessage()), 30_000, 200);

    processes.get(first)!.kill('SIGKILL');
    const second = await waitFor('the other replica to lead', async () => {
      const h = await holder();
      return h && h !== first ? h : false;
    }, 30_000, 200);
    assert.notEqual(second, first);
    await api.kubectl(['apply', '-f', '-'], udpRoute('feed', 'feed', 5004, 'feed-v1', '  idleTimeout: 45s'));
    await waitFor('status of generation 2 by the new leader', async () => /generation 2 is serving/.test(await acceptedMessage()), 30_000, 200);
  });
});
