// Trials → points (medians per configuration, payload and rate) → the
// summary: zero-loss throughput, saturation throughput, CPU per packet, the
// ratios between configurations, and what bound each saturated run.
import type { Rate } from './options.js';
import { type BenchConfig, CONFIGS, type Trial, round } from './trial.js';

/** Targets from the issue. */
export const TARGET_FILTER_PPS_RATIO = 0.95;
export const TARGET_FILTER_ADDED_CPU_US = 1;

export interface Point {
  payload: number;
  rate: Rate;
  trials: number;
  offered_pps: number;
  delivered_pps: number;
  lost: number;
  loss_ratio: number;
  /** The median trial lost nothing. */
  zero_loss: boolean;
  lossy_trials: number;
  /** Trials other processes disturbed even after the retries (see Trial.disturbed). */
  disturbed_trials: number;
  latency_us: { p50: number; p99: number };
  drops: { envoy_listener: number; sink_socket: number };
  /** CPU used over the trial, in cores; host_softirq is kernel packet work not charged to any process. */
  cores: { sender: number; sink: number; envoy?: number; envoy_worker?: number; envoy_cpu_busy?: number; host_busy: number; host_softirq: number; other: number };
  envoy_cpu_ms_per_100k_packets?: number;
  envoy_cpu_us_per_packet?: number;
  filter?: { packets: number; saw_every_packet: boolean };
}

export interface PayloadSummary {
  /** Delivered pps at the highest offered rate with zero loss, every lower rate loss-free too (0: none). */
  zero_loss_pps: number;
  zero_loss_rate: Rate | null;
  /** Delivered pps when the sender sends back-to-back. */
  max_pps: number | null;
  bound: string | null;
}

export interface ConfigSummary {
  points: Point[];
  by_payload: Record<string, PayloadSummary>;
}

export interface Ratios {
  filter_vs_plain_pps: number | null;
  plain_vs_direct_pps: number | null;
  filter_added_cpu_us_per_packet: number | null;
  filter_vs_plain_max_pps: number | null;
  /**
   * plain ÷ filter Envoy CPU per packet at the CPU rate: the share of plain
   * udp_proxy's single-core capacity the filter keeps, derived from CPU
   * rather than from the coarse rate sweep.
   */
  filter_vs_plain_cpu_capacity: number | null;
}

export interface PayloadRatios extends Ratios {
  /** Rates, and how many back-to-back plain/filter trial pairs (both loss-free when there are such), the CPU figures come from. */
  cpu_rates: Rate[];
  cpu_pairs: number;
  /** filter − plain Envoy CPU per packet (µs), median of the paired trials, per rate. */
  filter_added_cpu_us_by_rate: Record<string, number>;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function key(t: { payload: number; rate: Rate }): string {
  return `${t.payload}/${t.rate}`;
}

function point(trials: Trial[]): Point {
  const t0 = trials[0]!;
  const m = (f: (t: Trial) => number, digits = 0) => round(median(trials.map(f)), digits);
  const p: Point = {
    payload: t0.payload,
    rate: t0.rate,
    trials: trials.length,
    offered_pps: m((t) => t.offeredPps),
    delivered_pps: m((t) => t.deliveredPps),
    lost: m((t) => t.lost),
    loss_ratio: m((t) => t.lost / Math.max(1, t.sent), 5),
    zero_loss: median(trials.map((t) => t.lost)) === 0,
    lossy_trials: trials.filter((t) => t.lost > 0).length,
    disturbed_trials: trials.filter((t) => t.disturbed).length,
    latency_us: { p50: m((t) => t.latencyUs.p50, 1), p99: m((t) => t.latencyUs.p99, 1) },
    drops: { envoy_listener: m((t) => t.envoy?.listenerDrops ?? 0), sink_socket: m((t) => t.sink.socketDrops) },
    cores: { sender: m((t) => t.sender.cores, 2), sink: m((t) => t.sink.cores, 2), host_busy: m((t) => t.host.busyCores, 2), host_softirq: m((t) => t.host.softirqCores, 2), other: m((t) => t.host.otherCores, 2) },
  };
  if (t0.envoy) {
    p.cores.envoy = m((t) => t.envoy!.cpuCores, 2);
    p.cores.envoy_worker = m((t) => t.envoy!.workerCores, 2);
    if (t0.host.envoyCpuBusy !== undefined) p.cores.envoy_cpu_busy = m((t) => t.host.envoyCpuBusy ?? 0, 2);
    p.envoy_cpu_ms_per_100k_packets = m((t) => t.envoy!.cpuMsPer100k, 1);
    p.envoy_cpu_us_per_packet = m((t) => t.envoy!.cpuUsPerPacket, 3);
  }
  if (t0.filter) {
    p.filter = { packets: trials.reduce((s, t) => s + t.filter!.packets, 0), saw_every_packet: trials.every((t) => t.filter!.sawAll) };
  }
  return p;
}

/** Which resource ran out at 'max', from drops and CPU shares. */
function boundAtMax(config: BenchConfig, p: Point, cpus: number): string {
  const parts = [
    `sender ${p.cores.sender} cores`,
    ...(p.cores.envoy_worker !== undefined ? [`envoy worker ${p.cores.envoy_worker} (process ${p.cores.envoy})`] : []),
    ...(p.cores.envoy_cpu_busy !== undefined ? [`Envoy's pinned CPU ${Math.round(p.cores.envoy_cpu_busy * 100)}% busy`] : []),
    `sink ${p.cores.sink}`,
    `host ${p.cores.host_busy}/${cpus} busy (softirq ${p.cores.host_softirq}, other processes ${p.cores.other})`,
  ].join(', ');
  const lossPct = `${round(p.loss_ratio * 100, 1)}% lost`;
  let who: string;
  if (config !== 'direct' && p.drops.envoy_listener > 0 && p.drops.envoy_listener >= p.drops.sink_socket) {
    who = `envoy worker: its listener socket overflowed (${lossPct})`;
  } else if (p.drops.sink_socket > 0) {
    who = `sink: its socket overflowed (${lossPct})`;
  } else if (p.lost > 0) {
    who = `unattributed loss (${lossPct})`;
  } else {
    who = 'sender: nothing was dropped, the generator could not offer more';
  }
  return `${who}; ${parts}`;
}

function payloadSummary(config: BenchConfig, points: Point[], cpus: number): PayloadSummary {
  // Paced rates only, ascending: the zero-loss rate is the last point before
  // the first lossy one (a loss-free point above a lossy one is luck). 'max'
  // is left out: what the sender manages to offer there depends on the CPU
  // the sink leaves it, so it is not the same load for every configuration.
  const paced = points.filter((p) => p.rate !== 'max');
  const firstLossy = paced.findIndex((p) => !p.zero_loss);
  const best = (firstLossy < 0 ? paced : paced.slice(0, firstLossy)).at(-1);
  const max = points.find((p) => p.rate === 'max');
  return {
    zero_loss_pps: best ? best.delivered_pps : 0,
    zero_loss_rate: best ? best.rate : null,
    max_pps: max ? max.delivered_pps : null,
    bound: max ? boundAtMax(config, max, cpus) : null,
  };
}

function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  return a && b ? round(a / b, 3) : null;
}

