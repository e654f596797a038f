// Pods as network namespaces, for end-to-end tests: a "node" namespace holds a
// bridge, every pod namespace hangs off it through a veth, and the root
// namespace gets one veth onto the same bridge (for the control plane and for
// reading Envoy's admin). The subnet is a free 10.x.y.0/24 chosen per run, the
// pods have no default route, so nothing they send can leave the namespaces
// the lab created. Everything is torn down by destroy(), and by a process exit
// safety net if a test never gets that far.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';

/** Fails (never skips) when the test cannot create namespaces. */
export function requireRoot(what: string): void {
  const uid = process.getuid?.();
  if (uid !== 0) {
    throw new Error(`${what} must run as root (uid is ${uid ?? 'unknown'}): it creates network namespaces, veth pairs and iptables rules. Run it as root, e.g. in the CI container.`);
  }
}

export interface Pod {
  name: string;
  ns: string;
  ip: string;
  /** Command prefix that runs a program inside the pod. */
  prefix: string[];
}

const IP = 'ip';

function run(args: string[]): string {
  try {
    return execFileSync(args[0]!, args.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
  } catch (err: unknown) {
    const e = err as { stderr?: string; message?: string };
    throw new Error(`\`${args.join(' ')}\` failed: ${(e.stderr || e.message || String(err)).trim()}`);
  }
}

/** Runs a cleanup step; a failure is collected, not thrown, so later steps still run. */
function attempt(errors: string[], args: string[]): void {
  try {
    run(args);
  } catch (err: unknown) {
    errors.push((err as Error).message);
  }
}

function ipv4ToInt(a: string): number {
  return a.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

/** True if 10.a.b.0/24 overlaps an IPv4 route or address of the root namespace. */
function subnetInUse(a: number, b: number): boolean {
  const lo = ipv4ToInt(`10.${a}.${b}.0`);
  const hi = lo + 255;
  const overlaps = (cidr: string): boolean => {
    const [net, bitsText] = cidr.split('/');
    const bits = bitsText === undefined ? 32 : Number(bitsText);
    if (bits === 0) return false; // the default route says nothing about local use
    const start = ipv4ToInt(net!) - (ipv4ToInt(net!) % 2 ** (32 - bits));
    const end = start + 2 ** (32 - bits) - 1;
    return start <= hi && lo <= end;
  };
  const routes = JSON.parse(run([IP, '-4', '-j', 'route', 'show', 'table', 'all'])) as { dst: string; type?: string }[];
  const addrs = JSON.parse(run([IP, '-4', '-j', 'addr'])) as { addr_info: { local: string; prefixlen: number }[] }[];
  return routes.some((r) => r.dst !== 'default' && /^\d/.test(r.dst) && overlaps(r.dst))
    || addrs.some((i) => i.addr_info.some((x) => overlaps(`${x.local}/${x.prefixlen}`)));
}

const liveLabs = new Set<NetnsLab>();
let safetyNetInstalled = false;

function installSafetyNet(): void {
  if (safetyNetInstalled) return;
  safetyNetInstalled = true;
  // 'exit' handlers must be synchronous: destroy() is.
  process.on('exit', () => {
    for (const lab of liveLabs) lab.destroy();
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      for (const lab of liveLabs) lab.destroy();
      process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1));
    });
  }
}

