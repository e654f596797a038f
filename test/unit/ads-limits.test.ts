// What one xDS client can make the server hold is bounded: streams, names per
// type, request size, node id length, NACK log lines.
import assert from 'node:assert/strict';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { Node } from '../../xds-server/src/gen/envoy/config/core/v3/base.js';
import type { AggregatedDiscoveryServiceClient } from '../../xds-server/src/gen/envoy/service/discovery/v3/ads.js';
import { AdsServer } from '../../xds-server/src/xds/ads-server.js';
import { XDS_LIMITS } from '../../xds-server/src/xds/limits.js';
import { SnapshotCache } from '../../xds-server/src/xds/snapshot-cache.js';
import { Snapshot } from '../../xds-server/src/xds/snapshot.js';
import { TypeUrl } from '../../xds-server/src/xds/type-urls.js';
import { adsClient, openDelta, openSotw } from '../helpers/ads-client.js';
import { udpResources } from '../helpers/resources.js';

const node = (id: string) => Node.fromPartial({ id, cluster: 'test' });
const names = (n: number) => Array.from({ length: n }, (_, i) => `name-${i}`);

describe('ADS server limits', () => {
  let cache: SnapshotCache;
  let server: AdsServer;
  let client: AggregatedDiscoveryServiceClient;
  const streams: { close(): void }[] = [];

  beforeEach(async () => {
    cache = new SnapshotCache();
    const snapshot = Snapshot.fromResources(udpResources([{ listener: 'l1', port: 5000, cluster: 'c1', endpoints: [6000] }]));
    cache.addEvents({ nodeConnected: (n) => cache.setSnapshot(n.id, snapshot) });
    server = new AdsServer(cache, { maxStreams: 3 });
    client = adsClient(await server.listen('127.0.0.1', 0));
  });

  afterEach(async () => {
    for (const s of streams.splice(0)) s.close();
    client.close();
    await server.stop(500);
  });

  it('refuses a Delta stream that subscribes to more names than any proxy would', async () => {
    const delta = openDelta(client);
    streams.push(delta);
    delta.request({ node: node('greedy'), typeUrl: TypeUrl.ClusterLoadAssignment, resourceNamesSubscribe: names(XDS_LIMITS.maxNamesPerType + 1) });
    const err = await delta.endedWith();
    assert.equal(err.code, GrpcStatus.RESOURCE_EXHAUSTED);
    assert.match(err.details, /at most 16384 per type/);
  });

  it('counts subscriptions across requests of one Delta stream', async () => {
    const delta = openDelta(client);
    streams.push(delta);
    const half = XDS_LIMITS.maxNamesPerType / 2;
    delta.request({ node: node('creeping'), typeUrl: TypeUrl.ClusterLoadAssignment, resourceNamesSubscribe: names(half) });
    delta.request({ typeUrl: TypeUrl.ClusterLoadAssignment, resourceNamesSubscribe: names(half + 1).map((n) => `${n}-more`) });
    assert.equal((await delta.endedWith()).code, GrpcStatus.RESOURCE_EXHAUSTED);
  });

  it('remembers at most a bounded number of unanswered Delta responses per type', async () => {
    const delta = openDelta(client);
    streams.push(delta);
    delta.request({ node: node('silent'), typeUrl: TypeUrl.ClusterLoadAssignment, resourceNamesSubscribe: ['c1'] });
    const first = await delta.next();
    // The proxy never answers; every change is one more response in flight.
    for (let i = 1; i <= XDS_LIMITS.maxPendingPerType + 4; i++) {
      cache.setSnapshot('silent', Snapshot.fromResources(udpResources([{ listener: 'l1', port: 5000, cluster: 'c1', endpoints: [6000 + i] }])));
      await delta.next();
    }
    // A NACK of the oldest response comes too late to be matched: it is no longer remembered.
    delta.request({ typeUrl: TypeUrl.ClusterLoadAssignment, responseNonce: first.nonce, errorDetail: { code: 3, message: 'late', details: [] } });
    // Barrier: a request after the NACK on the same stream, answered only once the NACK was handled.
    delta.request({ typeUrl: TypeUrl.Listener, resourceNamesSubscribe: ['l1'] });
    assert.equal((await delta.next()).typeUrl, TypeUrl.Listener);
    assert.equal(cache.nodeStatus('silent')!.types.get(TypeUrl.ClusterLoadAssignment)?.lastNack, undefined);
  });

  it('refuses a SotW request naming more resources than any proxy would', async () => {
    const sotw = openSotw(client);
    streams.push(sotw);
    sotw.request({ node: node('greedy-sotw'), typeUrl: TypeUrl.ClusterLoadAssignment, resourceNames: names(XDS_LIMITS.maxNamesPerType + 1) });
    assert.equal((await sotw.endedWith()).code, GrpcStatus.RESOURCE_EXHAUSTED);
  });

  it('refuses a request larger than the request size limit', async () => {
    const sotw = openSotw(client);
    streams.push(sotw);
    sotw.request({ node: node('big'), typeUrl: TypeUrl.Cluster, resourceNames: [`${'x'.repeat(XDS_LIMITS.maxRequestBytes)}`] });
    assert.equal((await sotw.endedWith()).code, GrpcStatus.RESOURCE_EXHAUSTED);
  });

  it('refuses a node id longer than the limit', async () => {
    const sotw = openSotw(client);
    streams.push(sotw);
    sotw.request({ node: node('n'.repeat(XDS_LIMITS.maxNodeIdLength + 1)), typeUrl: TypeUrl.Cluster });
    const err = await sotw.endedWith();
    assert.equal(err.code, GrpcStatus.INVALID_ARGUMENT);
    assert.equal(cache.knownNodes().length, 0, 'nothing remembered for it');
  });

  it('refuses streams beyond the server-wide limit and takes new ones once others close', async () => {
    const open = [0, 1, 2].map((i) => {
      const s = openSotw(client);
      streams.push(s);
      s.request({ node: node(`p${i}`), typeUrl: TypeUrl.Cluster });
      return s;
    });
    await Promise.all(open.map((s) => s.next()));
    const extra = openSotw(client);
    streams.push(extra);
    extra.request({ node: node('p3'), typeUrl: TypeUrl.Cluster });
    assert.equal((await extra.endedWith()).code, GrpcStatus.RESOURCE_EXHAUSTED);
    open[0]!.close();
    const deadline = Date.now() + 3000;
    for (;;) {
      const retry = openSotw(client);
      streams.push(retry);
      retry.request({ node: node('p3'), typeUrl: TypeUrl.Cluster });
      try {
        await retry.next(500);
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
      }
    }
  });
});
