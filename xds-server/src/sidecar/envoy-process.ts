// Runs an Envoy sidecar as a child process for the demo, tests and benchmarks.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EnvoyAdmin } from './envoy-admin.js';
import { envoyBinary } from './envoy-binary.js';

export interface EnvoyOptions {
  bootstrapYaml: string;
  /** Worker threads; 1 keeps tests light. */
  concurrency?: number;
  logLevel?: string;
  /** Extra environment (e.g. ENVOY_DYNAMIC_MODULES_SEARCH_PATH). */
  env?: NodeJS.ProcessEnv;
  /** Wrap the command (e.g. ['ip', 'netns', 'exec', 'pod-a']). */
  prefix?: string[];
  /** Write Envoy's stdout (where the stdout access logs go) to `<workDir>/stdout.log`; otherwise it is discarded. */
  captureStdout?: boolean;
  /** How often Envoy flushes access-log files, stdout included (Envoy's default is 10 s). */
  fileFlushIntervalMs?: number;
  /**
   * Run Envoy as this user, as a sidecar runs (mediamesh's UID 1339), through
   * util-linux `setpriv` after `prefix`; `capabilities` (e.g. ['net_admin'])
   * stay with it as ambient capabilities. Its work dir becomes that user's.
   */
  user?: { uid: number; gid: number; capabilities?: string[] };
}

export class EnvoyProcess {
  private exited?: { code: number | null; signal: NodeJS.Signals | null };
  private constructor(
    private readonly child: ChildProcess,
    readonly admin: EnvoyAdmin,
    readonly workDir: string,
    readonly logFile: string,
    /** Envoy's stdout, when started with captureStdout. */
    readonly stdoutFile: string | undefined,
  ) {
    child.on('exit', (code, signal) => (this.exited = { code, signal }));
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Starts Envoy with an ephemeral admin port and waits for its admin to answer. */
  static async start(o: EnvoyOptions): Promise<EnvoyProcess> {
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mediamesh-envoy-'));
    const configPath = path.join(workDir, 'bootstrap.yaml');
    const adminPath = path.join(workDir, 'admin-address');
    const logFile = path.join(workDir, 'envoy.log');
    const stdoutFile = o.captureStdout ? path.join(workDir, 'stdout.log') : undefined;
    fs.writeFileSync(configPath, o.bootstrapYaml);
    if (o.user) {
      fs.chownSync(workDir, o.user.uid, o.user.gid);
      fs.chownSync(configPath, o.user.uid, o.user.gid);
    }
    const args = ['-c', configPath, '--admin-address-path', adminPath, '--disable-hot-restart', '--concurrency', String(o.concurrency ?? 1), '-l', o.logLevel ?? 'info', '--log-path', logFile];
    if (o.fileFlushIntervalMs !== undefined) args.push('--file-flush-interval-msec', String(o.fileFlushIntervalMs));
    const [cmd, ...prefixArgs] = [...(o.prefix ?? []), ...(o.user ? setprivArgs(o.user) : []), envoyBinary()];
    const stdoutFd = stdoutFile ? fs.openSync(stdoutFile, 'w') : undefined;
    let child: ChildProcess;
    try {
      child = spawn(cmd!, [...prefixArgs, ...args], { stdio: ['ignore', stdoutFd ?? 'ignore', 'pipe'], env: { ...process.env, ...o.env } });
    } finally {
      // The child holds its own copy of the descriptor.
      if (stdoutFd !== undefined) fs.closeSync(stdoutFd);
    }
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
        const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').slice(-3000) : '';
        // The error carries the log's tail; the dir would only pile up.
        fs.rmSync(workDir, { recursive: true, force: true });
        throw new Error(`Envoy exited during start-up (${child.exitCode ?? child.signalCode}): ${stderr}${log}`);
      }
      const address = fs.existsSync(adminPath) ? fs.readFileSync(adminPath, 'utf8').trim() : '';
      if (address) {
        const admin = new EnvoyAdmin(`http://${address}`);
        try {
          await admin.get('/ready');
          return new EnvoyProcess(child, admin, workDir, logFile, stdoutFile);
        } catch {
          // /ready answers 503 until initialized; keep polling.
        }
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGKILL');
    throw new Error(`Envoy did not become ready in 20 s; stderr: ${stderr}; its log and bootstrap: ${workDir}`);
  }

  isRunning(): boolean {
    return this.exited === undefined;
  }

  log(): string {
    return fs.existsSync(this.logFile) ? fs.readFileSync(this.logFile, 'utf8') : '';
  }

  /** What Envoy wrote to stdout so far ('' unless started with captureStdout). */
  stdout(): string {
    return this.stdoutFile && fs.existsSync(this.stdoutFile) ? fs.readFileSync(this.stdoutFile, 'utf8') : '';
  }

  /** Stops Envoy and removes its work dir (bootstrap, logs) unless asked to keep it for a post-mortem. */
  async stop(o: { keepWorkDir?: boolean } = {}): Promise<void> {
    if (!this.exited) {
      const done = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
      await done;
      clearTimeout(timer);
    }
    if (!o.keepWorkDir) fs.rmSync(this.workDir, { recursive: true, force: true });
  }
}

function setprivArgs(user: NonNullable<EnvoyOptions['user']>): string[] {
  const caps = (user.capabilities ?? []).map((c) => `+${c.toLowerCase()}`).join(',');
  return ['setpriv', '--reuid', String(user.uid), '--regid', String(user.gid), '--clear-groups', ...(caps ? ['--inh-caps', caps, '--ambient-caps', caps] : [])];
}
