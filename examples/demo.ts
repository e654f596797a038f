// `npm run demo`: the whole mesh on one machine, with real media.
//
// Starts the control plane on examples/demo/, one Envoy sidecar bootstrapped
// from it, a GStreamer camera feed (RTP/VP8) sent through a lossy hop into the
// sidecar, a raw-UDP game client against an echo server, two GStreamer RTSP
// cameras played by ffmpeg through the sidecar (one over RTSP/TCP, one with
// RTP over UDP relays), then prints what Envoy's admin saw per route: RTSP
// requests, datagrams, RTP packets, loss, reordering, jitter, and the frames
// ffmpeg decoded.
//
//   npm run demo [-- --duration 10] [--loss 0.02] [--json]
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { bootstrapYaml } from '../xds-server/src/bootstrap/envoy-bootstrap.js';
import { rtpModuleFromOption } from '../xds-server/src/cli/rtp-module-option.js';
import { builtRtspFilterPath, rtspFilterFromOption } from '../xds-server/src/cli/rtsp-filter-option.js';
import { startControlPlane } from '../xds-server/src/cli/serve.js';
import { EnvoyProcess } from '../xds-server/src/sidecar/envoy-process.js';
import { projectRoot } from '../xds-server/src/sidecar/envoy-binary.js';
import { CAMERA_NAMESPACE, CameraClient, CAMERAS, cameraStreams, RelayStatsSampler, startCameraServers } from './demo/cameras.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    loss: { type: 'string', default: '0.02' },
    json: { type: 'boolean', default: false },
    'xds-port': { type: 'string', default: '18000' },
    'admin-port': { type: 'string', default: '9090' },
    'envoy-admin-port': { type: 'string', default: '15000' },
  },
});
const durationS = Math.min(Math.max(Number(values.duration), 2), 600);
const lossProbability = Math.min(Math.max(Number(values.loss), 0), 0.5);
const FEED_PORT = 5004;
const FEED_BACKEND_PORT = 25004;
const LOSSY_HOP_PORT = 15004;
const GAME_PORT = 7777;
const GAME_BACKEND_PORT = 27777;
const FRAMES_PER_SECOND = 25;
/** UDP ports the control plane hands out for RTSP relays (four per session). */
const RELAY_PORTS = '30000-30099';
const NODE_ID = 'demo-sidecar';

const say = (line: string) => process.stderr.write(`${line}\n`);

async function udpSocket(port: number, onMessage: (msg: Buffer, from: dgram.RemoteInfo, socket: dgram.Socket) => void): Promise<dgram.Socket> {
  // Video frames arrive as bursts of packets: a roomy receive buffer keeps the kernel from dropping them.
  const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 * 1024 * 1024 });
  socket.on('message', (msg, from) => onMessage(msg, from, socket));
  await new Promise<void>((resolve, reject) => {
    socket.once('error', (err) => reject(new Error(`cannot bind 127.0.0.1:${port} (${err.message}); is another demo running?`)));
    socket.bind(port, '127.0.0.1', () => resolve());
  });
  return socket;
}

