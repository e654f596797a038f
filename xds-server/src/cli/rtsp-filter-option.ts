// --rtsp-filter: where Envoy gets mediamesh_rtsp_filter.wasm.
//   (default)     the file this checkout built, by local path (same machine)
//   PATH          that file, by local path
//   remote[=PATH] served by the control plane's admin over HTTP with its sha256,
//                 so a stock Envoy image needs nothing on its disk
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../sidecar/envoy-binary.js';
import type { RtspFilterSource } from '../translate/rtsp-filter.js';
import { EXTENSIONS_CLUSTER } from '../bootstrap/envoy-bootstrap.js';

export interface RtspFilterSetting {
  /** Undefined when no filter is built or named: RtspRoutes then fail translation, saying so. */
  source?: RtspFilterSource;
  /** The admin server serves this file at this path (remote mode). */
  served?: { urlPath: string; file: string };
}

/** The filter `npm run setup` builds, if this is a source checkout. */
export function builtRtspFilterPath(): string | undefined {
  const candidate = path.join(projectRoot(), 'build/envoy-filters/wasm/mediamesh_rtsp_filter.wasm');
  return fs.existsSync(candidate) ? candidate : undefined;
}

function existingFile(file: string | undefined, what: string): string {
  if (!file) throw new Error(`${what}: the RTSP filter is not built here (run npm run setup) and no path was given`);
  if (!fs.existsSync(file)) throw new Error(`${what}: ${file}: no such file`);
  return path.resolve(file);
}

export function rtspFilterFromOption(value: string | undefined): RtspFilterSetting {
  if (value === 'remote' || value?.startsWith('remote=')) {
    const file = existingFile(value === 'remote' ? builtRtspFilterPath() : value.slice('remote='.length), '--rtsp-filter remote');
    const sha256 = createHash('sha256').update(fs.readFileSync(file)).digest('hex');
    // The sha256 in the path makes each build its own URL: no stale caches anywhere.
    const urlPath = `/extensions/rtsp-filter/${sha256}.wasm`;
    return { source: { kind: 'remote', uri: `http://mediamesh-control-plane${urlPath}`, cluster: EXTENSIONS_CLUSTER, sha256 }, served: { urlPath, file } };
  }
  const file = value ?? builtRtspFilterPath();
  if (!file) return {};
  return { source: { kind: 'local', path: existingFile(file, '--rtsp-filter') } };
}
