// Whether a config file is surely unchanged since it was last read, from one
// stat instead of a read: a reload then re-reads only the files that changed.
//
// A stat can vouch for a file only if any later write must show in it. A
// rename-over gives a new inode; a write in place changes the change time,
// which only the kernel sets (unlike the modification time, which `touch -d`,
// `cp -p` or `rsync -t` can set back). But file times have a granularity (a
// kernel tick on Linux, two seconds on FAT), so a write in the same tick as
// the one read can leave every field as it was, the size included. As git
// does with its index, a file changed shortly before it was read is therefore
// read again next time, until a read comes well after its last change.
import type fs from 'node:fs';

/** How long after a file's last change a read must come for its stat to vouch for it. */
export const RACY_WINDOW_MS = 2000;

export interface FileStamp {
  readonly dev: number;
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  /** Wall clock (the file system's clock, not an injected one) when the read began. */
  readonly readAt: number;
}

/** `stat`: of the file as it was read (fstat of the open file); `readAt`: Date.now() before the read. */
export function stampOf(stat: fs.Stats, readAt: number): FileStamp {
  return { dev: stat.dev, ino: stat.ino, size: stat.size, mtimeMs: stat.mtimeMs, ctimeMs: stat.ctimeMs, readAt };
}

/** True only if `now` (a stat of the path) shows the same file, untouched since a read that came well after its last change. */
export function unchangedSince(stamp: FileStamp, now: fs.Stats | undefined): boolean {
  if (!now?.isFile()) return false;
  if (now.dev !== stamp.dev || now.ino !== stamp.ino || now.size !== stamp.size || now.mtimeMs !== stamp.mtimeMs || now.ctimeMs !== stamp.ctimeMs) return false;
  return stamp.ctimeMs < stamp.readAt - RACY_WINDOW_MS;
}
