// The pipeline with several sources, per-proxy views, per-proxy resources
// awaited by ACK, bounded proxy state and route status; time is a FakeClock,
// proxies are driven through the cache as the ADS streams drive it.
import assert from 'node:assert/strict';
import { ControlPlane, EARLY_APPLY_AFTER_COMPLETE_MS, EARLY_APPLY_SETTLE_MS } from '../../xds-server/src/control-plane.js';
import type { Node } from '../../xds-server/src/gen/envoy/config/core/v3/base.js';
import { NODE_METADATA } from '../../xds-server/src/model/proxy-view.js';
import { FileSource } from '../../xds-server/src/sources/file-source.js';
import { MemorySource } from '../../xds-server/src/sources/memory-source.js';
import type { SourceChange } from '../../xds-server/src/sources/source.js';
import { translateUdpListener } from '../../xds-server/src/translate/udp-route.js';
import { UNAUTHENTICATED } from '../../xds-server/src/xds/peer-identity.js';
import { ProxyResourceError } from '../../xds-server/src/xds/proxy-resources.js';
import { emptyResources } from '../../xds-server/src/xds/resources.js';
import { TypeUrl } from '../../xds-server/src/xds/type-urls.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { ConfigDir, udpRouteDocuments } from '../helpers/mesh-files.js';
import { parseYamlText } from '../../xds-server/src/sources/read-yaml.js';

const DEBOUNCE_MS = 100;
const objects = (text: string): unknown[] => parseYamlText(text, 'inline').documents.map((d) => d.document);
const feed = (backendPort: number, extra?: Record<string, unknown>) => objects(udpRouteDocuments({ name: 'feed', listenPort: 5004, backends: [{ name: 'feed-v1', ports: [backendPort] }], extraSpec: extra }));

function node(id: string, namespace?: string): Node {
  return { id, cluster: 'test', metadata: namespace ? { [NODE_METADATA.namespace]: namespace } : {}, dynamicParameters: {}, locality: undefined, userAgentName: 'test', userAgentVersionType: undefined, extensions: [], clientFeatures: [], listeningAddresses: [] } as unknown as Node;
}

/** What a proxy's stream would record after it accepted everything it was given. */
function ackAll(cp: ControlPlane, nodeId: string): void {
  const snapshot = cp.cache.getSnapshot(nodeId)!;
  for (const t of [TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment, TypeUrl.Listener]) {
    cp.cache.recordPush(nodeId, t, snapshot.forType(t).version);
    cp.cache.recordAck(nodeId, t, snapshot.forType(t).version);
  }
}

