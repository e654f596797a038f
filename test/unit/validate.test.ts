// Validation: every bad document is rejected alone, with file, document,
// field path and reason; good documents beside it are kept.
import assert from 'node:assert/strict';
import { formatProblem, regexProblem, validateDocuments } from '../../xds-server/src/api/validate.js';
import { parseYamlText } from '../../xds-server/src/sources/read-yaml.js';

const base = `
apiVersion: v1
kind: Service
metadata: {name: feed, namespace: media}
spec: {clusterIP: 127.0.0.1, ports: [{name: rtp, port: 5004, protocol: UDP}]}
---
apiVersion: v1
kind: Service
metadata: {name: feed-v1, namespace: media}
spec: {ports: [{name: rtp, port: 5004, targetPort: 25004, protocol: UDP}]}
---
apiVersion: v1
kind: Service
metadata: {name: cams, namespace: media}
spec: {clusterIP: 127.0.0.1, ports: [{name: rtsp, port: 554, protocol: TCP}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: feed-v1-a, namespace: media, labels: {kubernetes.io/service-name: feed-v1}}
addressType: IPv4
ports: [{name: rtp, port: 25004, protocol: UDP}]
endpoints: [{addresses: ["127.0.0.1"]}]
`;

const goodRoute = `
apiVersion: mediamesh.io/v1alpha1
kind: UdpRoute
metadata: {name: feed, namespace: media}
spec:
  parentRefs: [{kind: Service, name: feed, port: 5004}]
  protocol: RTP
  sessionAffinity: SourceIP
  idleTimeout: 60s
  backendRefs: [{name: feed-v1, port: 5004, weight: 90}]
`;

function validate(...docs: string[]) {
  const { documents, problems } = parseYamlText(docs.join('\n---\n'), 'test.yaml');
  const result = validateDocuments(documents);
  return { ...result, problems: [...problems, ...result.problems] };
}

