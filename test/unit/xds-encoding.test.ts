// The hand-rolled wire steps of the push and ACK paths against the generated
// codecs: a response with its nonce appended decodes as the one encoded
// whole, and a request whose node is decoded on demand reads as the full decode.
import assert from 'node:assert/strict';
import { Node } from '../../xds-server/src/gen/envoy/config/core/v3/base.js';
import { DeltaDiscoveryRequest, DiscoveryRequest, DiscoveryResponse } from '../../xds-server/src/gen/envoy/service/discovery/v3/discovery.js';
import { decodeDeltaRequest, decodeSotwRequest } from '../../xds-server/src/xds/request-decoding.js';
import { wholeType } from '../../xds-server/src/xds/named-selection.js';
import { sotwResponseBody, withNonce } from '../../xds-server/src/xds/response-encoding.js';
import { Snapshot } from '../../xds-server/src/xds/snapshot.js';
import { TypeUrl } from '../../xds-server/src/xds/type-urls.js';
import { udpResources } from '../helpers/resources.js';

const node = Node.fromPartial({
  id: 'proxy-1',
  cluster: 'c',
  metadata: { 'mediamesh.io/namespace': 'ns-1', 'mediamesh.io/role': 'sidecar' },
  userAgentName: 'envoy',
  clientFeatures: ['xds.config.resource-ttl'],
});

describe('xDS wire steps', () => {
  it('a response body plus its appended nonce decodes as the response encoded whole, for short and long nonces', () => {
    const snapshot = Snapshot.fromResources(udpResources([{ listener: 'l1', port: 5000, cluster: 'c1', endpoints: [6000, 6001] }]));
    const eds = snapshot.forType(TypeUrl.ClusterLoadAssignment);
    const body = sotwResponseBody(eds, TypeUrl.ClusterLoadAssignment, eds.version, wholeType(eds));
    for (const nonce of ['1', '4242', 'n'.repeat(127), 'n'.repeat(128), 'ñ'.repeat(200)]) {
      const decoded = DiscoveryResponse.decode(withNonce(body, nonce));
      assert.equal(decoded.nonce, nonce);
      assert.equal(decoded.versionInfo, eds.version);
      assert.equal(decoded.typeUrl, TypeUrl.ClusterLoadAssignment);
      assert.deepEqual(decoded.resources.map((r) => Buffer.from(r.value)), eds.list.map((r) => Buffer.from(r.packed.value)));
    }
  });

  it('a SotW request decodes to the same fields with its node read on demand, and without a node has none', () => {
    const full = DiscoveryRequest.fromPartial({ versionInfo: 'v1', node, resourceNames: ['a', 'b'], typeUrl: TypeUrl.ClusterLoadAssignment, responseNonce: '7', errorDetail: { code: 3, message: 'bad' } });
    const decoded = decodeSotwRequest(DiscoveryRequest.encode(full).finish());
    assert.deepEqual({ ...decoded }, DiscoveryRequest.decode(DiscoveryRequest.encode(full).finish()));
    assert.deepEqual(decoded.node, node);
    const bare = decodeSotwRequest(DiscoveryRequest.encode({ ...full, node: undefined }).finish());
    assert.equal(bare.node, undefined);
    assert.deepEqual(bare.resourceNames, ['a', 'b']);
  });

  it('the last node field wins, as in the full decode', () => {
    const first = DiscoveryRequest.encode(DiscoveryRequest.fromPartial({ node: Node.fromPartial({ id: 'first' }), typeUrl: TypeUrl.Cluster })).finish();
    const second = DiscoveryRequest.encode(DiscoveryRequest.fromPartial({ node: Node.fromPartial({ id: 'second' }), responseNonce: '2' })).finish();
    const both = Buffer.concat([first, second]);
    const decoded = decodeSotwRequest(both);
    assert.equal(decoded.node?.id, DiscoveryRequest.decode(both).node?.id);
    assert.equal(decoded.node?.id, 'second');
    assert.equal(decoded.typeUrl, TypeUrl.Cluster);
    assert.equal(decoded.responseNonce, '2');
  });

  it('a Delta request decodes to the same fields with its node read on demand', () => {
    const full = DeltaDiscoveryRequest.fromPartial({ node, typeUrl: TypeUrl.Cluster, resourceNamesSubscribe: ['x'], initialResourceVersions: { x: 'v' }, responseNonce: '3' });
    const bytes = DeltaDiscoveryRequest.encode(full).finish();
    const decoded = decodeDeltaRequest(bytes);
    assert.deepEqual({ ...decoded }, DeltaDiscoveryRequest.decode(bytes));
  });

  it('truncated framing still fails to decode', () => {
    const bytes = DiscoveryRequest.encode(DiscoveryRequest.fromPartial({ node, typeUrl: TypeUrl.Cluster })).finish();
    assert.throws(() => decodeSotwRequest(bytes.subarray(0, bytes.length - 3)));
  });
});