/**
 * Paced rates whose trials feed the CPU-per-packet comparison: from here up
 * Envoy is busy enough that per-wake-up costs (which swing several
 * microseconds per packet from trial to trial at low rates) stop dominating.
 */
export const CPU_COMPARE_MIN_PPS = 100_000;

function payloadRatios(trials: Trial[], summaries: Record<BenchConfig, ConfigSummary>, payload: number, rates: Rate[]): PayloadRatios {
  const s = (c: BenchConfig) => summaries[c].by_payload[String(payload)]!;
  // Plain and filter trials of one (rate, rep) run back to back: compare them in pairs.
  const pairs: { rate: Rate; plain: number; filter: number; lossFree: boolean }[] = [];
  for (const f of trials.filter((t) => t.config === 'filter' && t.payload === payload)) {
    const p = trials.find((t) => t.config === 'plain' && t.payload === payload && t.rate === f.rate && t.rep === f.rep);
    if (p?.envoy && f.envoy && p.envoy.forwarded > 0 && f.envoy.forwarded > 0) {
      pairs.push({ rate: f.rate, plain: p.envoy.cpuUsPerPacket, filter: f.envoy.cpuUsPerPacket, lossFree: p.lost === 0 && f.lost === 0 });
    }
  }
  const byRate: Record<string, number> = {};
  for (const rate of rates) {
    const diffs = pairs.filter((x) => x.rate === rate).map((x) => x.filter - x.plain);
    if (diffs.length) byRate[String(rate)] = round(median(diffs), 3);
  }
  // Compare like with like: both trials of a pair paced, busy and loss-free.
  // An overloaded Envoy (full queue, packets cold in cache) spends more per
  // packet, so a pair where only one side overflowed measures the overload.
  const busy = pairs.filter((x) => x.rate !== 'max' && x.rate >= CPU_COMPARE_MIN_PPS);
  const clean = busy.filter((x) => x.lossFree);
  const paced = pairs.filter((x) => x.rate !== 'max');
  const used = clean.length ? clean : busy.length ? busy : paced.length ? paced : pairs;
  const cpuRates = rates.filter((r) => used.some((x) => x.rate === r));
  return {
    filter_vs_plain_pps: ratio(s('filter').zero_loss_pps, s('plain').zero_loss_pps),
    plain_vs_direct_pps: ratio(s('plain').zero_loss_pps, s('direct').zero_loss_pps),
    filter_added_cpu_us_per_packet: used.length ? round(median(used.map((x) => x.filter - x.plain)), 3) : null,
    filter_vs_plain_max_pps: ratio(s('filter').max_pps, s('plain').max_pps),
    filter_vs_plain_cpu_capacity: used.length ? ratio(median(used.map((x) => x.plain)), median(used.map((x) => x.filter))) : null,
    cpu_rates: cpuRates,
    cpu_pairs: used.length,
    filter_added_cpu_us_by_rate: byRate,
  };
}