describe('validateDocuments', () => {
  it('accepts the design example', () => {
    const { config, problems } = validate(base, goodRoute);
    assert.deepEqual(problems, []);
    assert.equal(config.udpRoutes.length, 1);
    assert.equal(config.services.length, 3);
    assert.equal(config.endpointSlices.length, 1);
  });

  const udp = (spec: string, name = 'bad') => `
apiVersion: mediamesh.io/v1alpha1
kind: UdpRoute
metadata: {name: ${name}, namespace: media}
spec:
${spec}`;

  const cases: { name: string; doc: string; field: string; reason: RegExp }[] = [
    { name: 'unknown kind', doc: 'apiVersion: v1\nkind: Pod\nmetadata: {name: x}', field: 'kind', reason: /unknown kind "Pod"/ },
    { name: 'wrong apiVersion', doc: 'apiVersion: mediamesh.io/v1\nkind: UdpRoute\nmetadata: {name: x}\nspec: {}', field: 'apiVersion', reason: /mediamesh\.io\/v1alpha1/ },
    { name: 'not a mapping', doc: '- just\n- a list', field: '', reason: /not a mapping/ },
    { name: 'missing backendRefs', doc: udp('  parentRefs: [{name: feed, port: 5004}]'), field: 'spec.backendRefs', reason: /required/ },
    { name: 'unknown field (typo)', doc: udp('  parentRefs: [{name: feed, port: 5004}]\n  backendRefs: [{name: feed-v1, port: 5004}]\n  sesionAffinity: SourceIP'), field: 'spec.sesionAffinity', reason: /unknown field/ },
    { name: 'bad enum', doc: udp('  parentRefs: [{name: feed, port: 5004}]\n  backendRefs: [{name: feed-v1, port: 5004}]\n  protocol: SRTP'), field: 'spec.protocol', reason: /one of "RTP", "Raw"/ },
    { name: 'port out of range', doc: udp('  parentRefs: [{name: feed, port: 70000}]\n  backendRefs: [{name: feed-v1, port: 5004}]'), field: 'spec.parentRefs[0].port', reason: /<= 65535/ },
    { name: 'dangling backend', doc: udp('  parentRefs: [{name: feed, port: 5004}]\n  backendRefs: [{name: feed-v1, port: 5004}, {name: nope, port: 5004}]'), field: 'spec.backendRefs[1].name', reason: /Service media\/nope not found/ },
    { name: 'backend port missing', doc: udp('  parentRefs: [{name: feed, port: 5004}]\n  backendRefs: [{name: feed-v1, port: 6000}]'), field: 'spec.backendRefs[0].port', reason: /no port 6000/ },
    { name: 'dangling parent', doc: udp('  parentRefs: [{name: ghost, port: 5004}]\n  backendRefs: [{name: feed-v1, port: 5004}]'), field: 'spec.parentRefs[0].name', reason: /ghost not found/ },
    { name: 'parent without clusterIP', doc: udp('  parentRefs: [{name: feed-v1, port: 5004}]\n  backendRefs: [{name: feed-v1, port: 5004}]'), field: 'spec.parentRefs[0].name', reason: /no clusterIP/ },
    { name: 'parent port is TCP', doc: udp('  parentRefs: [{name: cams, port: 554}]\n  backendRefs: [{name: feed-v1, port: 5004}]'), field: 'spec.parentRefs[0].port', reason: /needs a UDP port/ },
    { name: 'weights sum to 0', doc: udp('  parentRefs: [{name: feed, port: 5004}]\n  backendRefs: [{name: feed-v1, port: 5004, weight: 0}]'), field: 'spec.backendRefs', reason: /sum to 0/ },
    { name: 'bad duration', doc: udp('  parentRefs: [{name: feed, port: 5004}]\n  backendRefs: [{name: feed-v1, port: 5004}]\n  idleTimeout: soon'), field: 'spec.idleTimeout', reason: /pattern/ },
    { name: 'port range backwards', doc: udp('  parentRefs: [{name: feed, port: 5004, endPort: 5000}]\n  backendRefs: [{name: feed-v1, port: 5004}]'), field: 'spec.parentRefs[0].endPort', reason: /below port/ },
    { name: 'port clash with the good route', doc: udp('  parentRefs: [{name: feed, port: 5004}]\n  backendRefs: [{name: feed-v1, port: 5004}]', 'zz-second'), field: 'spec.parentRefs[0].port', reason: /UDP 127\.0\.0\.1:5004 is already served by UdpRoute media\/feed/ },
    { name: 'RTSP bad regex', doc: 'apiVersion: mediamesh.io/v1alpha1\nkind: RtspRoute\nmetadata: {name: r, namespace: media}\nspec:\n  parentRefs: [{name: cams, port: 554}]\n  rules: [{matches: [{path: {type: RegularExpression, value: "/cam(?=1)"}}], backendRefs: [{name: feed-v1, port: 5004}]}]', field: 'spec.rules[0].matches[0].path.value', reason: /lookahead/ },
    { name: 'RTSP path without slash', doc: 'apiVersion: mediamesh.io/v1alpha1\nkind: RtspRoute\nmetadata: {name: r, namespace: media}\nspec:\n  parentRefs: [{name: cams, port: 554}]\n  rules: [{matches: [{path: {value: lobby}}], backendRefs: [{name: feed-v1, port: 5004}]}]', field: 'spec.rules[0].matches[0].path.value', reason: /must start with \// },
    { name: 'duplicate object', doc: goodRoute, field: 'metadata.name', reason: /duplicate UdpRoute media\/feed; first declared in test\.yaml document 5/ },
    { name: 'EndpointSlice without service label', doc: 'apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: e, namespace: media, labels: {}}\naddressType: IPv4\nendpoints: []', field: 'metadata.labels.kubernetes.io/service-name', reason: /required/ },
  ];

  for (const c of cases) {
    it(`rejects ${c.name} and keeps the good route`, () => {
      const { config, problems } = validate(base, goodRoute, c.doc);
      assert.ok(problems.length >= 1, 'a problem is reported');
      const p = problems.find((x) => x.field === c.field);
      assert.ok(p, `problem on field "${c.field}"; got ${problems.map(formatProblem).join(' | ')}`);
      assert.match(p.reason, c.reason);
      assert.equal(p.source, 'test.yaml');
      assert.equal(p.index, 5, 'points at the sixth document');
      assert.ok(config.udpRoutes.some((r) => r.metadata.name === 'feed'), 'the good route is still there');
    });
  }

  it('reports YAML syntax errors with line numbers and keeps the other documents', () => {
    const { config, problems } = validate(base, goodRoute, 'apiVersion: v1\nkind: Service\nmetadata: {name: broken\n');
    assert.equal(problems.length, 1);
    assert.match(problems[0]!.reason, /YAML syntax error at line \d+/);
    assert.equal(config.udpRoutes.length, 1);
  });

  it('formats a problem as file, document, object, field and reason', () => {
    const { problems } = validate(base, goodRoute, udp('  parentRefs: [{name: feed, port: 5004}]\n  backendRefs: [{name: nope, port: 5004}]'));
    assert.equal(formatProblem(problems[0]!), 'test.yaml: document 6 (UdpRoute media/bad): spec.backendRefs[0].name: backend Service media/nope not found');
  });

  it('checks regexes for RE2 compatibility', () => {
    assert.equal(regexProblem('^/cam[0-9]+$'), undefined);
    assert.match(regexProblem('(a)\\1')!, /backreferences/);
    assert.match(regexProblem('([')!, /invalid regular expression/);
  });
});
