// The demo's cameras: two GStreamer RTSP servers (camera-v1, camera-v2; the
// test tool test/e2e/tools/rtsp_server.py), one ffmpeg client per RTSP
// transport through the sidecar, and what Envoy's admin says about each.
//
// rtsp/tcp: ffmpeg -rtsp_transport tcp → media/cam1 → camera-v1; RTP comes
//   back interleaved on the RTSP connection, counted by the RTSP filter
//   (wasmcustom.mediamesh.rtsp.media.cam1.rtp.*).
// rtsp/udp: ffmpeg -rtsp_transport udp → media/cam2 → camera-v2; RTP comes
//   back over UDP through per-session relay listeners the control plane
//   pushes to the sidecar (listeners udp~relays~*, RTP filter stats
//   mediamesh.rtp.relays.<node>.<session>.*). A sidecar without relays passes
//   the SETUP unchanged and the camera sends to ffmpeg directly: the row then
//   shows 0 RTP packets and says why.
import { type ChildProcess, spawn } from 'node:child_process';
import { RtspServerProcess } from '../../test/helpers/rtsp.js';
import type { EnvoyAdmin } from '../../xds-server/src/sidecar/envoy-admin.js';

export type RtspTransport = 'tcp' | 'udp';

export interface CameraSpec {
  route: string;
  backend: string;
  listenPort: number;
  backendPort: number;
  path: string;
  payloadType: number;
  transport: RtspTransport;
}

/** Matches examples/demo/mesh.yaml. */
export const CAMERAS: readonly CameraSpec[] = [
  { route: 'cam1', backend: 'camera-v1', listenPort: 8554, backendPort: 28554, path: '/cam1', payloadType: 96, transport: 'tcp' },
  { route: 'cam2', backend: 'camera-v2', listenPort: 8555, backendPort: 28555, path: '/cam2', payloadType: 97, transport: 'udp' },
];
export const CAMERA_NAMESPACE = 'media';
const CAMERA_FPS = 30;
/** ffmpeg's own RTP/RTCP ports, clear of the demo's fixed ports and the relay range. */
const FFMPEG_UDP_PORTS = [40000, 40999];

export async function startCameraServers(): Promise<RtspServerProcess[]> {
  const servers: RtspServerProcess[] = [];
  try {
    for (const c of CAMERAS) servers.push(await RtspServerProcess.start({ name: c.backend, payloadType: c.payloadType, paths: [c.path], port: c.backendPort, fps: CAMERA_FPS }));
  } catch (err) {
    await Promise.allSettled(servers.map((s) => s.stop()));
    throw new Error(`cannot start the GStreamer cameras on 127.0.0.1:${CAMERAS.map((c) => c.backendPort).join(', ')} (is another demo running? npm run setup installs gst-rtsp-server): ${err instanceof Error ? err.message : String(err)}`);
  }
  return servers;
}

/** One ffmpeg decoding a camera through the sidecar to nowhere, counting frames. */
export class CameraClient {
  frames = 0;
  private output = '';
  private readonly child: ChildProcess;
  readonly done: Promise<number | null>;

