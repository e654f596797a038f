// A real Kubernetes API server for tests: Debian's etcd and a kube-apiserver
// built from Kubernetes' Go module (scripts/kubernetes-binaries.mjs), both on
// loopback, in a temp dir of their own. No controller-manager or scheduler
// runs: tests create what those would (EndpointSlices, ...) themselves.
//
//   const api = await startKubeApiServer();
//   await api.kubectl(['apply', '--server-side', '-f', 'manifests/crds/']);
//   const core = api.kubeConfig().makeApiClient(CoreV1Api);
//   ...
//   await api.stop();
//
// Every process is stopped and every temp dir removed by stop(), and also when
// the test process exits or is interrupted without calling it.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { projectRoot } from '../../xds-server/src/sidecar/envoy-binary.js';
import { freeTcpPort } from './ports.js';

const ETCD = '/usr/bin/etcd';
/** Service ClusterIPs come from loopback, so nothing a test creates points off the machine. */
export const SERVICE_CLUSTER_IP_RANGE = '127.96.0.0/24';
const ADMIN_USER = 'mediamesh-test-admin';

export interface KubeApiServerOptions {
  /** How long etcd plus kube-apiserver may take to become ready (each start and restart). Default 90 s: the machine is small and shared. */
  startTimeoutMs?: number;
  /** Extra kube-apiserver flags, e.g. ['--feature-gates=...']. */
  extraApiServerArgs?: string[];
}

export interface KubeApiServer {
  /** https://127.0.0.1:<port> */
  readonly url: string;
  /** Bearer token of a user in group system:masters. */
  readonly token: string;
  /** A kubeconfig file for that user, verifying the API server's own serving certificate. */
  readonly kubeconfigPath: string;
  /** A fresh client-node KubeConfig loaded from kubeconfigPath. */
  kubeConfig(): KubeConfig;
  /** Runs the built kubectl with the kubeconfig; resolves with stdout, rejects with stderr. */
  kubectl(args: string[], input?: string, timeoutMs?: number): Promise<string>;
  /** A token for a ServiceAccount, from the TokenRequest API (the ServiceAccount must exist). */
  serviceAccountToken(namespace: string, name: string, expirationSeconds?: number): Promise<string>;
  /**
   * Stops kube-apiserver and starts it again on the same port and etcd;
   * resolves when it is ready. `whileDown` runs in between (an outage a test
   * looks at).
   */
  restart(whileDown?: () => Promise<void>): Promise<void>;
  /** Stops both processes and removes the temp dir. Safe to call twice. */
  stop(): Promise<void>;
  /** The last lines of etcd's and kube-apiserver's logs, for failure messages. */
  logTail(lines?: number): string;
}

interface KubernetesBinariesModule {
  kubernetesBinaryPaths(): { kubeApiServer: string; kubectl: string; ready: boolean };
  KUBERNETES_VERSION: string;
}

async function builtBinaries(): Promise<{ kubeApiServer: string; kubectl: string }> {
  const script = path.join(projectRoot(), 'scripts/kubernetes-binaries.mjs');
  const mod = (await import(pathToFileURL(script).href)) as KubernetesBinariesModule;
  const paths = mod.kubernetesBinaryPaths();
  if (!paths.ready) {
    throw new Error(`kube-apiserver and kubectl v${mod.KUBERNETES_VERSION} are not built (looked for ${paths.kubeApiServer} and ${paths.kubectl}): run \`npm run setup\` (or \`node scripts/kubernetes-binaries.mjs\`), which builds them once per machine`);
  }
  return paths;
}

function requireTool(file: string, hint: string): void {
  try {
    fs.accessSync(file, fs.constants.X_OK);
  } catch {
    throw new Error(`${file} is missing: ${hint}`);
  }
}

function tailOf(file: string, lines: number): string {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return '(no log)';
  }
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (exited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.removeListener('exit', onExit);
      resolve(false);
    }, timeoutMs);
    const onExit = () => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

/** SIGTERM, then SIGKILL if it has not gone after graceMs. */
async function stopProcess(name: string, child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (exited(child)) return;
  child.kill('SIGTERM');
  if (await waitForExit(child, graceMs)) return;
  child.kill('SIGKILL');
  if (!(await waitForExit(child, 5_000))) throw new Error(`${name} (pid ${child.pid}) did not exit after SIGKILL`);
}

