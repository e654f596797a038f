// UDP data-plane benchmark: what Envoy's udp_proxy, and the mediamesh RTP
// filter in front of it, cost in packet rate, latency and CPU.
//
// Three configurations, measured side by side in one run, interleaved
// (direct, plain, filter, direct, plain, filter, ...) so drift on the host
// hits them alike:
//   direct  rtp_send → rtp_sink
//   plain   rtp_send → Envoy [udp_proxy] → rtp_sink
//   filter  rtp_send → Envoy [mediamesh RTP filter, udp_proxy] → rtp_sink
// One Envoy (--concurrency 1: a single worker thread) serves both proxied
// listeners from a static bootstrap; everything binds 127.0.0.1 only. The
// sender and sink are C (bench/udp/*.c, built here with `cc -O2`), so the
// load generator is not the bottleneck of the proxied runs.
//
// For each payload size and offered rate (a fixed sweep, then back-to-back
// "max") every configuration runs --reps trials of --duration seconds; a
// point is the median of its trials. Reported per point: offered/delivered
// pps, loss, p50/p99 one-way latency (the sender's CLOCK_MONOTONIC stamp vs
// the sink's clock), Envoy CPU per 100k packets (utime+stime of the Envoy
// process from /proc/<pid>/stat over the trial / packets forwarded), CPU
// shares of every process, and for the filter whether its
// mediamesh.rtp.<route>.packets counter saw every datagram udp_proxy got.
//
// Progress goes to stderr; with --json the last stdout line is one JSON
// object (without it, stdout gets a human summary). Exit status: 0 done, 1 failure or the filter missed packets,
// 2 bad options.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freeUdpPort } from '../test/helpers/ports.js';
import { envoyBinary, projectRoot } from '../xds-server/src/sidecar/envoy-binary.js';
import { EnvoyProcess } from '../xds-server/src/sidecar/envoy-process.js';
import { benchBootstrap, type ProxiedListener } from './udp/envoy-bootstrap.js';
import { buildNativeTools, Children } from './udp/native-tools.js';
import { OptionsError, parseUdpBenchOptions, type Rate, USAGE, type UdpBenchOptions } from './udp/options.js';
import { type Point, type Summary, summarize } from './udp/summary.js';
import { setAutogroupNice, waitForQuietHost } from './udp/proc-cpu.js';
import { CONFIGS, OTHER_LOAD_MAX_CORES, type Trial, TrialRunner, type TrialSpec } from './udp/trial.js';

const ENVOY_CONCURRENCY = 1;
const MODULE_PATH = 'build/envoy-filters/dynamic-module/libmediamesh_rtp_filter.so';
const WARMUP_S = 0.5;
const WARMUP_RATE = 10_000;

function log(line: string): void {
  process.stderr.write(`[bench:udp] ${line}\n`);
}

function rateLabel(rate: Rate): string {
  return rate === 'max' ? 'max' : `${rate / 1000}k`;
}

async function distinctUdpPorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  for (let tries = 0; ports.size < n && tries < n * 20; tries++) ports.add(await freeUdpPort());
  if (ports.size < n) throw new Error('could not find free loopback UDP ports');
  return [...ports];
}

function describeTrial(t: Trial): string {
  const parts = [
    `${t.config.padEnd(6)} ${String(t.payload).padStart(4)}B ${rateLabel(t.rate).padStart(4)} #${t.rep + 1}:`,
    `offered ${t.offeredPps} delivered ${t.deliveredPps} pps, lost ${t.lost}`,
    `p50/p99 ${t.latencyUs.p50}/${t.latencyUs.p99} us`,
    `cores sender ${t.sender.cores} sink ${t.sink.cores}`,
  ];
  if (t.envoy) parts.push(`envoy ${t.envoy.cpuCores} (worker ${t.envoy.workerCores}), ${t.envoy.cpuUsPerPacket} us/pkt, listener drops ${t.envoy.listenerDrops}`);
  if (t.sink.socketDrops) parts.push(`sink drops ${t.sink.socketDrops}`);
  if (t.filter) parts.push(`filter ${t.filter.packets} ${t.filter.sawAll ? 'saw all' : 'MISSED PACKETS'}`);
  if (t.host.otherCores > 0.05) parts.push(`other load ${t.host.otherCores} cores${t.disturbed ? ' (DISTURBED)' : ''}`);
  return parts.join(', ');
}

function describePoint(config: string, p: Point): string {
  const cpu = p.envoy_cpu_ms_per_100k_packets !== undefined ? ` envoy ${p.envoy_cpu_ms_per_100k_packets} ms/100k pkts (${p.envoy_cpu_us_per_packet} us/pkt)` : '';
  return `  ${config.padEnd(6)} ${String(p.payload).padStart(4)}B ${rateLabel(p.rate).padStart(4)}: delivered ${p.delivered_pps} pps${p.zero_loss ? ' loss-free' : ` loss ${(p.loss_ratio * 100).toFixed(2)}%`} (${p.lossy_trials}/${p.trials} lossy), p50/p99 ${p.latency_us.p50}/${p.latency_us.p99} us${cpu}`;
}

