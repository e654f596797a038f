// RTSP bench: what the mesh adds to an RTSP session's setup, and how many
// UDP-transport sessions one proxy carries without loss.
//
// One GStreamer camera (gst-rtsp-server, a shared VP8 pipeline), one control
// plane in this process (RTSP filter, UDP relay ports) and one Envoy with an
// RtspRoute in front of the camera; all on 127.0.0.1 (bench/rtsp/bench-mesh.ts).
//
// 1. Setup time: the bench's own RTSP player (bench/rtsp/rtsp-player.ts)
//    connects, sends OPTIONS, DESCRIBE, SETUP, PLAY and stops the clock at the
//    first RTP packet, interleaved over TCP or on its UDP client ports.
//    --sessions sessions per side (direct to the camera, through Envoy) and
//    transport, interleaved ABBA; median and p99 per side and transport.
// 2. Concurrency: UDP-transport sessions through Envoy, ramped 50, 100, 200,
//    ... up to --max-concurrent, each step playing --step-seconds; the largest
//    step with zero RTP loss (from each session's sequence numbers) is the
//    answer. The same ramp direct to the camera is reported beside it, to
//    tell the proxy's limit from the camera's or the client's.
//
// Progress goes to stderr; with --json the last stdout line is one JSON
// object. Exit status: 0 done, 1 failure, 2 bad options.
import { execFileSync } from 'node:child_process';
import { round, summarize } from './lib/stats.js';
import { type BenchMesh, PATH, startBenchMesh } from './rtsp/bench-mesh.js';
import { concurrencyRamp, type StepResult } from './rtsp/concurrency.js';
import { OptionsError, parseRtspBenchOptions, rampSteps, type RtspBenchOptions, USAGE } from './rtsp/options.js';
import { RtspPlayer } from './rtsp/rtsp-player.js';
import { runSetupTrials, type Side } from './rtsp/setup-trials.js';

const VIDEO = { width: 320, height: 240 };
/** Sessions set up at once in a concurrency step: fewer racing PLAYs on the camera's shared media (see README). */
const OPEN_BATCH = 10;
const TARGETS = { added_tcp_p50_ms: 10, added_udp_p50_ms: 25, concurrent_sessions_zero_loss: 200 };

function say(line: string): void {
  process.stderr.write(`[bench:rtsp] ${line}\n`);
}

function toolVersion(argv: string[], pattern: RegExp): string {
  try {
    return pattern.exec(execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 10_000 }))?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

async function run(o: RtspBenchOptions): Promise<Record<string, unknown>> {
  const mesh: BenchMesh = await startBenchMesh({ relayPorts: o.relayPorts, relaySessionsPerProxy: o.maxConcurrent + 16, envoyConcurrency: o.envoyConcurrency, ...VIDEO, fps: o.fps });
  try {
    say(`camera rtsp://127.0.0.1:${mesh.cameraPort}${PATH}, mesh rtsp://127.0.0.1:${mesh.meshPort}${PATH} (Envoy, relay ports ${o.relayPorts})`);

    // The camera's pipeline is shared and lives while a client plays: one session held for the
    // whole run keeps it live, so every trial joins a running stream, as a viewer of a real camera
    // does. (It also keeps clear of a gst-rtsp-server 1.22 abort, gst_rtsp_media_get_rates, when a
    // client joins a shared media that the last one just left.)
    const anchor = await RtspPlayer.play({ host: '127.0.0.1', port: mesh.cameraPort, path: PATH, transport: 'tcp', timeoutMs: 15_000 });
    const keepAlive = setInterval(() => void anchor.keepAlive().catch(() => undefined), 20_000);
    try {
      return await measure(o, mesh, anchor);
    } finally {
      clearInterval(keepAlive);
      await anchor.teardown();
    }
  } finally {
    await mesh.stop();
  }
}

