// A control plane under measurement, as the bench drives it: a child process
// of its own (so /proc/<pid> holds its RSS and CPU and nothing else), an ADS
// address for the clients, its recent log lines for error messages.
export interface BenchServer {
  readonly pid: number;
  readonly xdsAddress: string;
  recentLogs(n?: number): string[];
  /** A clean stop (SIGTERM), SIGKILL after a grace period. */
  stop(): Promise<void>;
  /** Synchronous last resort for exit handlers. */
  kill(): void;
}
