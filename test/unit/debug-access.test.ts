// Who may read the admin's /debug/*: loopback callers, or everyone with
// --debug-from-anywhere.
import assert from 'node:assert/strict';
import { debugAccessAllowed, isLoopbackAddress } from '../../xds-server/src/admin/debug-access.js';

describe('debug access', () => {
  const cases: [string | undefined, boolean][] = [
    ['127.0.0.1', true],
    ['127.0.0.2', true],
    ['127.255.255.254', true],
    ['::1', true],
    ['0:0:0:0:0:0:0:1', true],
    ['::ffff:127.0.0.1', true],
    ['::ffff:7f00:1', true],
    ['10.0.0.7', false],
    ['192.168.1.20', false],
    ['128.0.0.1', false],
    ['0.0.0.0', false],
    ['::', false],
    ['::2', false],
    ['::ffff:10.0.0.7', false],
    ['fe80::1%eth0', false],
    ['fd00::1', false],
    ['127.0.0.1.example', false],
    ['', false],
    [undefined, false],
  ];
  for (const [address, loopback] of cases) {
    it(`${loopback ? 'answers' : 'refuses'} a caller from ${JSON.stringify(address)}`, () => {
      assert.equal(isLoopbackAddress(address), loopback);
      assert.equal(debugAccessAllowed(address, false), loopback);
      assert.equal(debugAccessAllowed(address, true), true, '--debug-from-anywhere answers everyone');
    });
  }
});
