// The RTP dynamic module in a real Envoy with a static config (no control
// plane): exact counts for RTP, RTCP, garbage and truncated RTP, datagrams
// passed untouched, Envoy alive afterwards, bad filter configs rejected.
// The checks live in test/fixtures/dynamic-module/check_rtp_filter.py.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { envoyBinary, projectRoot } from '../../xds-server/src/sidecar/envoy-binary.js';

describe('RTP filter in Envoy from a static config', function () {
  this.timeout(120_000);

  it('counts malformed and non-RTP datagrams, passes them on, and never crashes Envoy', () => {
    const root = projectRoot();
    const run = spawnSync('python3', [
      path.join(root, 'test/fixtures/dynamic-module/check_rtp_filter.py'),
      '--module-dir', path.join(root, 'build/envoy-filters/dynamic-module'),
      '--envoy', envoyBinary(),
    ], { encoding: 'utf8', timeout: 110_000 });
    const out = `${run.stdout}${run.stderr}`;
    assert.equal(run.status, 0, out.slice(-4000));
    const summary = /(\d+) passed, (\d+) failed/.exec(out);
    assert.ok(summary, out.slice(-2000));
    assert.equal(summary[2], '0', out.slice(-4000));
    assert.ok(Number(summary[1]) >= 20, `expected the full check list, got ${summary[1]}`);
  });
});
