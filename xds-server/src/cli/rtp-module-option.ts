// --rtp-module: where Envoy gets libmediamesh_rtp_filter.so.
//   (default)     the file this checkout built, by local path (same machine)
//   PATH          that file, by local path
//   remote[=PATH] served by the control plane's admin over HTTP with its sha256,
//                 so a stock Envoy image needs nothing on its disk
//   search-path   lib<name>.so in Envoy's ENVOY_DYNAMIC_MODULES_SEARCH_PATH
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../sidecar/envoy-binary.js';
import type { RtpModuleSource } from '../translate/rtp-filter.js';
import { EXTENSIONS_CLUSTER } from '../bootstrap/envoy-bootstrap.js';

export interface RtpModuleSetting {
  source: RtpModuleSource;
  /** The admin server serves this file at this path (remote mode). */
  served?: { urlPath: string; file: string };
}

/** The filter `npm run setup` builds, if this is a source checkout. */
export function builtRtpModulePath(): string | undefined {
  const candidate = path.join(projectRoot(), 'build/envoy-filters/dynamic-module/libmediamesh_rtp_filter.so');
  return fs.existsSync(candidate) ? candidate : undefined;
}

function existingFile(file: string | undefined, what: string): string {
  if (!file) throw new Error(`${what}: the RTP filter is not built here (run npm run setup) and no path was given`);
  if (!fs.existsSync(file)) throw new Error(`${what}: ${file}: no such file`);
  return path.resolve(file);
}

export function rtpModuleFromOption(value: string | undefined): RtpModuleSetting {
  if (value === 'search-path') return { source: { kind: 'search-path' } };
  if (value === 'remote' || value?.startsWith('remote=')) {
    const file = existingFile(value === 'remote' ? builtRtpModulePath() : value.slice('remote='.length), '--rtp-module remote');
    const sha256 = createHash('sha256').update(fs.readFileSync(file)).digest('hex');
    // The sha256 in the path makes each build its own URL: no stale caches anywhere.
    const urlPath = `/extensions/rtp-filter/${sha256}.so`;
    return { source: { kind: 'remote', uri: `http://mediamesh-control-plane${urlPath}`, cluster: EXTENSIONS_CLUSTER, sha256 }, served: { urlPath, file } };
  }
  const file = value ?? builtRtpModulePath();
  if (!file) return { source: { kind: 'search-path' } };
  return { source: { kind: 'local', path: existingFile(file, '--rtp-module') } };
}
