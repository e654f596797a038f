// Per-proxy config against real Envoys: each proxy gets its view (a consumer
// route for its namespace), a rejected edit keeps the live listener in Envoy,
// route status follows Envoy's ACKs and NACKs, and resources added for one
// named proxy are awaited until that Envoy ACKs (or NACKs) them.
import assert from 'node:assert/strict';
import { bootstrapYaml } from '../../xds-server/src/bootstrap/envoy-bootstrap.js';
import { rtpModuleFromOption } from '../../xds-server/src/cli/rtp-module-option.js';
import { type RunningControlPlane, startControlPlane } from '../../xds-server/src/cli/serve.js';
import { EnvoyProcess } from '../../xds-server/src/sidecar/envoy-process.js';
import type { RouteStatusEntry } from '../../xds-server/src/status/route-status.js';
import { translateUdpListener } from '../../xds-server/src/translate/udp-route.js';
import { ProxyResourceError } from '../../xds-server/src/xds/proxy-resources.js';
import { emptyResources } from '../../xds-server/src/xds/resources.js';
import { ConfigDir, udpRouteDocuments } from '../helpers/mesh-files.js';
import { waitFor } from '../helpers/poll.js';
import { freeUdpPort } from '../helpers/ports.js';
import { UdpClient, UdpEchoBackend } from '../helpers/udp.js';

const consumerRoute = (listenPort: number, backendPort: number) => `
apiVersion: v1
kind: Service
metadata: {name: local, namespace: team-a}
spec: {ports: [{name: media, port: 7000, protocol: UDP}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: local-a, namespace: team-a, labels: {kubernetes.io/service-name: local}}
addressType: IPv4
ports: [{name: media, port: ${backendPort}, protocol: UDP}]
endpoints: [{addresses: ["127.0.0.1"]}]
---
apiVersion: mediamesh.io/v1alpha1
kind: UdpRoute
metadata: {name: feed-local, namespace: team-a}
spec:
  parentRefs: [{name: feed, namespace: media, port: ${listenPort}}]
  backendRefs: [{name: local, port: 7000}]
`;

