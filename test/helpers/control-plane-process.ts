// Runs `mediamesh serve` as a real child process and learns its ports from the
// structured "control plane ready" log line.
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { projectRoot } from '../../xds-server/src/sidecar/envoy-binary.js';

export class ControlPlaneProcess {
  private logs: string[] = [];
  private constructor(private readonly child: ChildProcess, readonly xdsPort: number, readonly adminPort: number, logs: string[], readonly webhookPort?: number) {
    this.logs = logs;
  }

  get adminUrl(): string {
    return `http://127.0.0.1:${this.adminPort}`;
  }

  static async start(configDir: string, xdsPort = 0, extraArgs: string[] = []): Promise<ControlPlaneProcess> {
    const cli = path.join(projectRoot(), 'bin/mediamesh.js');
    const child = spawn(process.execPath, [cli, 'serve', '--config-dir', configDir, '--listen-host', '127.0.0.1', '--xds-port', String(xdsPort), '--admin-port', '0', '--debounce-ms', '50', ...extraArgs], {
      stdio: ['ignore', 'ignore', 'pipe'],
      // The ready line is an info log: keep at least that level whatever the test run asks for.
      env: { ...process.env, MEDIAMESH_LOG_LEVEL: process.env.MEDIAMESH_LOG_LEVEL === 'debug' ? 'debug' : 'info' },
    });
    const logs: string[] = [];
    return new Promise((resolve, reject) => {
      let buffer = '';
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`control plane did not start in 15 s:\n${logs.join('\n')}`));
      }, 15_000);
      child.stderr!.on('data', (chunk: Buffer) => {
        buffer += chunk.toString();
        let nl;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          logs.push(line);
          if (logs.length > 2000) logs.shift();
          try {
            const entry = JSON.parse(line) as { msg?: string; xdsPort?: number; adminPort?: number; webhookPort?: number };
            if (entry.msg === 'control plane ready') {
              clearTimeout(timer);
              resolve(new ControlPlaneProcess(child, entry.xdsPort!, entry.adminPort!, logs, entry.webhookPort));
            }
          } catch {
            // not JSON: keep it in the log only
          }
        }
      });
      child.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`control plane exited with ${code} during start-up:\n${logs.join('\n')}`));
      });
    });
  }

  logLines(): string[] {
    return this.logs;
  }

  async debugNodes(): Promise<{ nodes: { id: string; connected: boolean; types: Record<string, { sentVersion?: string; ackedVersion?: string; lastNack?: { version: string; error: string } }> }[] }> {
    const res = await fetch(`${this.adminUrl}/debug/nodes`);
    return (await res.json()) as never;
  }

  /** Stops the process: SIGTERM (clean) or SIGKILL (crash). Resolves with its exit code. */
  stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve(this.child.exitCode);
    return new Promise((resolve) => {
      this.child.once('exit', (code) => resolve(code));
      this.child.kill(signal);
    });
  }
}
