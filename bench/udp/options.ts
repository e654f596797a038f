// Command-line options of bench/udp-throughput.ts, parsed and bounded.
import { int, num, OptionsError, parseFlags } from '../lib/option-values.js';

export { OptionsError };

/** An offered packet rate: packets per second, or 'max' (back-to-back). */
export type Rate = number | 'max';

export interface UdpBenchOptions {
  /** Seconds the sender sends in each trial. */
  durationS: number;
  /** Trials per (configuration, payload, rate); the point is their median. */
  reps: number;
  rates: Rate[];
  /** RTP payload bytes (the datagram is 12 bytes more). */
  payloads: number[];
  /** SO_RCVBUF of Envoy's UDP listener socket and of the sink; 0 = kernel default. */
  rcvbuf: number;
  /** The sender's burst period in paced mode (rtp_send --tick-us). */
  tickUs: number;
  /** RTP streams (SSRCs) the sender interleaves; 1 = the fixed-SSRC stream of the issue. */
  ssrcs: number;
  /** The RTP filter's gauge_interval_ms; undefined = the filter's default. */
  gaugeIntervalMs?: number;
  /** Nice value of the sender at 'max', so the proxy and sink keep their CPU. */
  maxSenderNice: number;
  /** Pin Envoy to the last CPU and the sender and sink to CPU 0. */
  pin: boolean;
  /** Nice value for Envoy, sender and sink (and this process group's autogroup); 0 = unchanged. */
  nice: number;
  /** Longest wait for an idle host before each trial. */
  quietWaitS: number;
  /** Re-runs of a trial during which other processes used the host. */
  retries: number;
  quick: boolean;
  json: boolean;
}

export const USAGE = `usage: npm run bench:udp -- [options]
  --duration S        seconds of traffic per trial (default 3; --quick: 1)
  --reps N            trials per point, median taken (default 3; --quick: 1)
  --rates LIST        offered rates, pps or "max" (default 10000,50000,100000,125000,150000,max;
                      --quick: 50000,max)
  --payloads LIST     RTP payload bytes, 24..1460 (default 200,1200)
  --rcvbuf BYTES      SO_RCVBUF of Envoy's listener socket and the sink (default 4194304; 0 = kernel default)
  --tick-us US        sender burst period when paced (default 50)
  --ssrcs N           RTP streams interleaved by the sender (default 1; the filter tracks up to 64)
  --gauge-interval-ms N  the RTP filter's gauge_interval_ms (default: the filter's, 50; 0 = scan
                      every source on every packet)
  --max-sender-nice N nice value of the sender at "max" (default 10)
  --no-pin            let the scheduler place processes (default: Envoy on the last CPU,
                      sender and sink on CPU 0)
  --nice=N            run Envoy, sender and sink at nice N (e.g. --nice=-10, needs root) and give this
                      session's autogroup the same nice, so other work on a shared host preempts
                      them less (default 0: unchanged)
  --quiet-wait-s S    before each trial wait up to S s for other load to stop (default 20)
  --retries N         re-run a trial other processes disturbed, up to N times (default 2)
  --quick             smoke run: short trials, fewer points
  --json              last stdout line: one JSON summary`;

function list<T>(raw: string, name: string, item: (s: string) => T): T[] {
  const items = raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 0 || items.length > 20) throw new OptionsError(`--${name} needs 1..20 comma-separated values, got "${raw}"`);
  return items.map(item);
}

function rate(s: string): Rate {
  if (s === 'max') return 'max';
  const n = Number(s.replace(/k$/i, '000'));
  if (!Number.isInteger(n) || n < 100 || n > 10_000_000) throw new OptionsError(`a rate must be "max" or an integer pps in 100..10000000, got "${s}"`);
  return n;
}

/** Paced rates ascending, then 'max' (once). */
function sortRates(rates: Rate[]): Rate[] {
  const paced = [...new Set(rates.filter((r): r is number => r !== 'max'))].sort((a, b) => a - b);
  return rates.includes('max') ? [...paced, 'max'] : paced;
}

export function parseUdpBenchOptions(argv: string[]): UdpBenchOptions | 'help' {
  const v = parseFlags(argv, {
    duration: { type: 'string' },
    reps: { type: 'string' },
    rates: { type: 'string' },
    payloads: { type: 'string' },
    rcvbuf: { type: 'string' },
    'tick-us': { type: 'string' },
    ssrcs: { type: 'string' },
    'gauge-interval-ms': { type: 'string' },
    'max-sender-nice': { type: 'string' },
    'no-pin': { type: 'boolean' },
    nice: { type: 'string' },
    'quiet-wait-s': { type: 'string' },
    retries: { type: 'string' },
    quick: { type: 'boolean' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (v.help) return 'help';
  const quick = v.quick ?? false;
  return {
    durationS: num(v.duration, 'duration', quick ? 1 : 3, 0.2, 60),
    reps: int(v.reps, 'reps', quick ? 1 : 3, 1, 15),
    rates: sortRates(list(v.rates ?? (quick ? '50000,max' : '10000,50000,100000,125000,150000,max'), 'rates', rate)),
    payloads: [...new Set(list(v.payloads ?? '200,1200', 'payloads', (s) => {
      const n = Number(s);
      if (!Number.isInteger(n) || n < 24 || n > 1460) throw new OptionsError(`a payload must be an integer in 24..1460 bytes, got "${s}"`);
      return n;
    }))],
    rcvbuf: int(v.rcvbuf, 'rcvbuf', 4 * 1024 * 1024, 0, 1 << 30),
    tickUs: num(v['tick-us'], 'tick-us', 50, 0, 10_000),
    ssrcs: int(v.ssrcs, 'ssrcs', 1, 1, 4096),
    gaugeIntervalMs: v['gauge-interval-ms'] === undefined ? undefined : int(v['gauge-interval-ms'], 'gauge-interval-ms', 50, 0, 60_000),
    maxSenderNice: int(v['max-sender-nice'], 'max-sender-nice', 10, 0, 19),
    pin: !(v['no-pin'] ?? false),
    nice: int(v.nice, 'nice', 0, -20, 19),
    quietWaitS: num(v['quiet-wait-s'], 'quiet-wait-s', 20, 0, 600),
    retries: int(v.retries, 'retries', 2, 0, 10),
    quick,
    json: v.json ?? false,
  };
}
