// One trial: a fresh sink, one sender run at one offered rate and payload,
// through one configuration; Envoy's CPU and stats read before and after.
import type { EnvoyProcess } from '../../xds-server/src/sidecar/envoy-process.js';
import { type ProxiedListener, STATS_FILTER, statNames } from './envoy-bootstrap.js';
import { type Children, type NativeTools, type SenderResult, type SinkReady, type SinkResult, ToolProcess } from './native-tools.js';
import type { Rate } from './options.js';
import { hostCpu, processCpuSeconds, threadCpuSeconds, threadIds } from './proc-cpu.js';

export type BenchConfig = 'direct' | 'plain' | 'filter';
export const CONFIGS: readonly BenchConfig[] = ['direct', 'plain', 'filter'];

export interface TrialSpec {
  config: BenchConfig;
  payload: number;
  rate: Rate;
  rep: number;
  durationS: number;
  runId: number;
}

export interface EnvoyTrial {
  cpuS: number;
  workerCpuS: number;
  /** Cores used over the trial's wall time (1 = one core busy). */
  cpuCores: number;
  workerCores: number;
  /** Datagrams udp_proxy received from the sender / sent to the sink. */
  proxyRx: number;
  forwarded: number;
  /** Dropped by the kernel: Envoy's listener socket queue was full (SO_RXQ_OVFL). */
  listenerDrops: number;
  errors: number;
  cpuUsPerPacket: number;
  cpuMsPer100k: number;
}

export interface FilterTrial {
  /** mediamesh.rtp.<route>.packets over the trial. */
  packets: number;
  lost: number;
  /** The filter counted every datagram udp_proxy got. */
  sawAll: boolean;
}

export interface Trial {
  config: BenchConfig;
  payload: number;
  rate: Rate;
  rep: number;
  sent: number;
  received: number;
  lost: number;
  sendElapsedS: number;
  offeredPps: number;
  deliveredPps: number;
  latencyUs: { p50: number; p90: number; p99: number; max: number };
  sender: { cores: number; sendErrors: number; maxBacklog: number; burst: number; nice: number };
  sink: { cores: number; socketDrops: number; foreign: number; reordered: number };
  envoy?: EnvoyTrial;
  filter?: FilterTrial;
  /**
   * Host CPU over the trial, in cores: all CPUs, softirq (kernel packet work;
   * charged to whichever process it interrupted), steal (the hypervisor), the
   * busy share of Envoy's CPU when pinned, and what processes other than
   * ours used (other load on the host skews a trial).
   */
  host: { busyCores: number; softirqCores: number; stealCores: number; envoyCpuBusy?: number; otherCores: number };
  wallS: number;
  /** Other processes used more than OTHER_LOAD_MAX_CORES during the trial. */
  disturbed: boolean;
  /** Runs it took (disturbed runs are repeated, see --retries). */
  attempts: number;
}

/** CPU other processes may use during a trial before it counts as disturbed. */
export const OTHER_LOAD_MAX_CORES = 0.25;

interface EnvoySnapshot {
  cpuS: number;
  workerCpuS: number;
  stats: Map<string, number>;
}

const SINK_READY_MS = 5_000;
const SINK_RESULT_MS = 10_000;
const DRAIN_POLL_MS = 100;
const DRAIN_MAX_MS = 5_000;

export interface TrialTargets {
  directSinkPort: number;
  listeners: Record<'plain' | 'filter', ProxiedListener>;
}

export interface TrialSettings {
  rcvbuf: number;
  tickUs: number;
  ssrcs: number;
  /** Nice value of the sender and the sink (the sender adds maxSenderNice at 'max'). */
  nice: number;
  maxSenderNice: number;
  /** CPU the sender and the sink are pinned to (undefined: not pinned). */
  loadCpu?: number;
  /** CPU Envoy is pinned to (undefined: not pinned). */
  envoyCpu?: number;
}

export class TrialRunner {
  private readonly workerTids: number[];

  constructor(
    private readonly tools: NativeTools,
    private readonly children: Children,
    private readonly envoy: EnvoyProcess,
    private readonly targets: TrialTargets,
    private readonly settings: TrialSettings,
  ) {
    this.workerTids = threadIds(envoy.pid, /^wrk:worker_/);
  }

  async run(spec: TrialSpec): Promise<Trial> {
    const proxied = spec.config === 'direct' ? undefined : this.targets.listeners[spec.config];
    const sinkPort = proxied ? proxied.sinkPort : this.targets.directSinkPort;
    const dstPort = proxied ? proxied.listenPort : this.targets.directSinkPort;
    const sink = ToolProcess.start(this.children, 'rtp_sink', this.tools.sink, [
      '--bind', `127.0.0.1:${sinkPort}`,
      '--run-id', String(spec.runId),
      '--rcvbuf', String(this.settings.rcvbuf),
      '--max-seconds', String(Math.ceil(spec.durationS) + 60),
      ...this.pinArgs(),
    ], this.settings.nice);
    try {
      await sink.firstJson<SinkReady>(SINK_READY_MS);
      const hostBefore = hostCpu();
      const wallBefore = performance.now();
      const before = proxied ? await this.snapshot() : undefined;
      const nice = Math.min(19, this.settings.nice + (spec.rate === 'max' ? this.settings.maxSenderNice : 0));
      const sender = ToolProcess.start(this.children, 'rtp_send', this.tools.send, [
        '--dst', `127.0.0.1:${dstPort}`,
        '--payload', String(spec.payload),
        '--rate', String(spec.rate === 'max' ? 0 : spec.rate),
        '--duration', String(spec.durationS),
        '--tick-us', String(this.settings.tickUs),
        '--ssrcs', String(this.settings.ssrcs),
        '--run-id', String(spec.runId),
        ...this.pinArgs(),
      ], nice);
      const sent = await sender.resultJson<SenderResult>(spec.durationS * 1000 + 15_000);
      let after: EnvoySnapshot | undefined;
      if (proxied) {
        after = await this.drained(proxied);
      } else {
        await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
      }
      const hostAfter = hostCpu();
      const wallS = (performance.now() - wallBefore) / 1000;
      sink.signal('SIGTERM');
      const got = await sink.resultJson<SinkResult>(SINK_RESULT_MS);
      return this.result(spec, sent, got, wallS, { before: hostBefore, after: hostAfter }, proxied, before, after, nice);
    } finally {
      sink.signal('SIGKILL');
    }
  }

