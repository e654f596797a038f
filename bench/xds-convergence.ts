// xDS convergence benchmark: how long after a config file changes until every
// connected proxy has ACKed the new config, and what the control plane costs
// per connected proxy.
//
//   npm run bench:xds -- [--clients 1000] [--workers CPUS] [--rounds 5] [--delta]
//                        [--change endpoint|listener] [--debounce-ms 100] [--strict-debounce] [--json]
//
// Processes: this coordinator; `mediamesh serve` as a child of its own (its
// RSS and CPU are read from /proc/<pid>); `--workers` forked client processes
// running the simulated proxies (so client CPU is not server CPU). Everything
// is on 127.0.0.1 and in a temp config dir, removed on exit.
//
// One round: arm the workers with what the new config must contain, stamp the
// time, rewrite one route's YAML file, and collect per proxy the time it wrote
// its ACK of a response holding the new config. The write stamp and the ACK
// stamps use clock.ts (performance.timeOrigin + performance.now(): the machine's
// wall clock, comparable across processes). Convergence therefore includes the
// file watcher, the server's debounce or early apply (a renamed-in file that
// only changes objects applies after a 10 ms settle unless --strict-debounce),
// rebuild, push, the client's receipt and its ACK write.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigDir } from '../test/helpers/mesh-files.js';
import { BenchMesh } from './lib/bench-mesh.js';
import { type BenchOptions, OptionsError, parseBenchOptions, USAGE } from './lib/bench-options.js';
import { wallNowMs } from './lib/clock.js';
import { hotSpots, newestProfile } from './lib/cpu-profile.js';
import { cpuSeconds, hostBusySeconds, rssKb } from './lib/proc-stats.js';
import { ServerProcess } from './lib/server-process.js';
import { round, summarize } from './lib/stats.js';
import { WorkerPool } from './lib/worker-pool.js';

const TARGET_P99_MS = 250;
const TARGET_RSS_PER_CLIENT_KB = 1024;
const PROGRESS_EVERY_MS = 1000;

function say(message: string): void {
  process.stderr.write(`[bench:xds] ${message}\n`);
}

class BenchFailure extends Error {}

/** Owns every child and temp dir; tears them down on success, failure, timeout or signal. */
class Resources {
  configDir?: ConfigDir;
  server?: ServerProcess;
  workers?: WorkerPool;
  /** What the bench is waiting for, for the timeout message. */
  phase = 'starting';
  private failedWith?: string;
  private readonly failureWaiters = new Set<(reason: string) => void>();

  /** Records the first failure; every `guard`ed wait rejects with it. */
  fail(reason: string): void {
    if (this.failedWith !== undefined) return;
    this.failedWith = reason;
    for (const w of this.failureWaiters) w(reason);
  }

  /** Races `work` against failure (a worker error, the server dying, the global timeout). */
  guard<T>(work: Promise<T>): Promise<T> {
    if (this.failedWith !== undefined) return Promise.reject(new BenchFailure(this.failedWith));
    let waiter: ((reason: string) => void) | undefined;
    const failed = new Promise<never>((_, reject) => {
      waiter = (reason) => reject(new BenchFailure(reason));
      this.failureWaiters.add(waiter);
    });
    return Promise.race([work, failed]).finally(() => this.failureWaiters.delete(waiter!));
  }

  async release(): Promise<void> {
    await this.workers?.stop().catch(() => this.workers?.kill());
    await this.server?.stop().catch(() => this.server?.kill());
    this.configDir?.cleanup();
  }

  /** Synchronous teardown for signal and exit handlers. */
  releaseNow(): void {
    this.workers?.kill();
    this.server?.kill();
    this.configDir?.cleanup();
  }
}

interface RoundResult {
  samplesMs: number[];
  /** Sum over workers of their CPU seconds so far, read when the round converged. */
  clientCpuS: number;
}

interface ConnectResult {
  connectS: number;
  serverCpuS: number;
  rssIdleKb: number;
  rssConnectedKb: number;
  /** Sum over workers of their CPU seconds when all were synced. */
  clientCpuS: number;
}