async function measure(o: RtspBenchOptions, mesh: BenchMesh, anchor: RtspPlayer): Promise<Record<string, unknown>> {
  const serverInfo = JSON.parse(await mesh.envoy.admin.get('/server_info')) as { version?: string };
  const ports: Record<Side, number> = { direct: mesh.cameraPort, mesh: mesh.meshPort };
  let udpRelayed = false;
  const setup = await runSetupTrials(o.sessions, o.warmup, {
    ports,
    path: PATH,
    timeoutMs: 10_000,
    onMeshUdpPlaying: async () => {
      udpRelayed = (await mesh.relayListeners()) > 0;
    },
  }, say);
  if (!udpRelayed) say('NOTE: UDP through the mesh was not relayed (no udp~relays~ listener while a session played): its media went from the camera to the client directly, so mesh udp_* times are the RTSP exchange through Envoy only.');

  const p = (side: Side, t: string) => summarize(setup.samples[`${side}_${t}`] ?? []);
  const figures = (side: Side) => ({ tcp_p50: round(p(side, 'tcp').p50, 2), tcp_p99: round(p(side, 'tcp').p99, 2), udp_p50: round(p(side, 'udp').p50, 2), udp_p99: round(p(side, 'udp').p99, 2) });
  const direct = figures('direct');
  const meshFigures = figures('mesh');
  const added = { tcp_p50: round(meshFigures.tcp_p50 - direct.tcp_p50, 2), tcp_p99: round(meshFigures.tcp_p99 - direct.tcp_p99, 2), udp_p50: round(meshFigures.udp_p50 - direct.udp_p50, 2), udp_p99: round(meshFigures.udp_p99 - direct.udp_p99, 2) };

  let concurrent = { zeroLoss: 0, steps: [] as StepResult[] };
  let concurrentDirect = { zeroLoss: 0, steps: [] as StepResult[] };
  let cameraFailure: string | undefined;
  if (!o.noConcurrency) {
    const steps = rampSteps(o.maxConcurrent);
    const target = { path: PATH, fps: o.fps, windowS: o.stepSeconds, openBatch: OPEN_BATCH, openTimeoutMs: 60_000 };
    const settle = async () => {
      // Relays of the step's sessions go back to the pool after their TEARDOWN; the next step starts from none.
      const until = Date.now() + 15_000;
      while ((await mesh.relayListeners()) > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
    };
    concurrent = await concurrencyRamp(steps, { ...target, side: 'mesh', port: mesh.meshPort, settle, cameraDied: mesh.cameraDied }, say);
    cameraFailure = mesh.cameraDied();
    if (cameraFailure) say(`WARNING: the camera (gst-rtsp-server) died during the mesh ramp, so it stopped there and the direct ramp did not run: ${cameraFailure}`);
    else concurrentDirect = await concurrencyRamp(steps, { ...target, side: 'direct', port: mesh.cameraPort, cameraDied: mesh.cameraDied }, say);
    cameraFailure ??= mesh.cameraDied();
  }

  return {
    bench: 'rtsp-setup',
    sessions: o.sessions,
    warmup: o.warmup,
    direct,
    mesh: meshFigures,
    added_setup_ms: added,
    ratios: { tcp_p50_mesh_vs_direct: round(meshFigures.tcp_p50 / direct.tcp_p50, 3), udp_p50_mesh_vs_direct: round(meshFigures.udp_p50 / direct.udp_p50, 3) },
    udp_relayed: udpRelayed,
    setup_failures: setup.failures,
    ...(Object.keys(setup.errors).length > 0 ? { setup_errors: setup.errors } : {}),
    concurrent_sessions_zero_loss: o.noConcurrency ? null : concurrent.zeroLoss,
    concurrent_sessions_zero_loss_direct: o.noConcurrency || concurrentDirect.steps.length === 0 ? null : concurrentDirect.zeroLoss,
    ...(cameraFailure ? { camera_failure: cameraFailure.split('\n').find((l) => l.includes('ERROR')) ?? cameraFailure.slice(0, 300) } : {}),
    max_concurrent: o.maxConcurrent,
    concurrency_steps: [...concurrent.steps, ...concurrentDirect.steps],
    step_seconds: o.stepSeconds,
    targets: TARGETS,
    video: { codec: 'VP8', width: VIDEO.width, height: VIDEO.height, fps: o.fps, shared_pipeline: true },
    envoy: { version: /\/(\d+\.\d+\.\d+)\//.exec(serverInfo.version ?? '')?.[1] ?? serverInfo.version ?? 'unknown', concurrency: o.envoyConcurrency },
    versions: { node: process.versions.node, gstreamer: toolVersion(['gst-launch-1.0', '--version'], /GStreamer (\S+)/) },
    anchor_session_lost: anchor.sequence.lost,
  };
}

function human(s: Record<string, unknown>): string {
  const d = s.direct as Record<string, number>;
  const m = s.mesh as Record<string, number>;
  const a = s.added_setup_ms as Record<string, number>;
  const rows = [['', 'DIRECT p50', 'DIRECT p99', 'MESH p50', 'MESH p99', 'ADDED p50', 'ADDED p99']];
  for (const t of ['tcp', 'udp']) rows.push([`rtsp/${t}`, ...[d[`${t}_p50`], d[`${t}_p99`], m[`${t}_p50`], m[`${t}_p99`], a[`${t}_p50`], a[`${t}_p99`]].map((x) => `${x} ms`)]);
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const table = rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ')).join('\n');
  return `setup time, TCP connect to first RTP packet (${s.sessions} sessions each):\n${table}\n` +
    `UDP relayed through the mesh: ${s.udp_relayed}\n` +
    `concurrent UDP sessions with zero loss: mesh ${s.concurrent_sessions_zero_loss}, direct ${s.concurrent_sessions_zero_loss_direct} (ramp up to ${s.max_concurrent})\n`;
}

async function main(argv: string[]): Promise<number> {
  let o: RtspBenchOptions | 'help';
  try {
    o = parseRtspBenchOptions(argv);
  } catch (err) {
    if (!(err instanceof OptionsError)) throw err;
    say(err.message);
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  if (o === 'help') {
    process.stderr.write(`${USAGE}\n`);
    return 0;
  }
  const summary = await run(o);
  if (o.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else process.stdout.write(human(summary));
  return 0;
}

// A bench that never ends is worse than one that fails: everything above is bounded, and this bounds the rest.
const WATCHDOG_MS = 30 * 60_000;
const watchdog = setTimeout(() => {
  say(`FAILED: still running after ${WATCHDOG_MS / 60_000} min`);
  process.exit(1);
}, WATCHDOG_MS);
watchdog.unref();
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    say(`FAILED: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
