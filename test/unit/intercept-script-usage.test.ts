// The interception script checks its whole command line before it touches
// anything (or even asks for root), so a bad flag from the injector is a
// clear exit 2 wherever the script runs. What it installs is tested for real
// in test/e2e/interception-netns.test.ts.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../../xds-server/src/sidecar/envoy-binary.js';

const SCRIPT = path.join(projectRoot(), 'manifests/interception/mediamesh-intercept.sh');

describe('mediamesh-intercept.sh command line', () => {
  // A PATH with the text tools the script uses and neither ip nor iptables:
  // whatever gets past the command line stops there, and never touches this
  // machine's own rules.
  let bin: string;
  before(() => {
    bin = fs.mkdtempSync(path.join(os.tmpdir(), 'mediamesh-intercept-usage-'));
    for (const tool of ['id', 'awk', 'sort', 'grep', 'cat']) {
      fs.symlinkSync(execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim(), path.join(bin, tool));
    }
  });
  after(() => fs.rmSync(bin, { recursive: true, force: true }));

  function runScript(args: string[]): { status: number | null; stderr: string } {
    const result = spawnSync('/bin/sh', [SCRIPT, ...args], { encoding: 'utf8', timeout: 10_000, env: { PATH: bin } });
    return { status: result.status, stderr: result.stderr };
  }

  const cases: [string, string[], RegExp][] = [
    ['no command', [], /missing command: apply or clean/],
    ['an unknown command', ['start'], /unknown command "start"/],
    ['apply without --proxy-uid', ['apply', '--udp-ports', '5004'], /apply needs --proxy-uid/],
    ['a UID that is not a number', ['apply', '--proxy-uid', 'envoy'], /--proxy-uid: "envoy" is not a numeric UID/],
    ['UID 0', ['apply', '--proxy-uid', '0'], /--proxy-uid 0 would exempt every root process/],
    ['GID 0', ['apply', '--proxy-uid', '1339', '--proxy-gid', '0'], /--proxy-gid 0/],
    ['port 0', ['apply', '--proxy-uid', '1339', '--udp-ports', '0'], /--udp-ports: "0" is not a port/],
    ['a port above 65535', ['apply', '--proxy-uid', '1339', '--rtsp-ports', '554,65536'], /--rtsp-ports: "65536" is not a port/],
    ['a leading zero', ['apply', '--proxy-uid', '1339', '--udp-ports', '05004'], /"05004" is not a port/],
    ['a range backwards', ['apply', '--proxy-uid', '1339', '--udp-ports', '6000-5000'], /range "6000-5000" ends before it starts/],
    ['an open range', ['apply', '--proxy-uid', '1339', '--udp-ports', '5004-'], /is not a port/],
    ['three ends', ['apply', '--proxy-uid', '1339', '--udp-ports', '1-2-3'], /"1-2-3" is not a port or a range/],
    ['an empty item', ['apply', '--proxy-uid', '1339', '--inbound-udp-ports', '5004,,5006'], /has an empty item/],
    ['too many inbound UDP ports', ['apply', '--proxy-uid', '1339', '--inbound-udp-ports', '20000-20064'], /65 ports; at most 64/],
    ['an inbound UDP port among the proxy\'s own', ['apply', '--proxy-uid', '1339', '--inbound-udp-ports', '15230'], /15200-15263 are the proxy's own/],
    ['the proxy\'s inbound RTSP port', ['apply', '--proxy-uid', '1339', '--inbound-rtsp-ports', '15106'], /15106 is the proxy's own inbound RTSP port/],
    ['an unknown backend', ['apply', '--proxy-uid', '1339', '--iptables-backend', 'ebpf'], /"ebpf" is not auto, legacy or nft/],
    ['a flag clean does not take', ['clean', '--proxy-uid', '1339'], /clean does not take --proxy-uid/],
    ['a flag without its value', ['apply', '--proxy-uid'], /--proxy-uid needs a value/],
    ['a stray argument', ['apply', '--proxy-uid', '1339', 'extra'], /unexpected argument "extra"/],
  ];
  for (const [what, args, message] of cases) {
    it(`refuses ${what} with exit 2 and a reason`, () => {
      const { status, stderr } = runScript(args);
      assert.equal(status, 2, stderr);
      assert.match(stderr, message);
      assert.match(stderr, /usage: /);
    });
  }

  it('accepts --flag=value as well as --flag value, and gets past the command line', () => {
    const { status, stderr } = runScript(['apply', '--proxy-uid=1339', '--udp-ports=5004-5005,6000', '--rtsp-ports', '554,8554']);
    // Past the command line it needs root and iproute2: whichever is missing here is the reason, not the flags.
    assert.equal(status, 1, stderr);
    assert.match(stderr, /must run as root|ip \(iproute2\) is not installed/);
  });
});
