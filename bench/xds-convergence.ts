// xDS convergence benchmark: how long after a config file changes until every
// connected proxy has ACKed the new config, and what the control plane costs
// per connected proxy.
//
// Method, per-proxy mode and the peer: bench/xds/README.md.
//
//   npm run bench:xds -- [--clients 1000] [--workers CPUS] [--rounds 5] [--delta]
//                        [--change endpoint|listener] [--debounce-ms 100] [--strict-debounce]
//                        [--views N] [--peer go-control-plane] [--json]
//
// Processes: this coordinator; `mediamesh serve` as a child of its own (its
// RSS and CPU are read from /proc/<pid>); `--workers` forked client processes
// running the simulated proxies (so client CPU is not server CPU). Everything
// is on 127.0.0.1 and in temp dirs, removed on exit.
//
// What every proxy must hold after a round is computed here with mediamesh's
// own pipeline, per view (lib/view-resources.ts). With --peer go-control-plane
// the same clients are then pointed at a go-control-plane server given those
// same resources (bench/xds/README.md says what each side does per round); the
// two are measured in turns (ABBA sittings, lib/sittings.ts), with the same rounds.
//
// One round: arm the workers with what the new config must contain, stamp the
// time, rewrite one route's YAML file, and collect per proxy the time it wrote
// its ACK of a response holding the new config. The write stamp and the ACK
// stamps use clock.ts (performance.timeOrigin + performance.now(): the machine's
// wall clock, comparable across processes). Convergence therefore includes the
// file watcher, the server's debounce or early apply (a renamed-in file that
// only changes objects applies after a 10 ms settle unless --strict-debounce),
// rebuild, push, the client's receipt and its ACK write. For the peer the
// write is of its per-view resource files, and convergence includes its file
// watcher, decoding, SetSnapshot, push, receipt and ACK.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigDir } from '../test/helpers/mesh-files.js';
import { BenchMesh } from './lib/bench-mesh.js';
import { type BenchOptions, OptionsError, parseBenchOptions, USAGE } from './lib/bench-options.js';
import type { BenchServer } from './lib/bench-server.js';
import { wallNowMs } from './lib/clock.js';
import { buildTimesMs } from './lib/build-times.js';
import { hotSpots, newestProfile } from './lib/cpu-profile.js';
import { buildGoPeer, GO_PEER_NAME, GoPeerProcess } from './lib/go-peer-process.js';
import { PeerViewDir, viewFileText } from './lib/peer-view-files.js';
import { cpuSeconds, hostBusySeconds, rssKb } from './lib/proc-stats.js';
import { ServerProcess } from './lib/server-process.js';
import { changedSlices, clusterDocuments, namespacesOf, patchSlices } from './lib/cluster-rounds.js';
import { KubeClient } from '../xds-server/src/sources/kubernetes/kube-client.js';
import { projectRoot } from '../xds-server/src/sidecar/envoy-binary.js';
import { type KubeApiServer, startKubeApiServer } from '../test/helpers/kube-apiserver.js';
import { type LatencySummary, round, summarize } from './lib/stats.js';
import { expectationsFor, type RoundViews, translateViews } from './lib/view-resources.js';
import { proxySpec, viewKeys } from './lib/views.js';
import { type Side, sittingOrder } from './lib/sittings.js';
import { WorkerPool } from './lib/worker-pool.js';
import type { ExpectationsByView } from './lib/worker-protocol.js';

const TARGET_P99_MS = 250;
/** From an EndpointSlice PATCH through the API server and its watch (issue target for --source kubernetes). */
const TARGET_P99_KUBERNETES_MS = 300;
const TARGET_RSS_PER_CLIENT_KB = 1024;
/** mediamesh's p99 over the peer's: no worse than go-control-plane. */
const TARGET_P99_RATIO = 1.0;
const PROGRESS_EVERY_MS = 1000;

function say(message: string): void {
  process.stderr.write(`[bench:xds] ${message}\n`);
}

class BenchFailure extends Error {}

/** Owns every child and temp dir; tears them down on success, failure, timeout or signal. */
class Resources {
  configDir?: ConfigDir;
  /** With --source kubernetes: the API server (and etcd) the run started. */
  kubeApi?: KubeApiServer;
  peerDir?: PeerViewDir;
  server?: BenchServer;
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

