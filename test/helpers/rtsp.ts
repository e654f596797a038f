// RTSP peers for tests: the GStreamer camera (test/e2e/tools/rtsp_server.py)
// as a child process, a raw RTSP/TCP client that speaks just enough of RFC
// 2326 to play interleaved RTP and count it, and bounded runs of the real
// clients (ffmpeg, gst-launch-1.0).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { projectRoot } from '../../xds-server/src/sidecar/envoy-binary.js';

/** Debian's python, which has python3-gi; a PATH python may not. */
export const DEBIAN_PYTHON = '/usr/bin/python3';
const SERVER_SCRIPT = path.join(projectRoot(), 'test/e2e/tools/rtsp_server.py');

/** Fails with the packages to install when a tool the RTSP tests drive is missing. */
export function requireRtspTools(): void {
  const missing: string[] = [];
  const probe = (argv: string[]): void => {
    try {
      execFileSync(argv[0]!, argv.slice(1), { stdio: 'ignore', timeout: 15_000 });
    } catch {
      missing.push(argv.join(' '));
    }
  };
  probe(['ffmpeg', '-hide_banner', '-version']);
  probe(['gst-launch-1.0', '--version']);
  probe(['gst-inspect-1.0', 'rtspsrc']);
  probe(['gst-inspect-1.0', 'vp8enc']);
  probe([DEBIAN_PYTHON, '-c', "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"]);
  if (missing.length > 0) {
    throw new Error(`the RTSP tests need the Debian packages ffmpeg gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good python3-gi gir1.2-gst-rtsp-server-1.0 (npm run setup installs them); these checks failed: ${missing.join('; ')}`);
  }
}

/** Children still running (servers, clients): killed if the test process exits without ending them. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

interface ServerEvent {
  event: string;
  name: string;
  port?: number;
  path?: string;
}

/** One gst-rtsp-server instance: a backend version, known by its RTP payload type. */
export class RtspServerProcess {
  readonly events: ServerEvent[] = [];
  private exited = false;
  exitStatus: string | undefined;
  private stderr = '';

  private constructor(private readonly child: ChildProcess, readonly name: string, readonly payloadType: number) {
    running.add(child);
    child.on('exit', (code, signal) => {
      this.exited = true;
      this.exitStatus = String(signal ?? code);
      running.delete(child);
    });
    child.stderr!.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-4000)));
    let pending = '';
    child.stdout!.on('data', (d: Buffer) => {
      pending += d.toString();
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        try {
          this.events.push(JSON.parse(line) as ServerEvent);
        } catch {
          // not an event line
        }
      }
    });
  }

  /** The port it listens on (known once started). */
  get port(): number {
    return this.events.find((e) => e.event === 'ready')?.port ?? 0;
  }

  static async start(o: { name: string; payloadType: number; paths: string[]; port?: number; width?: number; height?: number; fps?: number }): Promise<RtspServerProcess> {
    const video = (['width', 'height', 'fps'] as const).flatMap((k) => (o[k] === undefined ? [] : [`--${k}`, String(o[k])]));
    const child = spawn(DEBIAN_PYTHON, [SERVER_SCRIPT, '--name', o.name, '--payload-type', String(o.payloadType), '--paths', o.paths.join(','), '--port', String(o.port ?? 0), ...video], { stdio: ['ignore', 'pipe', 'pipe'] });
    const server = new RtspServerProcess(child, o.name, o.payloadType);
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && !server.exited) {
      if (server.port !== 0) return server;
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGKILL');
    throw new Error(`rtsp_server.py ${o.name} did not become ready in 15 s: ${server.stderr}`);
  }

  /** DESCRIBEs this server answered, for one path or all. */
  describes(path?: string): number {
    return this.events.filter((e) => e.event === 'describe' && (path === undefined || e.path === path)).length;
  }

  isRunning(): boolean {
    return !this.exited;
  }

  /** The tail of its stderr (why it died, when it did). */
  errorOutput(): string {
    return this.stderr;
  }

  /** Ends the server (SIGKILL for a crash) and waits for it, at most 5 s. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.exited) return;
    const done = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await done;
    clearTimeout(timer);
  }
}

export interface RtspResponse {
  status: number;
  headers: Map<string, string>;
  body: string;
  /** The head and body as received. */
  raw: string;
}