  private pinArgs(): string[] {
    return this.settings.loadCpu === undefined ? [] : ['--cpu', String(this.settings.loadCpu)];
  }

  private async snapshot(): Promise<EnvoySnapshot> {
    // CPU first, then stats: the admin request itself is main-thread work.
    const cpuS = processCpuSeconds(this.envoy.pid);
    const workerCpuS = this.workerTids.reduce((sum, tid) => sum + threadCpuSeconds(this.envoy.pid, tid), 0);
    const stats = await this.envoy.admin.stats(STATS_FILTER);
    return { cpuS, workerCpuS, stats };
  }

  /** Polls Envoy until the listener's counters stop moving (its queue drained). */
  private async drained(l: ProxiedListener): Promise<EnvoySnapshot> {
    const names = statNames(l);
    const deadline = performance.now() + DRAIN_MAX_MS;
    let last = await this.snapshot();
    for (;;) {
      await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
      const next = await this.snapshot();
      const still = [names.proxyRx, names.upstreamTx, names.listenerDrops].every((n) => next.stats.get(n) === last.stats.get(n));
      if (still || performance.now() > deadline) return next;
      last = next;
    }
  }

  private result(
    spec: TrialSpec,
    sent: SenderResult,
    got: SinkResult,
    wallS: number,
    host: { before: ReturnType<typeof hostCpu>; after: ReturnType<typeof hostCpu> },
    proxied: ProxiedListener | undefined,
    before: EnvoySnapshot | undefined,
    after: EnvoySnapshot | undefined,
    nice: number,
  ): Trial {
    // Shares of a core while traffic flowed (the drain after it is short).
    const activeS = Math.max(1e-3, sent.elapsed_s);
    const cores = (cpuS: number) => round(cpuS / activeS, 3);
    const envoyCpuS = before && after ? after.cpuS - before.cpuS : 0;
    const ourS = sent.cpu_user_s + sent.cpu_sys_s + got.cpu_user_s + got.cpu_sys_s + envoyCpuS;
    const pinned = this.settings.envoyCpu;
    const trial: Trial = {
      config: spec.config,
      payload: spec.payload,
      rate: spec.rate,
      rep: spec.rep,
      sent: sent.sent,
      received: got.received,
      lost: Math.max(0, sent.sent - got.received),
      sendElapsedS: sent.elapsed_s,
      offeredPps: Math.round(sent.achieved_pps),
      deliveredPps: Math.round(got.received / Math.max(1e-9, sent.elapsed_s)),
      latencyUs: { p50: got.latency_us.p50, p90: got.latency_us.p90, p99: got.latency_us.p99, max: got.latency_us.max },
      sender: { cores: cores(sent.cpu_user_s + sent.cpu_sys_s), sendErrors: sent.send_errors, maxBacklog: sent.max_backlog, burst: sent.burst, nice },
      sink: { cores: cores(got.cpu_user_s + got.cpu_sys_s), socketDrops: got.socket_drops, foreign: got.foreign, reordered: got.reordered },
      host: {
        busyCores: cores(host.after.all.busy - host.before.all.busy),
        softirqCores: cores(host.after.all.softirq - host.before.all.softirq),
        stealCores: cores(host.after.all.steal - host.before.all.steal),
        ...(pinned !== undefined && host.after.perCpu[pinned] && host.before.perCpu[pinned]
          ? { envoyCpuBusy: cores(host.after.perCpu[pinned]!.busy - host.before.perCpu[pinned]!.busy) }
          : {}),
        otherCores: Math.max(0, cores(host.after.all.busy - host.before.all.busy - ourS)),
      },
      wallS: round(wallS, 3),
      disturbed: false,
      attempts: 1,
    };
    trial.disturbed = trial.host.otherCores > OTHER_LOAD_MAX_CORES;
    if (proxied && before && after) {
      const names = statNames(proxied);
      const delta = (name: string | undefined) => (name ? (after.stats.get(name) ?? 0) - (before.stats.get(name) ?? 0) : 0);
      const cpuS = envoyCpuS;
      const forwarded = delta(names.upstreamTx);
      trial.envoy = {
        cpuS: round(cpuS, 3),
        workerCpuS: round(after.workerCpuS - before.workerCpuS, 3),
        cpuCores: cores(cpuS),
        workerCores: cores(after.workerCpuS - before.workerCpuS),
        proxyRx: delta(names.proxyRx),
        forwarded,
        listenerDrops: delta(names.listenerDrops),
        errors: delta(names.proxyRxErrors) + delta(names.upstreamTxErrors),
        cpuUsPerPacket: forwarded > 0 ? round((cpuS * 1e6) / forwarded, 3) : 0,
        cpuMsPer100k: forwarded > 0 ? round((cpuS * 1e3 * 1e5) / forwarded, 1) : 0,
      };
      if (names.filterPackets) {
        const packets = delta(names.filterPackets);
        trial.filter = { packets, lost: delta(names.filterLost), sawAll: packets === trial.envoy.proxyRx };
      }
    }
    return trial;
  }
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
