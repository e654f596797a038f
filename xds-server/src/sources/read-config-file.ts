// Reads one config file's text without trusting what the path turned out to
// be: a FIFO must not block the reader, a huge or binary file must not reach
// the YAML parser, and a file that vanished is told apart from one that failed.
import fs from 'node:fs';
import { errorMessage } from '../log.js';

/** The largest config file read (1 MiB): real files are a few KiB; the YAML parser's memory grows with the text. */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;

export type FileRead =
  /** `stat`: the open file's, taken before its bytes were read. */
  | { kind: 'text'; text: string; stat: fs.Stats }
  /** The path no longer exists (deleted, or a dangling symlink): the file is gone, not broken. */
  | { kind: 'gone' }
  | { kind: 'failed'; reason: string };

/** Error codes meaning the path (or a directory on it) is not there any more. */
export function isVanished(err: unknown): boolean {
  const code = errorCode(err);
  return code === 'ENOENT' || code === 'ENOTDIR';
}

export function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function readConfigFile(file: string, maxBytes = MAX_CONFIG_FILE_BYTES): FileRead {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever.
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
  } catch (err) {
    if (isVanished(err)) return { kind: 'gone' };
    return { kind: 'failed', reason: `cannot read: ${errorMessage(err)}` };
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) return { kind: 'failed', reason: `is ${describeFileType(stat)}, not a regular file` };
    if (stat.size > maxBytes) return { kind: 'failed', reason: tooBig(stat.size, maxBytes) };
    // The file may grow between fstat and read: read at most one byte past the limit to notice.
    const buffer = Buffer.allocUnsafe(Math.min(stat.size, maxBytes) + 1);
    let length = 0;
    for (;;) {
      const n = fs.readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
      if (length > maxBytes) return { kind: 'failed', reason: tooBig(length, maxBytes, true) };
      if (length === buffer.length) break;
    }
    const bytes = buffer.subarray(0, length);
    if (bytes.includes(0)) return { kind: 'failed', reason: 'contains NUL bytes: not a text file' };
    try {
      return { kind: 'text', text: utf8.decode(bytes), stat };
    } catch {
      return { kind: 'failed', reason: 'is not UTF-8 text' };
    }
  } catch (err) {
    if (isVanished(err)) return { kind: 'gone' };
    return { kind: 'failed', reason: `cannot read: ${errorMessage(err)}` };
  } finally {
    fs.closeSync(fd);
  }
}

function tooBig(size: number, maxBytes: number, atLeast = false): string {
  return `is ${atLeast ? 'at least ' : ''}${size} bytes, over the limit of ${maxBytes} bytes for a config file`;
}

function describeFileType(stat: fs.Stats): string {
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isSocket()) return 'a socket';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  if (stat.isDirectory()) return 'a directory';
  return 'not a plain file';
}
