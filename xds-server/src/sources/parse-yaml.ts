// Parses the text of one YAML file (several documents) into sourced documents,
// within limits that keep a hostile or broken file from taking the process
// down. Never throws: every failure is a problem naming the file.
//
// The yaml library's lexer and CST parser are iterative, but its composer and
// toJS recurse once per nesting level, and the CST of deeply nested text costs
// hundreds of bytes per level (1 MiB of `[` exhausts a 512 MB heap). So the
// text is lexed and parsed to a CST here, one token at a time, and abandoned as
// soon as the parser's stack is deeper than the limit, before anything recurses.
import { Composer, type CST, type Document, Lexer, LineCounter, Parser } from 'yaml';
import type { SourcedDocument } from '../api/types.js';
import type { ConfigProblem } from '../api/validate.js';
import { errorMessage } from '../log.js';

/** The deepest nesting of lists and maps a document may have. Real configs stay under 10. */
export const MAX_YAML_DEPTH = 64;
/** Alias resolutions allowed per document (weighted by the aliases inside each), against "billion laughs" bombs. */
export const MAX_YAML_ALIAS_COUNT = 100;
/** Values (scalars, lists, maps) a file's documents may hold once aliases are expanded. */
export const MAX_YAML_VALUES = 1_000_000;
/**
 * Lexical tokens (scalars, indicators, spaces) a file may have. The parser's
 * time and memory grow with tokens, not bytes: typical config YAML has one
 * every 4 bytes, so this is about 1 MiB of it, while 1 MiB of `[[]` (one token
 * and one error per byte) would take seconds and hundreds of MB.
 */
export const MAX_YAML_TOKENS = 256 * 1024;
/** Syntax errors listed per file; the rest are counted in one more problem. */
export const MAX_YAML_ERRORS_PER_FILE = 10;

/**
 * The parser's stack holds the document and, while it is being built, the
 * scalar at the bottom, besides one entry per nesting level.
 */
const MAX_PARSER_STACK = MAX_YAML_DEPTH + 2;

export interface ParsedFile {
  /** The documents that parsed cleanly (a document with any YAML problem is left out). */
  documents: SourcedDocument[];
  problems: ConfigProblem[];
}

export function parseYamlText(text: string, source: string): ParsedFile {
  const problems: ConfigProblem[] = [];
  const fileProblem = (index: number, reason: string) => problems.push({ source, index, field: '', reason });
  try {
    const lines = new LineCounter();
    const cst = parseCst(text, lines);
    if ('stoppedAt' in cst) {
      const at = lines.linePos(cst.stoppedAt);
      fileProblem(-1, `${cst.why} at line ${at.line}, column ${at.col}`);
      return { documents: [], problems };
    }
    const docs = composeDocuments(cst.tokens);
    const documents: SourcedDocument[] = [];
    let syntaxErrors = 0;
    let valuesLeft = MAX_YAML_VALUES;
    docs.forEach((doc, index) => {
      if (doc.errors.length > 0) {
        for (const err of doc.errors) {
          if (++syntaxErrors > MAX_YAML_ERRORS_PER_FILE) continue;
          const at = lines.linePos(err.pos[0]);
          fileProblem(index, `YAML syntax error at line ${at.line}, column ${at.col}: ${firstLine(err.message)}`);
        }
        return;
      }
      let value: unknown;
      try {
        value = doc.toJS({ maxAliasCount: MAX_YAML_ALIAS_COUNT });
      } catch (err) {
        fileProblem(index, aliasFailure(err));
        return;
      }
      if (value === null || value === undefined) return;
      const shape = measureValue(value, valuesLeft);
      if ('failure' in shape) {
        fileProblem(index, shapeFailures[shape.failure]);
        return;
      }
      valuesLeft -= shape.values;
      documents.push({ origin: { source, index }, document: value });
    });
    if (syntaxErrors > MAX_YAML_ERRORS_PER_FILE) fileProblem(-1, `${syntaxErrors - MAX_YAML_ERRORS_PER_FILE} more YAML syntax errors not listed`);
    return { documents, problems };
  } catch (err) {
    // Not expected from the library; still a problem with this file, not with the process.
    return { documents: [], problems: [{ source, index: -1, field: '', reason: `cannot be parsed: ${errorMessage(err)}` }] };
  }
}

