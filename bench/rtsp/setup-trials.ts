// Setup time, direct vs through the mesh, interleaved: for each session
// index both transports, and for each transport both sides in ABBA order
// (direct, mesh, then mesh, direct, ...) so a drift on the shared host
// weighs on both sides alike (the same idea as bench/lib/sittings.ts).
import { RtspPlayer, type RtspTransport } from './rtsp-player.js';

export type Side = 'direct' | 'mesh';
export const TRANSPORTS: readonly RtspTransport[] = ['tcp', 'udp'];

export interface SetupSamples {
  /** Milliseconds from the TCP connect to the first RTP packet, by `${side}_${transport}`. */
  samples: Record<string, number[]>;
  failures: Record<string, number>;
  /** The first failure of each kind, to say why. */
  errors: Record<string, string>;
}

export function abbaSides(index: number): Side[] {
  return index % 2 === 0 ? ['direct', 'mesh'] : ['mesh', 'direct'];
}

export interface SetupTrialTargets {
  ports: Record<Side, number>;
  path: string;
  timeoutMs: number;
  /** Called while the first mesh UDP session plays (not timed): tells whether relays carry it. */
  onMeshUdpPlaying?: () => Promise<void>;
}

/** One session: play until the first RTP packet, then TEARDOWN. */
export async function setupTrial(side: Side, transport: RtspTransport, t: SetupTrialTargets): Promise<number> {
  const player = await RtspPlayer.play({ host: '127.0.0.1', port: t.ports[side], path: t.path, transport, timeoutMs: t.timeoutMs });
  const ms = player.setupMs;
  if (side === 'mesh' && transport === 'udp' && t.onMeshUdpPlaying) {
    const probe = t.onMeshUdpPlaying;
    t.onMeshUdpPlaying = undefined;
    await probe();
  }
  await player.teardown();
  return ms;
}

export async function runSetupTrials(sessions: number, warmup: number, t: SetupTrialTargets, progress: (line: string) => void): Promise<SetupSamples> {
  const out: SetupSamples = { samples: {}, failures: {}, errors: {} };
  for (let i = -warmup; i < sessions; i++) {
    for (const transport of TRANSPORTS) {
      for (const side of abbaSides(i)) {
        const key = `${side}_${transport}`;
        try {
          const ms = await setupTrial(side, transport, t);
          if (i >= 0) (out.samples[key] ??= []).push(ms);
        } catch (err) {
          out.failures[key] = (out.failures[key] ?? 0) + 1;
          out.errors[key] ??= err instanceof Error ? err.message : String(err);
        }
      }
    }
    if (i >= 0 && (i + 1) % 10 === 0) progress(`setup: ${i + 1}/${sessions} sessions per side and transport`);
  }
  return out;
}
