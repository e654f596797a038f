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

/** All YAML files under a directory (sorted, so output order is stable), or the one file given. */
export function listYamlFiles(target: string): string[] {
  const stat = fs.statSync(target);
  if (!stat.isDirectory()) return [target];
  const out: string[] = [];
  for (const entry of fs.readdirSync(target, { withFileTypes: true, recursive: true })) {
    const full = path.join(entry.parentPath ?? entry.path, entry.name);
    if (entry.isFile() && YAML_FILE.test(entry.name) && !entry.name.startsWith('.')) out.push(full);
  }
  return out.sort();
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

export function readYamlTree(target: string): ReadResult {
  const result: ReadResult = { documents: [], problems: [], files: [] };
  for (const file of listYamlFiles(target)) {
    result.files.push(file);
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      result.problems.push({ source: file, index: -1, field: '', reason: `cannot read: ${errorMessage(err)}` });
      continue;
    }
    const parsed = parseYamlText(text, file);
    result.documents.push(...parsed.documents);
    result.problems.push(...parsed.problems);
  }
  return result;
}