interface RoundsResult {
  warmup: RoundResult[];
  measured: RoundResult[];
  serverCpuS: number;
  clientCpuS: number;
  otherBusyCores: number;
  rssAfterKb: number;
}

/** Starts the server, gives every worker its proxies, waits until all hold the initial config. */
async function connect(o: BenchOptions, res: Resources, mesh: BenchMesh): Promise<{ server: ServerProcess; workers: WorkerPool; result: ConnectResult }> {
  const serverNodeArgs = o.serverCpuProf ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(o.serverCpuProf)] : [];
  const server = (res.server = await res.guard(ServerProcess.start({
    configDir: res.configDir!.dir,
    debounceMs: o.debounceMs,
    strictDebounce: o.strictDebounce,
    nodeArgs: serverNodeArgs,
    onUnexpectedExit: (why) => res.fail(why),
  })));
  say(`server pid ${server.pid} ready on ${server.xdsAddress}, config in ${res.configDir!.dir}`);
  // Let the start-up settle before the idle reading.
  await sleep(500);
  const rssIdleKb = rssKb(server.pid);
  const cpuBefore = cpuSeconds(server.pid);

  const workerScript = fileURLToPath(new URL('./lib/ads-worker.js', import.meta.url));
  const clientNodeArgs = o.clientCpuProf ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(o.clientCpuProf)] : [];
  const workers = (res.workers = new WorkerPool(workerScript, o.workers, (why) => res.fail(why), clientNodeArgs));
  const start = wallNowMs();
  for (let w = 0; w < o.workers; w++) {
    const nodeIds: string[] = [];
    for (let i = w; i < o.clients; i += o.workers) nodeIds.push(`bench-proxy-${String(i).padStart(5, '0')}`);
    workers.send(w, {
      kind: 'start',
      address: server.xdsAddress,
      protocol: o.protocol,
      nodeIds,
      clientsPerChannel: o.clientsPerConnection,
      rampBatch: o.rampBatch,
      rampIntervalMs: o.rampIntervalMs,
      initial: mesh.expectation(0),
    });
  }
  res.phase = 'the initial sync';
  const ticker = setInterval(() => {
    const p = workers.progress();
    say(`connecting: ${p.streams}/${o.clients} streams open, ${p.synced}/${o.clients} synced`);
  }, PROGRESS_EVERY_MS);
  let synced;
  try {
    synced = await res.guard(workers.all('synced'));
  } finally {
    clearInterval(ticker);
  }
  const connectS = (wallNowMs() - start) / 1000;
  const serverCpuS = cpuSeconds(server.pid) - cpuBefore;
  say(`all ${o.clients} clients synced (CDS, LDS, EDS ACKed) in ${connectS.toFixed(2)} s; server CPU ${serverCpuS.toFixed(2)} s`);

  await sleep(Math.max(o.settleMs, 500));
  const rssConnectedKb = rssKb(server.pid);
  say(`server RSS ${(rssIdleKb / 1024).toFixed(1)} MiB idle, ${(rssConnectedKb / 1024).toFixed(1)} MiB with ${o.clients} clients (${((rssConnectedKb - rssIdleKb) / o.clients).toFixed(1)} KiB per client)`);
  return { server, workers, result: { connectS, serverCpuS, rssIdleKb, rssConnectedKb, clientCpuS: synced.reduce((s, m) => s + m.cpuS, 0) } };
}

/** One change: arm the workers, stamp, rewrite the file, collect every proxy's ACK time. */
async function measureRound(o: BenchOptions, res: Resources, mesh: BenchMesh, workers: WorkerPool, r: number, label: string): Promise<RoundResult> {
  const expect = mesh.expectation(r);
  res.phase = `${label} (waiting for ${JSON.stringify(expect)})`;
  workers.broadcast({ kind: 'arm', round: r, expect });
  await res.guard(workers.all('armed'));
  const writtenAt = wallNowMs();
  mesh.applyRound(r);
  const converged = await res.guard(workers.all('converged'));
  const samplesMs = converged.flatMap((m) => m.ackAtMs.map((at) => at - writtenAt));
  const s = summarize(samplesMs);
  say(`${label}: ${s.count} ACKs, convergence p50 ${s.p50.toFixed(1)} ms, p99 ${s.p99.toFixed(1)} ms, max ${s.max.toFixed(1)} ms (first ${s.min.toFixed(1)} ms)`);
  await sleep(o.settleMs);
  return { samplesMs, clientCpuS: converged.reduce((sum, m) => sum + m.cpuS, 0) };
}

