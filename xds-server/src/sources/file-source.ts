// The embedded default config source: a directory of YAML documents (or one
// file), watched for changes. It reports raw documents; validation happens
// downstream.
//
// A live file never loses good config to a bad write: a file that cannot be
// read or parsed (a typo, too big, too deep, an alias bomb) keeps contributing
// the documents of its last good read, and its problem says so. Deleting a
// file removes its documents. A missing config directory (`rm -rf DIR && cp -r
// new DIR`, an unmounted volume) is a problem, not a deletion of everything:
// the last documents keep serving until the directory is back, so an
// operator's replace never drains every listener. Likewise for files under a
// directory that cannot be listed.
import fs from 'node:fs';
import path from 'node:path';
import type { SourcedDocument } from '../api/types.js';
import type { ConfigProblem } from '../api/validate.js';
import { type Clock, systemClock } from '../clock.js';
import { createLogger, type Logger } from '../log.js';
import { type FileStamp, stampOf, unchangedSince } from './file-stamp.js';
import { type ParsedFile, parseYamlText } from './parse-yaml.js';
import { readConfigFile } from './read-config-file.js';
import { type ConfigTree, pathProblem, rootKind, walkConfigTree } from './read-yaml.js';
import type { ConfigSource, SourceChange, SourceUpdate } from './source.js';
import { DEFAULT_POLL_INTERVAL_MS, nodeWatch, TreeWatcher, type WatchFunction, type WatchMode } from './tree-watcher.js';

export interface FileSourceOptions {
  /** Drives polling when the tree cannot be watched (default: the process's timers). */
  clock?: Clock;
  pollIntervalMs?: number;
  /** Stands in for fs.watch (tests make it fail as inotify limits would). */
  watch?: WatchFunction;
  log?: Logger;
}

interface FileState {
  /** The text last read, and its parse (unchanged text is not parsed again). */
  text?: string;
  parsed?: ParsedFile;
  /** Documents of the last read that had no problem at all. */
  lastGood?: SourcedDocument[];
  /** What the file contributed at its last read. */
  served: SourcedDocument[];
  /** Set when that read was clean: a stat matching it means the file need not be read again. */
  stamp?: FileStamp;
}

export class FileSource implements ConfigSource {
  private readonly files = new Map<string, FileState>();
  private rootWas?: 'directory' | 'file';
  private watcher?: TreeWatcher;
  private readonly log: Logger;

  constructor(
    private readonly dir: string,
    private readonly options: FileSourceOptions = {},
  ) {
    this.log = options.log ?? createLogger('file-source');
  }

  describe(): string {
    return `files in ${this.dir}`;
  }

  load(): SourceUpdate {
    const kind = rootKind(this.dir);
    if (kind === 'missing') return this.keepServing(`config ${this.rootWas ?? 'directory'} is missing`);
    if (typeof kind === 'object') return this.keepServing(`cannot read: ${kind.failed}`);
    this.rootWas = kind;
    const tree: ConfigTree = kind === 'directory' ? walkConfigTree(this.dir) : { files: [this.dir], dirs: [], unlisted: [] };
    const documents: SourcedDocument[] = [];
    const problems: ConfigProblem[] = [];
    const listed = new Set(tree.files);
    for (const { dir, reason } of tree.unlisted) {
      // Its files may or may not still be there: keep what they served.
      const kept = [...this.files].filter(([file]) => !listed.has(file) && file.startsWith(dir + path.sep));
      for (const [, state] of kept) documents.push(...state.served);
      problems.push(pathProblem(dir, `cannot list directory: ${reason}${stillServing(kept.flatMap(([, s]) => s.served).length, `the last documents of its ${kept.length} files`)}`));
      for (const [file] of kept) listed.add(file);
    }
    for (const file of this.files.keys()) if (!listed.has(file)) this.files.delete(file);
    for (const file of tree.files) this.loadFile(file, documents, problems);
    this.log.debug('loaded', { dir: this.dir, files: this.files.size, documents: documents.length, problems: problems.length });
    return { documents, problems };
  }

  /** Calls onChange for every change under the directory; callers debounce. */
  watch(onChange: (change: SourceChange) => void): void {
    this.watcher?.close();
    this.watcher = new TreeWatcher(this.dir, onChange, {
      clock: this.options.clock ?? systemClock,
      pollIntervalMs: this.options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS,
      watch: this.options.watch ?? nodeWatch,
      log: this.log,
    });
    this.watcher.start();
  }

  close(): void {
    this.watcher?.close();
  }

  /** How changes are noticed right now (for tests and debugging). */
  watchMode(): WatchMode | 'not watching' {
    return this.watcher?.mode() ?? 'not watching';
  }

  private loadFile(file: string, documents: SourcedDocument[], problems: ConfigProblem[]): void {
    const before = this.files.get(file);
    if (before?.stamp && unchangedSince(before.stamp, statOrUndefined(file))) {
      documents.push(...before.served);
      return;
    }
    const readAt = Date.now();
    const read = readConfigFile(file);
    if (read.kind === 'gone') {
      this.files.delete(file);
      return;
    }
    if (read.kind === 'failed') {
      const lastGood = before?.lastGood ?? [];
      documents.push(...lastGood);
      problems.push(pathProblem(file, read.reason + fromLastGood(before?.lastGood)));
      this.files.set(file, { ...before, served: lastGood, stamp: undefined });
      return;
    }
    // Documents are treated as immutable downstream, so an unchanged file shares its parse.
    const parsed = before?.text === read.text && before.parsed ? before.parsed : parseYamlText(read.text, file);
    if (parsed.problems.length === 0) {
      documents.push(...parsed.documents);
      this.files.set(file, { text: read.text, parsed, lastGood: parsed.documents, served: parsed.documents, stamp: stampOf(read.stat, readAt) });
      return;
    }
    // Without a good read to fall back on, the documents that did parse are better than none.
    const served = before?.lastGood ?? parsed.documents;
    documents.push(...served);
    problems.push(...parsed.problems.map((p) => ({ ...p, reason: p.reason + fromLastGood(before?.lastGood) })));
    this.files.set(file, { text: read.text, parsed, lastGood: before?.lastGood, served });
  }

  /** The root is missing or unreadable: everything keeps serving what it served. */
  private keepServing(reason: string): SourceUpdate {
    const documents = [...this.files.values()].flatMap((state) => state.served);
    return { documents, problems: [pathProblem(this.dir, reason + stillServing(documents.length, 'its last documents'))] };
  }
}

/** The path's stat, or undefined if it cannot be had (the read that follows says why). */
function statOrUndefined(file: string): fs.Stats | undefined {
  try {
    return fs.statSync(file, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

function fromLastGood(lastGood: SourcedDocument[] | undefined): string {
  if (!lastGood || lastGood.length === 0) return '';
  return `; still serving its ${lastGood.length} document${lastGood.length === 1 ? '' : 's'} from the last good read`;
}

function stillServing(documents: number, what: string): string {
  return documents > 0 ? `; still serving ${what} (${documents} document${documents === 1 ? '' : 's'})` : '';
}
