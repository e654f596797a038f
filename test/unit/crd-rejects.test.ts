// The bad examples in test/fixtures/crd-rejects/ are refused by mediamesh's
// own validation too, on the field and with the words their second line
// gives; the API server's side (their first line) is checked against a real
// kube-apiserver by test/integration/crd-rejects.test.ts. Every CEL rule in
// the generated CRDs has an example, and where the API server's words come
// from a CEL rule mediamesh uses the same words. The edge cases in
// test/fixtures/crd-accepts/ pass mediamesh's shape check, as they pass the
// API server.
import assert from 'node:assert/strict';
import { checkShape } from '../../xds-server/src/api/check-shape.js';
import { customResourceDefinitions } from '../../xds-server/src/api/crds.js';
import type { CelRule } from '../../xds-server/src/api/route-rules.js';
import { validateDocuments } from '../../xds-server/src/api/validate.js';
import { parseYamlText } from '../../xds-server/src/sources/read-yaml.js';
import { acceptFixtures, rejectFixtures } from '../helpers/crd-fixtures.js';

// Everything the examples name, so a route is refused for what it says and not
// for a missing Service (namespace "default", as kubectl applies them).
const world = parseYamlText(`
apiVersion: v1
kind: Service
metadata: {name: feed}
spec: {clusterIP: 127.0.0.1, ports: [{port: 5004, protocol: UDP}]}
---
apiVersion: v1
kind: Service
metadata: {name: feed-b}
spec: {clusterIP: 127.0.0.2, ports: [{port: 5004, protocol: UDP}]}
---
apiVersion: v1
kind: Service
metadata: {name: cams}
spec: {clusterIP: 127.0.0.3, ports: [{port: 554, protocol: TCP}]}
---
apiVersion: v1
kind: Service
metadata: {name: feed-v1}
spec: {ports: [{port: 5004, protocol: UDP}]}
---
apiVersion: v1
kind: Service
metadata: {name: feed-v2}
spec: {ports: [{port: 5004, protocol: UDP}]}
---
apiVersion: v1
kind: Service
metadata: {name: cam-v1}
spec: {ports: [{port: 8554, protocol: TCP}]}
---
apiVersion: v1
kind: Service
metadata: {name: cam-v2}
spec: {ports: [{port: 8554, protocol: TCP}]}
`, 'world.yaml').documents;

/** Each kind's x-kubernetes-validations, wherever they sit in its CRD schema. */
function celRulesByKind(): Map<string, CelRule[]> {
  const out = new Map<string, CelRule[]>();
  const walk = (node: unknown, into: CelRule[]): void => {
    if (Array.isArray(node)) return node.forEach((n) => walk(n, into));
    if (node === null || typeof node !== 'object') return;
    for (const [key, value] of Object.entries(node)) {
      if (key === 'x-kubernetes-validations') into.push(...(value as CelRule[]));
      else walk(value, into);
    }
  };
  for (const crd of customResourceDefinitions()) {
    const spec = crd.spec as { names: { kind: string }; versions: unknown[] };
    const rules: CelRule[] = [];
    walk(spec.versions, rules);
    out.set(spec.names.kind, rules);
  }
  return out;
}

describe('bad route examples (test/fixtures/crd-rejects)', () => {
  const fixtures = rejectFixtures();
  const celByKind = celRulesByKind();

  it('are many, one route each, with distinct names', () => {
    assert.ok(fixtures.length >= 10, `${fixtures.length} examples`);
    for (const f of fixtures) assert.ok(['UdpRoute', 'RtspRoute'].includes(f.kind), `${f.file}: ${f.kind}`);
    assert.equal(new Set(fixtures.map((f) => `${f.kind}/${f.name}`)).size, fixtures.length);
  });

  for (const f of fixtures) {
    it(`${f.file} is refused by mediamesh validate: ${f.validateField}: ${f.validateSays}`, () => {
      const { config, problems } = validateDocuments([...world, f.document]);
      assert.deepEqual([...config.udpRoutes, ...config.rtspRoutes].map((r) => r.metadata.name), [], 'no route is accepted');
      const mine = problems.filter((p) => p.name === f.name);
      assert.ok(mine.length > 0, 'refused');
      assert.deepEqual(mine.map((p) => p.field), [f.validateField], `one problem, on ${f.validateField}: ${JSON.stringify(mine)}`);
      assert.ok(mine[0]!.reason.includes(f.validateSays), `"${mine[0]!.reason}" says "${f.validateSays}"`);
      // Where the API server's words are a CEL rule's message, mediamesh says them too.
      if ((celByKind.get(f.kind) ?? []).some((r) => r.message.includes(f.apiServerSays))) {
        assert.ok(mine[0]!.reason.includes(f.apiServerSays), `"${mine[0]!.reason}" says "${f.apiServerSays}" as the CRD does`);
      }
    });
  }

  it('cover every CEL rule of both CRDs', () => {
    for (const [kind, rules] of celByKind) {
      assert.ok(rules.length > 0, kind);
      for (const rule of rules) {
        const covered = fixtures.some((f) => f.kind === kind && rule.message.includes(f.apiServerSays));
        assert.ok(covered, `${kind}: no example is refused by "${rule.message}"`);
      }
    }
  });

  it('have messages a person can act on: every CEL rule has one, on one line', () => {
    for (const rules of celByKind.values()) {
      for (const rule of rules) {
        assert.ok(rule.message.length >= 20 && !rule.message.includes('\n'), rule.message);
        assert.equal((rule as { messageExpression?: string }).messageExpression, undefined);
      }
    }
  });
});

describe('edge-case routes (test/fixtures/crd-accepts)', () => {
  for (const { document } of acceptFixtures()) {
    const name = (document as { metadata: { name: string } }).metadata.name;
    it(`${name} passes mediamesh's shape check`, () => {
      const shape = checkShape(document);
      assert.ok(shape.ok, JSON.stringify(shape.ok ? [] : shape.problems));
    });
  }
});