function printHuman(summary: Summary, write: (line: string) => void): void {
  for (const config of CONFIGS) for (const p of summary.configs[config].points) write(describePoint(config, p));
  for (const [payload, r] of Object.entries(summary.ratios.by_payload)) {
    write(`  ${payload}B: filter/plain zero-loss pps ${r.filter_vs_plain_pps}, plain/direct ${r.plain_vs_direct_pps}, filter/plain max pps ${r.filter_vs_plain_max_pps}, filter/plain CPU capacity ${r.filter_vs_plain_cpu_capacity}, filter adds ${r.filter_added_cpu_us_per_packet} us CPU/pkt (median of ${r.cpu_pairs} trial pairs at ${r.cpu_rates.map(rateLabel).join(', ')}; by rate ${JSON.stringify(r.filter_added_cpu_us_by_rate)})`);
    for (const config of CONFIGS) {
      const bound = summary.configs[config].by_payload[payload]!.bound;
      if (bound) write(`    ${config} at max: ${bound}`);
    }
  }
  const t = summary.targets;
  write(`  targets: filter/plain pps ${t.filter_vs_plain_pps.value} (${t.filter_vs_plain_pps.target}) ${t.filter_vs_plain_pps.ok ? 'OK' : 'MISSED'} (sweep resolves ${t.filter_vs_plain_pps.sweep_resolution ?? '-'}; from CPU ${t.filter_vs_plain_pps.cpu_capacity_value ?? '-'}); filter CPU ${t.filter_added_cpu_us_per_packet.value} us/pkt (${t.filter_added_cpu_us_per_packet.target}) ${t.filter_added_cpu_us_per_packet.ok ? 'OK' : 'MISSED'}`);
  write(`  filter stats check: ${summary.filter_check.ok ? 'the filter counted every datagram udp_proxy received' : `MISSED in ${summary.filter_check.missed.length} trial(s)`} (${summary.filter_check.packets} packets over ${summary.filter_check.trials} trials)`);
}

async function runAll(o: UdpBenchOptions, runner: TrialRunner): Promise<Trial[]> {
  let runId = (process.pid * 1000) % 0x7fffffff;
  const spec = (s: Omit<TrialSpec, 'runId'>): TrialSpec => ({ ...s, runId: ++runId });
  log(`warm-up: ${WARMUP_S} s at ${rateLabel(WARMUP_RATE)} pps per configuration`);
  for (const config of CONFIGS) await runner.run(spec({ config, payload: o.payloads[0]!, rate: WARMUP_RATE, rep: -1, durationS: WARMUP_S }));
  const total = o.payloads.length * o.rates.length * o.reps * CONFIGS.length;
  const trials: Trial[] = [];
  for (const payload of o.payloads) {
    for (const rate of o.rates) {
      for (let rep = 0; rep < o.reps; rep++) {
        for (const config of CONFIGS) {
          let t: Trial | undefined;
          for (let attempt = 1; attempt <= 1 + o.retries; attempt++) {
            const gate = await waitForQuietHost(OTHER_LOAD_MAX_CORES, o.quietWaitS * 1000);
            if (!gate.quiet) log(`host still busy (${gate.busyCores.toFixed(2)} cores) after ${Math.round(gate.waitedMs / 1000)} s; running anyway`);
            t = await runner.run(spec({ config, payload, rate, rep, durationS: o.durationS }));
            t.attempts = attempt;
            if (!t.disturbed) break;
            log(`  disturbed: other processes used ${t.host.otherCores} cores during ${config} ${t.payload}B ${rateLabel(rate)} #${rep + 1}${attempt <= o.retries ? '; running it again' : '; keeping it (flagged)'}`);
          }
          trials.push(t!);
          log(`[${trials.length}/${total}] ${describeTrial(t!)}`);
        }
      }
    }
  }
  return trials;
}

