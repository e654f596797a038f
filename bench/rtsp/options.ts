// Command-line options of bench/rtsp-setup.ts, parsed and bounded.
import { int, OptionsError, parseFlags } from '../lib/option-values.js';

export { OptionsError };

export interface RtspBenchOptions {
  /** Measured sessions per (side, transport). */
  sessions: number;
  /** Discarded sessions per (side, transport) before measuring. */
  warmup: number;
  /** The concurrency ramp stops here. */
  maxConcurrent: number;
  /** Seconds every session of a concurrency step plays before its loss is read. */
  stepSeconds: number;
  /** The camera's frame rate. */
  fps: number;
  relayPorts: string;
  envoyConcurrency: number;
  /** Skip the concurrency ramp (setup times only). */
  noConcurrency: boolean;
  json: boolean;
}

export const USAGE = `usage: npm run bench:rtsp -- [options]
  --sessions N          measured sessions per side (direct, mesh) and transport (tcp, udp) (default 50)
  --warmup N            discarded sessions per side and transport first (default 3)
  --max-concurrent N    last step of the UDP concurrency ramp 50, 100, 200, ... (default 400)
  --step-seconds S      how long each concurrency step's sessions all play (default 5)
  --fps N               the camera's frame rate (default 30)
  --relay-ports LO-HI   the control plane's UDP relay ports (default 61000-64999; 4 per session)
  --envoy-concurrency N Envoy worker threads (default 2)
  --no-concurrency      setup times only
  --json                last stdout line: one JSON summary`;

export function parseRtspBenchOptions(argv: string[]): RtspBenchOptions | 'help' {
  const v = parseFlags(argv, {
    sessions: { type: 'string' },
    warmup: { type: 'string' },
    'max-concurrent': { type: 'string' },
    'step-seconds': { type: 'string' },
    fps: { type: 'string' },
    'relay-ports': { type: 'string' },
    'envoy-concurrency': { type: 'string' },
    'no-concurrency': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  });
  if (v.help) return 'help';
  const relayPorts = v['relay-ports'] ?? '61000-64999';
  if (!/^\d{1,5}-\d{1,5}$/.test(relayPorts)) throw new OptionsError(`--relay-ports must be LO-HI, got "${relayPorts}"`);
  return {
    sessions: int(v.sessions, 'sessions', 50, 1, 1000),
    warmup: int(v.warmup, 'warmup', 3, 0, 50),
    maxConcurrent: int(v['max-concurrent'], 'max-concurrent', 400, 1, 2000),
    stepSeconds: int(v['step-seconds'], 'step-seconds', 5, 1, 60),
    fps: int(v.fps, 'fps', 30, 1, 60),
    relayPorts,
    envoyConcurrency: int(v['envoy-concurrency'], 'envoy-concurrency', 2, 1, 16),
    noConcurrency: v['no-concurrency'] === true,
    json: v.json === true,
  };
}

/** 50, 100, 200, ... up to `max`; `max` itself when it is below the first step. */
export function rampSteps(max: number, first = 50): number[] {
  if (max < first) return [max];
  const steps: number[] = [];
  for (let n = first; n <= max; n *= 2) steps.push(n);
  return steps;
}