/** Parses one complete response at the start of `buffer`; undefined until it is all there. */
function takeResponse(buffer: Buffer): { response: RtspResponse; rest: Buffer } | undefined {
  const end = buffer.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const head = buffer.subarray(0, end).toString('latin1');
  const lines = head.split('\r\n');
  const status = Number(/^RTSP\/\d\.\d (\d{3})/.exec(lines[0]!)?.[1] ?? NaN);
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  const length = Number(headers.get('content-length') ?? 0);
  if (buffer.length < end + 4 + length) return undefined;
  const body = buffer.subarray(end + 4, end + 4 + length).toString('latin1');
  return { response: { status, headers, body, raw: buffer.subarray(0, end + 4 + length).toString('latin1') }, rest: buffer.subarray(end + 4 + length) };
}

export interface Exchange {
  /** Everything received, as latin1 text. */
  received: string;
  response?: RtspResponse;
  /** The proxy closed the connection (before the deadline). */
  closed: boolean;
  /** The socket failed (e.g. a reset). */
  error?: string;
}

/**
 * Connects, writes `bytes` (in the given pieces, a few milliseconds apart, to
 * cut a request across TCP segments), and reads until the first full
 * response and, with `untilClose`, until the proxy closes: each bounded by
 * `timeoutMs`.
 */
export function rtspExchange(port: number, bytes: Buffer | string | (Buffer | string)[], o: { timeoutMs?: number; untilClose?: boolean } = {}): Promise<Exchange> {
  const pieces = (Array.isArray(bytes) ? bytes : [bytes]).map((b) => (typeof b === 'string' ? Buffer.from(b, 'latin1') : b));
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let buffer: Buffer = Buffer.alloc(0);
    let response: RtspResponse | undefined;
    let settled = false;
    const finish = (closed: boolean, error?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ received: buffer.toString('latin1'), response, closed, ...(error ? { error } : {}) });
    };
    const timer = setTimeout(() => finish(false), o.timeoutMs ?? 5000);
    socket.on('connect', async () => {
      for (const [i, piece] of pieces.entries()) {
        if (i > 0) await new Promise((r) => setTimeout(r, 5));
        if (!socket.destroyed) socket.write(piece);
      }
    });
    socket.on('data', (d: Buffer) => {
      buffer = Buffer.concat([buffer, d]);
      if (!response) response = takeResponse(buffer)?.response;
      if (response && !o.untilClose) finish(false);
    });
    socket.on('close', () => finish(true));
    socket.on('error', (err) => finish(true, err.message));
  });
}

/** DESCRIBE a path and tell which backend answered, by the payload type of its SDP. */
export async function describeBackend(port: number, path: string, cseq = 1): Promise<{ status: number; payloadType?: number }> {
  const exchange = await rtspExchange(port, `DESCRIBE rtsp://127.0.0.1:${port}${path} RTSP/1.0\r\nCSeq: ${cseq}\r\nAccept: application/sdp\r\nUser-Agent: mediamesh-test\r\n\r\n`);
  const response = exchange.response;
  if (!response) throw new Error(`no answer to DESCRIBE ${path}: ${JSON.stringify(exchange.received.slice(0, 200))}${exchange.error ? ` (${exchange.error})` : ''}`);
  const pt = /a=rtpmap:(\d+) /.exec(response.body)?.[1];
  return { status: response.status, ...(pt ? { payloadType: Number(pt) } : {}) };
}

export interface PlayResult {
  /** Requests sent, by method. */
  requests: Record<string, number>;
  /** RTP packets (channel 0) and RTCP packets (channel 1) received. */
  rtpPackets: number;
  rtcpPackets: number;
  payloadTypes: Set<number>;
  setupMs: number;
}

/**
 * Plays one stream over RTSP/TCP with RTP interleaved on channels 0-1:
 * OPTIONS, DESCRIBE, SETUP, PLAY, then reads until `packets` RTP packets
 * arrived, TEARDOWN, and reads until its answer; every step bounded.
 */
