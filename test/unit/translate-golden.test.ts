// Golden tests for the translator: one input YAML per case in
// test/testdata/translate/in, the expected Envoy resources (readable JSON, one
// key per type) in .../out. Regenerate with UPDATE_GOLDEN=1 npm test, then read the diff.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { validateDocuments } from '../../xds-server/src/api/validate.js';
import { buildModel } from '../../xds-server/src/model/build-model.js';
import { projectRoot } from '../../xds-server/src/sidecar/envoy-binary.js';
import { readYamlTree } from '../../xds-server/src/sources/read-yaml.js';
import { translateModel } from '../../xds-server/src/translate/translate.js';
import { Snapshot } from '../../xds-server/src/xds/snapshot.js';
import { pushOrder, shortTypeName } from '../../xds-server/src/xds/type-urls.js';

const dir = path.join(projectRoot(), 'test/testdata/translate');
const options = { rtpModule: { kind: 'local' as const, path: '/opt/mediamesh/libmediamesh_rtp_filter.so' } };

function translateFile(file: string): Record<string, unknown> {
  const read = readYamlTree(file);
  const { config, problems } = validateDocuments(read.documents);
  assert.deepEqual([...read.problems, ...problems], [], 'golden inputs are valid');
  const { resources, errors } = translateModel(buildModel(config), options);
  assert.deepEqual(errors, []);
  const snapshot = Snapshot.fromResources(resources);
  const out: Record<string, unknown> = {};
  for (const typeUrl of pushOrder) {
    const items = [...snapshot.forType(typeUrl).resources.values()];
    if (items.length) out[shortTypeName(typeUrl)] = items.map((r) => r.json());
  }
  return out;
}

describe('translator golden files', () => {
  const inputs = fs.readdirSync(path.join(dir, 'in')).filter((f) => f.endsWith('.yaml')).sort();
  it('has cases', () => assert.ok(inputs.length >= 3));
  for (const input of inputs) {
    it(input, () => {
      const actual = translateFile(path.join(dir, 'in', input));
      const goldenPath = path.join(dir, 'out', input.replace(/\.yaml$/, '.json'));
      if (process.env.UPDATE_GOLDEN) fs.writeFileSync(goldenPath, JSON.stringify(actual, null, 2) + '\n');
      assert.ok(fs.existsSync(goldenPath), `missing golden ${goldenPath}; run with UPDATE_GOLDEN=1`);
      assert.deepEqual(actual, JSON.parse(fs.readFileSync(goldenPath, 'utf8')));
    });
  }

  it('is deterministic: the same input gives the same snapshot version', () => {
    const file = path.join(dir, 'in', inputs[0]!);
    const v = () => {
      const { config } = validateDocuments(readYamlTree(file).documents);
      return Snapshot.fromResources(translateModel(buildModel(config), options).resources).version;
    };
    assert.equal(v(), v());
  });

  it('reports an RTP route as an error, not a crash, when no filter module is configured', () => {
    const { config } = validateDocuments(readYamlTree(path.join(dir, 'in/udp-rtp-canary.yaml')).documents);
    const { resources, errors } = translateModel(buildModel(config), {});
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.resource, 'udp~media~feed~5004');
    assert.match(errors[0]!.reason, /RTP filter module/);
    assert.equal(resources.listeners.length, 0);
  });
});
