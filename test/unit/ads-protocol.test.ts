// The ADS server's protocol behaviour, driven by a raw client on one stream.
// "Nothing was sent" is proven with a barrier: a request for another type
// whose response must be the very next message on the stream.
import assert from 'node:assert/strict';
import { Client, credentials, Metadata, status as GrpcStatus } from '@grpc/grpc-js';
import { Node } from '../../xds-server/src/gen/envoy/config/core/v3/base.js';
import type { AggregatedDiscoveryServiceClient } from '../../xds-server/src/gen/envoy/service/discovery/v3/ads.js';
import type { DiscoveryResponse } from '../../xds-server/src/gen/envoy/service/discovery/v3/discovery.js';
import { AdsServer } from '../../xds-server/src/xds/ads-server.js';
import { SnapshotCache } from '../../xds-server/src/xds/snapshot-cache.js';
import { Snapshot } from '../../xds-server/src/xds/snapshot.js';
import { TypeUrl } from '../../xds-server/src/xds/type-urls.js';
import { adsClient, type DeltaTestStream, openDelta, openSotw, type SotwTestStream } from '../helpers/ads-client.js';
import { udpResources } from '../helpers/resources.js';

const node = (id: string) => Node.fromPartial({ id, cluster: 'test' });

function decodeNames(res: DiscoveryResponse): string[] {
  // Names are the first field (tag 1, length-delimited) of Listener, Cluster and ClusterLoadAssignment.
  return res.resources.map((any) => {
    const bytes = any.value;
    assert.equal(bytes[0], 0x0a);
    let len = 0;
    let shift = 0;
    let i = 1;
    for (;;) {
      const b = bytes[i++]!;
      len |= (b & 0x7f) << shift;
      if (b < 0x80) break;
      shift += 7;
    }
    return Buffer.from(bytes.subarray(i, i + len)).toString();
  }).sort();
}

const snapshotA = () => Snapshot.fromResources(udpResources([{ listener: 'l1', port: 5000, cluster: 'c1', endpoints: [6000] }]));
// Listener l1 moves from cluster c1 to c2; c1 goes away.
const snapshotB = () => Snapshot.fromResources(udpResources([{ listener: 'l1', port: 5000, cluster: 'c2', endpoints: [6001] }]));

