// The C load generator and sink: compiled with the system `cc -O2` into
// build/bench-udp/ when missing or older than their sources, and run as
// child processes that print JSON on stdout.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface NativeTools {
  send: string;
  sink: string;
}

const SOURCES = ['rtp_send.c', 'rtp_sink.c'] as const;
const HEADERS = ['bench_packet.h', 'bench_tool.h'] as const;

/** Builds (if stale) and returns the paths of rtp_send and rtp_sink. */
export function buildNativeTools(root: string, log: (line: string) => void): NativeTools {
  const srcDir = path.join(root, 'bench/udp');
  const outDir = path.join(root, 'build/bench-udp');
  fs.mkdirSync(outDir, { recursive: true });
  const headerMtime = Math.max(...HEADERS.map((h) => fs.statSync(path.join(srcDir, h)).mtimeMs));
  const out: string[] = [];
  for (const source of SOURCES) {
    const src = path.join(srcDir, source);
    const bin = path.join(outDir, source.replace(/\.c$/, ''));
    const newest = Math.max(fs.statSync(src).mtimeMs, headerMtime);
    if (!fs.existsSync(bin) || fs.statSync(bin).mtimeMs < newest) {
      log(`compiling ${path.relative(root, src)} -> ${path.relative(root, bin)}`);
      const cc = process.env.CC ?? 'cc';
      const r = spawnSync(cc, ['-O2', '-Wall', '-Wextra', '-std=gnu11', '-o', bin, src], { encoding: 'utf8', timeout: 60_000 });
      if (r.error) throw new Error(`cannot run the C compiler "${cc}": ${r.error.message} (install gcc, or set CC)`);
      if (r.status !== 0) throw new Error(`${cc} failed on ${source}:\n${r.stderr}`);
    }
    out.push(bin);
  }
  return { send: out[0]!, sink: out[1]! };
}

/** Every child this bench started, so a failure or Ctrl-C kills them all. */
export class Children {
  private readonly live = new Set<ChildProcess>();

  track(child: ChildProcess): ChildProcess {
    this.live.add(child);
    child.once('exit', () => this.live.delete(child));
    return child;
  }

  /** Synchronous: safe in process.on('exit'). */
  killAll(): void {
    for (const child of this.live) child.kill('SIGKILL');
    this.live.clear();
  }
}

/** A running C tool: its stdout lines, its exit, and a bounded wait for both. */
export class ToolProcess {
  private readonly lines: string[] = [];
  private stderr = '';
  private exit?: { code: number | null; signal: NodeJS.Signals | null };
  private readonly exited: Promise<void>;
  private lineWaiters: (() => void)[] = [];

  private constructor(readonly name: string, readonly child: ChildProcess) {
    let partial = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      partial += chunk;
      const parts = partial.split('\n');
      partial = parts.pop()!;
      for (const line of parts) if (line.trim()) this.lines.push(line);
      this.wake();
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr = (this.stderr + chunk).slice(-2000)));
    this.exited = new Promise((resolve) => child.once('close', (code, signal) => {
      if (partial.trim()) this.lines.push(partial);
      this.exit = { code, signal };
      this.wake();
      resolve();
    }));
  }

  static start(children: Children, name: string, bin: string, args: string[], nice = 0): ToolProcess {
    const child = children.track(spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    if (nice !== 0 && child.pid !== undefined) {
      try {
        os.setPriority(child.pid, nice);
      } catch {
        // Not fatal: the trial records every process's CPU share anyway.
      }
    }
    return new ToolProcess(name, child);
  }

  private wake(): void {
    const waiters = this.lineWaiters;
    this.lineWaiters = [];
    for (const w of waiters) w();
  }

  /** Waits for the first stdout line and parses it as JSON. */
  async firstJson<T>(timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length === 0) {
      if (this.exit) throw this.failure('exited before it was ready');
      if (Date.now() >= deadline) throw this.failure(`not ready within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.lineWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return JSON.parse(this.lines[0]!) as T;
  }

  /** Waits (bounded) for exit, SIGKILL after the timeout, and parses the last stdout line. */
  async resultJson<T>(timeoutMs: number): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.exited.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      this.child.kill('SIGKILL');
      await this.exited;
      throw this.failure(`did not finish within ${timeoutMs} ms (killed)`);
    }
    if (this.exit?.code !== 0) throw this.failure(`failed (${this.exit?.code ?? this.exit?.signal})`);
    const last = this.lines.at(-1);
    if (!last) throw this.failure('printed no result');
    return JSON.parse(last) as T;
  }

  signal(sig: NodeJS.Signals): void {
    if (!this.exit) this.child.kill(sig);
  }

  private failure(what: string): Error {
    return new Error(`${this.name} ${what}${this.stderr ? `: ${this.stderr.trim()}` : ''}`);
  }
}

/** What rtp_send prints. */
export interface SenderResult {
  sent: number;
  elapsed_s: number;
  target_pps: number;
  achieved_pps: number;
  datagram_bytes: number;
  burst: number;
  sendmmsg_calls: number;
  sleeps: number;
  max_backlog: number;
  send_errors: number;
  last_errno: number;
  cpu_user_s: number;
  cpu_sys_s: number;
  interrupted: boolean;
}

/** What rtp_sink prints once bound. */
export interface SinkReady {
  ready: true;
  port: number;
  rcvbuf: number;
}

/** What rtp_sink prints at the end. */
export interface SinkResult {
  received: number;
  bytes: number;
  foreign: number;
  reordered: number;
  highest_index: number;
  socket_drops: number;
  rx_span_s: number;
  rcvbuf: number;
  clock_skew: number;
  latency_us: { min: number; p50: number; p90: number; p99: number; p999: number; max: number; mean: number };
  cpu_user_s: number;
  cpu_sys_s: number;
}
