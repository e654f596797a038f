// Golden tests for the translator: one input YAML per case in
// test/testdata/translate/in, the expected Envoy resources (readable JSON, one
// key per type) in .../out. An input whose first line is `# views: a, b` is
// translated for a gateway and for a sidecar in each named namespace, and its
// output is keyed by view; a line `# sidecar node metadata: {JSON}` gives those
// sidecars more node metadata (the captured ports an injected pod declares),
// read the way the control plane reads a connecting proxy's. Rejected
// documents are listed under "problems".
// Regenerate with UPDATE_GOLDEN=1 npm test, then read the diff.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { formatProblem, validateDocuments } from '../../xds-server/src/api/validate.js';
import type { SourcedDocument } from '../../xds-server/src/api/types.js';
import { buildModel } from '../../xds-server/src/model/build-model.js';
import type { Node } from '../../xds-server/src/gen/envoy/config/core/v3/base.js';
import { NODE_METADATA, type ProxyView } from '../../xds-server/src/model/proxy-view.js';
import { UNAUTHENTICATED } from '../../xds-server/src/xds/peer-identity.js';
import { proxyViewOf } from '../../xds-server/src/xds/proxy-view-of.js';
import { projectRoot } from '../../xds-server/src/sidecar/envoy-binary.js';
import { readYamlTree } from '../../xds-server/src/sources/read-yaml.js';
import { type TranslateOptions, translateModel } from '../../xds-server/src/translate/translate.js';
import { Snapshot } from '../../xds-server/src/xds/snapshot.js';
import { pushOrder, shortTypeName } from '../../xds-server/src/xds/type-urls.js';

const dir = path.join(projectRoot(), 'test/testdata/translate');
const options = {
  rtpModule: { kind: 'local' as const, path: '/opt/mediamesh/libmediamesh_rtp_filter.so' },
  rtspFilter: { kind: 'local' as const, path: '/opt/mediamesh/mediamesh_rtsp_filter.wasm' },
};

function viewsOf(file: string): Record<string, ProxyView | undefined> {
  const text = fs.readFileSync(file, 'utf8');
  const declared = /^# views: (.+)$/m.exec(text.split('\n')[0]!)?.[1];
  const metadata = JSON.parse(/^# sidecar node metadata: (.+)$/m.exec(text)?.[1] ?? '{}') as Record<string, unknown>;
  const views: Record<string, ProxyView | undefined> = { gateway: undefined };
  for (const ns of declared?.split(',').map((v) => v.trim()) ?? []) {
    const node = { id: `sidecar-${ns}`, metadata: { ...metadata, [NODE_METADATA.namespace]: ns, [NODE_METADATA.role]: 'sidecar' } } as unknown as Node;
    views[ns] = proxyViewOf(node, UNAUTHENTICATED);
  }
  return views;
}

/** A file may ask for RTSP relays (serve --relay-ports): "# relays: <cluster>". */
function optionsOf(file: string): TranslateOptions {
  const cluster = /^# relays: (\S+)$/m.exec(fs.readFileSync(file, 'utf8'))?.[1];
  return cluster ? { ...options, rtspRelays: { cluster, timeoutMs: 6000 } } : options;
}

function translateDocuments(documents: readonly SourcedDocument[], views: Record<string, ProxyView | undefined>, translateOptions: TranslateOptions = options): Record<string, unknown> {
  const { config, problems } = validateDocuments(documents);
  const model = buildModel(config);
  const byView: Record<string, unknown> = {};
  for (const [name, view] of Object.entries(views)) {
    const { resources, errors } = translateModel(model, translateOptions, view);
    assert.deepEqual(errors, []);
    const snapshot = Snapshot.fromResources(resources);
    const out: Record<string, unknown> = {};
    for (const typeUrl of pushOrder) {
      const items = [...snapshot.forType(typeUrl).resources.values()];
      if (items.length) out[shortTypeName(typeUrl)] = items.map((r) => r.json());
    }
    byView[name] = out;
  }
  const translated = Object.keys(views).length === 1 ? byView.gateway as Record<string, unknown> : byView;
  return problems.length ? { ...translated, problems: problems.map((p) => formatProblem({ ...p, source: path.basename(p.source) })) } : translated;
}

function translateFile(file: string): Record<string, unknown> {
  const read = readYamlTree(file);
  assert.deepEqual(read.problems, [], 'golden inputs parse');
  return translateDocuments(read.documents, viewsOf(file), optionsOf(file));
}

/** A repeatable shuffle, so a failure names an order that can be replayed. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  let state = seed;
  const next = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('translator golden files', () => {
  const inputs = fs.readdirSync(path.join(dir, 'in')).filter((f) => f.endsWith('.yaml')).sort();
  it('has cases, per-view ones and failure ones among them', () => {
    assert.ok(inputs.length >= 5);
    assert.ok(inputs.some((f) => Object.keys(viewsOf(path.join(dir, 'in', f))).length > 1));
  });
  for (const input of inputs) {
    it(input, () => {
      const actual = translateFile(path.join(dir, 'in', input));
      const goldenPath = path.join(dir, 'out', input.replace(/\.yaml$/, '.json'));
      if (process.env.UPDATE_GOLDEN) fs.writeFileSync(goldenPath, JSON.stringify(actual, null, 2) + '\n');
      assert.ok(fs.existsSync(goldenPath), `missing golden ${goldenPath}; run with UPDATE_GOLDEN=1`);
      assert.deepEqual(actual, JSON.parse(fs.readFileSync(goldenPath, 'utf8')));
    });

    it(`${input}: the same bytes whatever the order of its documents`, () => {
      const file = path.join(dir, 'in', input);
      const documents = readYamlTree(file).documents;
      // Problems point at documents by position; positions move with the order, so compare without them.
      const bytes = (docs: readonly SourcedDocument[]) => JSON.stringify(translateDocuments(docs, viewsOf(file), optionsOf(file))).replace(/document \d+/g, 'document N');
      const expected = bytes(documents);
      for (let seed = 1; seed <= 10; seed++) assert.equal(bytes(shuffled(documents, seed)), expected, `shuffle seed ${seed}`);
    });
  }

  it('reports an RTP route as an error, not a crash, when no filter module is configured', () => {
    const { config } = validateDocuments(readYamlTree(path.join(dir, 'in/udp-rtp-canary.yaml')).documents);
    const { resources, errors } = translateModel(buildModel(config), {});
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.resource, 'udp~media~feed~5004');
    assert.match(errors[0]!.reason, /RTP filter module/);
    assert.equal(resources.listeners.length, 0);
  });

  it('reports an RtspRoute as an error, not a crash, when no RTSP filter is configured, and adds no shared RTSP resources', () => {
    const { config } = validateDocuments(readYamlTree(path.join(dir, 'in/rtsp-cameras.yaml')).documents);
    const { resources, errors } = translateModel(buildModel(config), { rtpModule: options.rtpModule });
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.resource, 'rtsp~media~cameras~554');
    assert.match(errors[0]!.reason, /RTSP filter/);
    assert.deepEqual([resources.listeners.length, resources.clusters.length], [0, 0]);
  });
});