/** Warm-up rounds, then the measured ones with the server's, the clients' and the rest of the host's CPU. */
async function measureRounds(o: BenchOptions, res: Resources, mesh: BenchMesh, server: ServerProcess, workers: WorkerPool, clientCpuAtSync: number): Promise<RoundsResult> {
  const warmup: RoundResult[] = [];
  for (let r = 1; r <= o.warmupRounds; r++) warmup.push(await measureRound(o, res, mesh, workers, r, `warm-up round ${r}/${o.warmupRounds}`));
  const clientCpuBefore = warmup.at(-1)?.clientCpuS ?? clientCpuAtSync;
  const serverCpuBefore = cpuSeconds(server.pid);
  const hostBusyBefore = hostBusySeconds();
  const selfCpuBefore = process.cpuUsage();
  const start = wallNowMs();
  const measured: RoundResult[] = [];
  for (let r = 1; r <= o.rounds; r++) measured.push(await measureRound(o, res, mesh, workers, o.warmupRounds + r, `round ${r}/${o.rounds}`));
  const serverCpuS = cpuSeconds(server.pid) - serverCpuBefore;
  const clientCpuS = measured.at(-1)!.clientCpuS - clientCpuBefore;
  // CPU the rest of the host used meanwhile: what competed with the server and our clients.
  const self = process.cpuUsage(selfCpuBefore);
  const otherBusyS = hostBusySeconds() - hostBusyBefore - serverCpuS - clientCpuS - (self.user + self.system) / 1e6;
  const otherBusyCores = Math.max(0, otherBusyS) / ((wallNowMs() - start) / 1000);
  return { warmup, measured, serverCpuS, clientCpuS, otherBusyCores, rssAfterKb: rssKb(server.pid) };
}

async function run(o: BenchOptions, res: Resources): Promise<Record<string, unknown>> {
  say(`${o.clients} ${o.protocol} clients in ${o.workers} worker processes, ${o.clientsPerConnection} per connection; ${o.routes} routes; ${o.rounds} rounds of a ${o.change} change (${o.writeMode}); debounce ${o.debounceMs} ms${o.strictDebounce ? ', strict' : ', whole-file edits early'}`);
  const loadBefore = os.loadavg()[0]!;
  say(`host: ${os.cpus().length} CPUs, load average ${loadBefore.toFixed(2)} before start (other jobs on the host skew every number here)`);
  res.configDir = new ConfigDir();
  const mesh = new BenchMesh(res.configDir, o.routes, o.change, o.writeMode);
  mesh.writeInitial();

  const { server, workers, result: c } = await connect(o, res, mesh);
  const r = await measureRounds(o, res, mesh, server, workers, c.clientCpuS);
  await res.release();
  if (o.serverCpuProf) reportProfile(o.serverCpuProf);

  const all = summarize(r.measured.flatMap((x) => x.samplesMs));
  const warm = r.warmup.length > 0 ? summarize(r.warmup.flatMap((x) => x.samplesMs)) : undefined;
  const rssPerClientKb = (c.rssConnectedKb - c.rssIdleKb) / o.clients;
  const targetsMet = all.p99 < TARGET_P99_MS && rssPerClientKb < TARGET_RSS_PER_CLIENT_KB;
  say(`pooled over ${o.rounds} rounds: p50 ${all.p50.toFixed(1)} ms, p99 ${all.p99.toFixed(1)} ms, max ${all.max.toFixed(1)} ms; server CPU ${r.serverCpuS.toFixed(2)} s over the rounds; other processes kept ${r.otherBusyCores.toFixed(2)} of ${os.cpus().length} CPUs busy meanwhile; targets (p99 < ${TARGET_P99_MS} ms, < ${TARGET_RSS_PER_CLIENT_KB} KiB/client) ${targetsMet ? 'met' : 'MISSED'}`);
  return {
    clients: o.clients,
    workers: o.workers,
    rounds: o.rounds,
    warmup_rounds: o.warmupRounds,
    protocol: o.protocol,
    change: o.change,
    write: o.writeMode,
    routes: o.routes,
    clients_per_connection: o.clientsPerConnection,
    debounce_ms: o.debounceMs,
    strict_debounce: o.strictDebounce,
    samples: all.count,
    convergence_ms_p50: round(all.p50),
    convergence_ms_p90: round(all.p90),
    convergence_ms_p99: round(all.p99),
    convergence_ms_max: round(all.max),
    convergence_ms_min: round(all.min),
    convergence_ms_mean: round(all.mean),
    convergence_ms_p99_per_round: r.measured.map((x) => round(summarize(x.samplesMs).p99)),
    convergence_ms_p99_warmup: warm ? round(warm.p99) : null,
    server_rss_mb: round(c.rssConnectedKb / 1024),
    server_rss_idle_mb: round(c.rssIdleKb / 1024),
    server_rss_after_rounds_mb: round(r.rssAfterKb / 1024),
    server_rss_per_client_kb: round(rssPerClientKb),
    server_cpu_s: round(r.serverCpuS, 2),
    server_cpu_connect_s: round(c.serverCpuS, 2),
    connect_s: round(c.connectS, 2),
    client_cpu_s: round(r.clientCpuS, 2),
    host_cpus: os.cpus().length,
    host_loadavg_1m_before: round(loadBefore, 2),
    host_loadavg_1m_after: round(os.loadavg()[0]!, 2),
    host_other_busy_cores: round(r.otherBusyCores, 2),
    targets_met: targetsMet,
  };
}