  constructor(readonly camera: CameraSpec, seconds: number) {
    const transportArgs = camera.transport === 'udp' ? ['-min_port', String(FFMPEG_UDP_PORTS[0]), '-max_port', String(FFMPEG_UDP_PORTS[1])] : [];
    this.child = spawn('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'error', '-nostats', '-progress', 'pipe:1', '-rtsp_transport', camera.transport, ...transportArgs, '-i', `rtsp://127.0.0.1:${camera.listenPort}${camera.path}`, '-t', String(seconds), '-f', 'null', '-'], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d: Buffer) => {
      // -progress writes key=value blocks; frame= is the count decoded so far.
      for (const m of d.toString().matchAll(/^frame=(\d+)$/gm)) this.frames = Number(m[1]);
    });
    this.child.stderr!.on('data', (d: Buffer) => (this.output = (this.output + d.toString()).slice(-2000)));
    this.done = new Promise((resolve) => {
      this.child.on('error', (err) => {
        this.output += `cannot run ffmpeg: ${err.message} (run npm run setup)`;
        resolve(-1);
      });
      this.child.on('close', (code) => resolve(code));
    });
  }

  errors(): string {
    return this.output.trim();
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

export interface CameraStream {
  route: string;
  backend: string;
  transport: string;
  rtsp_requests: number;
  rtp_packets: number;
  lost: number;
  jitter_ms: number;
  datagrams: number;
  out_of_order: number;
  duplicates: number;
  frames: number;
  /** rtsp/udp only: whether relay listeners carried its RTP. */
  relayed?: boolean;
}

const RTSP_STATS = 'wasmcustom.mediamesh.rtsp.';
const RELAY_STATS = 'mediamesh.rtp.relays.';

/**
 * Relay listeners live as long as their session: when ffmpeg's TEARDOWN ends
 * it, they and their stats may go. Sampled while the clients play, keeping
 * each relay stat's last value.
 */
export class RelayStatsSampler {
  private readonly last = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  listenersSeen = 0;

  constructor(private readonly admin: EnvoyAdmin) {}

  start(intervalMs = 500): void {
    this.timer = setInterval(() => void this.sample().catch(() => undefined), intervalMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.sample().catch(() => undefined);
  }

  private async sample(): Promise<void> {
    // The demo's only relayed session is its rtsp/udp client's (one sidecar, one such client).
    for (const [name, value] of await this.admin.stats(`^${RELAY_STATS.replace(/\./g, '\\.')}`)) this.last.set(name, value);
    const relays = (await this.admin.listenerNames()).filter((n) => n.startsWith('udp~relays~')).length;
    this.listenersSeen = Math.max(this.listenersSeen, relays);
  }

  /** Sum of one stat over every relayed session. */
  total(stat: string): number {
    let sum = 0;
    for (const [name, value] of this.last) if (name.endsWith(`.${stat}`)) sum += value;
    return sum;
  }

  /** The largest value of a gauge (jitter) over the sessions. */
  max(stat: string): number {
    let out = 0;
    for (const [name, value] of this.last) if (name.endsWith(`.${stat}`)) out = Math.max(out, value);
    return out;
  }
}

export function cameraStreams(stats: Map<string, number>, relays: RelayStatsSampler, clients: CameraClient[]): CameraStream[] {
  return clients.map(({ camera, frames }) => {
    const base = `${RTSP_STATS}${CAMERA_NAMESPACE}.${camera.route}.`;
    let requests = 0;
    for (const [name, value] of stats) if (name.startsWith(`${base}requests.`)) requests += value;
    const rtsp = (name: string) => stats.get(base + name) ?? 0;
    const route = `${CAMERA_NAMESPACE}/${camera.route}`;
    const backend = `${CAMERA_NAMESPACE}/${camera.backend}`;
    const transport = `rtsp/${camera.transport}`;
    if (camera.transport === 'tcp') {
      return { route, backend, transport, rtsp_requests: requests, rtp_packets: rtsp('rtp.packets'), lost: rtsp('rtp.lost'), jitter_ms: Math.round(rtsp('rtp.jitter_us')) / 1000, datagrams: 0, out_of_order: rtsp('rtp.out_of_order'), duplicates: rtsp('rtp.duplicates'), frames };
    }
    // Only the relay leg toward the client carries the RTP filter; the RTCP and client-to-server legs are raw UDP.
    return {
      route, backend, transport, rtsp_requests: requests,
      rtp_packets: relays.total('packets'),
      lost: relays.total('lost') + relays.total('lost_pending'),
      jitter_ms: Math.round(relays.max('jitter_us')) / 1000,
      datagrams: 0,
      out_of_order: relays.total('out_of_order'),
      duplicates: relays.total('duplicates'),
      frames,
      relayed: relays.listenersSeen > 0,
    };
  });
}
