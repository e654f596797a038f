// Reads a tree of YAML files (several documents each) into sourced documents.
// Nothing here throws on what it finds on disk: a file that cannot be read or
// parsed, or a directory that cannot be listed, is a problem naming it; a path
// that vanished while being read is simply gone.
import fs from 'node:fs';
import path from 'node:path';
import type { SourcedDocument } from '../api/types.js';
import type { ConfigProblem } from '../api/validate.js';
import { errorMessage } from '../log.js';
import { parseYamlText } from './parse-yaml.js';
import { isVanished, readConfigFile } from './read-config-file.js';

export { MAX_CONFIG_FILE_BYTES } from './read-config-file.js';
export { MAX_YAML_ALIAS_COUNT, MAX_YAML_DEPTH, MAX_YAML_ERRORS_PER_FILE, MAX_YAML_VALUES, parseYamlText } from './parse-yaml.js';

export interface ReadResult {
  documents: SourcedDocument[];
  problems: ConfigProblem[];
  files: string[];
}

export interface ConfigTree {
  /** Config files to read: regular files, and anything else with a config name (reading reports what is wrong with it). */
  files: string[];
  /** The root and every directory under it. */
  dirs: string[];
  /** Directories that exist but could not be listed; what was under them is unknown. */
  unlisted: { dir: string; reason: string }[];
}

const YAML_FILE = /\.(ya?ml)$/i;

/** Names the tree reader loads: YAML files that are not hidden (editors' and writers' temp files are). */
export function isConfigFileName(name: string): boolean {
  return YAML_FILE.test(name) && !name.startsWith('.');
}

/**
 * The directories and config files under `root`. Hidden names are skipped:
 * editors' temp files, and a ConfigMap volume's `..data` link and timestamped
 * `..2026_…` directory, whose files are read through the visible symlinks
 * beside them. A symlink counts as what it points to; symlinked directories
 * are not entered (no cycles); a dangling symlink is a file that is gone.
 */
export function walkConfigTree(root: string): ConfigTree {
  const tree: ConfigTree = { files: [], dirs: [], unlisted: [] };
  const pending = [root];
  while (pending.length > 0) {
    const dir = pending.pop()!;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch (err) {
      // A directory removed since its parent was listed is gone, along with its files.
      if (isVanished(err)) continue;
      tree.unlisted.push({ dir, reason: errorMessage(err) });
      tree.dirs.push(dir);
      continue;
    }
    tree.dirs.push(dir);
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) pending.push(full);
      else if (isConfigFileName(entry.name) && (!entry.isSymbolicLink() || symlinkTarget(full) === 'other')) tree.files.push(full);
    }
  }
  tree.dirs.sort();
  tree.files.sort();
  return tree;
}

function symlinkTarget(link: string): 'gone' | 'directory' | 'other' {
  try {
    return fs.statSync(link).isDirectory() ? 'directory' : 'other';
  } catch (err) {
    // A link loop or a target we may not see is still a file to report.
    return isVanished(err) ? 'gone' : 'other';
  }
}

export type RootKind = 'directory' | 'file' | 'missing' | { failed: string };

/** What the configured path is now. */
export function rootKind(target: string): RootKind {
  try {
    return fs.statSync(target).isDirectory() ? 'directory' : 'file';
  } catch (err) {
    return isVanished(err) ? 'missing' : { failed: errorMessage(err) };
  }
}

/** All config files under a directory (sorted, so output order is stable), or the one file given. */
export function listYamlFiles(target: string): string[] {
  return rootKind(target) === 'directory' ? walkConfigTree(target).files : [target];
}

/** A problem with a whole file or directory. */
export function pathProblem(source: string, reason: string): ConfigProblem {
  return { source, index: -1, field: '', reason };
}

/** Reads everything under `target` once, with no memory of earlier reads (what `mediamesh validate` does). */
export function readYamlTree(target: string): ReadResult {
  const result: ReadResult = { documents: [], problems: [], files: [] };
  const kind = rootKind(target);
  if (kind === 'missing') {
    result.problems.push(pathProblem(target, 'does not exist'));
    return result;
  }
  if (typeof kind === 'object') {
    result.problems.push(pathProblem(target, `cannot read: ${kind.failed}`));
    return result;
  }
  const tree: ConfigTree = kind === 'directory' ? walkConfigTree(target) : { files: [target], dirs: [], unlisted: [] };
  for (const { dir, reason } of tree.unlisted) result.problems.push(pathProblem(dir, `cannot list directory: ${reason}`));
  for (const file of tree.files) {
    const read = readConfigFile(file);
    if (read.kind === 'gone') continue;
    result.files.push(file);
    if (read.kind === 'failed') {
      result.problems.push(pathProblem(file, read.reason));
      continue;
    }
    const parsed = parseYamlText(read.text, file);
    result.documents.push(...parsed.documents);
    result.problems.push(...parsed.problems);
  }
  return result;
}
