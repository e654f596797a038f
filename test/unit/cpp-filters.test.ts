// The C++ side of the suite: the GoogleTest suites of envoy-filters/ (RTP
// parser and tracker, RTSP parser, dynamic-module glue, RTSP Wasm filter)
// through ctest, and a bounded libFuzzer run of each parser and of the RTSP
// filter's connection logic. `npm run setup` builds both.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../../xds-server/src/sidecar/envoy-binary.js';

const root = projectRoot();
const FUZZ_SECONDS = Number(process.env.MEDIAMESH_FUZZ_SECONDS ?? 60);

describe('C++ filters', function () {
  this.timeout((FUZZ_SECONDS + 120) * 1000);

  it('pass their GoogleTest suites (ctest)', () => {
    const buildDir = path.join(root, 'build/envoy-filters');
    assert.ok(fs.existsSync(path.join(buildDir, 'CTestTestfile.cmake')), 'build/envoy-filters is not built: run npm run setup');
    const run = spawnSync('ctest', ['--test-dir', buildDir, '--output-on-failure', '-j', '2'], { encoding: 'utf8' });
    assert.equal(run.status, 0, `ctest failed:\n${run.stdout.slice(-4000)}${run.stderr}`);
    const summary = /(\d+)% tests passed, (\d+) tests failed out of (\d+)/.exec(run.stdout);
    assert.ok(summary, `no ctest summary in:\n${run.stdout.slice(-1000)}`);
    assert.equal(summary[2], '0');
    assert.ok(Number(summary[3]) >= 100, `expected the full suites, ctest ran ${summary[3]} tests`);
  });

  // Each fuzzer starts from an empty corpus in a scratch directory, so a run
  // leaves nothing behind; a dictionary, where there is one, gets it past
  // the first line of text protocols quickly.
  function fuzz(name: string, extraArgs: string[]) {
    const fuzzer = path.join(root, `build/envoy-filters-fuzz/fuzz/${name}`);
    assert.ok(fs.existsSync(fuzzer), `${fuzzer} is not built: run npm run setup`);
    const corpus = fs.mkdtempSync(path.join(os.tmpdir(), `mediamesh-${name}-corpus-`));
    try {
      const run = spawnSync(fuzzer, [corpus, `-max_total_time=${FUZZ_SECONDS}`, '-rss_limit_mb=2048', '-print_final_stats=1', ...extraArgs], { encoding: 'utf8', cwd: corpus, timeout: (FUZZ_SECONDS + 60) * 1000 });
      const log = `${run.stdout}${run.stderr}`;
      assert.equal(run.status, 0, `the fuzzer found a crash or failed:\n${log.slice(-4000)}`);
      const runs = /Done (\d+) runs/.exec(log);
      assert.ok(runs && Number(runs[1]) > 10_000, `too few fuzz runs:\n${log.slice(-1000)}`);
    } finally {
      fs.rmSync(corpus, { recursive: true, force: true });
    }
  }

  it(`survive ${FUZZ_SECONDS} s of libFuzzer on the RTP parser and tracker`, () => {
    fuzz('rtp_fuzzer', []);
  });

  it(`survive ${FUZZ_SECONDS} s of libFuzzer on the RTSP parser, both directions, and its Transport parser`, () => {
    fuzz('rtsp_fuzzer', ['-max_len=8192', `-dict=${path.join(root, 'envoy-filters/fuzz/rtsp_fuzzer.dict')}`]);
  });

  it(`survive ${FUZZ_SECONDS} s of libFuzzer on the RTSP Wasm filter's connection logic and path regex`, () => {
    fuzz('rtsp_filter_fuzzer', ['-max_len=8192', `-dict=${path.join(root, 'envoy-filters/fuzz/rtsp_fuzzer.dict')}`]);
  });
});
