// The project's side of the CRDs' CEL rules (route-rules.ts), at their
// boundaries: the same routes the CEL rules let through pass, one step past
// is refused on the field the API server names, in the CRD's words.
import assert from 'node:assert/strict';
import { checkShape, type FieldProblem } from '../../xds-server/src/api/check-shape.js';
import { celRules, MAX_LISTENERS_PER_ROUTE, MAX_PATH_REGEX_LENGTH } from '../../xds-server/src/api/route-rules.js';

const udp = (spec: Record<string, unknown>) => ({
  apiVersion: 'mediamesh.io/v1alpha1',
  kind: 'UdpRoute',
  metadata: { name: 'r' },
  spec: { parentRefs: [{ name: 'feed', port: 5004 }], backendRefs: [{ name: 'v1', port: 5004 }], ...spec },
});
const rtsp = (spec: Record<string, unknown>) => ({
  apiVersion: 'mediamesh.io/v1alpha1',
  kind: 'RtspRoute',
  metadata: { name: 'r' },
  spec: { parentRefs: [{ name: 'cams', port: 554 }], rules: [{ backendRefs: [{ name: 'v1', port: 8554 }] }], ...spec },
});

function problems(document: unknown): FieldProblem[] {
  const shape = checkShape(document);
  return shape.ok ? [] : shape.problems;
}

function refused(document: unknown, field: string, words: string): FieldProblem {
  const found = problems(document);
  assert.equal(found.length, 1, JSON.stringify(found));
  assert.equal(found[0]!.field, field);
  assert.ok(found[0]!.reason.includes(words), `"${found[0]!.reason}" says "${words}"`);
  return found[0]!;
}

describe('route rules shared with the CRDs', () => {
  it('endPort: equal to port is one port; below it is refused', () => {
    assert.deepEqual(problems(udp({ parentRefs: [{ name: 'feed', port: 5004, endPort: 5004 }] })), []);
    const p = refused(udp({ parentRefs: [{ name: 'feed', port: 5004, endPort: 5003 }] }), 'spec.parentRefs[0].endPort', celRules.endPortNotBelowPort.message);
    assert.match(p.reason, /endPort 5003, port 5004/);
  });

  it('ports: adjacent ranges pass, a shared port is refused as Conflicted', () => {
    assert.deepEqual(problems(udp({ parentRefs: [{ name: 'a', port: 5000, endPort: 5009 }, { name: 'b', port: 5010 }] })), []);
    const p = refused(udp({ parentRefs: [{ name: 'a', port: 5000, endPort: 5010 }, { name: 'b', port: 5010 }] }), 'spec.parentRefs[1].port', celRules.portServedOnce.message);
    assert.equal(p.code, 'Conflicted');
    refused(rtsp({ parentRefs: [{ name: 'cams', port: 554 }, { name: 'cams', port: 554 }] }), 'spec.parentRefs[1].port', celRules.portServedOnce.message);
  });

  it(`ports: ${MAX_LISTENERS_PER_ROUTE} in all pass, one more is refused as ResourceLimit`, () => {
    const parents = (last: number) => [{ name: 'a', port: 10000, endPort: 10998 }, { name: 'b', port: 20000, endPort: last }];
    assert.deepEqual(problems(udp({ parentRefs: parents(20000) })), []);
    const p = refused(udp({ parentRefs: parents(20001) }), 'spec.parentRefs[1].endPort', celRules.boundedPortCount.message);
    assert.equal(p.code, 'ResourceLimit');
  });

  it('weights: any backend above 0 (or unset, meaning 1) passes; all 0 is refused', () => {
    assert.deepEqual(problems(udp({ backendRefs: [{ name: 'a', port: 1, weight: 0 }, { name: 'b', port: 1 }] })), []);
    refused(udp({ backendRefs: [{ name: 'a', port: 1, weight: 0 }, { name: 'b', port: 1, weight: 0 }] }), 'spec.backendRefs', celRules.someBackendWeighted.message);
    refused(rtsp({ rules: [{ backendRefs: [{ name: 'a', port: 1 }] }, { backendRefs: [{ name: 'a', port: 1, weight: 0 }] }] }), 'spec.rules[1].backendRefs', celRules.someBackendWeighted.message);
  });

  it('rtp settings need protocol RTP (unset means Raw)', () => {
    assert.deepEqual(problems(udp({ protocol: 'RTP', rtp: { trackSequence: true } })), []);
    refused(udp({ rtp: { trackSequence: true } }), 'spec.rtp', celRules.rtpNeedsProtocolRtp.message);
  });

  it('clockRate keys are payload types 0..127 written plainly', () => {
    assert.deepEqual(problems(udp({ protocol: 'RTP', rtp: { clockRate: { 0: 8000, 9: 8000, 96: 90000, 127: 90000 } } })), []);
    for (const key of ['128', '07', '-1', 'pcmu', '']) {
      const p = refused(udp({ protocol: 'RTP', rtp: { clockRate: { [key]: 8000 } } }), 'spec.rtp.clockRate', celRules.clockRateKeys.message);
      assert.ok(p.reason.includes(JSON.stringify(key)));
    }
  });

  it('RTSP paths: Exact and PathPrefix (the default) start with /; a RegularExpression need not, but is bounded', () => {
    const paths = (...path: Record<string, string>[]) => rtsp({ rules: [{ matches: path.map((p) => ({ path: p })), backendRefs: [{ name: 'v1', port: 8554 }] }] });
    assert.deepEqual(problems(paths({ value: '/a' }, { type: 'Exact', value: '/b' }, { type: 'RegularExpression', value: 'c[0-9]+' })), []);
    refused(paths({ value: 'a' }), 'spec.rules[0].matches[0].path.value', celRules.pathIsAbsolute.message);
    refused(paths({ value: '/a' }, { type: 'Exact', value: 'b' }), 'spec.rules[0].matches[1].path.value', celRules.pathIsAbsolute.message);
    // Counted in characters, as the API server's size() is.
    assert.deepEqual(problems(paths({ type: 'RegularExpression', value: 'é'.repeat(MAX_PATH_REGEX_LENGTH) })), []);
    refused(paths({ type: 'RegularExpression', value: 'a'.repeat(MAX_PATH_REGEX_LENGTH + 1) }), 'spec.rules[0].matches[0].path.value', celRules.boundedPathRegex.message);
  });

  it('healthCheck timeout up to its interval passes, compared as durations; longer is refused', () => {
    for (const healthCheck of [{ interval: '1m', timeout: '60s' }, { interval: '1.5s', timeout: '1500ms' }, { timeout: '1h' }, { interval: '1s' }]) {
      assert.deepEqual(problems(rtsp({ healthCheck })), [], JSON.stringify(healthCheck));
    }
    const p = refused(rtsp({ healthCheck: { interval: '5s', timeout: '5001ms' } }), 'spec.healthCheck.timeout', celRules.healthCheckTimeoutWithinInterval.message);
    assert.match(p.reason, /timeout 5001ms, interval 5s/);
  });
});