/** The CST of the whole text, or where and why parsing stopped. */
function parseCst(text: string, lines: LineCounter): { tokens: CST.Token[] } | { stoppedAt: number; why: string } {
  const parser = new Parser(lines.addNewLine);
  lines.addNewLine(0);
  const tokens: CST.Token[] = [];
  let lexemes = 0;
  for (const lexeme of new Lexer().lex(text)) {
    if (++lexemes > MAX_YAML_TOKENS) return { stoppedAt: Math.min(parser.offset, text.length), why: `has more than ${MAX_YAML_TOKENS} YAML tokens (about 1 MiB of typical YAML; split it into several files)` };
    for (const token of parser.next(lexeme)) tokens.push(token);
    if (parser.stack.length > MAX_PARSER_STACK) return { stoppedAt: Math.min(parser.offset, text.length), why: `nested deeper than ${MAX_YAML_DEPTH} levels` };
  }
  for (const token of parser.end()) tokens.push(token);
  return { tokens };
}

function composeDocuments(tokens: CST.Token[]): Document.Parsed[] {
  // Each syntax error is an Error; a broken file can have one per token, and
  // capturing a stack trace for each is most of the cost (nothing reads them).
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    // logLevel 'error': the library's warnings (e.g. stringified collection keys) would go to process warnings.
    return Array.from(new Composer({ logLevel: 'error' }).compose(tokens));
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
}

function aliasFailure(err: unknown): string {
  const message = firstLine(errorMessage(err));
  if (/excessive alias count/i.test(message)) return `YAML aliases expand too far (more than ${MAX_YAML_ALIAS_COUNT} alias resolutions): an alias bomb ("billion laughs")?`;
  return `YAML error: ${message}`;
}

const shapeFailures: Record<ShapeFailure, string> = {
  depth: `nested deeper than ${MAX_YAML_DEPTH} levels`,
  values: `the file holds more than ${MAX_YAML_VALUES} values once YAML aliases are expanded`,
  cycle: 'a YAML alias refers to a node that contains it (a cycle)',
};

export type ShapeFailure = 'depth' | 'values' | 'cycle';

/**
 * Walks a parsed value without recursion: its depth (aliases may nest one
 * deep node inside another), its size once aliases are expanded (shared
 * references are visited each time, as every later consumer will), and cycles
 * (an alias inside the node it refers to).
 */
export function measureValue(root: unknown, maxValues = MAX_YAML_VALUES, maxDepth = MAX_YAML_DEPTH): { values: number } | { failure: ShapeFailure } {
  const onPath = new Set<object>();
  const stack: ({ value: unknown; depth: number } | { leave: object })[] = [{ value: root, depth: 0 }];
  let values = 0;
  while (stack.length > 0) {
    const item = stack.pop()!;
    if ('leave' in item) {
      onPath.delete(item.leave);
      continue;
    }
    if (++values > maxValues) return { failure: 'values' };
    const value = item.value;
    if (value === null || typeof value !== 'object') continue;
    if (onPath.has(value)) return { failure: 'cycle' };
    const depth = item.depth + 1;
    if (depth > maxDepth) return { failure: 'depth' };
    onPath.add(value);
    stack.push({ leave: value });
    const children = value instanceof Map ? [...value.keys(), ...value.values()] : value instanceof Set ? [...value] : Object.values(value);
    for (const child of children) stack.push({ value: child, depth });
  }
  return { values };
}

function firstLine(message: string): string {
  return message.split('\n')[0]!;
}