  /** Stops the clients and the server of one measured control plane. */
  async releaseProcesses(): Promise<void> {
    const { workers, server } = this;
    this.workers = undefined;
    this.server = undefined;
    await workers?.stop().catch(() => workers.kill());
    await server?.stop().catch(() => server.kill());
  }

  async release(): Promise<void> {
    await this.releaseProcesses();
    await this.kubeApi?.stop();
    this.configDir?.cleanup();
    this.peerDir?.cleanup();
  }

  /** Synchronous teardown for signal and exit handlers. */
  releaseNow(): void {
    this.workers?.kill();
    this.server?.kill();
    this.configDir?.cleanup();
    this.peerDir?.cleanup();
    void this.kubeApi?.stop();
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
  /** mediamesh: its own time from reading the change to the first push, per measured round (log buildMs); empty for the peer. */
  buildMs: number[];
}

/**
 * A control plane under measurement. `prepare` is the round's untimed work
 * (for the peer: serializing mediamesh's resources); `apply` is the write the
 * round's clock starts at.
 */
interface Target {
  name: string;
  start(): Promise<BenchServer>;
  prepare(round: number): void;
  apply(round: number): void;
}

/** Everything about the rounds that does not depend on which server is measured. */
class RoundPlan {
  private readonly cache = new Map<number, { views: RoundViews; expect: ExpectationsByView }>();

  constructor(readonly mesh: BenchMesh, readonly keys: readonly string[]) {}

  /** The round's per-view resources as mediamesh translates them, and what each view's proxies must hold. */
  at(round: number): { views: RoundViews; expect: ExpectationsByView } {
    let found = this.cache.get(round);
    if (!found) {
      const views = translateViews(this.mesh.configDir, this.mesh.filesAt(round), this.keys);
      found = { views, expect: expectationsFor(views, this.mesh.roundChange(round), round) };
      this.cache.set(round, found);
    }
    return found;
  }
}

function mediameshTarget(o: BenchOptions, res: Resources, plan: RoundPlan): Target {
  const serverNodeArgs = o.serverCpuProf ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(o.serverCpuProf)] : [];
  return {
    name: 'mediamesh',
    start: () => {
      // A later sitting starts from the initial config again, as the peer does.
      plan.mesh.writeInitial();
      return ServerProcess.start({
      configDir: plan.mesh.configDir,
      debounceMs: o.debounceMs,
      strictDebounce: o.strictDebounce,
      nodeArgs: serverNodeArgs,
      onUnexpectedExit: (why) => res.fail(why),
      });
    },
    prepare: () => {},
    apply: (r) => plan.mesh.applyRound(r),
  };
}

/** mediamesh reading a real API server: the bench's documents applied once, each round a PATCH of the moved EndpointSlice. */
function kubernetesTarget(o: BenchOptions, res: Resources, plan: RoundPlan): Target {
  let client: KubeClient | undefined;
  let pending: ReturnType<typeof changedSlices> = [];
  const routeFile = (r: number) => [...plan.mesh.filesAt(r).values()].map(clusterDocuments);
  return {
    name: 'mediamesh (kubernetes source)',
    start: async () => {
      say('starting kube-apiserver and etcd on loopback');
      const api = (res.kubeApi ??= await startKubeApiServer());
      client = new KubeClient(api.kubeConfig());
      const docs = routeFile(0).flat();
      await api.kubectl(['apply', '--server-side', '-f', path.join(projectRoot(), 'manifests/crds/')]);
      await api.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/udproutes.mediamesh.io']);
      for (const ns of namespacesOf(docs)) await api.kubectl(['create', 'namespace', ns]).catch(() => undefined);
      await api.kubectl(['apply', '--server-side', '-f', '-'], docs.map((d) => JSON.stringify(d)).join('\n'));
      say(`applied ${docs.length} objects through the API server`);
      return ServerProcess.start({ kubeconfig: api.kubeconfigPath, debounceMs: o.debounceMs, strictDebounce: o.strictDebounce, startTimeoutMs: 60_000, onUnexpectedExit: (why) => res.fail(why) });
    },
    prepare: (r) => {
      pending = changedSlices(routeFile(r - 1).flat(), routeFile(r).flat());
      if (pending.length === 0) throw new Error(`round ${r} changes no EndpointSlice`);
    },
    apply: () => {
      patchSlices(client!, pending).catch((err: unknown) => res.fail(`PATCH of the round's EndpointSlice failed: ${err instanceof Error ? err.message : String(err)}`));
    },
  };
}