describe('per-proxy views with real Envoys', function () {
  this.timeout(120_000);
  const config = new ConfigDir();
  let cp: RunningControlPlane;
  let gateway: EnvoyProcess;
  let sidecar: EnvoyProcess;
  let shared: UdpEchoBackend;
  let local: UdpEchoBackend;
  let listenPort: number;

  const start = (nodeId: string, namespace?: string) => EnvoyProcess.start({
    bootstrapYaml: bootstrapYaml({ nodeId, cluster: 'mediamesh-proxy', xdsHost: '127.0.0.1', xdsPort: cp.xdsPort, adminAddress: '127.0.0.1', adminPort: 0, delta: false, ...(namespace ? { namespace } : {}) }),
  });
  const route = (name: string): RouteStatusEntry | undefined => cp.controlPlane.routeStatuses().find((r) => r.name === name);
  const condition = (name: string, type: string) => route(name)?.status.parents[0]?.conditions.find((c) => c.type === type);

  before(async () => {
    listenPort = await freeUdpPort();
    shared = await UdpEchoBackend.start('shared');
    local = await UdpEchoBackend.start('local');
    config.write('feed.yaml', udpRouteDocuments({ name: 'feed', listenPort, backends: [{ name: 'feed-v1', ports: [shared.port] }], extraSpec: { idleTimeout: '30s' } }));
    config.write('team-a.yaml', consumerRoute(listenPort, local.port));
    cp = await startControlPlane({ configDir: config.dir, listenHost: '127.0.0.1', xdsPort: 0, adminPort: 0, debounceMs: 50, rtpModule: rtpModuleFromOption(undefined) });
    gateway = await start('gateway-1');
    sidecar = await start('team-a-sidecar', 'team-a');
  });

  after(async () => {
    await gateway?.stop();
    await sidecar?.stop();
    await cp?.stop();
    await shared?.close();
    await local?.close();
    config.cleanup();
  });

  it('gives the gateway the producer route and the team-a sidecar its consumer route', async () => {
    await waitFor('gateway listener', async () => (await gateway.admin.listenerNames()).includes(`udp~media~feed~${listenPort}`));
    await waitFor('sidecar listener', async () => (await sidecar.admin.listenerNames()).includes(`udp~team-a~feed-local~${listenPort}`));
    assert.ok(!(await sidecar.admin.listenerNames()).includes(`udp~media~feed~${listenPort}`), 'the consumer route replaced the producer route there');
    await waitFor('feed Programmed', () => condition('feed', 'Programmed')?.status === 'True');
    assert.equal(condition('feed', 'Programmed')!.message, 'ACKed by 1 proxy');
    await waitFor('feed-local Programmed', () => condition('feed-local', 'Programmed')?.status === 'True');
  });

  it('keeps the live listener in Envoy when an edit is rejected', async () => {
    const client = await UdpClient.open();
    try {
      // Both Envoys listen on the same port of 127.0.0.1 (SO_REUSEPORT); ask the gateway's own stats.
      const before = await gateway.admin.stat(`listener_manager.listener_removed`);
      config.write('feed.yaml', udpRouteDocuments({ name: 'feed', listenPort, backends: [{ name: 'feed-v1', ports: [shared.port] }], extraSpec: { idleTimeout: '30 s' } }));
      await waitFor('the rejection in status', () => condition('feed', 'Accepted')?.status === 'False');
      assert.match(condition('feed', 'Accepted')!.message, /spec\.idleTimeout.*still serving generation 1/);
      assert.equal(route('feed')!.servedGeneration, 1);
      assert.ok((await gateway.admin.listenerNames()).includes(`udp~media~feed~${listenPort}`));
      assert.equal(await gateway.admin.stat('listener_manager.listener_removed'), before, 'no listener was removed');
      assert.equal(condition('feed', 'Programmed')!.status, 'True', 'generation 1 is still what the proxies run');
    } finally {
      await client.close();
    }
  });

  it('reports a NACK in Programmed with Envoy\'s own reason', async () => {
    const badPort = await freeUdpPort();
    // 192.0.2.10 (TEST-NET-1) is no address of this machine: Envoy cannot bind it and NACKs.
    config.write('unbindable.yaml', udpRouteDocuments({ name: 'unbindable', listenPort: badPort, clusterIP: '192.0.2.10', backends: [{ name: 'unbindable-v1', ports: [shared.port] }] }));
    await waitFor('Programmed False', () => condition('unbindable', 'Programmed')?.reason === 'Rejected');
    const programmed = condition('unbindable', 'Programmed')!;
    assert.equal(programmed.status, 'False');
    assert.match(programmed.message, new RegExp(`rejected udp~media~unbindable~${badPort}: .*192\\.0\\.2\\.10`));
    assert.equal(condition('feed-local', 'Programmed')!.status, 'True', 'a route the NACK does not name stays Programmed');
    config.remove('unbindable.yaml');
    await waitFor('unbindable gone from status', () => route('unbindable') === undefined);
  });

  describe('resources for one named proxy', () => {
    const relay = (port: number, address: string, backendPort: number) => {
      const resources = emptyResources();
      const built = translateUdpListener({ route: { namespace: 'relays', name: `r${port}` }, parent: `relays/r:${port}`, address, port, protocol: 'Raw', affinity: 'SourceIPPort', idleTimeoutMs: 30_000, clockRates: {}, backends: [{ service: { namespace: 'relays', name: 'echo' }, servicePort: 1, weight: 1, endpoints: [{ address: '127.0.0.1', port: backendPort }] }] });
      resources.listeners.push(built.listener);
      resources.clusters.push(built.cluster);
      resources.endpoints.push(built.assignment);
      return resources;
    };

    it('resolves once that Envoy ACKed them, and only it has them; release removes them', async () => {
      const port = await freeUdpPort();
      await cp.controlPlane.proxyResources.apply({ owner: 'session-a', nodes: ['team-a-sidecar'], resources: relay(port, '127.0.0.1', local.port), timeoutMs: 15_000 });
      assert.ok((await sidecar.admin.listenerNames()).includes(`udp~relays~r${port}~${port}`), 'the listener is in Envoy when the promise resolves');
      assert.ok(!(await gateway.admin.listenerNames()).includes(`udp~relays~r${port}~${port}`));
      const client = await UdpClient.open();
      try {
        assert.equal(await waitFor('echo through the relay', () => client.exchange(port, 'hi', 300)), 'local:hi');
      } finally {
        await client.close();
      }
      cp.controlPlane.proxyResources.release('session-a');
      await waitFor('relay listener gone', async () => !(await sidecar.admin.listenerNames()).includes(`udp~relays~r${port}~${port}`));
    });

    it("rejects with Envoy's words when that Envoy NACKs them, and takes them back", async () => {
      const port = await freeUdpPort();
      await assert.rejects(
        cp.controlPlane.proxyResources.apply({ owner: 'session-b', nodes: ['team-a-sidecar'], resources: relay(port, '192.0.2.10', local.port), timeoutMs: 15_000 }),
        (err: unknown) => err instanceof ProxyResourceError && err.failure === 'nack' && /team-a-sidecar rejected udp~relays~r\d+~\d+: .*192\.0\.2\.10/.test(err.message),
      );
      assert.deepEqual(cp.controlPlane.proxyResources.owners(), []);
    });
  });
});
