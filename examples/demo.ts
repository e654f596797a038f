// `npm run demo`: the whole mesh on one machine, with real media.
//
// Starts the control plane on examples/demo/, one Envoy sidecar bootstrapped
// from it, a GStreamer camera feed (RTP/VP8) sent through a lossy hop into the
// sidecar, a raw-UDP game client against an echo server, then prints what
// Envoy's admin saw per route: datagrams, RTP packets, loss, reordering, jitter.
//
//   npm run demo [-- --duration 10] [--loss 0.02] [--json]
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { bootstrapYaml } from '../xds-server/src/bootstrap/envoy-bootstrap.js';
import { rtpModuleFromOption } from '../xds-server/src/cli/rtp-module-option.js';
import { startControlPlane } from '../xds-server/src/cli/serve.js';
import { EnvoyProcess } from '../xds-server/src/sidecar/envoy-process.js';
import { projectRoot } from '../xds-server/src/sidecar/envoy-binary.js';

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

async function main(): Promise<void> {
  // The demo prints its own story; the control plane only speaks up about problems.
  process.env.MEDIAMESH_LOG_LEVEL ??= 'warn';
  const cleanups: (() => Promise<void> | void)[] = [];
  const cleanup = async () => {
    for (const c of cleanups.reverse()) await c();
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  try {
    const configDir = path.join(projectRoot(), 'examples/demo');
    const cp = await startControlPlane({ configDir, listenHost: '127.0.0.1', xdsPort: Number(values['xds-port']), adminPort: Number(values['admin-port']), debounceMs: 100, rtpModule: rtpModuleFromOption(undefined) });
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

    const envoy = await EnvoyProcess.start({ bootstrapYaml: bootstrapYaml({ nodeId: 'demo-sidecar', cluster: 'demo', xdsHost: '127.0.0.1', xdsPort: cp.xdsPort, adminAddress: '127.0.0.1', adminPort: Number(values['envoy-admin-port']), delta: false }) });
    cleanups.push(() => envoy.stop());
    say(`sidecar: Envoy pid ${envoy.pid}, admin ${envoy.admin.url}`);
    const deadline = Date.now() + 15_000;
    while (!(await envoy.admin.listenerNames()).includes(`udp~media~feed~${FEED_PORT}`)) {
      if (Date.now() > deadline) throw new Error('the sidecar did not receive its listeners within 15 s');
      await new Promise((r) => setTimeout(r, 100));
    }

    // Camera: VP8 video over RTP (payload type 96, 90 kHz clock), live-paced.
    const frames = durationS * FRAMES_PER_SECOND;
    say(`sending ${durationS} s of RTP video (GStreamer, ${frames} frames) through a hop dropping ${(lossProbability * 100).toFixed(1)}%, and raw UDP game traffic...`);
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
    // Let the last datagrams land before reading stats.
    await new Promise((r) => setTimeout(r, 300));

    const stats = await envoy.admin.stats('^(mediamesh\\.rtp\\.|udp\\.)');
    const rtp = (name: string) => stats.get(`mediamesh.rtp.media.feed.${name}`) ?? 0;
    const udp = (prefix: string, name: string) => stats.get(`udp.${prefix}.${name}`) ?? 0;
    const lost = rtp('lost') + rtp('lost_pending');
    const streams = [
      { route: 'media/feed', backend: 'media/feed-v1', transport: 'rtp/udp', rtsp_requests: 0, rtp_packets: rtp('packets'), lost, jitter_ms: Math.round(rtp('jitter_us')) / 1000, datagrams: udp(`media.feed.${FEED_PORT}`, 'downstream_sess_rx_datagrams'), out_of_order: rtp('out_of_order'), duplicates: rtp('duplicates') },
      { route: 'games/game', backend: 'games/game-v1', transport: 'udp', rtsp_requests: 0, rtp_packets: 0, lost: 0, jitter_ms: 0, datagrams: udp(`games.game.${GAME_PORT}`, 'downstream_sess_rx_datagrams'), out_of_order: 0, duplicates: 0 },
    ];
    const rows = [
      ['ROUTE', 'BACKEND', 'TRANSPORT', 'DATAGRAMS', 'RTP PACKETS', 'LOST', 'LOSS %', 'OUT OF ORDER', 'JITTER ms'],
      ...streams.map((s) => [s.route, s.backend, s.transport, String(s.datagrams), s.transport === 'udp' ? '-' : String(s.rtp_packets), s.transport === 'udp' ? '-' : String(s.lost), s.transport === 'udp' ? '-' : ((100 * s.lost) / Math.max(1, s.rtp_packets + s.lost)).toFixed(2), s.transport === 'udp' ? '-' : String(s.out_of_order), s.transport === 'udp' ? '-' : s.jitter_ms.toFixed(2)]),
    ];
    const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
    const table = rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd()).join('\n');
    const out = values.json ? process.stderr : process.stdout;
    out.write(`\nWhat Envoy's admin (${envoy.admin.url}/stats) saw:\n${table}\n\n`);
    out.write(`cross-check: the lossy hop dropped ${hopDropped} of ${hopDropped + hopForwarded} camera packets; the filter counts ${lost} lost; the feed backend received ${feedReceived}.\n`);
    out.write(`game: ${gameSent} datagrams sent, ${gameEchoed} echoed back through the sidecar.\n`);
    out.write(`read them yourself while it runs: curl -s ${envoy.admin.url}/stats | grep -E 'rtp|^udp\\.'\n`);
    if (values.json) process.stdout.write(JSON.stringify({ streams }) + '\n');
  } finally {
    await cleanup();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
