// The RTSP bench's world, all on 127.0.0.1: one GStreamer camera
// (test/e2e/tools/rtsp_server.py, one shared pipeline for every client), a
// control plane in this process (file mode, RTSP filter, UDP relay ports)
// and one Envoy whose RtspRoute listener sends every path to the camera.
// Direct trials dial the camera; mesh trials dial Envoy's listener.
import { ConfigDir, rtspRouteDocuments } from '../../test/helpers/mesh-files.js';
import { freeTcpPort } from '../../test/helpers/ports.js';
import { requireRtspTools, RtspServerProcess } from '../../test/helpers/rtsp.js';
import { bootstrapYaml } from '../../xds-server/src/bootstrap/envoy-bootstrap.js';
import { rtpModuleFromOption } from '../../xds-server/src/cli/rtp-module-option.js';
import { builtRtspFilterPath, rtspFilterFromOption } from '../../xds-server/src/cli/rtsp-filter-option.js';
import { type RunningControlPlane, startControlPlane } from '../../xds-server/src/cli/serve.js';
import { EnvoyProcess } from '../../xds-server/src/sidecar/envoy-process.js';

export const NAMESPACE = 'media';
export const ROUTE = 'cameras';
export const PATH = '/cam';
export const NODE_ID = 'rtsp-bench-proxy';

export interface BenchMeshOptions {
  /** Ports the control plane hands out for UDP relays, "LO-HI". */
  relayPorts: string;
  /** Relayed streams the proxy may hold: the ramp's largest step, and then some. */
  relaySessionsPerProxy: number;
  envoyConcurrency: number;
  /** The camera's video: small, so one encoder feeds hundreds of sessions. */
  width: number;
  height: number;
  fps: number;
}

export interface BenchMesh {
  cameraPort: number;
  meshPort: number;
  envoy: EnvoyProcess;
  /** Undefined while the camera runs; else how it ended and its stderr's tail. */
  cameraDied(): string | undefined;
  /** Whether the proxy holds any per-session UDP relay listener now. */
  relayListeners(): Promise<number>;
  stop(): Promise<void>;
}

function meshDocuments(meshPort: number, cameraPort: number): string {
  return rtspRouteDocuments({
    name: ROUTE,
    listenPort: meshPort,
    backends: [{ name: 'cam-v1', port: cameraPort }],
    rules: [{ matches: [{ path: { type: 'PathPrefix', value: PATH } }], backendRefs: [{ name: 'cam-v1' }] }],
    extraSpec: { timeouts: { connect: '2s', idle: '60s' } },
  }, NAMESPACE);
}

export async function startBenchMesh(o: BenchMeshOptions): Promise<BenchMesh> {
  requireRtspTools();
  if (!builtRtspFilterPath()) throw new Error('the RTSP filter is not built: run npm run setup');
  const stops: (() => Promise<unknown>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
  };
  try {
    const camera = await RtspServerProcess.start({ name: 'camera', payloadType: 96, paths: [PATH], width: o.width, height: o.height, fps: o.fps });
    stops.push(() => camera.stop());
    const config = new ConfigDir();
    stops.push(async () => config.cleanup());
    const meshPort = await freeTcpPort();
    config.write('cameras.yaml', meshDocuments(meshPort, camera.port));
    const cp: RunningControlPlane = await startControlPlane({ configDir: config.dir, listenHost: '127.0.0.1', xdsPort: 0, adminPort: 0, debounceMs: 50, rtpModule: rtpModuleFromOption(undefined), rtspFilter: rtspFilterFromOption(undefined), relayPorts: o.relayPorts, relaySessionsPerProxy: o.relaySessionsPerProxy });
    stops.push(() => cp.stop());
    const envoy = await EnvoyProcess.start({
      bootstrapYaml: bootstrapYaml({ nodeId: NODE_ID, cluster: 'mediamesh-proxy', xdsHost: '127.0.0.1', xdsPort: cp.xdsPort, adminAddress: '127.0.0.1', adminPort: 0, delta: false, extensionsHost: '127.0.0.1', extensionsPort: cp.adminPort }),
      concurrency: o.envoyConcurrency,
      logLevel: 'warn',
    });
    stops.push(() => envoy.stop());
    const listener = `rtsp~${NAMESPACE}~${ROUTE}~${meshPort}`;
    const deadline = Date.now() + 30_000;
    while (!(await envoy.admin.listenerNames()).includes(listener)) {
      if (Date.now() > deadline) throw new Error(`Envoy did not get ${listener} within 30 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
    return {
      cameraPort: camera.port,
      meshPort,
      envoy,
      cameraDied: () => (camera.isRunning() ? undefined : `exit ${camera.exitStatus}: ${camera.errorOutput().trim().slice(-1500)}`),
      relayListeners: async () => (await envoy.admin.listenerNames()).filter((n) => n.startsWith('udp~relays~')).length,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
