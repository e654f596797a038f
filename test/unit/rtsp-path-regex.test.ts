// Admission's check of RtspRoute RegularExpression paths: the same subset of
// RE2 the RTSP filter runs (envoy-filters/wasm/path_regex.h, whose
// GoogleTest table these cases mirror), refused on the route's field.
import assert from 'node:assert/strict';
import { validateDocuments } from '../../xds-server/src/api/validate.js';
import { rtspPathRegexProblem } from '../../xds-server/src/api/rtsp-path-regex.js';
import { parseYamlText } from '../../xds-server/src/sources/read-yaml.js';

describe('RtspRoute regular expression paths', () => {
  const accepted = [
    '/cam1', '/cam[0-9]+', '/cam\\d{2}', '/cam\\d{2,3}', '/cam\\d{2,}', '/(lobby|hall)/.*', '/(?:a|b)+c', '.*', '', '/a?',
    '/a*?b', '/[^/]+/stream=\\d', '^/x$', '\\A/x\\z', '/\\w+\\.sdp', '/[a\\-z]', '/[a-]', '/[]a]', '/\\x41', '/a{0}b', '/(a|)b',
    '/(a*)*b', '/[\\s]', '/a{1000}',
  ];
  const refused: [string, RegExp][] = [
    ['(?i)/cam', /only \(\?:\.\.\.\) groups/], ['(?P<n>/cam)', /only \(\?:/], ['(?=/cam)', /only \(\?:/], ['/(cam)\\1', /unsupported escape/],
    ['/\\bcam', /unsupported escape \\b/], ['/\\pL', /unsupported escape \\p/], ['/[[:alpha:]]', /POSIX/], ['/cam(', /missing '\)'/],
    ['/cam)', /unmatched/], ['/cam[', /missing '\]'/], ['*cam', /missing argument/], ['/a**', /repetition applied to a repetition|repetition operator applied/],
    ['/a{1001}', /above 1000/], ['/a{3,2}', /m below n/], ['/\\', /trailing backslash/], ['/\\x4', /two hex digits/], ['^*', /missing argument/],
  ];
  for (const pattern of accepted) it(`accepts ${JSON.stringify(pattern)}`, () => assert.equal(rtspPathRegexProblem(pattern), undefined));
  for (const [pattern, why] of refused) it(`refuses ${JSON.stringify(pattern)}`, () => assert.match(rtspPathRegexProblem(pattern) ?? 'accepted', why));

  it('rejects the route on the path field, naming the reason', () => {
    const yaml = `
apiVersion: v1
kind: Service
metadata: {name: cams, namespace: media}
spec: {clusterIP: 127.0.0.1, ports: [{port: 554, protocol: TCP}]}
---
apiVersion: mediamesh.io/v1alpha1
kind: RtspRoute
metadata: {name: cams, namespace: media}
spec:
  parentRefs: [{name: cams, port: 554}]
  rules:
    - matches: [{path: {type: RegularExpression, value: "/cam\\\\b"}}]
      backendRefs: [{name: cams, port: 554}]
`;
    const { problems, config } = validateDocuments(parseYamlText(yaml, 'inline.yaml').documents);
    assert.equal(config.rtspRoutes.length, 0);
    assert.equal(problems.length, 1);
    assert.equal(problems[0]!.field, 'spec.rules[0].matches[0].path.value');
    assert.match(problems[0]!.reason, /unsupported escape \\b/);
  });
});
