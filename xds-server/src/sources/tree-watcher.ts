// Tells when anything under a config path may have changed, and never throws
// into the event loop while doing so.
//
// Each directory of the tree gets its own non-recursive watcher: Node's
// recursive fs.watch on Linux reports a file replaced by rename (how editors,
// `kubectl cp` and ConfigMap volumes write) only the first time. Directories
// come and go under the watchers' feet (`mkdir -p d/e && rm -rf d`), so every
// fs call here expects ENOENT. Two things make it poll instead, on the given
// Clock, comparing a fingerprint of the tree's names and contents so that an
// unchanged tree reports nothing:
// - a watcher that cannot be created (inotify limits: ENOSPC, EMFILE; or a
//   directory it may not watch): logged once, and polling from then on;
// - the root itself missing (`rm -rf DIR && cp -r new DIR`): polling until it
//   is back, then watching again.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Clock, TimerHandle } from '../clock.js';
import { errorMessage, type Logger } from '../log.js';
import { isVanished, readConfigFile } from './read-config-file.js';
import { isConfigFileName, rootKind, walkConfigTree } from './read-yaml.js';
import type { SourceChange } from './source.js';

/** How often the tree is re-read when it cannot be watched. */
export const DEFAULT_POLL_INTERVAL_MS = 1000;

/** `fs.watch` for one directory; a seam so tests can make it fail as the kernel's limits would. */
export type WatchFunction = (dir: string, listener: (eventType: fs.WatchEventType, fileName: string | null) => void) => fs.FSWatcher;

export const nodeWatch: WatchFunction = (dir, listener) => fs.watch(dir, listener);

export interface TreeWatcherOptions {
  clock: Clock;
  pollIntervalMs: number;
  watch: WatchFunction;
  log: Logger;
}

interface WatchedDirectory {
  watcher: fs.FSWatcher;
  /** device, inode and birth time, so a directory removed and re-created under the same name is watched again. */
  identity: string;
}

export type WatchMode = 'watching' | 'polling (cannot watch)' | 'polling (root missing)' | 'closed';

export class TreeWatcher {
  private readonly watched = new Map<string, WatchedDirectory>();
  private pollReason?: 'cannot watch' | 'root missing';
  private pollTimer?: TimerHandle;
  private fingerprint = '';
  private closed = false;

  constructor(
    private readonly root: string,
    private readonly onChange: (change: SourceChange) => void,
    private readonly options: TreeWatcherOptions,
  ) {}

  start(): void {
    this.guarded('start watching', () => this.sync());
  }

  close(): void {
    this.closed = true;
    this.options.clock.clearTimeout(this.pollTimer);
    this.pollTimer = undefined;
    this.closeWatchers();
  }

  mode(): WatchMode {
    if (this.closed) return 'closed';
    return this.pollReason ? `polling (${this.pollReason})` : 'watching';
  }

  /** Directories with a live watcher (for tests and debugging). */
  watchedDirectories(): string[] {
    return [...this.watched.keys()].sort();
  }

  /** Watches every directory of the tree (the parent, for a single file), adding new ones and dropping removed ones. */
  private sync(): void {
    if (this.closed || this.pollReason === 'cannot watch') return;
    const kind = rootKind(this.root);
    if (kind !== 'directory' && kind !== 'file') {
      this.startPolling('root missing');
      return;
    }
    const wanted = new Map<string, string>();
    const top = kind === 'directory' ? this.root : path.dirname(this.root);
    for (const dir of kind === 'directory' ? walkConfigTree(this.root).dirs : [top]) {
      const identity = directoryIdentity(dir);
      if (identity) wanted.set(dir, identity);
    }
    // Removed while being walked (`rm -rf` under way): dropping every watcher without polling would leave nothing listening.
    if (!wanted.has(top)) {
      this.startPolling('root missing');
      return;
    }
    for (const [dir, watched] of this.watched) {
      if (wanted.get(dir) === watched.identity) continue;
      watched.watcher.close();
      this.watched.delete(dir);
    }
    for (const [dir, identity] of wanted) {
      if (this.watched.has(dir)) continue;
      if (!this.watchDirectory(dir, identity)) return;
    }
    if (this.pollReason === 'root missing') this.stopPolling();
  }

  /** False when the directory cannot be watched and the tree is polled instead. */
  private watchDirectory(dir: string, identity: string): boolean {
    let watcher: fs.FSWatcher;
    try {
      watcher = this.options.watch(dir, (eventType, fileName) => this.guarded('handle a watch event', () => this.onEvent(dir, eventType, fileName)));
    } catch (err) {
      // Gone since it was listed: its parent's watcher reports the removal.
      if (isVanished(err)) return true;
      this.options.log.warn('cannot watch the config tree; polling it instead', {
        dir,
        error: errorMessage(err),
        pollIntervalMs: this.options.pollIntervalMs,
        hint: /ENOSPC|EMFILE|ENFILE/.test(errorMessage(err)) ? 'inotify limits reached: raise fs.inotify.max_user_watches / max_user_instances' : undefined,
      });
      this.startPolling('cannot watch');
      return false;
    }
    watcher.on('error', (err) => this.guarded('handle a watcher error', () => this.onWatcherError(dir, watcher, err)));
    this.watched.set(dir, { watcher, identity });
    return true;
  }