function goPeerTarget(res: Resources, plan: RoundPlan, binary: string): Target {
  const peerDir = (res.peerDir = new PeerViewDir());
  let pending = new Map<string, string>();
  const prepare = (r: number): void => {
    const texts = new Map([...plan.at(r).views.byView].map(([key, snapshot]) => [key, viewFileText(key, snapshot)]));
    // Like mediamesh, which reads one changed file, the peer is handed only the views that changed.
    pending = new Map(peerDir.changed(texts).map((key) => [key, texts.get(key)!]));
  };
  return {
    name: GO_PEER_NAME,
    start: async () => {
      prepare(0);
      peerDir.write(pending);
      return GoPeerProcess.start({ binary, viewDir: peerDir.dir, onUnexpectedExit: (why) => res.fail(why) });
    },
    prepare,
    apply: () => peerDir.write(pending),
  };
}

/** Starts the server, gives every worker its proxies, waits until all hold the initial config. */
async function connect(o: BenchOptions, res: Resources, plan: RoundPlan, target: Target): Promise<{ server: BenchServer; workers: WorkerPool; result: ConnectResult }> {
  const server = (res.server = await res.guard(target.start()));
  say(`${target.name}: server pid ${server.pid} ready on ${server.xdsAddress}`);
  // Let the start-up settle before the idle reading.
  await sleep(500);
  const rssIdleKb = rssKb(server.pid);
  const cpuBefore = cpuSeconds(server.pid);

  const workerScript = fileURLToPath(new URL('./lib/ads-worker.js', import.meta.url));
  const clientNodeArgs = o.clientCpuProf ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(o.clientCpuProf)] : [];
  const workers = (res.workers = new WorkerPool(workerScript, o.workers, (why) => res.fail(why), clientNodeArgs));
  const start = wallNowMs();
  const initial = plan.at(0).expect;
  for (let w = 0; w < o.workers; w++) {
    const proxies = [];
    for (let i = w; i < o.clients; i += o.workers) proxies.push(proxySpec(i, o.views));
    workers.send(w, {
      kind: 'start',
      address: server.xdsAddress,
      protocol: o.protocol,
      nodeOnEveryRequest: o.nodeOnEveryRequest,
      proxies,
      clientsPerChannel: o.clientsPerConnection,
      rampBatch: o.rampBatch,
      rampIntervalMs: o.rampIntervalMs,
      initial,
    });
  }
  res.phase = `the initial sync (${target.name})`;
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
  say(`${target.name}: all ${o.clients} clients synced (CDS, LDS, EDS ACKed) in ${connectS.toFixed(2)} s; server CPU ${serverCpuS.toFixed(2)} s`);

  await sleep(Math.max(o.settleMs, 500));
  const rssConnectedKb = rssKb(server.pid);
  say(`${target.name}: server RSS ${(rssIdleKb / 1024).toFixed(1)} MiB idle, ${(rssConnectedKb / 1024).toFixed(1)} MiB with ${o.clients} clients (${((rssConnectedKb - rssIdleKb) / o.clients).toFixed(1)} KiB per client)`);
  return { server, workers, result: { connectS, serverCpuS, rssIdleKb, rssConnectedKb, clientCpuS: synced.reduce((s, m) => s + m.cpuS, 0) } };
}

