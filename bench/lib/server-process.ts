// `mediamesh serve` as a child process of its own, so its RSS and CPU can be
// read from /proc without the simulated clients in them.
//
// Its stderr (JSON log lines) goes to a file, not a pipe: a pipe whose reader
// (this process, sharing the CPUs with the clients) falls behind would block
// the server's synchronous log writes and show up as server latency.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import { LoggingChildServer, tailLines } from './child-process.js';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../../xds-server/src/sidecar/envoy-binary.js';
import type { BenchServer } from './bench-server.js';

export interface ServerStartOptions {
  /** Serve a config directory (file source) ... */
  configDir?: string;
  /** ... or a cluster (serve --kubernetes) through this kubeconfig. */
  kubeconfig?: string;
  debounceMs: number;
  strictDebounce?: boolean;
  /** Extra flags for node itself (e.g. --cpu-prof). */
  nodeArgs?: string[];
  startTimeoutMs?: number;
  /** Called once if the server exits before stop() was asked for. */
  onUnexpectedExit?: (description: string) => void;
}

const READY_POLL_MS = 25;

export class ServerProcess extends LoggingChildServer implements BenchServer {
  private constructor(child: ChildProcess, logFile: string, xdsPort: number, readonly adminPort: number) {
    super(child, logFile, xdsPort);
  }

  static async start(o: ServerStartOptions): Promise<ServerProcess> {
    const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mediamesh-bench-log-'));
    const logFile = path.join(logDir, 'server.log');
    const fd = fs.openSync(logFile, 'w');
    const cli = path.join(projectRoot(), 'bin/mediamesh.js');
    const source = o.kubeconfig ? ['--kubernetes', '--lease-namespace', 'default'] : ['--config-dir', o.configDir!];
    const args = [...(o.nodeArgs ?? []), cli, 'serve', ...source, '--listen-host', '127.0.0.1', '--xds-port', '0', '--admin-port', '0', '--debounce-ms', String(o.debounceMs), ...(o.strictDebounce ? ['--strict-debounce'] : [])];
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', fd], env: o.kubeconfig ? { ...process.env, KUBECONFIG: o.kubeconfig } : process.env });
    } finally {
      fs.closeSync(fd);
    }
    let server: ServerProcess | undefined;
    let exited: string | undefined;
    child.on('exit', (code, signal) => {
      exited = `control plane exited (code ${code}, signal ${signal})`;
      if (server && !server.stopping) o.onUnexpectedExit?.(`${exited}; last log lines:\n${tailLines(logFile, 20).join('\n')}`);
    });
    child.on('error', (err) => {
      exited = `cannot run the control plane: ${err.message}`;
    });
    const deadline = Date.now() + (o.startTimeoutMs ?? 15_000);
    const cleanupOnFailure = (message: string): Error => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      const logs = tailLines(logFile, 50).join('\n');
      fs.rmSync(logDir, { recursive: true, force: true });
      return new Error(`${message}:\n${logs}`);
    };
    for (;;) {
      const ready = readyLine(logFile);
      if (ready) {
        server = new ServerProcess(child, logFile, ready.xdsPort, ready.adminPort);
        return server;
      }
      if (exited) throw cleanupOnFailure(`${exited} during start-up`);
      if (Date.now() > deadline) throw cleanupOnFailure(`control plane did not get ready in ${o.startTimeoutMs ?? 15_000} ms`);
      await new Promise((r) => setTimeout(r, READY_POLL_MS));
    }
  }
}


/** The ports from the "control plane ready" line, once the server has written it. */
function readyLine(file: string): { xdsPort: number; adminPort: number } | undefined {
  for (const line of tailLines(file, 1000)) {
    let entry: unknown;
    try {
      entry = JSON.parse(line);
    } catch {
      continue;
    }
    if (typeof entry !== 'object' || entry === null) continue;
    const e = entry as { msg?: unknown; xdsPort?: unknown; adminPort?: unknown };
    if (e.msg === 'control plane ready' && typeof e.xdsPort === 'number' && typeof e.adminPort === 'number') return { xdsPort: e.xdsPort, adminPort: e.adminPort };
  }
  return undefined;
}