/** Seeded so two runs drop the same packets: loss you can compare. */
function seededRandom(seed: number): () => number {
  let x = seed >>> 0;
  return () => ((x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/** Set by SIGINT/SIGTERM: the exit code to leave with once everything is stopped. */
let interrupted: number | undefined;

async function main(): Promise<void> {
  // The demo prints its own story; the control plane only speaks up about problems.
  process.env.MEDIAMESH_LOG_LEVEL ??= 'warn';
  const cleanups: (() => Promise<void> | void)[] = [];
  // One cleanup, however many ask: a signal's handler and main's finally block (which the signal
  // reaches too, as killing the sender ends the wait) both wait for all of it before exiting.
  let cleaning: Promise<void> | undefined;
  const cleanup = () => (cleaning ??= (async () => {
    for (const c of cleanups.reverse()) await Promise.resolve().then(c).catch((err: unknown) => say(`cleanup: ${err instanceof Error ? err.message : String(err)}`));
  })());
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.once(signal, () => {
      interrupted = code;
      void cleanup().then(() => process.exit(code));
    });
  }
  try {
    const configDir = path.join(projectRoot(), 'examples/demo');
    if (!builtRtspFilterPath()) throw new Error('the RTSP filter (mediamesh_rtsp_filter.wasm) is not built: run npm run setup');
    const cp = await startControlPlane({ configDir, listenHost: '127.0.0.1', xdsPort: Number(values['xds-port']), adminPort: Number(values['admin-port']), debounceMs: 100, rtpModule: rtpModuleFromOption(undefined), rtspFilter: rtspFilterFromOption(undefined), relayPorts: RELAY_PORTS });
    cleanups.push(() => cp.stop());
    say(`control plane: xDS on 127.0.0.1:${cp.xdsPort}, admin http://127.0.0.1:${cp.adminPort} (config: examples/demo/)`);

    let feedReceived = 0;
    const feedSink = await udpSocket(FEED_BACKEND_PORT, () => feedReceived++);
    cleanups.push(() => { feedSink.close(); });
    const gameEcho = await udpSocket(GAME_BACKEND_PORT, (msg, from, s) => s.send(msg, from.port, from.address));
    cleanups.push(() => { gameEcho.close(); });

    // A lossy network hop in front of the sidecar: drops a share of the camera's packets.
    const random = seededRandom(42);
    let hopDropped = 0;
    let hopForwarded = 0;
    const hopOut = dgram.createSocket('udp4');
    const hop = await udpSocket(LOSSY_HOP_PORT, (msg) => {
      if (random() < lossProbability) hopDropped++;
      else {
        hopForwarded++;
        hopOut.send(msg, FEED_PORT, '127.0.0.1');
      }
    });
    cleanups.push(() => { hop.close(); hopOut.close(); });

    // Cameras: two versions of an RTSP camera server (GStreamer gst-rtsp-server, live VP8).
    const cameraServers = await startCameraServers();
    cleanups.push(async () => {
      await Promise.allSettled(cameraServers.map((s) => s.stop()));
    });
    say(`cameras: GStreamer RTSP servers ${CAMERAS.map((c) => `${c.backend} on 127.0.0.1:${c.backendPort}${c.path}`).join(', ')}`);

    // The RTSP filter asks the control plane's admin for relays: the bootstrap's extensions cluster points there.
    const envoy = await EnvoyProcess.start({ bootstrapYaml: bootstrapYaml({ nodeId: NODE_ID, cluster: 'demo', xdsHost: '127.0.0.1', xdsPort: cp.xdsPort, adminAddress: '127.0.0.1', adminPort: Number(values['envoy-admin-port']), delta: false, extensionsHost: '127.0.0.1', extensionsPort: cp.adminPort }) });
    cleanups.push(() => envoy.stop());
    say(`sidecar: Envoy pid ${envoy.pid}, admin ${envoy.admin.url}`);
    const wanted = [`udp~media~feed~${FEED_PORT}`, ...CAMERAS.map((c) => `rtsp~${CAMERA_NAMESPACE}~${c.route}~${c.listenPort}`)];
    const deadline = Date.now() + 15_000;
    for (;;) {
      const names = await envoy.admin.listenerNames();
      // The cameras' clusters take sessions once their first RTSP health check passed.
      const clusters = await envoy.admin.get('/clusters');
      const healthy = CAMERAS.every((c) => clusters.includes(`rtsp~${CAMERA_NAMESPACE}~${c.route}~${c.listenPort}~0::127.0.0.1:${c.backendPort}::health_flags::healthy`));
      if (wanted.every((n) => names.includes(n)) && healthy) break;
      if (Date.now() > deadline) throw new Error(`the sidecar did not get its listeners (${wanted.filter((n) => !names.includes(n)).join(', ') || 'all there'}) and healthy cameras within 15 s`);
      await new Promise((r) => setTimeout(r, 100));
    }

    // Camera: VP8 video over RTP (payload type 96, 90 kHz clock), live-paced.
    const frames = durationS * FRAMES_PER_SECOND;
    say(`sending ${durationS} s of RTP video (GStreamer, ${frames} frames) through a hop dropping ${(lossProbability * 100).toFixed(1)}%, and raw UDP game traffic...`);
    const cameraClients = CAMERAS.map((c) => new CameraClient(c, durationS));
    cleanups.push(() => {
      for (const c of cameraClients) c.kill();
    });
    say(`playing ${CAMERAS.map((c) => `rtsp://127.0.0.1:${c.listenPort}${c.path} over RTSP/${c.transport.toUpperCase()}`).join(' and ')} with ffmpeg...`);
    const relayStats = new RelayStatsSampler(envoy.admin);
    relayStats.start();
    cleanups.push(() => relayStats.stop());
    const camera = spawn('gst-launch-1.0', ['-q', 'videotestsrc', 'is-live=true', `num-buffers=${frames}`, 'pattern=snow', '!', `video/x-raw,width=640,height=360,framerate=${FRAMES_PER_SECOND}/1`, '!', 'vp8enc', 'deadline=1', 'target-bitrate=2000000', '!', 'rtpvp8pay', 'pt=96', 'mtu=1200', '!', 'udpsink', 'host=127.0.0.1', `port=${LOSSY_HOP_PORT}`, 'sync=true'], { stdio: ['ignore', 'ignore', 'pipe'] });
    cleanups.push(() => { camera.kill('SIGKILL'); });
    let cameraErr = '';
    camera.stderr.on('data', (d: Buffer) => (cameraErr += d.toString()));
    camera.on('error', (err) => (cameraErr += `cannot run gst-launch-1.0: ${err.message} (run npm run setup)`));

    // Game: 20 datagrams a second, each answered by the echo server through the sidecar.
    let gameSent = 0;
    let gameEchoed = 0;
    const game = await udpSocket(0, () => gameEchoed++);
    cleanups.push(() => { game.close(); });
    const gameTimer = setInterval(() => {
      gameSent++;
      game.send(`tick ${gameSent}`, GAME_PORT, '127.0.0.1');
    }, 50);
    cleanups.push(() => clearInterval(gameTimer));

    const exitCode = await new Promise<number | null>((resolve) => camera.on('close', (code) => resolve(code)));
    clearInterval(gameTimer);
    if (exitCode !== 0) throw new Error(`the GStreamer sender failed (${exitCode}): ${cameraErr.trim()}`);
    // ffmpeg stops itself after the same duration; its start-up and the RTSP setup come on top.
    const killTimer = setTimeout(() => cameraClients.forEach((c) => c.kill()), 20_000);
    const clientCodes = await Promise.all(cameraClients.map((c) => c.done));
    clearTimeout(killTimer);
    await relayStats.stop();
    clientCodes.forEach((code, i) => {
      const c = cameraClients[i]!;
      if (code !== 0 || c.frames === 0) throw new Error(`ffmpeg on rtsp://127.0.0.1:${c.camera.listenPort}${c.camera.path} (${c.camera.transport}) failed (exit ${code}, ${c.frames} frames): ${c.errors()}`);
    });
    // Let the last datagrams land before reading stats.
    await new Promise((r) => setTimeout(r, 300));

    const stats = await envoy.admin.stats('^(mediamesh\\.rtp\\.|udp\\.|wasmcustom\\.mediamesh\\.rtsp\\.)');
    const rtp = (name: string) => stats.get(`mediamesh.rtp.media.feed.${name}`) ?? 0;
    const udp = (prefix: string, name: string) => stats.get(`udp.${prefix}.${name}`) ?? 0;
    const lost = rtp('lost') + rtp('lost_pending');
    const cameraRows = cameraStreams(stats, relayStats, cameraClients);
    const streams = [
      { route: 'media/feed', backend: 'media/feed-v1', transport: 'rtp/udp', rtsp_requests: 0, rtp_packets: rtp('packets'), lost, jitter_ms: Math.round(rtp('jitter_us')) / 1000, datagrams: udp(`media.feed.${FEED_PORT}`, 'downstream_sess_rx_datagrams'), out_of_order: rtp('out_of_order'), duplicates: rtp('duplicates') },
      { route: 'games/game', backend: 'games/game-v1', transport: 'udp', rtsp_requests: 0, rtp_packets: 0, lost: 0, jitter_ms: 0, datagrams: udp(`games.game.${GAME_PORT}`, 'downstream_sess_rx_datagrams'), out_of_order: 0, duplicates: 0 },
      ...cameraRows,
    ];
    const isRtsp = (s: { transport: string }) => s.transport.startsWith('rtsp/');
    const noRtp = (s: { transport: string }) => s.transport === 'udp';
    const rows = [
      ['ROUTE', 'BACKEND', 'TRANSPORT', 'RTSP REQS', 'DATAGRAMS', 'RTP PACKETS', 'LOST', 'LOSS %', 'OUT OF ORDER', 'JITTER ms', 'FRAMES'],
      ...streams.map((s) => [s.route, s.backend, s.transport, isRtsp(s) ? String(s.rtsp_requests) : '-', isRtsp(s) ? '-' : String(s.datagrams), noRtp(s) ? '-' : String(s.rtp_packets), noRtp(s) ? '-' : String(s.lost), noRtp(s) ? '-' : ((100 * s.lost) / Math.max(1, s.rtp_packets + s.lost)).toFixed(2), noRtp(s) ? '-' : String(s.out_of_order), noRtp(s) ? '-' : s.jitter_ms.toFixed(2), 'frames' in s ? String(s.frames) : '-']),
    ];
    const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
    const table = rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd()).join('\n');
    const out = values.json ? process.stderr : process.stdout;
    out.write(`\nWhat Envoy's admin (${envoy.admin.url}/stats) saw:\n${table}\n\n`);
    out.write(`cross-check: the lossy hop dropped ${hopDropped} of ${hopDropped + hopForwarded} camera packets; the filter counts ${lost} lost; the feed backend received ${feedReceived}.\n`);
    out.write(`game: ${gameSent} datagrams sent, ${gameEchoed} echoed back through the sidecar.\n`);
    out.write(`cameras: ffmpeg decoded ${cameraClients.map((c) => `${c.frames} frames of ${c.camera.path} (rtsp/${c.camera.transport})`).join(' and ')} through the sidecar.\n`);
    if (cameraRows.some((s) => s.transport === 'rtsp/udp' && !s.relayed)) {
      out.write('note: rtsp/udp was not relayed: the sidecar made no UDP relay listeners (udp~relays~*), so the camera sent RTP to ffmpeg directly and Envoy counted none of it (RTP PACKETS 0). The RTSP requests still went through the sidecar.\n');
    }
    out.write(`read them yourself while it runs: curl -s ${envoy.admin.url}/stats | grep -E 'rtp|rtsp|^udp\\.'\n`);
    if (values.json) process.stdout.write(JSON.stringify({ streams }) + '\n');
  } finally {
    await cleanup();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    if (interrupted !== undefined) {
      process.stderr.write('demo interrupted; everything it started is stopped\n');
      process.exit(interrupted);
    }
    process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
