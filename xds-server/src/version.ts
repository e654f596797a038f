// mediamesh's version: package.json's, read once from the project root (the
// image copies package.json to /app).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from './sidecar/envoy-binary.js';

let cached: string | undefined;

export function mediameshVersion(): string {
  if (cached === undefined) {
    const pkg = JSON.parse(readFileSync(path.join(projectRoot(), 'package.json'), 'utf8')) as { version?: unknown };
    if (typeof pkg.version !== 'string') throw new Error('package.json has no version');
    cached = pkg.version;
  }
  return cached;
}
