// A client worker process: runs a share of the simulated proxies and reports
// to the coordinator over IPC. Forked by xds-convergence.ts; never run alone.
import { type ChannelOptions, credentials } from '@grpc/grpc-js';
import { AggregatedDiscoveryServiceClient } from '../../xds-server/src/gen/envoy/service/discovery/v3/ads.js';
import { createProxy, type ProxyHooks, type SimulatedProxy } from './sim-proxy.js';
import type { Expectation } from './expectation.js';
import { type ProxySpec, viewKeyOf } from './views.js';
import type { ArmMessage, ExpectationsByView, FromWorker, StartMessage, ToWorker } from './worker-protocol.js';

const PROGRESS_EVERY_MS = 500;

function send(message: FromWorker): void {
  process.send?.(message);
}

function cpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

function channelOptions(): ChannelOptions {
  return {
    // A subchannel (HTTP/2 connection) of our own, as each Envoy has its own connection.
    'grpc.use_local_subchannel_pool': 1,
    'grpc.max_receive_message_length': 16 * 1024 * 1024,
    // A long-lived stream: retry bookkeeping would only buffer our requests.
    'grpc.enable_retries': 0,
  };
}

function expectationOf(byView: ExpectationsByView, spec: ProxySpec): Expectation {
  const key = viewKeyOf(spec.namespace);
  const e = byView[key];
  if (!e) throw new Error(`no expectation for view ${key} (proxy ${spec.nodeId})`);
  return e;
}

class Worker {
  private readonly proxies: SimulatedProxy[] = [];
  private readonly channels: AggregatedDiscoveryServiceClient[] = [];
  private synced = 0;
  private streams = 0;
  private armedRound = 0;
  private acks: number[] = [];
  private progressTimer?: NodeJS.Timeout;
  private failed = false;

  constructor(private readonly config: StartMessage) {}

  async start(): Promise<void> {
    const { proxies: specs, clientsPerChannel, rampBatch, rampIntervalMs } = this.config;
    const hooks: ProxyHooks = {
      synced: () => {
        if (++this.synced === specs.length) send({ kind: 'synced', count: this.synced, cpuS: cpuSeconds() });
      },
      converged: (_proxy, round, atMs) => {
        if (round !== this.armedRound) return;
        this.acks.push(atMs);
        if (this.acks.length === this.proxies.length) send({ kind: 'converged', round, ackAtMs: this.acks, cpuS: cpuSeconds() });
      },
      failed: (_proxy, error) => this.fail(error),
    };
    this.progressTimer = setInterval(() => send({ kind: 'progress', streams: this.streams, synced: this.synced, converged: this.acks.length }), PROGRESS_EVERY_MS);
    let channel: AggregatedDiscoveryServiceClient | undefined;
    for (let i = 0; i < specs.length; i++) {
      if (i % clientsPerChannel === 0) {
        channel = new AggregatedDiscoveryServiceClient(this.config.address, credentials.createInsecure(), channelOptions());
        this.channels.push(channel);
        if (this.channels.length % rampBatch === 0) await new Promise((r) => setTimeout(r, rampIntervalMs));
      }
      const spec = specs[i]!;
      const proxy = createProxy(this.config, channel!, spec, expectationOf(this.config.initial, spec), hooks);
      this.proxies.push(proxy);
      proxy.start();
      this.streams++;
    }
  }

  arm(message: ArmMessage): void {
    this.armedRound = message.round;
    this.acks = [];
    for (const proxy of this.proxies) proxy.arm(message.round, expectationOf(message.expect, proxy.spec));
    send({ kind: 'armed', round: message.round });
  }

  stop(): void {
    clearInterval(this.progressTimer);
    for (const proxy of this.proxies) proxy.stop();
    for (const channel of this.channels) channel.close();
  }

  fail(error: string): void {
    if (this.failed) return;
    this.failed = true;
    send({ kind: 'failed', error });
  }
}

let worker: Worker | undefined;

process.on('message', (message: ToWorker) => {
  switch (message.kind) {
    case 'start':
      worker = new Worker(message);
      worker.start().catch((err: unknown) => worker?.fail(err instanceof Error ? err.message : String(err)));
      break;
    case 'arm':
      worker?.arm(message);
      break;
    case 'stop':
      worker?.stop();
      process.disconnect?.();
      setTimeout(() => process.exit(0), 200).unref();
      break;
  }
});
// The coordinator went away (or told us to stop): nothing left to do.
process.on('disconnect', () => process.exit(0));
process.on('uncaughtException', (err) => {
  send({ kind: 'failed', error: `worker ${process.pid}: ${err.stack ?? err.message}` });
  process.exit(1);
});
