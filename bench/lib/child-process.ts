// The bench's server processes (mediamesh, the go-control-plane peer) share
// how they are stopped and how their logs are read.
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** SIGTERM (a clean stop, which also lets --cpu-prof write its profile), SIGKILL after graceMs. */
export async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Last resort on the way out: synchronous, for exit handlers. */
export function killChild(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/** The last `n` non-empty lines of a log file, or none if it cannot be read. */
export function tailLines(file: string, n: number): string[] {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).slice(-n);
  } catch {
    return [];
  }
}

/** A server the bench started, logging to a file in a temp dir of its own (removed when it stops). */
export abstract class LoggingChildServer {
  private stoppingNow = false;

  protected constructor(private readonly child: ChildProcess, private readonly logFile: string, readonly xdsPort: number) {}

  get pid(): number {
    return this.child.pid!;
  }

  get xdsAddress(): string {
    return `127.0.0.1:${this.xdsPort}`;
  }

  /** Whether an exit now is one the bench asked for. */
  get stopping(): boolean {
    return this.stoppingNow;
  }

  /** The last `n` log lines the server wrote, for error messages. */
  recentLogs(n = 20): string[] {
    return tailLines(this.logFile, n);
  }

  async stop(graceMs = 10_000): Promise<void> {
    this.stoppingNow = true;
    await stopChild(this.child, graceMs);
    fs.rmSync(path.dirname(this.logFile), { recursive: true, force: true });
  }

  kill(): void {
    this.stoppingNow = true;
    killChild(this.child);
    fs.rmSync(path.dirname(this.logFile), { recursive: true, force: true });
  }
}