async function main(): Promise<number> {
  let o: UdpBenchOptions | 'help';
  try {
    o = parseUdpBenchOptions(process.argv.slice(2));
  } catch (err) {
    if (err instanceof OptionsError) {
      process.stderr.write(`${err.message}\n${USAGE}\n`);
      return 2;
    }
    throw err;
  }
  if (o === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const root = projectRoot();
  const modulePath = path.join(root, MODULE_PATH);
  if (!fs.existsSync(modulePath)) throw new Error(`the RTP filter is not built (${MODULE_PATH}): run \`npm run setup\``);
  const tools = buildNativeTools(root, log);
  const children = new Children();
  let envoy: EnvoyProcess | undefined;
  const restoreNice = o.nice !== 0 ? setAutogroupNice(o.nice, log) : () => {};
  const killEverything = () => {
    children.killAll();
    if (envoy?.isRunning()) process.kill(envoy.pid, 'SIGKILL');
    if (envoy) fs.rmSync(envoy.workDir, { recursive: true, force: true });
    restoreNice();
  };
  process.on('exit', killEverything);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      log(`${sig}: stopping`);
      killEverything();
      process.exit(130);
    });
  }

  try {
    const [directSink, plainListen, plainSink, filterListen, filterSink] = (await distinctUdpPorts(5)) as [number, number, number, number, number];
    const listeners: Record<'plain' | 'filter', ProxiedListener> = {
      plain: { config: 'plain', listenPort: plainListen, sinkPort: plainSink },
      filter: { config: 'filter', listenPort: filterListen, sinkPort: filterSink },
    };
    const cpus = os.availableParallelism();
    // Envoy's worker gets a core of its own; the generator and the sink share the other(s).
    const pin = o.pin && cpus >= 2 ? { envoyCpu: cpus - 1, loadCpu: 0 } : undefined;
    envoy = await EnvoyProcess.start({
      bootstrapYaml: benchBootstrap([listeners.plain, listeners.filter], { modulePath, gaugeIntervalMs: o.gaugeIntervalMs }, o.rcvbuf),
      concurrency: ENVOY_CONCURRENCY,
      logLevel: 'warning',
      prefix: [...(o.nice !== 0 ? ['nice', '-n', String(o.nice)] : []), ...(pin ? ['taskset', '-c', String(pin.envoyCpu)] : [])],
    });
    const serverInfo = JSON.parse(await envoy.admin.get('/server_info')) as { version?: string };
    const envoyVersion = /\/(\d+\.\d+\.\d+)\//.exec(serverInfo.version ?? '')?.[1] ?? serverInfo.version ?? 'unknown';
    log(`Envoy ${envoyVersion} pid ${envoy.pid}, --concurrency ${ENVOY_CONCURRENCY} (one worker thread); host ${cpus} CPUs; ${pin ? `Envoy pinned to CPU ${pin.envoyCpu}, sender and sink to CPU ${pin.loadCpu}` : 'not pinned'}${o.nice !== 0 ? `; nice ${o.nice}` : ''}`);
    log(`${o.payloads.length} payloads x ${o.rates.length} rates x ${o.reps} reps x ${CONFIGS.length} configs, ${o.durationS} s each; listener/sink SO_RCVBUF ${o.rcvbuf || 'kernel default'}`);
    const runner = new TrialRunner(tools, children, envoy, { directSinkPort: directSink, listeners }, { rcvbuf: o.rcvbuf, tickUs: o.tickUs, ssrcs: o.ssrcs, nice: o.nice, maxSenderNice: o.maxSenderNice, loadCpu: pin?.loadCpu, envoyCpu: pin?.envoyCpu });
    const started = Date.now();
    const trials = await runAll(o, runner);
    if (!envoy.isRunning()) throw new Error(`Envoy exited during the run: ${envoy.log().slice(-2000)}`);
    const summary = summarize(trials, o.payloads, o.rates, cpus);
    const result = {
      bench: 'udp-throughput',
      envoy: { version: envoyVersion, binary: path.relative(root, envoyBinary()), concurrency: ENVOY_CONCURRENCY, worker_threads: 1 },
      host: { cpus, kernel: os.release(), cpu_model: os.cpus()[0]?.model ?? 'unknown' },
      params: {
        duration_s: o.durationS,
        reps: o.reps,
        rates: o.rates,
        payload_bytes: o.payloads,
        datagram_bytes: o.payloads.map((p) => p + 12),
        interleaving: 'per (payload, rate, rep): direct, plain, filter',
        rcvbuf: o.rcvbuf,
        sender_tick_us: o.tickUs,
        rtp_streams: o.ssrcs,
        filter_gauge_interval_ms: o.gaugeIntervalMs ?? 'default',
        nice: o.nice,
        sender_nice_at_max: Math.min(19, o.nice + o.maxSenderNice),
        quiet_host: `before each trial wait up to ${o.quietWaitS} s for the host to be idle (<= ${OTHER_LOAD_MAX_CORES} cores busy); re-run a trial other processes used > ${OTHER_LOAD_MAX_CORES} cores during, up to ${o.retries} times`,
        pinning: pin ? { envoy_cpu: pin.envoyCpu, sender_and_sink_cpu: pin.loadCpu } : 'none',
        quick: o.quick,
        zero_loss: 'the median trial of a point lost no packet',
        envoy_cpu: 'utime+stime of the Envoy process (/proc/<pid>/stat) over the trial / datagrams forwarded',
      },
      ...summary,
      elapsed_s: Math.round((Date.now() - started) / 1000),
    };
    // The human summary goes to stdout unless stdout is for the JSON.
    const out = o.json ? process.stderr : process.stdout;
    const write = (line: string) => out.write(`${line}\n`);
    write('[bench:udp] results (medians):');
    printHuman(summary, write);
    if (o.json) process.stdout.write(`${JSON.stringify(result)}\n`);
    return summary.filter_check.ok ? 0 : 1;
  } finally {
    children.killAll();
    if (envoy) {
      await envoy.stop();
    }
    restoreNice();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);