/** One change: arm the workers, stamp, write the change, collect every proxy's ACK time. */
async function measureRound(o: BenchOptions, res: Resources, plan: RoundPlan, target: Target, workers: WorkerPool, r: number, label: string): Promise<RoundResult> {
  const { expect } = plan.at(r);
  target.prepare(r);
  res.phase = `${target.name} ${label} (waiting for ${JSON.stringify(expect).slice(0, 400)})`;
  workers.broadcast({ kind: 'arm', round: r, expect });
  await res.guard(workers.all('armed'));
  const writtenAt = wallNowMs();
  target.apply(r);
  const converged = await res.guard(workers.all('converged'));
  const samplesMs = converged.flatMap((m) => m.ackAtMs.map((at) => at - writtenAt));
  const s = summarize(samplesMs);
  say(`${target.name} ${label}: ${s.count} ACKs, convergence p50 ${s.p50.toFixed(1)} ms, p99 ${s.p99.toFixed(1)} ms, max ${s.max.toFixed(1)} ms (first ${s.min.toFixed(1)} ms)`);
  await sleep(o.settleMs);
  return { samplesMs, clientCpuS: converged.reduce((sum, m) => sum + m.cpuS, 0) };
}

/** Warm-up rounds, then the measured ones with the server's, the clients' and the rest of the host's CPU. */
async function measureRounds(o: BenchOptions, res: Resources, plan: RoundPlan, target: Target, server: BenchServer, workers: WorkerPool, clientCpuAtSync: number): Promise<RoundsResult> {
  const warmup: RoundResult[] = [];
  for (let r = 1; r <= o.warmupRounds; r++) warmup.push(await measureRound(o, res, plan, target, workers, r, `warm-up round ${r}/${o.warmupRounds}`));
  const clientCpuBefore = warmup.at(-1)?.clientCpuS ?? clientCpuAtSync;
  const serverCpuBefore = cpuSeconds(server.pid);
  const hostBusyBefore = hostBusySeconds();
  const selfCpuBefore = process.cpuUsage();
  const start = wallNowMs();
  const measured: RoundResult[] = [];
  for (let r = 1; r <= o.rounds; r++) measured.push(await measureRound(o, res, plan, target, workers, o.warmupRounds + r, `round ${r}/${o.rounds}`));
  const serverCpuS = cpuSeconds(server.pid) - serverCpuBefore;
  const clientCpuS = measured.at(-1)!.clientCpuS - clientCpuBefore;
  // CPU the rest of the host used meanwhile: what competed with the server and our clients.
  const self = process.cpuUsage(selfCpuBefore);
  const otherBusyS = hostBusySeconds() - hostBusyBefore - serverCpuS - clientCpuS - (self.user + self.system) / 1e6;
  const otherBusyCores = Math.max(0, otherBusyS) / ((wallNowMs() - start) / 1000);
  const buildMs = buildTimesMs(server.recentLogs(100_000)).slice(-o.rounds);
  return { warmup, measured, serverCpuS, clientCpuS, otherBusyCores, rssAfterKb: rssKb(server.pid), buildMs };
}

/** One control plane, start to stop: connect every client, run the rounds, release the processes. */
async function measureTarget(o: BenchOptions, res: Resources, plan: RoundPlan, target: Target): Promise<TargetResult> {
  const { server, workers, result: c } = await connect(o, res, plan, target);
  const r = await measureRounds(o, res, plan, target, server, workers, c.clientCpuS);
  await res.releaseProcesses();
  const all = summarize(r.measured.flatMap((x) => x.samplesMs));
  const rssPerClientKb = (c.rssConnectedKb - c.rssIdleKb) / o.clients;
  say(`${target.name} pooled over ${o.rounds} rounds: p50 ${all.p50.toFixed(1)} ms, p99 ${all.p99.toFixed(1)} ms, max ${all.max.toFixed(1)} ms; server CPU ${r.serverCpuS.toFixed(2)} s over the rounds; other processes kept ${r.otherBusyCores.toFixed(2)} of ${os.cpus().length} CPUs busy meanwhile`);
  if (r.buildMs.length > 0) say(`${target.name} read-to-first-push per round (server log buildMs): ${r.buildMs.join(', ')} ms`);
  return { connect: c, rounds: r, all, rssPerClientKb };
}

interface TargetResult {
  connect: ConnectResult;
  rounds: RoundsResult;
  all: LatencySummary;
  rssPerClientKb: number;
}

