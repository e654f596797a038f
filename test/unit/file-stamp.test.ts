// When a stat may stand in for re-reading a config file: only for the same
// file, untouched, read well after its last change (file times are coarse).
import assert from 'node:assert/strict';
import type fs from 'node:fs';
import { RACY_WINDOW_MS, stampOf, unchangedSince } from '../../xds-server/src/sources/file-stamp.js';

const T = 1_800_000_000_000;

function stat(fields: Partial<{ dev: number; ino: number; size: number; mtimeMs: number; ctimeMs: number; file: boolean }> = {}): fs.Stats {
  const s = { dev: 1, ino: 100, size: 42, mtimeMs: T, ctimeMs: T, file: true, ...fields };
  return { ...s, isFile: () => s.file } as unknown as fs.Stats;
}

describe('file stamps', () => {
  it('vouch for a file read well after its last change while nothing about it changed', () => {
    assert.equal(unchangedSince(stampOf(stat(), T + RACY_WINDOW_MS + 1), stat()), true);
  });

  it('do not vouch for a file read soon after its last change: a write in the same tick can leave every field alike', () => {
    assert.equal(unchangedSince(stampOf(stat(), T + 5), stat()), false);
    assert.equal(unchangedSince(stampOf(stat(), T + RACY_WINDOW_MS), stat()), false);
  });

  it('do not vouch once anything differs, or when the path is gone or no longer a file', () => {
    const stamp = stampOf(stat(), T + 10 * RACY_WINDOW_MS);
    for (const changed of [{ ino: 101 }, { dev: 2 }, { size: 43 }, { mtimeMs: T - 1 }, { ctimeMs: T + 1 }, { file: false }]) {
      assert.equal(unchangedSince(stamp, stat(changed)), false, JSON.stringify(changed));
    }
    assert.equal(unchangedSince(stamp, undefined), false);
  });
});
