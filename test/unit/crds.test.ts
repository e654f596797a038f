// The CRDs in manifests/crds/ are generated from the validator's schemas
// (UPDATE_GOLDEN=1 npm test rewrites them), follow Kubernetes' structural
// schema rules, and accept and refuse the same routes the control plane does.
// No API server runs here, so the rules are checked as written in the
// apiextensions docs.
import { checkShape } from '../../xds-server/src/api/check-shape.js';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import { parse, stringify } from 'yaml';
import { crdFileName, customResourceDefinitions } from '../../xds-server/src/api/crds.js';
import { projectRoot } from '../../xds-server/src/sidecar/envoy-binary.js';
import { readYamlTree } from '../../xds-server/src/sources/read-yaml.js';

const manifests = path.join(projectRoot(), 'manifests');
type Schema = Record<string, unknown>;

const NOT_STRUCTURAL = ['const', 'propertyNames', '$ref', 'patternProperties', 'definitions', 'dependencies', 'additionalItems', 'id'];

/** Where a schema breaks the structural rules, as JSON paths with the reason. */
function structuralViolations(node: Schema, at: string): string[] {
  const out: string[] = [];
  for (const key of NOT_STRUCTURAL) if (key in node) out.push(`${at}: "${key}" is not allowed`);
  const typed = typeof node.type === 'string' || node['x-kubernetes-int-or-string'] === true || node['x-kubernetes-preserve-unknown-fields'] === true;
  if (!typed) out.push(`${at}: no type`);
  if (node.properties !== undefined && node.additionalProperties !== undefined) out.push(`${at}: both properties and additionalProperties`);
  if (typeof node.additionalProperties === 'boolean') out.push(`${at}: additionalProperties must be a schema`);
  for (const [name, child] of Object.entries((node.properties ?? {}) as Record<string, Schema>)) out.push(...structuralViolations(child, `${at}.${name}`));
  if (typeof node.additionalProperties === 'object') out.push(...structuralViolations(node.additionalProperties as Schema, `${at}[*]`));
  if (node.items !== undefined) out.push(...structuralViolations(node.items as Schema, `${at}[]`));
  return out;
}

/** Ajv validators for each kind's CRD schema (Kubernetes' own keywords are annotations here). */
function crdValidators() {
  const ajv = new Ajv({ allErrors: true, strict: true, keywords: ['x-kubernetes-preserve-unknown-fields', 'x-kubernetes-int-or-string', 'x-kubernetes-validations'] });
  return new Map(customResourceDefinitions().map((crd) => {
    const spec = crd.spec as { names: { kind: string }; versions: { schema: { openAPIV3Schema: Schema } }[] };
    return [spec.names.kind, ajv.compile(spec.versions[0]!.schema.openAPIV3Schema)];
  }));
}

describe('CRDs', () => {
  const crds = customResourceDefinitions();

  for (const crd of crds) {
    const file = crdFileName(crd);
    it(`manifests/crds/${file} is the generated CRD`, () => {
      const target = path.join(manifests, 'crds', file);
      const text = `# Generated from xds-server/src/api/schemas.ts by xds-server/src/api/crds.ts; regenerate with UPDATE_GOLDEN=1 npm test.\n${stringify(crd)}`;
      if (process.env.UPDATE_GOLDEN) fs.writeFileSync(target, text);
      assert.equal(fs.readFileSync(target, 'utf8'), text, 'out of date: run UPDATE_GOLDEN=1 npm test and read the diff');
    });

    it(`${file} has a structural schema`, () => {
      const versions = (crd.spec as { versions: { schema: { openAPIV3Schema: Schema } }[] }).versions;
      assert.deepEqual(structuralViolations(versions[0]!.schema.openAPIV3Schema, '$'), []);
    });
  }

  it('kustomization lists every CRD', () => {
    const kustomization = parse(fs.readFileSync(path.join(manifests, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
    for (const crd of crds) assert.ok(kustomization.resources.includes(`crds/${crdFileName(crd)}`), crdFileName(crd));
  });

  it('accept the routes the examples and golden inputs use (the ones the validator accepts in shape)', () => {
    const validators = crdValidators();
    const docs = [...readYamlTree(path.join(projectRoot(), 'examples/demo')).documents, ...readYamlTree(path.join(projectRoot(), 'test/testdata/translate/in')).documents];
    let checked = 0;
    for (const { origin, document } of docs) {
      const validate = validators.get((document as { kind: string }).kind);
      // Golden failure cases carry deliberately malformed routes.
      if (!validate || !checkShape(document).ok) continue;
      checked++;
      assert.ok(validate(document), `${origin.source} #${origin.index}: ${JSON.stringify(validate.errors)}`);
    }
    assert.ok(checked >= 5, `${checked} routes checked`);
  });

  it('refuse what the schema forbids', () => {
    const validate = crdValidators().get('UdpRoute')!;
    const route = (spec: Record<string, unknown>) => ({ apiVersion: 'mediamesh.io/v1alpha1', kind: 'UdpRoute', metadata: { name: 'r' }, spec });
    const good = { parentRefs: [{ name: 'cam', port: 5004 }], backendRefs: [{ name: 'v1', port: 7000 }] };
    assert.ok(validate(route(good)));
    for (const [what, spec] of Object.entries({
      'no backendRefs': { parentRefs: good.parentRefs },
      'port 0': { ...good, parentRefs: [{ name: 'cam', port: 0 }] },
      'negative weight': { ...good, backendRefs: [{ name: 'v1', port: 7000, weight: -1 }] },
      'unknown protocol': { ...good, protocol: 'SRT' },
      'bad duration': { ...good, idleTimeout: 'soon' },
    })) {
      assert.equal(validate(route(spec)), false, what);
    }
  });
});