export async function playInterleaved(port: number, path: string, packets: number, timeoutMs = 20_000): Promise<PlayResult> {
  const socket = net.connect(port, '127.0.0.1');
  const result: PlayResult = { requests: {}, rtpPackets: 0, rtcpPackets: 0, payloadTypes: new Set(), setupMs: 0 };
  let buffer: Buffer = Buffer.alloc(0);
  let cseq = 0;
  const waiters: ((r: RtspResponse) => void)[] = [];
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const deadline = Date.now() + timeoutMs;
  socket.on('data', (d: Buffer) => {
    buffer = Buffer.concat([buffer, d]);
    for (;;) {
      if (buffer.length > 0 && buffer[0] === 0x24) {
        if (buffer.length < 4) break;
        const length = buffer.readUInt16BE(2);
        if (buffer.length < 4 + length) break;
        const channel = buffer[1]!;
        if (channel === 0) {
          result.rtpPackets++;
          if (length >= 2) result.payloadTypes.add(buffer[5]! & 0x7f);
        } else if (channel === 1) {
          result.rtcpPackets++;
        }
        buffer = buffer.subarray(4 + length);
        continue;
      }
      const taken = buffer.length > 0 ? takeResponse(buffer) : undefined;
      if (!taken) break;
      buffer = taken.rest;
      waiters.shift()?.(taken.response);
    }
    wake?.();
  });
  socket.on('error', (err) => {
    failure = err;
    wake?.();
  });
  socket.on('close', () => {
    failure ??= new Error('connection closed');
    wake?.();
  });
  const waitUntil = async (what: string, done: () => boolean) => {
    while (!done()) {
      if (failure) throw new Error(`${what}: ${failure.message}`);
      if (Date.now() > deadline) throw new Error(`${what}: timed out after ${timeoutMs} ms`);
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 100);
      });
    }
  };
  const request = async (method: string, url: string, headers: Record<string, string> = {}): Promise<RtspResponse> => {
    result.requests[method] = (result.requests[method] ?? 0) + 1;
    let answer: RtspResponse | undefined;
    waiters.push((r) => (answer = r));
    const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    socket.write(`${method} ${url} RTSP/1.0\r\nCSeq: ${++cseq}\r\nUser-Agent: mediamesh-test\r\n${extra}\r\n`);
    await waitUntil(`${method} ${url}`, () => answer !== undefined);
    if (answer!.status !== 200) throw new Error(`${method} ${url} answered ${answer!.status}: ${answer!.raw.slice(0, 200)}`);
    return answer!;
  };
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });
    const base = `rtsp://127.0.0.1:${port}${path}`;
    await request('OPTIONS', base);
    const describe = await request('DESCRIBE', base, { Accept: 'application/sdp' });
    const contentBase = describe.headers.get('content-base') ?? `${base}/`;
    const control = /a=control:(stream=\d+|trackID=\d+)/.exec(describe.body)?.[1] ?? 'stream=0';
    const setupStart = Date.now();
    const setup = await request('SETUP', `${contentBase}${control}`, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' });
    result.setupMs = Date.now() - setupStart;
    const session = setup.headers.get('session')?.split(';')[0] ?? '';
    await request('PLAY', base, { Session: session, Range: 'npt=0-' });
    await waitUntil(`${packets} RTP packets`, () => result.rtpPackets >= packets);
    await request('TEARDOWN', base, { Session: session });
    return result;
  } finally {
    socket.destroy();
  }
}

export interface ProcessRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
  ms: number;
}

/** Runs a client to completion, killed after `timeoutMs`; output is stdout and stderr's tail. */
export function runClient(command: string, args: string[], timeoutMs: number, stop?: AbortSignal): Promise<ProcessRun> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    // A caller that has seen what it waited for ends the client early: the timeout is only the bound.
    stop?.addEventListener('abort', () => child.kill('SIGTERM'), { once: true });
    let output = '';
    const keep = (d: Buffer) => (output = (output + d.toString()).slice(-4000));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      resolve({ code, signal, output, ms: Date.now() - started });
    });
  });
}

/**
 * Whether a gst-launch-1.0 run (without -q) reached EOS: its sink took every
 * buffer it asked for. Anything it reports after "Setting pipeline to NULL"
 * is about shutting down: gst-rtsp-server 1.22 sometimes closes a finished
 * session's connection before the client's PAUSE/TEARDOWN, direct to the
 * server as much as through the mesh, and gst-launch then exits 1.
 */
export function gstReachedEos(run: ProcessRun): { ok: boolean; why: string } {
  const eos = run.output.indexOf('Got EOS from element "pipeline0"');
  if (eos < 0) return { ok: false, why: `no EOS (${run.signal ?? run.code}): ${run.output}` };
  const shutdown = run.output.indexOf('Setting pipeline to NULL', eos);
  const error = run.output.indexOf('ERROR', 0);
  if (error >= 0 && (shutdown < 0 || error < shutdown)) return { ok: false, why: `an error before the end: ${run.output}` };
  return { ok: true, why: '' };
}
