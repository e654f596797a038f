// The go-control-plane peer (bench/go-control-plane/): built on demand into
// build/bench-go-control-plane/ (again whenever its sources change), run as a
// child process serving ADS on a free loopback port.
//
// `go build` fetches the modules go.sum pins from the Go module proxy the
// first time (a minute or two); later builds hit Go's caches.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { LoggingChildServer, tailLines } from './child-process.js';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { projectRoot } from '../../xds-server/src/sidecar/envoy-binary.js';
import type { BenchServer } from './bench-server.js';

export const GO_PEER_NAME = 'go-control-plane';
const SOURCES = ['main.go', 'go.mod', 'go.sum'];
const START_TIMEOUT_MS = 15_000;

/** The peer binary, built if missing or older than its sources (by content hash). */
export function buildGoPeer(log: (message: string) => void): string {
  const sourceDir = path.join(projectRoot(), 'bench', 'go-control-plane');
  const outDir = path.join(projectRoot(), 'build', 'bench-go-control-plane');
  const binary = path.join(outDir, 'go-control-plane-peer');
  const stampFile = path.join(outDir, 'sources.sha256');
  const hash = createHash('sha256');
  for (const name of SOURCES) hash.update(name).update('\0').update(fs.readFileSync(path.join(sourceDir, name))).update('\0');
  const stamp = hash.digest('hex');
  if (fs.existsSync(binary) && fs.existsSync(stampFile) && fs.readFileSync(stampFile, 'utf8') === stamp) return binary;
  fs.mkdirSync(outDir, { recursive: true });
  log(`building the go-control-plane peer into ${binary} (go build; the first build fetches modules)`);
  try {
    execFileSync('go', ['build', '-o', binary, '.'], { cwd: sourceDir, stdio: ['ignore', 'inherit', 'inherit'] });
  } catch (err) {
    throw new Error(`cannot build the go-control-plane peer in ${sourceDir} (needs Go and the Go module proxy): ${err instanceof Error ? err.message : String(err)}`);
  }
  fs.writeFileSync(stampFile, stamp);
  return binary;
}

export interface GoPeerStartOptions {
  binary: string;
  /** Directory of the view files it serves (peer-view-files.ts). */
  viewDir: string;
  onUnexpectedExit?: (description: string) => void;
}

export class GoPeerProcess extends LoggingChildServer implements BenchServer {
  private constructor(child: ChildProcess, logFile: string, xdsPort: number) {
    super(child, logFile, xdsPort);
  }

  static async start(o: GoPeerStartOptions): Promise<GoPeerProcess> {
    // stderr to a file, as for mediamesh (server-process.ts): a slow pipe reader must not block the server.
    const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mediamesh-bench-peer-log-'));
    const logFile = path.join(logDir, 'peer.log');
    const fd = fs.openSync(logFile, 'w');
    let child: ChildProcess;
    try {
      child = spawn(o.binary, ['-dir', o.viewDir, '-host', '127.0.0.1', '-port', '0'], { stdio: ['ignore', 'pipe', fd] });
    } finally {
      fs.closeSync(fd);
    }
    let peer: GoPeerProcess | undefined;
    const fail = (message: string): Error => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      const logs = tailLines(logFile, 50).join('\n');
      fs.rmSync(logDir, { recursive: true, force: true });
      return new Error(`${message}:\n${logs}`);
    };
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(fail(`the go-control-plane peer did not get ready in ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
      const lines = createInterface({ input: child.stdout! });
      lines.once('line', (line) => {
        clearTimeout(timer);
        lines.close();
        const ready = parseReady(line);
        if (ready === undefined) reject(fail(`the go-control-plane peer wrote "${line}" instead of its ready line`));
        else resolve(ready);
      });
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(fail(`cannot run the go-control-plane peer: ${err.message}`));
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(fail(`the go-control-plane peer exited (code ${code}, signal ${signal}) during start-up`));
      });
    });
    child.stdout!.resume();
    child.on('exit', (code, signal) => {
      if (peer && !peer.stopping) o.onUnexpectedExit?.(`go-control-plane peer exited (code ${code}, signal ${signal}); last log lines:\n${tailLines(logFile, 20).join('\n')}`);
    });
    peer = new GoPeerProcess(child, logFile, port);
    return peer;
  }
}

function parseReady(line: string): number | undefined {
  try {
    const v = JSON.parse(line) as { ready?: unknown; port?: unknown };
    return v.ready === true && typeof v.port === 'number' ? v.port : undefined;
  } catch {
    return undefined;
  }
}

