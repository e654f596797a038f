// `mediamesh serve`: the control plane process.
import { AdminServer } from '../admin/admin-server.js';
import { ControlPlane } from '../control-plane.js';
import { createLogger, errorMessage } from '../log.js';
import { FileSource } from '../sources/file-source.js';
import { AdsServer } from '../xds/ads-server.js';
import type { RtpModuleSetting } from './rtp-module-option.js';

const log = createLogger('serve');

export interface ServeOptions {
  configDir: string;
  listenHost: string;
  xdsPort: number;
  adminPort: number;
  debounceMs: number;
  /** Apply whole-file, add-or-change-only edits before the debounce (see ControlPlane). */
  earlyApply?: boolean;
  rtpModule: RtpModuleSetting;
}

export interface RunningControlPlane {
  xdsPort: number;
  adminPort: number;
  controlPlane: ControlPlane;
  stop(): Promise<void>;
}

export async function startControlPlane(o: ServeOptions): Promise<RunningControlPlane> {
  const controlPlane = new ControlPlane({ source: new FileSource(o.configDir), debounceMs: o.debounceMs, earlyApply: o.earlyApply, translate: { rtpModule: o.rtpModule.source } });
  await controlPlane.start();
  const ads = new AdsServer(controlPlane.cache);
  const admin = new AdminServer(controlPlane, { files: o.rtpModule.served ? [o.rtpModule.served] : [] });
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
