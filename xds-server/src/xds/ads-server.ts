// The gRPC server for Envoy's Aggregated Discovery Service, SotW and Delta.
import { Server, ServerCredentials, type ServerDuplexStream } from '@grpc/grpc-js';
import { AggregatedDiscoveryServiceService } from '../gen/envoy/service/discovery/v3/ads.js';
import type { DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest } from '../gen/envoy/service/discovery/v3/discovery.js';
import { createLogger } from '../log.js';
import { DeltaStream } from './delta-stream.js';
import type { SnapshotCache } from './snapshot-cache.js';
import { SotwStream } from './sotw-stream.js';
import type { AdsStream } from './stream-common.js';

const log = createLogger('xds');

/** SotW streams write pre-encoded responses (see response-encoding.ts): pass their bytes through. */
const adsServiceDefinition = {
  ...AggregatedDiscoveryServiceService,
  streamAggregatedResources: {
    ...AggregatedDiscoveryServiceService.streamAggregatedResources,
    responseSerialize: (value: Buffer): Buffer => value,
  },
};

export class AdsServer {
  private readonly server = new Server({
    // Envoy keeps one long-lived stream per proxy; pings keep NATs and idle proxies honest.
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_timeout_ms': 10_000,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.max_receive_message_length': 16 * 1024 * 1024,
  });
  private readonly streams = new Set<{ shutdown(): void }>();

  constructor(private readonly cache: SnapshotCache) {
    this.server.addService(adsServiceDefinition, {
      streamAggregatedResources: (call: ServerDuplexStream<DiscoveryRequest, Buffer>) => this.track(new SotwStream(call, this.cache, log), call),
      deltaAggregatedResources: (call: ServerDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>) => this.track(new DeltaStream(call, this.cache, log), call),
    });
  }

  /** Binds host:port (port 0 picks one) and resolves to the bound port. */
  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.bindAsync(`${host}:${port}`, ServerCredentials.createInsecure(), (err, bound) => {
        if (err) reject(new Error(`cannot listen for xDS on ${host}:${port}: ${err.message}`));
        else {
          log.info('ADS server listening', { address: `${host}:${bound}` });
          resolve(bound);
        }
      });
    });
  }

  /** Ends every stream and stops, waiting at most graceMs for calls to finish. */
  async stop(graceMs = 2000): Promise<void> {
    for (const stream of this.streams) stream.shutdown();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private track(stream: AdsStream<DiscoveryRequest, Buffer> | AdsStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>, call: { on(e: 'close', f: () => void): unknown }): void {
    this.streams.add(stream);
    call.on('close', () => this.streams.delete(stream));
  }
}
