// Command-line parsing shared by the benches: strict flags and bounded numbers.
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A bad command-line option: the bench prints it with its usage and exits 2. */
export class OptionsError extends Error {}

export function int(raw: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new OptionsError(`--${name} must be an integer in ${min}..${max}, got "${raw}"`);
  return n;
}

export function num(raw: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max) throw new OptionsError(`--${name} must be a number in ${min}..${max}, got "${raw}"`);
  return n;
}

/** Strict parseArgs (unknown flags are errors) whose errors are OptionsErrors. */
export function parseFlags<O extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, strict: true, options }).values;
  } catch (err) {
    throw new OptionsError(err instanceof Error ? err.message : String(err));
  }
}