function reportProfile(dir: string): void {
  const file = newestProfile(dir);
  if (!file) {
    say(`no .cpuprofile was written to ${dir}`);
    return;
  }
  const { totalMs, spots, areas } = hotSpots(file);
  say(`server CPU profile ${file} (${totalMs} ms sampled, whole server life), self time by area:`);
  for (const s of areas) say(`  ${s.selfMs.toFixed(1).padStart(9)} ms ${s.percent.toFixed(1).padStart(5)}%  ${s.frame}`);
  say('top functions by self time:');
  for (const s of spots) say(`  ${s.selfMs.toFixed(1).padStart(9)} ms ${s.percent.toFixed(1).padStart(5)}%  ${s.frame}`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function main(argv: string[]): Promise<number> {
  let options: BenchOptions | 'help';
  try {
    options = parseBenchOptions(argv);
  } catch (err) {
    if (!(err instanceof OptionsError)) throw err;
    say(err.message);
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  if (options === 'help') {
    process.stderr.write(`${USAGE}\n`);
    return 0;
  }
  const o = options;
  if (os.platform() !== 'linux') {
    say('this bench reads /proc and needs Linux');
    return 2;
  }
  for (const dir of [o.serverCpuProf, o.clientCpuProf]) if (dir) fs.mkdirSync(dir, { recursive: true });

  const res = new Resources();
  const onSignal = (signal: NodeJS.Signals): void => {
    say(`${signal}: stopping`);
    res.releaseNow();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', () => res.releaseNow());
  const deadline = setTimeout(() => {
    const p = res.workers?.progress();
    const counts = p ? `; ${p.streams} streams open, ${p.synced} synced, ${p.converged} ACKed the current round (as of the last progress report)` : '';
    res.fail(`timed out after ${o.timeoutS} s during ${res.phase}${counts}`);
  }, o.timeoutS * 1000);

  try {
    const summary = await run(o, res);
    if (o.json) fs.writeSync(1, `${JSON.stringify(summary)}\n`);
    return o.check && summary.targets_met !== true ? 1 : 0;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    say(`FAILED: ${message}`);
    const logs = res.server?.recentLogs().slice(-10) ?? [];
    if (logs.length > 0 && !(err instanceof BenchFailure && message.includes('last log lines'))) say(`last server log lines:\n${logs.join('\n')}`);
    await res.release().catch(() => res.releaseNow());
    return 1;
  } finally {
    clearTimeout(deadline);
  }
}

process.exit(await main(process.argv.slice(2)));