describe('ADS server protocol', () => {
  let cache: SnapshotCache;
  let server: AdsServer;
  let client: AggregatedDiscoveryServiceClient;
  let port: number;
  const streams: { close(): void }[] = [];

  beforeEach(async () => {
    cache = new SnapshotCache();
    const initial = snapshotA();
    cache.addEvents({ nodeConnected: (n) => cache.setSnapshot(n.id, initial) });
    server = new AdsServer(cache);
    port = await server.listen('127.0.0.1', 0);
    client = adsClient(port);
  });

  afterEach(async () => {
    for (const s of streams.splice(0)) s.close();
    client.close();
    await server.stop(500);
  });

  const sotw = (): SotwTestStream => {
    const s = openSotw(client);
    streams.push(s);
    return s;
  };
  const delta = (): DeltaTestStream => {
    const s = openDelta(client);
    streams.push(s);
    return s;
  };

  /** Subscribes CDS, EDS(c1) and LDS and ACKs each; returns the last response per type. */
  async function syncedSotw(id: string): Promise<{ s: SotwTestStream; last: Map<string, DiscoveryResponse> }> {
    const s = sotw();
    const last = new Map<string, DiscoveryResponse>();
    s.request({ node: node(id), typeUrl: TypeUrl.Cluster });
    last.set(TypeUrl.Cluster, await s.next());
    s.request({ typeUrl: TypeUrl.Cluster, versionInfo: last.get(TypeUrl.Cluster)!.versionInfo, responseNonce: last.get(TypeUrl.Cluster)!.nonce });
    s.request({ typeUrl: TypeUrl.ClusterLoadAssignment, resourceNames: ['c1'] });
    last.set(TypeUrl.ClusterLoadAssignment, await s.next());
    s.request({ typeUrl: TypeUrl.ClusterLoadAssignment, resourceNames: ['c1'], versionInfo: last.get(TypeUrl.ClusterLoadAssignment)!.versionInfo, responseNonce: last.get(TypeUrl.ClusterLoadAssignment)!.nonce });
    s.request({ typeUrl: TypeUrl.Listener });
    last.set(TypeUrl.Listener, await s.next());
    s.request({ typeUrl: TypeUrl.Listener, versionInfo: last.get(TypeUrl.Listener)!.versionInfo, responseNonce: last.get(TypeUrl.Listener)!.nonce });
    return { s, last };
  }

  /** Proves no other response is queued: the next message must answer this fresh subscription. */
  async function barrier(s: SotwTestStream): Promise<void> {
    s.request({ typeUrl: TypeUrl.Secret, resourceNames: [`barrier-${Math.random()}`] });
    const res = await s.next();
    assert.equal(res.typeUrl, TypeUrl.Secret, `expected only the barrier response, got ${res.typeUrl} ${res.versionInfo}`);
    s.request({ typeUrl: TypeUrl.Secret, resourceNames: res.resources.length ? [] : [], versionInfo: res.versionInfo, responseNonce: res.nonce });
  }

  describe('State of the World', () => {
    it('ends a stream whose first request has no node id', async () => {
      const s = sotw();
      s.request({ typeUrl: TypeUrl.Cluster });
      const err = await s.endedWith();
      assert.equal(err.code, GrpcStatus.INVALID_ARGUMENT);
      assert.match(err.details, /node\.id/);
    });

    it('ends a stream asking for an unknown type URL, naming what it serves', async () => {
      const s = sotw();
      s.request({ node: node('n'), typeUrl: 'type.googleapis.com/envoy.config.core.v3.Nonsense' });
      const err = await s.endedWith();
      assert.equal(err.code, GrpcStatus.INVALID_ARGUMENT);
      assert.match(err.details, /unsupported type_url .*Nonsense.*Listener/);
    });

    it('serves wildcard CDS/LDS and named EDS, and records ACKs', async () => {
      const { s, last } = await syncedSotw('n1');
      assert.deepEqual(decodeNames(last.get(TypeUrl.Cluster)!), ['c1']);
      assert.deepEqual(decodeNames(last.get(TypeUrl.ClusterLoadAssignment)!), ['c1']);
      assert.deepEqual(decodeNames(last.get(TypeUrl.Listener)!), ['l1']);
      await barrier(s);
      const status = cache.nodeStatus('n1')!;
      for (const t of [TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment, TypeUrl.Listener]) {
        assert.equal(status.types.get(t)!.ackedVersion, last.get(t)!.versionInfo);
        assert.equal(status.types.get(t)!.sentVersion, last.get(t)!.versionInfo);
      }
      assert.equal(status.connected, true);
      assert.equal(cache.connectedCount(), 1);
    });

    it('sends EDS only for the names subscribed', async () => {
      cache.addEvents({ nodeConnected: (n) => cache.setSnapshot(n.id, Snapshot.fromResources(udpResources([
        { listener: 'l1', port: 5000, cluster: 'c1', endpoints: [6000] },
        { listener: 'l2', port: 5001, cluster: 'c2', endpoints: [6001] },
      ]))) });
      const s = sotw();
      s.request({ node: node('named'), typeUrl: TypeUrl.ClusterLoadAssignment, resourceNames: ['c2'] });
      assert.deepEqual(decodeNames(await s.next()), ['c2']);
    });

    it('records a NACK with the error text, never re-sends that version, and sends the next one', async () => {
      const { s, last } = await syncedSotw('n2');
      cache.setSnapshot('n2', snapshotB());
      const cds = await s.next();
      assert.equal(cds.typeUrl, TypeUrl.Cluster);
      assert.deepEqual(decodeNames(cds), ['c1', 'c2']);
      s.request({ typeUrl: TypeUrl.Cluster, versionInfo: last.get(TypeUrl.Cluster)!.versionInfo, responseNonce: cds.nonce, errorDetail: { code: 3, message: 'cluster c2: bad thing', details: [] } });
      // Listeners wait for clusters to settle; a NACK settles them.
      const lds = await s.next();
      assert.equal(lds.typeUrl, TypeUrl.Listener);
      s.request({ typeUrl: TypeUrl.Listener, versionInfo: lds.versionInfo, responseNonce: lds.nonce });
      // The ACKed listener releases c1: the exact set is a new CDS version, not the rejected one.
      const exact = await s.next();
      assert.equal(exact.typeUrl, TypeUrl.Cluster);
      assert.deepEqual(decodeNames(exact), ['c2']);
      assert.notEqual(exact.versionInfo, cds.versionInfo);
      s.request({ typeUrl: TypeUrl.Cluster, versionInfo: last.get(TypeUrl.Cluster)!.versionInfo, responseNonce: exact.nonce, errorDetail: { code: 3, message: 'cluster c2: bad thing', details: [] } });
      await barrier(s);
      const nack = cache.nodeStatus('n2')!.types.get(TypeUrl.Cluster)!.lastNack!;
      assert.equal(nack.version, exact.versionInfo);
      assert.equal(nack.error, 'cluster c2: bad thing');
      assert.equal(cache.nodeStatus('n2')!.types.get(TypeUrl.Cluster)!.ackedVersion, last.get(TypeUrl.Cluster)!.versionInfo, 'ACKed version stays the last good one');
      // A new snapshot brings a new CDS version.
      cache.setSnapshot('n2', Snapshot.fromResources(udpResources([{ listener: 'l1', port: 5000, cluster: 'c3', endpoints: [6002] }])));
      const next = await s.next();
      assert.equal(next.typeUrl, TypeUrl.Cluster);
      assert.notEqual(next.versionInfo, exact.versionInfo);
    });

    it('ignores a request carrying a stale nonce', async () => {
      const { s, last } = await syncedSotw('n3');
      cache.setSnapshot('n3', snapshotB());
      const cds = await s.next();
      // An old nonce (from the first CDS response) must not count as ACK or NACK.
      s.request({ typeUrl: TypeUrl.Cluster, versionInfo: 'whatever', responseNonce: last.get(TypeUrl.Cluster)!.nonce, errorDetail: { code: 3, message: 'stale', details: [] } });
      await barrier(s);
      assert.equal(cache.nodeStatus('n3')!.types.get(TypeUrl.Cluster)!.lastNack, undefined);
      assert.notEqual(cds.nonce, last.get(TypeUrl.Cluster)!.nonce);
    });

    it('holds removed clusters until the listener moving off them is ACKed (make-before-break)', async () => {
      const { s, last } = await syncedSotw('n4');
      cache.setSnapshot('n4', snapshotB());
      const cds1 = await s.next();
      assert.equal(cds1.typeUrl, TypeUrl.Cluster);
      assert.deepEqual(decodeNames(cds1), ['c1', 'c2'], 'the old cluster is kept while listeners still use it');
      s.request({ typeUrl: TypeUrl.Cluster, versionInfo: cds1.versionInfo, responseNonce: cds1.nonce });
      const edsBefore = last.get(TypeUrl.ClusterLoadAssignment)!;
      s.request({ typeUrl: TypeUrl.ClusterLoadAssignment, resourceNames: ['c1', 'c2'], versionInfo: edsBefore.versionInfo, responseNonce: edsBefore.nonce });
      const eds = await s.next();
      assert.equal(eds.typeUrl, TypeUrl.ClusterLoadAssignment);
      s.request({ typeUrl: TypeUrl.ClusterLoadAssignment, resourceNames: ['c1', 'c2'], versionInfo: eds.versionInfo, responseNonce: eds.nonce });
      const lds = await s.next();
      assert.equal(lds.typeUrl, TypeUrl.Listener, 'listeners come after clusters and endpoints');
      s.request({ typeUrl: TypeUrl.Listener, versionInfo: lds.versionInfo, responseNonce: lds.nonce });
      const cds2 = await s.next();
      assert.equal(cds2.typeUrl, TypeUrl.Cluster);
      assert.deepEqual(decodeNames(cds2), ['c2'], 'the stale cluster goes last');
      assert.equal(cds2.versionInfo, snapshotB().forType(TypeUrl.Cluster).version);
    });

    it('sends nothing to a proxy that reconnects with the versions it already has', async () => {
      const first = await syncedSotw('n5');
      first.s.close();
      const s = sotw();
      const a = snapshotA();
      s.request({ node: node('n5'), typeUrl: TypeUrl.Cluster, versionInfo: a.forType(TypeUrl.Cluster).version });
      s.request({ typeUrl: TypeUrl.ClusterLoadAssignment, resourceNames: ['c1'], versionInfo: a.forType(TypeUrl.ClusterLoadAssignment).version });
      s.request({ typeUrl: TypeUrl.Listener, versionInfo: a.forType(TypeUrl.Listener).version });
      await barrier(s);
      assert.equal(cache.nodeStatus('n5')!.types.get(TypeUrl.Listener)!.ackedVersion, a.forType(TypeUrl.Listener).version);
    });

    it('survives garbage on the stream and keeps serving others', async () => {
      const raw = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
      const call = raw.makeBidiStreamRequest('/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources', (b: Buffer) => b, (b: Buffer) => b, new Metadata());
      const ended = new Promise<{ code: number }>((resolve) => call.on('error', (e: { code: number }) => resolve(e)));
      call.on('data', () => undefined);
      call.write(Buffer.from([0xff, 0xff, 0xff, 0x01, 0x02, 0x03]));
      const err = await ended;
      assert.notEqual(err.code, GrpcStatus.OK);
      raw.close();
      const { last } = await syncedSotw('after-garbage');
      assert.deepEqual(decodeNames(last.get(TypeUrl.Listener)!), ['l1']);
    });
  });

  describe('Incremental (Delta)', () => {
    it('sends wildcard resources, then only what changed, and names removals', async () => {
      const s = delta();
      s.request({ node: node('d1'), typeUrl: TypeUrl.Cluster });
      const cds = await s.next();
      assert.deepEqual(cds.resources.map((r) => r.name), ['c1']);
      s.request({ typeUrl: TypeUrl.Cluster, responseNonce: cds.nonce });
      s.request({ typeUrl: TypeUrl.ClusterLoadAssignment, resourceNamesSubscribe: ['c1'] });
      const eds = await s.next();
      assert.deepEqual(eds.resources.map((r) => r.name), ['c1']);
      s.request({ typeUrl: TypeUrl.ClusterLoadAssignment, responseNonce: eds.nonce });
      s.request({ typeUrl: TypeUrl.Listener });
      const lds = await s.next();
      s.request({ typeUrl: TypeUrl.Listener, responseNonce: lds.nonce });
      // Only the endpoints change: one EDS resource, nothing else.
      cache.setSnapshot('d1', Snapshot.fromResources(udpResources([{ listener: 'l1', port: 5000, cluster: 'c1', endpoints: [6009] }])));
      const edsChange = await s.next();
      assert.equal(edsChange.typeUrl, TypeUrl.ClusterLoadAssignment);
      assert.deepEqual(edsChange.resources.map((r) => r.name), ['c1']);
      assert.notEqual(edsChange.resources[0]!.version, eds.resources[0]!.version);
      s.request({ typeUrl: TypeUrl.ClusterLoadAssignment, responseNonce: edsChange.nonce });
      // Move the listener to c2: CDS adds c2 (keeps c1), LDS changes, then c1 is removed.
      cache.setSnapshot('d1', snapshotB());
      const cdsAdd = await s.next();
      assert.equal(cdsAdd.typeUrl, TypeUrl.Cluster);
      assert.deepEqual(cdsAdd.resources.map((r) => r.name), ['c2']);
      assert.deepEqual(cdsAdd.removedResources, []);
      s.request({ typeUrl: TypeUrl.Cluster, responseNonce: cdsAdd.nonce });
      // Like Envoy, ask for the new cluster's endpoints; the listener waits for them.
      s.request({ typeUrl: TypeUrl.ClusterLoadAssignment, resourceNamesSubscribe: ['c2'] });
      const edsNew = await s.next();
      assert.equal(edsNew.typeUrl, TypeUrl.ClusterLoadAssignment);
      assert.deepEqual(edsNew.resources.map((r) => r.name), ['c2']);
      assert.deepEqual(edsNew.removedResources, [], 'c1 endpoints stay while c1 does');
      s.request({ typeUrl: TypeUrl.ClusterLoadAssignment, responseNonce: edsNew.nonce });
      const ldsChange = await s.next();
      assert.equal(ldsChange.typeUrl, TypeUrl.Listener);
      s.request({ typeUrl: TypeUrl.Listener, responseNonce: ldsChange.nonce });
      const cdsRemove = await s.next();
      assert.equal(cdsRemove.typeUrl, TypeUrl.Cluster);
      assert.deepEqual(cdsRemove.resources, []);
      assert.deepEqual(cdsRemove.removedResources, ['c1']);
      const edsRemove = await s.next();
      assert.equal(edsRemove.typeUrl, TypeUrl.ClusterLoadAssignment);
      assert.deepEqual(edsRemove.removedResources, ['c1']);
    });

    it('sends nothing for resources the proxy already has at the same version', async () => {
      const a = snapshotA();
      const s = delta();
      const have = (t: TypeUrl) => Object.fromEntries([...a.forType(t).resources.values()].map((r) => [r.name, r.version]));
      s.request({ node: node('d2'), typeUrl: TypeUrl.Cluster, initialResourceVersions: have(TypeUrl.Cluster) });
      s.request({ typeUrl: TypeUrl.ClusterLoadAssignment, resourceNamesSubscribe: ['c1'], initialResourceVersions: have(TypeUrl.ClusterLoadAssignment) });
      s.request({ typeUrl: TypeUrl.Listener });
      const first = await s.next();
      assert.equal(first.typeUrl, TypeUrl.Listener, 'no CDS response: the proxy is current');
    });

    it('records a NACK and does not offer the rejected version again', async () => {
      const s = delta();
      s.request({ node: node('d3'), typeUrl: TypeUrl.Listener });
      const lds = await s.next();
      s.request({ typeUrl: TypeUrl.Listener, responseNonce: lds.nonce, errorDetail: { code: 3, message: 'Error adding/updating listener(s) l1: cannot bind', details: [] } });
      s.request({ typeUrl: TypeUrl.Cluster });
      const next = await s.next();
      assert.equal(next.typeUrl, TypeUrl.Cluster, 'the rejected listener is not re-sent');
      const nack = cache.nodeStatus('d3')!.types.get(TypeUrl.Listener)!.lastNack!;
      assert.match(nack.error, /cannot bind/);
      assert.equal(nack.version, lds.systemVersionInfo);
    });
  });
});