describe('control plane pipeline', () => {
  let clock: FakeClock;
  let memory: MemorySource;
  let cp: ControlPlane;
  const listeners = (nodeId?: string) => [...(nodeId ? cp.cache.getSnapshot(nodeId)! : cp.currentSnapshot()).forType(TypeUrl.Listener).resources.keys()].sort();
  const edit = async (docs: unknown[]) => {
    memory.set(docs);
    clock.advance(DEBOUNCE_MS);
    await cp.settled();
  };

  beforeEach(async () => {
    clock = new FakeClock();
    memory = new MemorySource('memory');
    cp = new ControlPlane({ source: memory, debounceMs: DEBOUNCE_MS, clock, translate: {} });
    await cp.start();
  });
  afterEach(() => cp.stop());

  it('keeps serving a live route whose edit is rejected, and reports the generation that serves', async () => {
    await edit(feed(25004, { idleTimeout: '30s' }));
    assert.deepEqual(listeners(), ['udp~media~feed~5004']);
    await edit(feed(25004, { idleTimeout: '30 s' }));
    assert.deepEqual(listeners(), ['udp~media~feed~5004'], 'the listener is still there');
    const status = cp.routeStatuses().find((r) => r.name === 'feed')!;
    assert.equal(status.generation, 2);
    assert.equal(status.servedGeneration, 1);
    const accepted = status.status.parents[0]!.conditions.find((c) => c.type === 'Accepted')!;
    assert.equal(accepted.status, 'False');
    assert.match(accepted.message, /spec\.idleTimeout: .*; still serving generation 1/);
    assert.equal(accepted.observedGeneration, 2);
  });

  describe('early apply', () => {
    /** A source whose changes say they replaced whole files, but not that any write is complete. */
    class UnfinishedWrites extends MemorySource {
      private listener?: (change: SourceChange) => void;
      override watch(onChange: (change: SourceChange) => void): void {
        this.listener = onChange;
      }
      write(documents: unknown[]): void {
        super.set(documents);
        this.listener?.({ wholeFiles: true });
      }
    }

    it('does not wait out the settle once a change says its write is complete', async () => {
      memory.set(feed(25004));
      clock.advance(EARLY_APPLY_AFTER_COMPLETE_MS);
      await cp.settled();
      assert.deepEqual(listeners(), ['udp~media~feed~5004']);
      assert.equal(cp.configStatus().loadedBy, 'early');
    });

    it('waits the settle for whole-file changes that do not say they are complete', async () => {
      const source = new UnfinishedWrites('unfinished');
      const other = new ControlPlane({ source, debounceMs: DEBOUNCE_MS, clock, translate: {} });
      await other.start();
      try {
        source.write(feed(25004));
        clock.advance(EARLY_APPLY_SETTLE_MS - 1);
        await other.settled();
        assert.equal(other.currentSnapshot().forType(TypeUrl.Listener).resources.size, 0, 'nothing before the settle');
        clock.advance(1);
        await other.settled();
        assert.equal(other.currentSnapshot().forType(TypeUrl.Listener).resources.size, 1);
        assert.equal(other.configStatus().loadedBy, 'early');
      } finally {
        other.stop();
      }
    });
  });

  it('reads several sources side by side and names both when they publish the same object', async () => {
    const dir = new ConfigDir();
    try {
      dir.write('game.yaml', udpRouteDocuments({ name: 'game', listenPort: 7777, backends: [{ name: 'game-v1', ports: [27777] }] }, 'games'));
      dir.write('feed.yaml', udpRouteDocuments({ name: 'feed', listenPort: 5004, backends: [{ name: 'feed-v1', ports: [25004] }] }));
      const both = new ControlPlane({ sources: [memory, new FileSource(dir.dir)], debounceMs: DEBOUNCE_MS, clock, translate: {} });
      memory.set(feed(26004));
      await both.start();
      try {
        assert.deepEqual([...both.currentSnapshot().forType(TypeUrl.Listener).resources.keys()].sort(), ['udp~games~game~7777', 'udp~media~feed~5004']);
        const clash = both.configStatus().problems.find((p) => p.kind === 'UdpRoute' && p.name === 'feed');
        assert.ok(clash, JSON.stringify(both.configStatus().problems));
        assert.match(clash.message, new RegExp(`UdpRoute media/feed is published by two sources, files in ${dir.dir.replace(/[/.]/g, '\\$&')} and memory|UdpRoute media/feed is published by two sources, memory and files in`));
      } finally {
        both.stop();
      }
    } finally {
      dir.cleanup();
    }
  });

  describe('per-proxy views', () => {
    const consumer = objects(`
apiVersion: v1
kind: Service
metadata: {name: mine, namespace: team-a}
spec: {ports: [{name: media, port: 7000, protocol: UDP}]}
---
apiVersion: mediamesh.io/v1alpha1
kind: UdpRoute
metadata: {name: feed-local, namespace: team-a}
spec:
  parentRefs: [{name: feed, namespace: media, port: 5004}]
  backendRefs: [{name: mine, port: 7000}]
`);

    it("follows a consumer route added while none of its namespace's proxies is connected", async () => {
      await edit(feed(25004));
      // Only the producer view is in use, and the edit does not change it.
      await edit([...feed(25004), ...consumer]);
      const programmed = cp.routeStatuses().find((r) => r.name === 'feed-local')!.status.parents[0]!.conditions.find((c) => c.type === 'Programmed')!;
      assert.equal(programmed.reason, 'NoProxies', 'its listeners are in the model status reads');
      cp.cache.streamOpened(node('late', 'team-a'), 'sotw', UNAUTHENTICATED);
      assert.deepEqual(listeners('late'), ['udp~team-a~feed-local~5004']);
    });

    it('gives each proxy its view, and proxies with equal views one shared snapshot', async () => {
      await edit([...feed(25004), ...consumer]);
      const ids = ['gw', 'a1', 'a2', 'b1', 'b2'];
      cp.cache.streamOpened(node('gw'), 'sotw', UNAUTHENTICATED);
      cp.cache.streamOpened(node('a1', 'team-a'), 'sotw', UNAUTHENTICATED);
      cp.cache.streamOpened(node('a2', 'team-a'), 'sotw', UNAUTHENTICATED);
      cp.cache.streamOpened(node('b1', 'team-b'), 'sotw', UNAUTHENTICATED);
      cp.cache.streamOpened(node('b2', 'team-b'), 'sotw', UNAUTHENTICATED);
      assert.deepEqual(ids.map((id) => listeners(id)), [['udp~media~feed~5004'], ['udp~team-a~feed-local~5004'], ['udp~team-a~feed-local~5004'], ['udp~media~feed~5004'], ['udp~media~feed~5004']]);
      const snap = (id: string) => cp.cache.getSnapshot(id)!;
      assert.equal(snap('a1'), snap('a2'), 'one translation and one encoding for team-a');
      assert.equal(snap('b1'), snap('b2'));
      assert.notEqual(snap('b1'), snap('gw'), 'a sidecar binds transparently, a gateway does not');
      assert.deepEqual(snap('b1').forType(TypeUrl.Listener).resources.get('udp~media~feed~5004')!.json(), { ...snap('gw').forType(TypeUrl.Listener).resources.get('udp~media~feed~5004')!.json() as object, transparent: true }, 'otherwise a namespace without consumer routes has the producer view');
      await edit([...feed(25005), ...consumer]);
      assert.notEqual(snap('a1').version, snap('gw').version);
      assert.equal(snap('a1'), snap('a2'));
    });
  });

  describe('resources for named proxies', () => {
    const relay = (port: number, address = '127.0.0.1') => {
      const r = emptyResources();
      const built = translateUdpListener({ route: { namespace: 'relay', name: `s${port}` }, parent: `relay/s:${port}`, address, port, protocol: 'Raw', affinity: 'SourceIPPort', idleTimeoutMs: 30_000, backends: [], clockRates: {} });
      r.listeners.push(built.listener);
      r.clusters.push(built.cluster);
      r.endpoints.push(built.assignment);
      return r;
    };

    beforeEach(async () => {
      await edit(feed(25004));
      cp.cache.streamOpened(node('p1'), 'sotw', UNAUTHENTICATED);
      cp.cache.streamOpened(node('p2'), 'sotw', UNAUTHENTICATED);
    });

    it('adds them to the named proxies only and resolves once every one ACKed', async () => {
      let done = false;
      const applied = cp.proxyResources.apply({ owner: 'session-1', nodes: ['p1'], resources: relay(40000) }).then(() => (done = true));
      assert.deepEqual(listeners('p1'), ['udp~media~feed~5004', 'udp~relay~s40000~40000']);
      assert.deepEqual(listeners('p2'), ['udp~media~feed~5004']);
      await Promise.resolve();
      assert.equal(done, false, 'not before the ACK');
      ackAll(cp, 'p1');
      await applied;
      cp.proxyResources.release('session-1');
      assert.deepEqual(listeners('p1'), ['udp~media~feed~5004'], 'released with its owner');
    });

    it("rejects with Envoy's words on a NACK and takes the resources back", async () => {
      const applied = cp.proxyResources.apply({ owner: 'session-2', nodes: ['p1', 'p2'], resources: relay(40002, '192.0.2.10') });
      ackAll(cp, 'p2');
      const lds = cp.cache.getSnapshot('p1')!.forType(TypeUrl.Listener).version;
      cp.cache.recordPush('p1', TypeUrl.Listener, lds);
      cp.cache.recordNack('p1', TypeUrl.Listener, lds, "Error adding/updating listener(s) udp~relay~s40002~40002: cannot bind '192.0.2.10:40002': Cannot assign requested address");
      await assert.rejects(applied, (err: unknown) => err instanceof ProxyResourceError && err.failure === 'nack' && /p1 rejected udp~relay~s40002~40002: .*Cannot assign requested address/.test(err.message));
      assert.deepEqual(listeners('p1'), ['udp~media~feed~5004']);
      assert.deepEqual(listeners('p2'), ['udp~media~feed~5004']);
      assert.deepEqual(cp.proxyResources.owners(), []);
    });

    it('times out (on the injected clock) and takes the resources back', async () => {
      const applied = cp.proxyResources.apply({ owner: 'session-3', nodes: ['p1'], resources: relay(40004), timeoutMs: 2000 });
      clock.advance(1999);
      assert.deepEqual(cp.proxyResources.owners(), ['session-3'], 'still waiting just before the deadline');
      clock.advance(1);
      await assert.rejects(applied, /within 2000 ms \(waiting for p1\)/);
      assert.deepEqual(listeners('p1'), ['udp~media~feed~5004']);
    });

    it('takes a set from every proxy when the proxy that asked for it is forgotten', async () => {
      const applied = cp.proxyResources.apply({ owner: 'session-5', nodes: ['p1', 'p2'], resources: relay(40010), ownerNode: 'p2' });
      ackAll(cp, 'p1');
      ackAll(cp, 'p2');
      await applied;
      cp.cache.streamClosed('p2');
      assert.deepEqual(listeners('p1'), ['udp~media~feed~5004', 'udp~relay~s40010~40010'], 'kept while its owner may come back');
      clock.advance(10 * 60_000);
      assert.deepEqual(listeners('p1'), ['udp~media~feed~5004'], 'gone once its owner is forgotten');
      assert.deepEqual(cp.proxyResources.owners(), []);
      assert.equal(cp.cache.getSnapshot('p2'), undefined, 'nothing is kept for the forgotten proxy');
    });

    it('refuses a proxy that is not connected, and one that disconnects before its ACK', async () => {
      await assert.rejects(cp.proxyResources.apply({ owner: 'x', nodes: ['nobody'], resources: relay(40006) }), /proxy nobody is not connected/);
      const applied = cp.proxyResources.apply({ owner: 'y', nodes: ['p1'], resources: relay(40008) });
      cp.cache.streamClosed('p1');
      await assert.rejects(applied, /p1 disconnected before it ACKed/);
    });
  });

  describe('bounded proxy state', () => {
    it('forgets a disconnected proxy after forget-after, not before', async () => {
      const bounded = new ControlPlane({ source: memory, clock, forgetAfterMs: 10 * 60_000, translate: {} });
      await bounded.start();
      try {
        bounded.cache.streamOpened(node('gone'), 'sotw', UNAUTHENTICATED);
        bounded.cache.streamClosed('gone');
        clock.advance(10 * 60_000 - 1);
        assert.ok(bounded.cache.nodeStatus('gone'), 'remembered until its time');
        clock.advance(1);
        assert.equal(bounded.cache.nodeStatus('gone'), undefined);
        assert.equal(bounded.cache.getSnapshot('gone'), undefined);
        assert.equal(bounded.viewOf('gone'), undefined);
      } finally {
        bounded.stop();
      }
    });

    it('remembers at most maxDisconnected proxies, forgetting the oldest first; a reconnect is not forgotten', async () => {
      const bounded = new ControlPlane({ source: memory, clock, maxDisconnected: 3, translate: {} });
      await bounded.start();
      try {
        for (let i = 0; i < 6; i++) {
          bounded.cache.streamOpened(node(`n${i}`), 'sotw', UNAUTHENTICATED);
          bounded.cache.streamClosed(`n${i}`);
          clock.advance(1);
        }
        bounded.cache.streamOpened(node('n5'), 'sotw', UNAUTHENTICATED);
        assert.deepEqual(bounded.cache.knownNodes().sort(), ['n3', 'n4', 'n5']);
        assert.equal(bounded.cache.disconnectedCount(), 2);
      } finally {
        bounded.stop();
      }
    });
  });

  describe('route status', () => {
    const programmed = () => cp.routeStatuses().find((r) => r.name === 'feed')!.status.parents[0]!.conditions.find((c) => c.type === 'Programmed')!;

    it('is Programmed once every proxy given the route ACKed it, and False with Envoy\'s reason on a NACK', async () => {
      await edit(feed(25004));
      assert.equal(programmed().reason, 'NoProxies');
      cp.cache.streamOpened(node('p1'), 'sotw', UNAUTHENTICATED);
      cp.cache.streamOpened(node('p2'), 'sotw', UNAUTHENTICATED);
      assert.equal(programmed().reason, 'Pending');
      ackAll(cp, 'p1');
      ackAll(cp, 'p2');
      assert.deepEqual([programmed().status, programmed().message], ['True', 'ACKed by 2 proxies']);
      await edit(feed(25004, { idleTimeout: '45s' }));
      const lds = cp.cache.getSnapshot('p2')!.forType(TypeUrl.Listener).version;
      ackAll(cp, 'p1');
      cp.cache.recordPush('p2', TypeUrl.Listener, lds);
      cp.cache.recordNack('p2', TypeUrl.Listener, lds, 'Error adding/updating listener(s) udp~media~feed~5004: something Envoy disliked');
      assert.equal(programmed().status, 'False');
      assert.equal(programmed().reason, 'Rejected');
      assert.match(programmed().message, /1 of 2 proxies rejected it: p2 rejected udp~media~feed~5004: Error adding\/updating listener\(s\) udp~media~feed~5004: something Envoy disliked/);
    });

    it('reports a backend without ready endpoints as ResolvedRefs False, the route still accepted', async () => {
      await edit(objects(udpRouteDocuments({ name: 'feed', listenPort: 5004, backends: [{ name: 'feed-v1', ports: [] }] })));
      const conditions = cp.routeStatuses()[0]!.status.parents[0]!.conditions;
      assert.equal(conditions.find((c) => c.type === 'Accepted')!.status, 'True');
      const refs = conditions.find((c) => c.type === 'ResolvedRefs')!;
      assert.deepEqual([refs.status, refs.reason], ['False', 'NoReadyEndpoints']);
      assert.match(refs.message, /media\/feed-v1 port 7000/);
    });
  });
});
