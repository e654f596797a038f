// CPU time from /proc: a process's utime+stime, one of its threads, and the
// host's busy time (to see which of the shared cores saturated).
import fs from 'node:fs';
import { cpuSeconds as processCpuSeconds, statCpuSeconds, ticksPerSecond } from '../lib/proc-stats.js';

export { processCpuSeconds };

/** The thread ids of a process whose name (comm) matches. */
export function threadIds(pid: number, comm: RegExp): number[] {
  return fs.readdirSync(`/proc/${pid}/task`).map(Number).filter((tid) => {
    try {
      return comm.test(fs.readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim());
    } catch {
      return false;
    }
  });
}

export function threadCpuSeconds(pid: number, tid: number): number {
  return statCpuSeconds(`/proc/${pid}/task/${tid}/stat`);
}

/** CPU time in seconds from one `cpu` line of /proc/stat. */
export interface CpuTimes {
  busy: number;
  softirq: number;
  steal: number;
}

/** The whole host (summed over CPUs) and each CPU by number. */
export interface HostCpu {
  all: CpuTimes;
  perCpu: CpuTimes[];
}

function cpuTimes(line: string): CpuTimes {
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number) as number[];
  const hz = ticksPerSecond();
  return { busy: (user! + nice! + system! + irq! + softirq! + steal!) / hz, softirq: softirq! / hz, steal: steal! / hz };
}

export function hostCpu(): HostCpu {
  const lines = fs.readFileSync('/proc/stat', 'utf8').split('\n');
  const perCpu: CpuTimes[] = [];
  for (const line of lines) {
    const m = /^cpu(\d+)\s/.exec(line);
    if (m) perCpu[Number(m[1])] = cpuTimes(line);
  }
  return { all: cpuTimes(lines[0]!), perCpu };
}

/**
 * Waits (bounded) until the host is nearly idle between trials: other work
 * on these few cores would be measured as Envoy's, the sender's or the
 * sink's slowness. Returns the busy cores of the last sample.
 */
export async function waitForQuietHost(maxBusyCores: number, maxWaitMs: number, sampleMs = 250): Promise<{ quiet: boolean; busyCores: number; waitedMs: number }> {
  const started = Date.now();
  for (;;) {
    const before = hostCpu().all.busy;
    await new Promise((r) => setTimeout(r, sampleMs));
    const busyCores = (hostCpu().all.busy - before) / (sampleMs / 1000);
    const waitedMs = Date.now() - started;
    if (busyCores <= maxBusyCores) return { quiet: true, busyCores, waitedMs };
    if (waitedMs >= maxWaitMs) return { quiet: false, busyCores, waitedMs };
  }
}

/**
 * Sets the nice value of this process's autogroup (Linux with
 * sched_autogroup: CFS shares CPU between sessions first, so a process's own
 * nice barely counts against other sessions' work). Returns a function that
 * restores the previous value; a no-op where autogroups do not exist.
 */
export function setAutogroupNice(nice: number, warn: (line: string) => void): () => void {
  const file = '/proc/self/autogroup';
  let previous: number | undefined;
  try {
    previous = Number(/nice (-?\d+)/.exec(fs.readFileSync(file, 'utf8'))?.[1] ?? 0);
    fs.writeFileSync(file, String(nice));
  } catch (err) {
    warn(`could not set the autogroup nice to ${nice}: ${err instanceof Error ? err.message : String(err)}`);
    return () => {};
  }
  return () => {
    try {
      fs.writeFileSync(file, String(previous));
    } catch {
      // The session is going away anyway.
    }
  };
}
