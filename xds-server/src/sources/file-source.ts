// The embedded default config source: a directory of YAML documents, watched
// for changes. It reports raw documents; validation happens downstream.
import fs from 'node:fs';
import { createLogger, errorMessage } from '../log.js';
import type { ConfigSource, SourceUpdate } from './source.js';
import { readYamlTree } from './read-yaml.js';

const log = createLogger('file-source');

export class FileSource implements ConfigSource {
  private watcher?: fs.FSWatcher;

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
  watch(onChange: () => void): void {
    try {
      this.watcher = fs.watch(this.dir, { recursive: true }, () => onChange());
      this.watcher.on('error', (err) => log.error('watch failed; changes will not be picked up', { dir: this.dir, error: errorMessage(err) }));
    } catch (err) {
      throw new Error(`cannot watch ${this.dir}: ${errorMessage(err)}`);
    }
  }

  close(): void {
    this.watcher?.close();
  }
}
