// How many UDP-transport sessions play at once with zero RTP loss: a ramp of
// steps; each opens N sessions (a bounded number at a time), lets them all
// play for a window, reads loss from every session's RTP sequence numbers,
// and tears them down. Loss is counted over the window, after every session
// of the step has joined. The ramp stops at the first step that loses a packet
// or cannot open every session.
import { RtspPlayer } from './rtsp-player.js';

const JOIN_SETTLE_MS = 1000;

export interface StepResult {
  side: string;
  sessions: number;
  opened: number;
  packets: number;
  lost: number;
  /** Sessions that got fewer packets than half a frame rate's worth over the window (stalled). */
  starved: number;
  pass: boolean;
  seconds: number;
  error?: string;
}

export interface StepTarget {
  side: string;
  port: number;
  path: string;
  fps: number;
  windowS: number;
  /** Sessions opening at once. */
  openBatch: number;
  /** Bounds the opening of all N sessions. */
  openTimeoutMs: number;
  /** Waits until the proxy is back to idle between steps (relays released). */
  settle?: () => Promise<void>;
  /** Says why the camera is gone, if it is: a step it did not live through measures nothing. */
  cameraDied?: () => string | undefined;
}

export async function concurrencyStep(n: number, t: StepTarget): Promise<StepResult> {
  const started = Date.now();
  const players: RtspPlayer[] = [];
  let error: string | undefined;
  const deadline = started + t.openTimeoutMs;
  try {
    for (let opened = 0; opened < n && !error; opened += t.openBatch) {
      const batch = Math.min(t.openBatch, n - opened);
      const left = deadline - Date.now();
      if (left <= 0) {
        error = `opening ${n} sessions took over ${t.openTimeoutMs} ms`;
        break;
      }
      const results = await Promise.allSettled(Array.from({ length: batch }, () => RtspPlayer.play({ host: '127.0.0.1', port: t.port, path: t.path, transport: 'udp', timeoutMs: Math.min(10_000, left) })));
      for (const r of results) {
        if (r.status === 'fulfilled') players.push(r.value);
        else error ??= r.reason instanceof Error ? r.reason.message : String(r.reason);
      }
    }
    // gst-rtsp-server skips a sequence number for the clients already playing when one joins a
    // shared stream (seen direct as much as through the proxy): loss is counted once all have joined.
    if (!error) await new Promise((r) => setTimeout(r, JOIN_SETTLE_MS));
    const atStart = players.map((p) => ({ expected: p.sequence.expected, received: p.sequence.received }));
    const windowStart = Date.now();
    if (!error) await new Promise((r) => setTimeout(r, t.windowS * 1000));
    const inWindow = players.map((p, i) => ({ expected: p.sequence.expected - atStart[i]!.expected, received: p.sequence.received - atStart[i]!.received }));
    const packets = inWindow.reduce((s, w) => s + w.received, 0);
    const lost = inWindow.reduce((s, w) => s + Math.max(0, w.expected - w.received), 0);
    const starved = error ? 0 : inWindow.filter((w) => w.received < (t.fps * t.windowS) / 2).length;
    const pass = !error && players.length === n && lost === 0 && starved === 0;
    return { side: t.side, sessions: n, opened: players.length, packets, lost, starved, pass, seconds: Math.round((Date.now() - windowStart) / 100) / 10, ...(error ? { error } : {}) };
  } finally {
    for (let i = 0; i < players.length; i += t.openBatch) await Promise.all(players.slice(i, i + t.openBatch).map((p) => p.teardown()));
    await t.settle?.();
  }
}

/** Steps in order until one fails; the answer is the last passing step's N (0 if none passed). */
export async function concurrencyRamp(steps: number[], t: StepTarget, progress: (line: string) => void): Promise<{ zeroLoss: number; steps: StepResult[] }> {
  const results: StepResult[] = [];
  let zeroLoss = 0;
  for (const n of steps) {
    const r = await concurrencyStep(n, t);
    const died = t.cameraDied?.();
    if (died) r.error = `the camera died: ${died}`;
    results.push(r);
    progress(`concurrency ${t.side}: ${n} sessions: ${r.opened} opened, ${r.packets} RTP packets, ${r.lost} lost, ${r.starved} starved${r.error ? ` (${r.error})` : ''} → ${r.pass ? 'pass' : 'FAIL'}`);
    if (!r.pass || died) break;
    zeroLoss = n;
  }
  return { zeroLoss, steps: results };
}