/** The figures every measured control plane reports, under the JSON's names, pooled over its sittings. */
function targetFigures(sittings: readonly TargetResult[]): Record<string, unknown> {
  const all = pooledSamples(sittings);
  const warmupSamples = sittings.flatMap((t) => t.rounds.warmup.flatMap((x) => x.samplesMs));
  const warm = warmupSamples.length > 0 ? summarize(warmupSamples) : undefined;
  // RSS: the sitting that used the most; CPU: summed over every sitting's measured rounds.
  const biggest = sittings.reduce((a, b) => (b.connect.rssConnectedKb > a.connect.rssConnectedKb ? b : a));
  const sum = (f: (t: TargetResult) => number) => sittings.reduce((s, t) => s + f(t), 0);
  const buildMs = sittings.flatMap((t) => t.rounds.buildMs);
  return {
    samples: all.count,
    sittings: sittings.length,
    convergence_ms_p50: round(all.p50),
    convergence_ms_p90: round(all.p90),
    convergence_ms_p99: round(all.p99),
    convergence_ms_max: round(all.max),
    convergence_ms_min: round(all.min),
    convergence_ms_mean: round(all.mean),
    convergence_ms_p99_per_sitting: sittings.map((t) => round(t.all.p99)),
    convergence_ms_p99_per_round: sittings.flatMap((t) => t.rounds.measured.map((x) => round(summarize(x.samplesMs).p99))),
    convergence_ms_p99_warmup: warm ? round(warm.p99) : null,
    server_rss_mb: round(biggest.connect.rssConnectedKb / 1024),
    server_rss_idle_mb: round(biggest.connect.rssIdleKb / 1024),
    server_rss_after_rounds_mb: round(Math.max(...sittings.map((t) => t.rounds.rssAfterKb)) / 1024),
    server_rss_per_client_kb: round(biggest.rssPerClientKb),
    server_cpu_s: round(sum((t) => t.rounds.serverCpuS), 2),
    server_cpu_connect_s: round(sum((t) => t.connect.serverCpuS), 2),
    connect_s: round(Math.max(...sittings.map((t) => t.connect.connectS)), 2),
    client_cpu_s: round(sum((t) => t.rounds.clientCpuS), 2),
    host_other_busy_cores: round(Math.max(...sittings.map((t) => t.rounds.otherBusyCores)), 2),
    server_build_ms_p50: buildMs.length > 0 ? round(summarize(buildMs).p50) : null,
    server_build_ms_max: buildMs.length > 0 ? round(summarize(buildMs).max) : null,
  };
}

function pooledSamples(sittings: readonly TargetResult[]): LatencySummary {
  return summarize(sittings.flatMap((t) => t.rounds.measured.flatMap((x) => x.samplesMs)));
}