  private onEvent(dir: string, eventType: fs.WatchEventType, fileName: string | null): void {
    if (this.closed || this.pollReason === 'cannot watch') return;
    // Directories appear, disappear and are replaced only through renames.
    if (eventType === 'rename' || fileName === null) this.sync();
    this.emit(replacement(dir, eventType, fileName));
  }

  private onWatcherError(dir: string, watcher: fs.FSWatcher, err: unknown): void {
    watcher.close();
    if (this.watched.get(dir)?.watcher === watcher) this.watched.delete(dir);
    if (this.closed) return;
    this.options.log.debug('directory watcher failed; re-reading the tree', { dir, error: errorMessage(err) });
    this.sync();
    this.emit({ wholeFiles: false });
  }

  private startPolling(reason: 'cannot watch' | 'root missing'): void {
    if (this.pollReason === reason) return;
    if (reason === 'root missing') this.options.log.warn('config path is missing; polling until it is back', { path: this.root, pollIntervalMs: this.options.pollIntervalMs });
    this.closeWatchers();
    const wasPolling = this.pollReason !== undefined;
    this.pollReason = reason;
    if (!wasPolling) {
      this.fingerprint = treeFingerprint(this.root);
      this.schedulePoll();
    }
  }

  private stopPolling(): void {
    this.options.log.info('config path is back; watching it again', { path: this.root });
    this.pollReason = undefined;
    this.options.clock.clearTimeout(this.pollTimer);
    this.pollTimer = undefined;
  }

  private schedulePoll(): void {
    this.pollTimer = this.options.clock.setTimeout(() => {
      this.pollTimer = undefined;
      this.guarded('poll the config tree', () => this.poll());
      if (this.pollReason && !this.closed && !this.pollTimer) this.schedulePoll();
    }, this.options.pollIntervalMs);
  }

  private poll(): void {
    if (this.closed) return;
    const fingerprint = treeFingerprint(this.root);
    if (fingerprint === this.fingerprint) return;
    this.fingerprint = fingerprint;
    if (this.pollReason === 'root missing') this.sync();
    this.emit({ wholeFiles: false });
  }

  private emit(change: SourceChange): void {
    if (!this.closed) this.onChange(change);
  }

  private closeWatchers(): void {
    for (const { watcher } of this.watched.values()) watcher.close();
    this.watched.clear();
  }

  /** Runs work from a callback: an exception here would end the process. */
  private guarded(what: string, work: () => void): void {
    try {
      work();
    } catch (err) {
      this.options.log.error(`failed to ${what}; changes may be picked up late`, { path: this.root, error: errorMessage(err) });
    }
  }
}

function directoryIdentity(dir: string): string | undefined {
  try {
    const stat = fs.statSync(dir);
    // ext4 hands a re-created directory its old inode at once; its birth time tells them apart.
    return stat.isDirectory() ? `${stat.dev}:${stat.ino}:${stat.birthtimeMs}` : undefined;
  } catch {
    // Gone, or not a directory we can see: nothing to watch there.
    return undefined;
  }
}

/**
 * A digest of what a load would read: every directory, every config file's
 * name and bytes (or why it cannot be read), or that the root is missing.
 */
export function treeFingerprint(root: string): string {
  const hash = createHash('sha256');
  const kind = rootKind(root);
  hash.update(`root\0${typeof kind === 'string' ? kind : kind.failed}\0`);
  if (kind !== 'directory' && kind !== 'file') return hash.digest('hex');
  const tree = kind === 'directory' ? walkConfigTree(root) : { files: [root], dirs: [], unlisted: [] };
  for (const dir of tree.dirs) hash.update(`dir\0${dir}\0`);
  for (const { dir, reason } of tree.unlisted) hash.update(`unlisted\0${dir}\0${reason}\0`);
  for (const file of tree.files) {
    const read = readConfigFile(file);
    hash.update(`file\0${file}\0${read.kind}\0`);
    if (read.kind === 'text') hash.update(read.text);
    else if (read.kind === 'failed') hash.update(read.reason);
    hash.update('\0');
  }
  return hash.digest('hex');
}

/**
 * A config file that a rename put in place (and that is not empty) was written
 * whole. Events on hidden names (temp files, ConfigMap volumes' `..data` link
 * swap) and other non-config files touch nothing the tree reader reads in
 * place, so they count as whole. A new visible directory does not: files
 * written into it before its watcher exists are never seen being written.
 */
function replacement(dir: string, eventType: fs.WatchEventType, fileName: string | null): SourceChange {
  if (fileName === null) return { wholeFiles: false };
  const name = path.basename(fileName);
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(path.join(dir, fileName), { throwIfNoEntry: false });
  } catch {
    // A link loop or a path we may not see: not a file written whole.
    return { wholeFiles: false };
  }
  if (!isConfigFileName(name)) return { wholeFiles: name.startsWith('.') || !stat?.isDirectory() };
  // A config file renamed into place is complete: the write it ends is over.
  const renamedIn = eventType === 'rename' && stat !== undefined && stat.isFile() && stat.size > 0;
  return renamedIn ? { wholeFiles: true, completed: true } : { wholeFiles: false };
}