/** A child process running inside a pod, with its output kept for assertions and failure messages. */
export class PodProcess {
  stdout = '';
  stderr = '';
  private exitInfo?: { code: number | null; signal: NodeJS.Signals | null };
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(readonly label: string, readonly child: ChildProcess) {
    child.stdout?.on('data', (d: Buffer) => (this.stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-20_000)));
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
      child.on('error', (err) => {
        this.stderr += `\nspawn error: ${err.message}`;
        this.exitInfo = { code: -1, signal: null };
        resolve(this.exitInfo);
      });
    });
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  describe(): string {
    return `${this.label} (pid ${this.child.pid}): stdout:\n${this.stdout.slice(-3000)}\nstderr:\n${this.stderr.slice(-3000)}`;
  }

  /** Resolves with the first stdout line matching `pattern`; fails if the process exits first or time runs out. */
  async line(pattern: RegExp, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.stdout.split('\n').find((l) => pattern.test(l));
      if (found !== undefined) return found;
      if (!this.running) throw new Error(`${this.label} exited (${JSON.stringify(this.exitInfo)}) before printing ${pattern}: ${this.describe()}`);
      if (Date.now() > deadline) throw new Error(`${this.label} printed no ${pattern} in ${timeoutMs} ms: ${this.describe()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Waits for the process to end by itself; kills it and fails after timeoutMs. Non-zero exit fails. */
  async finished(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    const result = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    if (result === 'timeout') {
      await this.stop();
      throw new Error(`${this.label} did not finish in ${timeoutMs} ms: ${this.describe()}`);
    }
    if (result.code !== 0) throw new Error(`${this.label} exited with ${result.code ?? result.signal}: ${this.describe()}`);
  }

  /** The last stdout line parsed as JSON (the tools' report). */
  report<T>(): T {
    const last = this.stdout.trim().split('\n').pop() ?? '';
    try {
      return JSON.parse(last) as T;
    } catch {
      throw new Error(`${this.label} printed no JSON report: ${this.describe()}`);
    }
  }

  /** SIGTERM, then SIGKILL after a bounded wait. */
  async stop(graceMs = 3000): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const killed = new Promise<void>((resolve) => (timer = setTimeout(() => {
      this.child.kill('SIGKILL');
      resolve();
    }, graceMs)));
    await Promise.race([this.exited.then(() => undefined), killed]);
    clearTimeout(timer);
    await this.exited;
  }
}

/**
 * node namespace:  br0 ── host (veth) ─── root namespace: <id>h, 10.x.y.1/24
 *                   ├──── p-<pod> ─ veth ─ pod namespace: eth0, 10.x.y.N/24
 *                   └──── …
 */
export class NetnsLab {
  readonly hostIp: string;
  readonly hostIf: string;
  readonly nodeNs: string;
  private readonly pods = new Map<string, Pod>();
  private readonly processes: PodProcess[] = [];
  private readonly namespaces: string[] = [];
  private readonly teardownSteps: (() => void)[] = [];
  private destroyed = false;

  private constructor(readonly id: string, readonly subnet: string) {
    this.hostIp = `${subnet}.1`;
    this.hostIf = `${id}h`;
    this.nodeNs = `${id}-node`;
  }

  /** Builds the node bridge and one namespace per pod (pods get .2, .3, … in order). */
  static create(podNames: string[]): NetnsLab {
    requireRoot('NetnsLab');
    // Interface names are at most 15 characters: "mm" + pid (base 36) + 2 random characters + "h".
    const id = `mm${process.pid.toString(36)}${randomBytes(1).toString('hex')}`;
    let subnet: string | undefined;
    for (let i = 0; i < 64 && !subnet; i++) {
      const a = 200 + ((process.pid + i * 7) % 50);
      const b = (process.pid * 31 + i * 13) % 256;
      if (!subnetInUse(a, b)) subnet = `10.${a}.${b}`;
    }
    if (!subnet) throw new Error('no free 10.x.y.0/24 subnet for the test namespaces');
    const lab = new NetnsLab(id, subnet);
    installSafetyNet();
    liveLabs.add(lab);
    try {
      lab.build(podNames);
    } catch (err) {
      lab.destroy();
      throw err;
    }
    return lab;
  }

  private addNamespace(ns: string): void {
    run([IP, 'netns', 'add', ns]);
    this.namespaces.push(ns);
    run([IP, '-n', ns, 'link', 'set', 'lo', 'up']);
  }

  private build(podNames: string[]): void {
    this.addNamespace(this.nodeNs);
    run([IP, '-n', this.nodeNs, 'link', 'add', 'br0', 'type', 'bridge']);
    run([IP, '-n', this.nodeNs, 'link', 'set', 'br0', 'up']);
    run([IP, 'link', 'add', this.hostIf, 'type', 'veth', 'peer', 'name', 'host', 'netns', this.nodeNs]);
    // No IPv6 chatter from the root end; it only needs the lab's IPv4 subnet.
    const v6 = `/proc/sys/net/ipv6/conf/${this.hostIf}/disable_ipv6`;
    if (fs.existsSync(v6)) fs.writeFileSync(v6, '1');
    run([IP, 'addr', 'add', `${this.hostIp}/24`, 'dev', this.hostIf]);
    run([IP, 'link', 'set', this.hostIf, 'up']);
    run([IP, '-n', this.nodeNs, 'link', 'set', 'host', 'master', 'br0', 'up']);
    podNames.forEach((name, i) => {
      const ns = `${this.id}-${name}`;
      const ip = `${this.subnet}.${i + 2}`;
      this.addNamespace(ns);
      run([IP, '-n', this.nodeNs, 'link', 'add', `p-${name}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      run([IP, '-n', this.nodeNs, 'link', 'set', `p-${name}`, 'master', 'br0', 'up']);
      run([IP, '-n', ns, 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
      run([IP, '-n', ns, 'link', 'set', 'eth0', 'up']);
      this.pods.set(name, { name, ns, ip, prefix: [IP, 'netns', 'exec', ns] });
    });
  }

  pod(name: string): Pod {
    const pod = this.pods.get(name);
    if (!pod) throw new Error(`no pod ${name} in ${this.id}`);
    return pod;
  }

  /** Runs a command inside a pod to completion and returns its stdout. */
  exec(pod: string, argv: string[]): string {
    return run([...this.pod(pod).prefix, ...argv]);
  }

  /** Starts a long-running command inside a pod; destroy() stops it if the test does not. */
  spawn(pod: string, label: string, argv: string[]): PodProcess {
    const [cmd, ...args] = [...this.pod(pod).prefix, ...argv];
    const proc = new PodProcess(`${label} in ${pod}`, spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    this.processes.push(proc);
    return proc;
  }

  /**
   * Registers a synchronous step for destroy(), run first (also from the exit
   * safety net): e.g. SIGKILL a root-namespace helper such as the control plane.
   */
  onDestroy(step: () => void): void {
    this.teardownSteps.push(step);
  }

  /** Stops the lab's processes gracefully, then tears everything down. */
  async close(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.stop()));
    this.destroy();
  }

  /**
   * Synchronous and idempotent, so it can run from an 'exit' handler: kills what
   * still runs in the lab's namespaces (only processes this test started
   * there), deletes the namespaces (which removes their veths, bridge and
   * iptables rules) and the root end of the host veth.
   */
  destroy(): string[] {
    if (this.destroyed) return [];
    this.destroyed = true;
    liveLabs.delete(this);
    const errors: string[] = [];
    for (const step of this.teardownSteps) {
      try {
        step();
      } catch (err: unknown) {
        errors.push(err instanceof Error ? err.message : String(err));
      }
    }
    for (const p of this.processes) if (p.running) p.child.kill('SIGKILL');
    for (const ns of this.namespaces) {
      let pids: string[] = [];
      try {
        pids = run([IP, 'netns', 'pids', ns]).split(/\s+/).filter(Boolean);
      } catch (err: unknown) {
        errors.push((err as Error).message);
      }
      for (const pid of pids) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    for (const ns of [...this.namespaces].reverse()) attempt(errors, [IP, 'netns', 'del', ns]);
    if (run([IP, '-o', 'link', 'show']).includes(` ${this.hostIf}@`)) attempt(errors, [IP, 'link', 'del', this.hostIf]);
    return errors;
  }

  /** Names of the lab's namespaces and root interfaces still present (for a post-cleanup check). */
  leftovers(): string[] {
    const nsList = run([IP, 'netns', 'list']);
    const links = run([IP, '-o', 'link', 'show']);
    return [
      ...this.namespaces.filter((ns) => new RegExp(`^${ns}\\b`, 'm').test(nsList)),
      ...(links.includes(` ${this.hostIf}@`) ? [this.hostIf] : []),
    ];
  }
}
