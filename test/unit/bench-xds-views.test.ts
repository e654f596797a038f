// bench:xds per-proxy mode: which view each simulated proxy states, what each
// view's proxies are expected to hold after a round, and the per-view files
// the go-control-plane peer is handed.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { UdpListenerModel } from '../../xds-server/src/model/ir.js';
import { NODE_METADATA } from '../../xds-server/src/model/proxy-view.js';
import { translateUdpListener } from '../../xds-server/src/translate/udp-route.js';
import { emptyResources } from '../../xds-server/src/xds/resources.js';
import { Snapshot, TypeUrl } from '../../xds-server/src/xds/snapshot.js';
import { PeerViewDir, viewFileText } from '../../bench/lib/peer-view-files.js';
import { expectationsFor, type RoundViews } from '../../bench/lib/view-resources.js';
import { GATEWAY_VIEW_KEY, nodeMetadata, proxySpec, viewKeys } from '../../bench/lib/views.js';

function listener(namespace: string, name: string, port: number, endpointPorts: number[]): UdpListenerModel {
  return {
    route: { namespace, name },
    parent: `${namespace}/${name}:${port}`,
    address: '127.0.0.1',
    port,
    protocol: 'Raw',
    affinity: 'SourceIPPort',
    idleTimeoutMs: 60_000,
    backends: [{ service: { namespace, name: `${name}-backend` }, servicePort: 7000, weight: 1, endpoints: endpointPorts.map((p) => ({ address: '127.0.0.1', port: p })) }],
    clockRates: {},
  };
}

function snapshotOf(...listeners: UdpListenerModel[]): Snapshot {
  const resources = emptyResources();
  for (const l of listeners) {
    const r = translateUdpListener(l);
    resources.listeners.push(r.listener);
    resources.clusters.push(r.cluster);
    resources.endpoints.push(r.assignment);
  }
  return Snapshot.fromResources(resources);
}

function roundViews(byView: Map<string, Snapshot>): RoundViews {
  return { byView, problems: [], distinctSnapshots: new Set([...byView.values()].map((s) => s.version)).size };
}

describe('bench:xds per-proxy mode', () => {
  it('puts proxy i in namespace ns-<i mod views> and states it in node metadata', () => {
    const specs = [0, 1, 10, 13].map((i) => proxySpec(i, 10));
    assert.deepEqual(specs.map((s) => s.namespace), ['ns-0', 'ns-1', 'ns-0', 'ns-3']);
    assert.equal(new Set(specs.map((s) => s.nodeId)).size, 4);
    assert.deepEqual(nodeMetadata(specs[3]!), { [NODE_METADATA.namespace]: 'ns-3', [NODE_METADATA.role]: 'sidecar', [NODE_METADATA.podIp]: '10.0.0.13' });
    assert.deepEqual(viewKeys(3), ['ns-0', 'ns-1', 'ns-2']);
  });

  it('leaves proxies without a namespace (one gateway view) when views is 0', () => {
    assert.equal(nodeMetadata(proxySpec(7, 0)), undefined);
    assert.deepEqual(viewKeys(0), [GATEWAY_VIEW_KEY]);
  });

  it("expects each view's proxies to hold the changed resource of their own view", () => {
    // The producer route in `media` is in both views too, with the same new endpoint: the
    // consumer route's cluster is the one a proxy of ns-k must be waited for.
    const views = roundViews(new Map([
      ['ns-0', snapshotOf(listener('media', 'feed', 20_000, [40_001]), listener('ns-0', 'consumer', 20_001, [40_001, 32_000]))],
      ['ns-1', snapshotOf(listener('ns-1', 'consumer', 20_001, [40_001, 32_001]))],
    ]));
    assert.deepEqual(expectationsFor(views, { kind: 'endpoint-port', port: 40_001 }, 1), {
      'ns-0': { kind: 'endpoint-port', clusterName: 'udp~ns-0~consumer~20001', port: 40_001 },
      'ns-1': { kind: 'endpoint-port', clusterName: 'udp~ns-1~consumer~20001', port: 40_001 },
    });
  });

  it('refuses a round whose change does not reach every view', () => {
    const views = roundViews(new Map([
      ['ns-0', snapshotOf(listener('ns-0', 'consumer', 20_000, [40_002]))],
      ['ns-1', snapshotOf(listener('ns-1', 'consumer', 20_000, [30_000]))],
    ]));
    assert.throws(() => expectationsFor(views, { kind: 'endpoint-port', port: 40_002 }, 2), /round 2's change .* reaches no resource of view ns-1/);
  });

  it("hands the peer each view's resource bytes and type versions, rewriting only changed views", () => {
    const before = new Map([['ns-0', snapshotOf(listener('ns-0', 'consumer', 20_000, [30_000]))], ['ns-1', snapshotOf(listener('ns-1', 'consumer', 20_000, [30_001]))]]);
    const after = new Map([['ns-0', snapshotOf(listener('ns-0', 'consumer', 20_000, [40_001]))], ['ns-1', before.get('ns-1')!]]);
    const texts = (m: Map<string, Snapshot>) => new Map([...m].map(([k, s]) => [k, viewFileText(k, s)]));
    const dir = new PeerViewDir();
    try {
      assert.deepEqual(dir.changed(texts(before)), ['ns-0', 'ns-1']);
      dir.write(texts(before));
      assert.deepEqual(dir.changed(texts(after)), ['ns-0']);
      assert.deepEqual(fs.readdirSync(dir.dir).sort(), ['view-ns-0.json', 'view-ns-1.json']);

      const file = JSON.parse(fs.readFileSync(path.join(dir.dir, 'view-ns-0.json'), 'utf8')) as { view: string; types: { typeUrl: string; version: string; resources: string[] }[] };
      assert.equal(file.view, 'ns-0');
      const eds = file.types.find((t) => t.typeUrl === TypeUrl.ClusterLoadAssignment)!;
      const served = before.get('ns-0')!.forType(TypeUrl.ClusterLoadAssignment);
      assert.equal(eds.version, served.version);
      assert.deepEqual(eds.resources.map((b) => Buffer.from(b, 'base64')), served.list.map((r) => Buffer.from(r.packed.value)));
    } finally {
      dir.cleanup();
    }
  });
});