// `setpriv --pdeathsig SIGKILL` (util-linux) makes the kernel kill etcd and
// kube-apiserver when the test process dies, even by SIGKILL, when no exit
// handler can run. Where setpriv is missing the exit handlers below still work.
const SETPRIV = '/usr/bin/setpriv';
const hasSetpriv = fs.existsSync(SETPRIV);

function spawnLogged(cmd: string, args: string[], logFile: string): ChildProcess {
  const fd = fs.openSync(logFile, 'a');
  try {
    const [file, argv] = hasSetpriv ? [SETPRIV, ['--pdeathsig', 'SIGKILL', '--', cmd, ...args]] : [cmd, args];
    const child = spawn(file, argv, { stdio: ['ignore', fd, fd] });
    child.on('error', () => {
      // reported by the readiness wait, which sees the process gone
    });
    return child;
  } finally {
    fs.closeSync(fd);
  }
}

/** One GET over HTTP(S); resolves with status and body, never hangs longer than timeoutMs. */
function httpGet(url: string, options: https.RequestOptions, timeoutMs: number): Promise<{ status: number; body: string }> {
  const lib = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.get(url, { ...options, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

function openssl(cwd: string, ...args: string[]): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'ignore', 'pipe'] });
  const shown = `openssl ${args.join(' ')}`;
  if (r.error) throw new Error(`${shown}: ${(r.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'openssl is not installed (run `npm run setup`)' : r.error.message}`);
  if (r.status !== 0) throw new Error(`${shown} exited with ${r.status ?? r.signal}: ${r.stderr.trim()}`);
}

// Everything still running when the test process exits is killed, and every temp dir removed.
const live = new Set<KubeApiServerHarness>();
let exitHooksInstalled = false;
function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on('exit', () => {
    for (const harness of live) harness.killNow();
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      for (const harness of live) harness.killNow();
      // If nobody else handles the signal, do what it would have done: end the process.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.once(signal, onSignal);
  }
}

class KubeApiServerHarness implements KubeApiServer {
  readonly url: string;
  readonly token = randomBytes(24).toString('hex');
  readonly kubeconfigPath: string;
  private etcd?: ChildProcess;
  private apiServer?: ChildProcess;
  private stopped = false;
  private readonly etcdLog: string;
  private readonly apiServerLog: string;
  private readonly certDir: string;
  private apiServerArgs: string[] = [];

  constructor(
    private readonly dir: string,
    private readonly binaries: { kubeApiServer: string; kubectl: string },
    private readonly ports: { etcdClient: number; etcdPeer: number; apiServer: number },
    private readonly options: Required<KubeApiServerOptions>,
  ) {
    this.url = `https://127.0.0.1:${ports.apiServer}`;
    this.kubeconfigPath = path.join(dir, 'kubeconfig.yaml');
    this.etcdLog = path.join(dir, 'etcd.log');
    this.apiServerLog = path.join(dir, 'kube-apiserver.log');
    this.certDir = path.join(dir, 'apiserver-certs');
  }

  async start(): Promise<void> {
    this.writeCredentials();
    await this.startEtcd();
    await this.startApiServer();
    this.writeKubeconfig();
  }

