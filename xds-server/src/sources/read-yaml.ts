// Reads YAML files (several documents each) into sourced documents, turning
// syntax errors into problems that point at the file, document and line.
import fs from 'node:fs';
import path from 'node:path';
import { LineCounter, parseAllDocuments } from 'yaml';
import type { ConfigProblem } from '../api/validate.js';
import type { SourcedDocument } from '../api/types.js';
import { errorMessage } from '../log.js';

export interface ReadResult {
  documents: SourcedDocument[];
  problems: ConfigProblem[];
  files: string[];
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
 * are not entered (no cycles).
 */
export function walkConfigTree(root: string): { files: string[]; dirs: string[] } {
  const files: string[] = [];
  const dirs: string[] = [root];
  for (let i = 0; i < dirs.length; i++) {
    for (const entry of fs.readdirSync(dirs[i]!, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const full = path.join(dirs[i]!, entry.name);
      if (entry.isDirectory()) dirs.push(full);
      else if (isConfigFileName(entry.name) && (entry.isFile() || (entry.isSymbolicLink() && fs.statSync(full, { throwIfNoEntry: false })?.isFile()))) files.push(full);
    }
  }
  return { files, dirs };
}

/** All YAML files under a directory (sorted, so output order is stable), or the one file given. */
export function listYamlFiles(target: string): string[] {
  const stat = fs.statSync(target);
  if (!stat.isDirectory()) return [target];
  return walkConfigTree(target).files.sort();
}

export function parseYamlText(text: string, source: string): { documents: SourcedDocument[]; problems: ConfigProblem[] } {
  const documents: SourcedDocument[] = [];
  const problems: ConfigProblem[] = [];
  const lines = new LineCounter();
  parseAllDocuments(text, { lineCounter: lines, prettyErrors: false }).forEach((doc, index) => {
    if (doc.errors.length > 0) {
      for (const err of doc.errors) {
        const at = lines.linePos(err.pos[0]);
        problems.push({ source: source, index, field: '', reason: `YAML syntax error at line ${at.line}, column ${at.col}: ${err.message.split('\n')[0]}` });
      }
      return;
    }
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) return;
    documents.push({ origin: { source, index }, document: value });
  });
  return { documents, problems };
}

/** Parsed files keyed by path; a file whose text is unchanged is not parsed again. */
export type ParseCache = Map<string, { text: string; parsed: ReturnType<typeof parseYamlText> }>;

export function readYamlTree(target: string, cache?: ParseCache): ReadResult {
  const result: ReadResult = { documents: [], problems: [], files: [] };
  const files = listYamlFiles(target);
  if (cache) for (const gone of [...cache.keys()].filter((f) => !files.includes(f))) cache.delete(gone);
  for (const file of files) {
    result.files.push(file);
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      result.problems.push({ source: file, index: -1, field: '', reason: `cannot read: ${errorMessage(err)}` });
      continue;
    }
    const cached = cache?.get(file);
    const parsed = cached && cached.text === text ? cached.parsed : parseYamlText(text, file);
    cache?.set(file, { text, parsed });
    result.documents.push(...parsed.documents);
    result.problems.push(...parsed.problems);
  }
  return result;
}