async function run(o: BenchOptions, res: Resources, peerBinary: string | undefined): Promise<Record<string, unknown>> {
  const viewText = o.views > 0 ? `proxies in ${o.views} namespaces, each with a consumer route` : 'proxies in no namespace (one view)';
  say(`${o.clients} ${o.protocol} clients in ${o.workers} worker processes, ${o.clientsPerConnection} per connection; ${o.routes} routes; ${viewText}; ${o.rounds} rounds of a ${o.change} change (${o.writeMode}); debounce ${o.debounceMs} ms${o.strictDebounce ? ', strict' : ', whole-file edits early'}${o.peer ? `; then the same against ${o.peer}` : ''}`);
  const loadBefore = os.loadavg()[0]!;
  say(`host: ${os.cpus().length} CPUs, load average ${loadBefore.toFixed(2)} before start (other jobs on the host skew every number here)`);
  res.configDir = new ConfigDir();
  const mesh = new BenchMesh(res.configDir, o.routes, o.change, o.writeMode, o.views);
  mesh.writeInitial();
  const plan = new RoundPlan(mesh, viewKeys(o.views));
  const initial = plan.at(0).views;
  for (const p of initial.problems.slice(0, 3)) say(`mediamesh rejects: ${p}`);
  if (initial.problems.length > 3) say(`... and ${initial.problems.length - 3} more rejected documents`);
  if (o.views > 0 && initial.distinctSnapshots < o.views) {
    say(`WARNING: mediamesh's translator gives the ${o.views} views only ${initial.distinctSnapshots} different snapshot(s): so these figures are for views that do not differ`);
  }

  const targets = { mediamesh: o.source === 'kubernetes' ? kubernetesTarget(o, res, plan) : mediameshTarget(o, res, plan), peer: peerBinary ? goPeerTarget(res, plan, peerBinary) : undefined };
  const results: Record<Side, TargetResult[]> = { mediamesh: [], peer: [] };
  const order = targets.peer ? sittingOrder(o.sittings) : (['mediamesh'] as Side[]);
  for (const [i, side] of order.entries()) {
    const target = targets[side]!;
    if (order.length > 1) say(`sitting ${i + 1}/${order.length}: ${target.name}`);
    results[side].push(await measureTarget(o, res, plan, target));
    if (side === 'mediamesh' && o.serverCpuProf && results.mediamesh.length === 1) reportProfile(o.serverCpuProf);
  }
  await res.release();

  const mm = { all: pooledSamples(results.mediamesh), cpuS: results.mediamesh.reduce((s, t) => s + t.rounds.serverCpuS, 0) };
  const peer = targets.peer ? { all: pooledSamples(results.peer), cpuS: results.peer.reduce((s, t) => s + t.rounds.serverCpuS, 0) } : undefined;
  const rssPerClientKb = Math.max(...results.mediamesh.map((t) => t.rssPerClientKb));
  if (peer) {
    say(`pooled over ${o.sittings} sittings each: mediamesh p99 ${mm.all.p99.toFixed(1)} ms (sittings ${results.mediamesh.map((t) => t.all.p99.toFixed(1)).join(', ')}), ${GO_PEER_NAME} p99 ${peer.all.p99.toFixed(1)} ms (sittings ${results.peer.map((t) => t.all.p99.toFixed(1)).join(', ')})`);
  }
  const ratios = peer ? { p99_vs_go_control_plane: round(mm.all.p99 / peer.all.p99, 2), cpu_vs_go_control_plane: round(mm.cpuS / peer.cpuS, 2) } : null;
  const targetP99 = o.source === 'kubernetes' ? TARGET_P99_KUBERNETES_MS : TARGET_P99_MS;
  const targetsMet = mm.all.p99 <= targetP99 && rssPerClientKb <= TARGET_RSS_PER_CLIENT_KB && (ratios === null || ratios.p99_vs_go_control_plane <= TARGET_P99_RATIO);
  say(`targets (p99 <= ${targetP99} ms, <= ${TARGET_RSS_PER_CLIENT_KB} KiB/client${peer ? `, p99 <= ${TARGET_P99_RATIO}x ${GO_PEER_NAME}'s` : ''}) ${targetsMet ? 'met' : 'MISSED'}${ratios ? `; p99 ratio ${ratios.p99_vs_go_control_plane}, server CPU ratio ${ratios.cpu_vs_go_control_plane}` : ''}`);
  return {
    clients: o.clients,
    source: o.source,
    workers: o.workers,
    rounds: o.rounds,
    warmup_rounds: o.warmupRounds,
    protocol: o.protocol,
    node_on_every_request: o.nodeOnEveryRequest,
    change: o.change,
    write: o.writeMode,
    routes: o.routes,
    views: o.views,
    views_distinct_snapshots: initial.distinctSnapshots,
    config_problems: initial.problems.length,
    clients_per_connection: o.clientsPerConnection,
    debounce_ms: o.debounceMs,
    strict_debounce: o.strictDebounce,
    ...targetFigures(results.mediamesh),
    peer: peer ? { name: GO_PEER_NAME, order: order.join(' '), ...targetFigures(results.peer) } : null,
    ratios,
    host_cpus: os.cpus().length,
    host_loadavg_1m_before: round(loadBefore, 2),
    host_loadavg_1m_after: round(os.loadavg()[0]!, 2),
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

  let peerBinary: string | undefined;
  try {
    // Built before anything is measured and before the timeout starts: a first build takes minutes.
    peerBinary = o.peer ? buildGoPeer(say) : undefined;
  } catch (err) {
    say(`FAILED: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }

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
    const summary = await run(o, res, peerBinary);
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