/** rate ÷ the next paced rate of the sweep (null at the top or without a rate). */
function sweepResolution(rate: Rate | null, rates: Rate[]): number | null {
  if (rate === null || rate === 'max') return null;
  const next = rates[rates.indexOf(rate) + 1];
  return typeof next === 'number' ? round(rate / next, 3) : null;
}

function worst(values: (number | null)[], pick: (a: number, b: number) => number): number | null {
  const xs = values.filter((v): v is number => v !== null);
  return xs.length ? xs.reduce((a, b) => pick(a, b)) : null;
}

export interface Summary {
  configs: Record<BenchConfig, ConfigSummary>;
  ratios: Ratios & { by_payload: Record<string, PayloadRatios> };
  filter_check: { ok: boolean; trials: number; packets: number; missed: { payload: number; rate: Rate; rep: number; filter: number; proxy_rx: number }[] };
  targets: {
    filter_vs_plain_pps: {
      target: string;
      value: number | null;
      ok: boolean;
      /** Worst over payloads of plain's zero-loss rate ÷ the next rate in the sweep: ratios between this and 1 cannot be told apart. */
      sweep_resolution: number | null;
      /** The same comparison from CPU per packet (ratios.filter_vs_plain_cpu_capacity), which the sweep's step does not limit. */
      cpu_capacity_value: number | null;
    };
    filter_added_cpu_us_per_packet: { target: string; value: number | null; ok: boolean };
  };
}

export function summarize(trials: Trial[], payloads: number[], rates: Rate[], cpus: number): Summary {
  const configs = {} as Record<BenchConfig, ConfigSummary>;
  for (const config of CONFIGS) {
    const groups = new Map<string, Trial[]>();
    for (const t of trials.filter((t) => t.config === config)) groups.set(key(t), [...(groups.get(key(t)) ?? []), t]);
    const points: Point[] = [];
    for (const payload of payloads) for (const rate of rates) {
      const g = groups.get(key({ payload, rate }));
      if (g?.length) points.push(point(g));
    }
    const by_payload: Record<string, PayloadSummary> = {};
    for (const payload of payloads) by_payload[String(payload)] = payloadSummary(config, points.filter((p) => p.payload === payload), cpus);
    configs[config] = { points, by_payload };
  }
  const byPayload: Record<string, PayloadRatios> = {};
  for (const payload of payloads) byPayload[String(payload)] = payloadRatios(trials, configs, payload, rates);
  const all = Object.values(byPayload);
  const ratios = {
    // Over payload sizes, the least favourable value.
    filter_vs_plain_pps: worst(all.map((r) => r.filter_vs_plain_pps), Math.min),
    plain_vs_direct_pps: worst(all.map((r) => r.plain_vs_direct_pps), Math.min),
    filter_added_cpu_us_per_packet: worst(all.map((r) => r.filter_added_cpu_us_per_packet), Math.max),
    filter_vs_plain_max_pps: worst(all.map((r) => r.filter_vs_plain_max_pps), Math.min),
    filter_vs_plain_cpu_capacity: worst(all.map((r) => r.filter_vs_plain_cpu_capacity), Math.min),
    by_payload: byPayload,
  };
  const filterTrials = trials.filter((t) => t.filter);
  const missed = filterTrials.filter((t) => !t.filter!.sawAll).map((t) => ({ payload: t.payload, rate: t.rate, rep: t.rep, filter: t.filter!.packets, proxy_rx: t.envoy!.proxyRx }));
  return {
    configs,
    ratios,
    filter_check: { ok: filterTrials.length > 0 && missed.length === 0, trials: filterTrials.length, packets: filterTrials.reduce((s, t) => s + t.filter!.packets, 0), missed },
    targets: {
      filter_vs_plain_pps: {
        target: `>= ${TARGET_FILTER_PPS_RATIO}`,
        value: ratios.filter_vs_plain_pps,
        ok: (ratios.filter_vs_plain_pps ?? 0) >= TARGET_FILTER_PPS_RATIO,
        sweep_resolution: worst(payloads.map((p) => sweepResolution(configs.plain.by_payload[String(p)]!.zero_loss_rate, rates)), Math.min),
        cpu_capacity_value: ratios.filter_vs_plain_cpu_capacity,
      },
      filter_added_cpu_us_per_packet: {
        target: `<= ${TARGET_FILTER_ADDED_CPU_US}`,
        value: ratios.filter_added_cpu_us_per_packet,
        ok: ratios.filter_added_cpu_us_per_packet !== null && ratios.filter_added_cpu_us_per_packet <= TARGET_FILTER_ADDED_CPU_US,
      },
    },
  };
}
