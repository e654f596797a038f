// YAML texts that once took the reader (or the process) down, each with the
// problem it must now be reported as.

export interface HostileYaml {
  name: string;
  text: string | Buffer;
  /** Matches the one problem's reason. */
  reason: RegExp;
}

/** Nine anchors, each a list of nine aliases of the one before: 9^9 strings once expanded. */
export function billionLaughs(): string {
  const lines = ['a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
  for (let i = 1; i <= 9; i++) lines.push(`a${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(', ')}]`);
  return lines.join('\n') + '\n';
}

/** `depth` block mappings, each indented one space more than its parent. */
export function deepBlockMapping(depth: number): string {
  let text = '';
  for (let i = 0; i < depth; i++) text += `${' '.repeat(i)}k${i}:\n`;
  return `${text}${' '.repeat(depth)}leaf\n`;
}

export function deepFlowSequence(depth: number): string {
  return `${'['.repeat(depth)}x${']'.repeat(depth)}\n`;
}

export const hostileYaml: HostileYaml[] = [
  { name: 'an alias bomb', text: billionLaughs(), reason: /YAML aliases expand too far \(more than 100 alias resolutions\): an alias bomb/ },
  // The input that was seen to run `mediamesh validate` out of memory.
  { name: '34 KB of [', text: '['.repeat(34 * 1024), reason: /^nested deeper than 64 levels at line 1, column \d+$/ },
  { name: '1 MiB of {', text: '{'.repeat(1024 * 1024 - 1), reason: /^nested deeper than 64 levels at line 1, column \d+$/ },
  { name: 'deep block indentation', text: deepBlockMapping(1000), reason: /^nested deeper than 64 levels at line \d+, column \d+$/ },
  { name: 'deep compact sequences', text: '- '.repeat(100_000) + 'x\n', reason: /^nested deeper than 64 levels at line 1, column \d+$/ },
  { name: 'deep explicit keys', text: '? '.repeat(100_000) + 'x\n', reason: /^nested deeper than 64 levels at line 1, column \d+$/ },
  {
    name: 'depth built from aliases',
    text: `a: &a ${deepFlowSequence(40).trim()}\nb: ${'['.repeat(40)}*a${']'.repeat(40)}\n`,
    reason: /^nested deeper than 64 levels$/,
  },
  {
    name: 'a huge anchor aliased many times',
    text: `big: &big [${Array(20_000).fill('1').join(',')}]\ncopies: [${Array(60).fill('*big').join(', ')}]\n`,
    reason: /^the file holds more than 1000000 values once YAML aliases are expanded$/,
  },
  { name: 'an alias inside its own anchor', text: 'a: &loop [1, *loop]\n', reason: /^a YAML alias refers to a node that contains it \(a cycle\)$/ },
  { name: 'an alias with no anchor', text: 'a: *nowhere\n', reason: /^YAML error: Unresolved alias/ },
  { name: 'too many tokens', text: `a: [${Array(300_000).fill('1').join(',')}]\n`, reason: /^has more than 262144 YAML tokens \(about 1 MiB of typical YAML; split it into several files\) at line 1, column \d+$/ },
  { name: 'binary with NUL bytes', text: Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x01, 0x00, 0x00, 0x00, 0xff, 0x10]), reason: /^contains NUL bytes: not a text file$/ },
  { name: 'bytes that are not UTF-8', text: Buffer.from([0x6b, 0x3a, 0x20, 0xff, 0xfe, 0xc3, 0x28, 0x0a]), reason: /^is not UTF-8 text$/ },
  { name: 'a file over 1 MiB', text: `# ${'x'.repeat(1024 * 1024)}\n`, reason: /^is 1048579 bytes, over the limit of 1048576 bytes for a config file$/ },
];
