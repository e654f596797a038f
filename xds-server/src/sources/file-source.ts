// The embedded default config source: a directory of YAML documents, watched
// for changes. It reports raw documents; validation happens downstream.
//
// Each directory of the tree gets its own non-recursive watcher: Node's
// recursive fs.watch on Linux reports a file replaced by rename (how editors,
// `kubectl cp` and ConfigMap volumes write) only the first time.
import fs from 'node:fs';
import path from 'node:path';
import { createLogger, errorMessage } from '../log.js';
import type { ConfigSource, SourceChange, SourceUpdate } from './source.js';
import { isConfigFileName, readYamlTree, walkConfigTree } from './read-yaml.js';

const log = createLogger('file-source');

export class FileSource implements ConfigSource {
  private readonly watchers = new Map<string, fs.FSWatcher>();
  private onChange?: (change: SourceChange) => void;

  constructor(private readonly dir: string) {}

  describe(): string {
    return `files in ${this.dir}`;
  }

  load(): SourceUpdate {
    const { documents, problems, files } = readYamlTree(this.dir);
    log.debug('loaded', { dir: this.dir, files: files.length, documents: documents.length });
    return { documents, problems };
  }

  /** Calls onChange for every change under the directory; callers debounce. */
  watch(onChange: (change: SourceChange) => void): void {
    this.onChange = onChange;
    if (!fs.statSync(this.dir).isDirectory()) {
      // A single file: watch its directory, since the file itself may be replaced.
      this.watchDirectory(path.dirname(this.dir));
      return;
    }
    this.syncWatchers();
  }

  close(): void {
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }

  /** Watches every directory under the root, adding new ones and dropping removed ones. */
  private syncWatchers(): void {
    const present = new Set(walkConfigTree(this.dir).dirs);
    for (const [dir, watcher] of this.watchers) {
      if (!present.has(dir)) {
        watcher.close();
        this.watchers.delete(dir);
      }
    }
    for (const dir of present) if (!this.watchers.has(dir)) this.watchDirectory(dir);
  }

  private watchDirectory(dir: string): void {
    try {
      const watcher = fs.watch(dir, (eventType, fileName) => {
        if (fs.statSync(this.dir, { throwIfNoEntry: false })?.isDirectory()) this.syncWatchers();
        this.onChange?.({ wholeFiles: replacedWhole(dir, eventType, fileName) });
      });
      watcher.on('error', (err) => log.error('watch failed; changes here will not be picked up', { dir, error: errorMessage(err) }));
      this.watchers.set(dir, watcher);
    } catch (err) {
      throw new Error(`cannot watch ${dir}: ${errorMessage(err)}`);
    }
  }
}

/**
 * A config file that a rename put in place (and that is not empty) was written
 * whole. Events on hidden names (temp files, ConfigMap volumes' `..data` link
 * swap) and other non-config files touch nothing the tree reader reads in
 * place, so they count as whole. A new visible directory does not: files
 * written into it before its watcher exists are never seen being written.
 */
function replacedWhole(dir: string, eventType: fs.WatchEventType, fileName: string | null): boolean {
  if (fileName === null) return false;
  const name = path.basename(fileName);
  const stat = fs.statSync(path.join(dir, fileName), { throwIfNoEntry: false });
  if (!isConfigFileName(name)) return name.startsWith('.') || !stat?.isDirectory();
  return eventType === 'rename' && stat !== undefined && stat.isFile() && stat.size > 0;
}