  /** The admin token, and the ServiceAccount signing key pair (RSA, from the openssl CLI). */
  private writeCredentials(): void {
    // token,user,uid,"group,..."
    fs.writeFileSync(path.join(this.dir, 'tokens.csv'), `${this.token},${ADMIN_USER},${ADMIN_USER},"system:masters"\n`, { mode: 0o600 });
    openssl(this.dir, 'genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'service-account.key');
    openssl(this.dir, 'pkey', '-in', 'service-account.key', '-pubout', '-out', 'service-account.pub');
  }

  private async startEtcd(): Promise<void> {
    const client = `http://127.0.0.1:${this.ports.etcdClient}`;
    const peer = `http://127.0.0.1:${this.ports.etcdPeer}`;
    this.etcd = spawnLogged(ETCD, [
      '--name', 'mediamesh-test',
      '--data-dir', path.join(this.dir, 'etcd-data'),
      '--listen-client-urls', client,
      '--advertise-client-urls', client,
      '--listen-peer-urls', peer,
      '--initial-advertise-peer-urls', peer,
      '--initial-cluster', `mediamesh-test=${peer}`,
      '--initial-cluster-state', 'new',
      '--logger', 'zap',
      '--log-outputs', 'stderr',
    ], this.etcdLog);
    await this.waitUntil('etcd to report healthy', 'etcd', this.etcd, async () => {
      const r = await httpGet(`${client}/health`, {}, 2_000);
      return r.status === 200 && /"health":\s*"true"/.test(r.body);
    });
  }

  private async startApiServer(): Promise<void> {
    this.apiServerArgs = [
      `--etcd-servers=http://127.0.0.1:${this.ports.etcdClient}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${this.ports.apiServer}`,
      // The endpoint reconciler would publish the advertise address in the
      // `kubernetes` Service's endpoints; the API server refuses loopback
      // addresses there, so it is turned off.
      '--endpoint-reconciler-type=none',
      // No serving certificate given: the API server makes a self-signed one
      // here (kept across restarts), and the kubeconfig trusts exactly it.
      `--cert-dir=${this.certDir}`,
      `--token-auth-file=${path.join(this.dir, 'tokens.csv')}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${path.join(this.dir, 'service-account.pub')}`,
      `--service-account-signing-key-file=${path.join(this.dir, 'service-account.key')}`,
      '--authorization-mode=RBAC',
      `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
      // The ServiceAccount admission plugin refuses a Pod until its namespace's
      // `default` ServiceAccount exists, and only kube-controller-manager
      // (not run here) creates those: tests create Pods for their IPs and labels.
      '--disable-admission-plugins=ServiceAccount',
      // As in a kubeadm cluster: the interception init container may need it.
      '--allow-privileged=true',
      ...this.options.extraApiServerArgs,
    ];
    await this.launchApiServer();
  }

  private async launchApiServer(): Promise<void> {
    fs.appendFileSync(this.apiServerLog, `--- kube-apiserver started ${new Date().toISOString()}\n`);
    this.apiServer = spawnLogged(this.binaries.kubeApiServer, this.apiServerArgs, this.apiServerLog);
    const caFile = path.join(this.certDir, 'apiserver.crt');
    await this.waitUntil('kube-apiserver /readyz', 'kube-apiserver', this.apiServer, async () => {
      if (!fs.existsSync(caFile)) return false;
      const r = await httpGet(`${this.url}/readyz`, { ca: fs.readFileSync(caFile), headers: { Authorization: `Bearer ${this.token}` } }, 5_000);
      if (r.status !== 200) throw new Error(`/readyz answered ${r.status}: ${r.body.trim().split('\n').filter((l) => l.includes('failed')).join('; ') || r.body.slice(0, 300)}`);
      return true;
    });
  }

  private async waitUntil(what: string, name: string, child: ChildProcess, probe: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + this.options.startTimeoutMs;
    let lastError = '';
    while (Date.now() < deadline) {
      if (exited(child)) {
        throw new Error(`waiting for ${what}: ${name} exited with ${child.exitCode ?? child.signalCode}\n${this.logTail()}`);
      }
      try {
        if (await probe()) return;
      } catch (err) {
        lastError = (err as Error).message;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`timed out after ${this.options.startTimeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${lastError})` : ''}\n${this.logTail()}`);
  }

  private writeKubeconfig(): void {
    const ca = fs.readFileSync(path.join(this.certDir, 'apiserver.crt'));
    const config = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'mediamesh-test', cluster: { server: this.url, 'certificate-authority-data': ca.toString('base64') } }],
      users: [{ name: ADMIN_USER, user: { token: this.token } }],
      contexts: [{ name: 'mediamesh-test', context: { cluster: 'mediamesh-test', user: ADMIN_USER } }],
      'current-context': 'mediamesh-test',
    };
    fs.writeFileSync(this.kubeconfigPath, stringify(config), { mode: 0o600 });
  }

  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromFile(this.kubeconfigPath);
    return kc;
  }

  kubectl(args: string[], input?: string, timeoutMs = 120_000): Promise<string> {
    const shown = `kubectl ${args.join(' ')}`;
    return new Promise((resolve, reject) => {
      const env: NodeJS.ProcessEnv = { ...process.env, KUBECACHEDIR: path.join(this.dir, 'kubectl-cache') };
      delete env.KUBECONFIG;
      const child = spawn(this.binaries.kubectl, ['--kubeconfig', this.kubeconfigPath, ...args], { cwd: projectRoot(), env, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
      child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`${shown}: ${err.message}`));
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve(stdout);
        else reject(new Error(`${shown} ${signal === 'SIGKILL' ? `was killed after ${timeoutMs} ms` : `exited with ${code ?? signal}`}: ${stderr.trim()}`));
      });
      child.stdin.on('error', () => {
        // kubectl may exit before reading its input; the exit status tells why
      });
      child.stdin.end(input ?? '');
    });
  }

  async serviceAccountToken(namespace: string, name: string, expirationSeconds = 3600): Promise<string> {
    const core = this.kubeConfig().makeApiClient(CoreV1Api);
    const review = await core.createNamespacedServiceAccountToken({ namespace, name, body: { spec: { audiences: [], expirationSeconds } } });
    const token = review.status?.token;
    if (!token) throw new Error(`TokenRequest for ServiceAccount ${namespace}/${name} returned no token`);
    return token;
  }

  async restart(whileDown?: () => Promise<void>): Promise<void> {
    if (this.stopped) throw new Error('restart() after stop()');
    if (this.apiServer) await stopProcess('kube-apiserver', this.apiServer);
    try {
      await whileDown?.();
    } finally {
      await this.launchApiServer();
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    try {
      // The API server first: it must not lose etcd under an open request.
      if (this.apiServer) await stopProcess('kube-apiserver', this.apiServer);
      if (this.etcd) await stopProcess('etcd', this.etcd);
    } finally {
      this.killNow();
    }
  }

  /** Synchronous, for exit handlers: SIGKILL whatever still runs, remove the temp dir. */
  killNow(): void {
    this.stopped = true;
    live.delete(this);
    for (const child of [this.apiServer, this.etcd]) {
      if (child && !exited(child)) child.kill('SIGKILL');
    }
    // etcd may still be writing for a moment after SIGKILL is sent: retry the removal briefly.
    fs.rmSync(this.dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  }

  logTail(lines = 30): string {
    return `--- last lines of etcd's log:\n${tailOf(this.etcdLog, lines)}\n--- last lines of kube-apiserver's log:\n${tailOf(this.apiServerLog, lines)}`;
  }
}

const TEMP_PREFIX = 'mediamesh-kube-';
const OWNER_FILE = 'owner.pid';

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Temp dirs of test processes that were killed outright (SIGKILL: no exit
 * handler ran; setpriv already took their etcd and kube-apiserver down).
 * Dirs whose owner is alive, or that have no owner file yet, are left alone.
 */
function removeDirsOfDeadRuns(): void {
  let entries: string[];
  try {
    entries = fs.readdirSync(os.tmpdir()).filter((e) => e.startsWith(TEMP_PREFIX));
  } catch {
    return;
  }
  for (const entry of entries) {
    const dir = path.join(os.tmpdir(), entry);
    try {
      const owner = Number(fs.readFileSync(path.join(dir, OWNER_FILE), 'utf8'));
      if (Number.isInteger(owner) && owner > 0 && !processAlive(owner)) fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      // no owner file (being made right now, or not ours): leave it
    }
  }
}

/** Starts etcd and kube-apiserver on free loopback ports; resolves when /readyz is ok. */
export async function startKubeApiServer(options: KubeApiServerOptions = {}): Promise<KubeApiServer> {
  const binaries = await builtBinaries();
  requireTool(ETCD, 'install Debian\'s etcd-server (`npm run setup` does it when root)');
  removeDirsOfDeadRuns();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), TEMP_PREFIX));
  fs.writeFileSync(path.join(dir, OWNER_FILE), String(process.pid));
  let harness: KubeApiServerHarness | undefined;
  try {
    const ports = { etcdClient: await freeTcpPort(), etcdPeer: await freeTcpPort(), apiServer: await freeTcpPort() };
    harness = new KubeApiServerHarness(dir, binaries, ports, { startTimeoutMs: options.startTimeoutMs ?? 90_000, extraApiServerArgs: options.extraApiServerArgs ?? [] });
    installExitHooks();
    live.add(harness);
    await harness.start();
    return harness;
  } catch (err) {
    if (harness) await harness.stop().catch(() => harness!.killNow());
    else fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
