// `mediamesh serve`: the control plane process.
import { AdminServer } from '../admin/admin-server.js';
import { ControlPlane } from '../control-plane.js';
import { createLogger, errorMessage } from '../log.js';
import { FileSource } from '../sources/file-source.js';
import { AdsServer } from '../xds/ads-server.js';
import type { RtpModuleSource } from '../translate/rtp-filter.js';
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../sidecar/envoy-binary.js';

/** The filter `npm run setup` builds, if this is a source checkout. */
export function builtRtpModulePath(): string | undefined {
  const candidate = path.join(projectRoot(), 'build/envoy-filters/dynamic-module/libmediamesh_rtp_filter.so');
  return fs.existsSync(candidate) ? candidate : undefined;
}

/** --rtp-module: a path to the .so, or "search-path" (Envoy's ENVOY_DYNAMIC_MODULES_SEARCH_PATH); default: the local build. */
export function rtpModuleFromOption(value: string | undefined): RtpModuleSource {
  if (value === 'search-path') return { kind: 'search-path' };
  const file = value ?? builtRtpModulePath();
  if (!file) return { kind: 'search-path' };
  if (!fs.existsSync(file)) throw new Error(`--rtp-module ${file}: no such file`);
  return { kind: 'local', path: path.resolve(file) };
}

const log = createLogger('serve');

export interface ServeOptions {
  configDir: string;
  listenHost: string;
  xdsPort: number;
  adminPort: number;
  debounceMs: number;
  rtpModule: RtpModuleSource;
}

export interface RunningControlPlane {
  xdsPort: number;
  adminPort: number;
  controlPlane: ControlPlane;
  stop(): Promise<void>;
}

export async function startControlPlane(o: ServeOptions): Promise<RunningControlPlane> {
  const controlPlane = new ControlPlane({ source: new FileSource(o.configDir), debounceMs: o.debounceMs, translate: { rtpModule: o.rtpModule } });
  await controlPlane.start();
  const ads = new AdsServer(controlPlane.cache);
  const admin = new AdminServer(controlPlane);
  const xdsPort = await ads.listen(o.listenHost, o.xdsPort);
  const adminPort = await admin.listen(o.listenHost, o.adminPort);
  return {
    xdsPort,
    adminPort,
    controlPlane,
    async stop() {
      controlPlane.stop();
      await Promise.all([ads.stop(), admin.stop()]);
    },
  };
}

/** Runs until SIGTERM/SIGINT, then closes streams and servers cleanly. */
export async function serve(o: ServeOptions): Promise<number> {
  const running = await startControlPlane(o);
  log.info('control plane ready', { configDir: o.configDir, xdsPort: running.xdsPort, adminPort: running.adminPort });
  process.on('unhandledRejection', (reason) => log.error('unhandled rejection', { error: errorMessage(reason) }));
  return new Promise((resolve) => {
    let stopping = false;
    const shutdown = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      log.info('shutting down', { signal });
      running.stop().then(
        () => resolve(0),
        (err: unknown) => {
          log.error('shutdown failed', { error: errorMessage(err) });
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });
}
