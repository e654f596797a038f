// The gRPC server for Envoy's Aggregated Discovery Service, SotW and Delta,
// in plaintext or over mTLS (then every stream carries its proxy's SPIFFE id).
import { isIP } from 'node:net';
import { Server, ServerCredentials, type ServerDuplexStream, status as GrpcStatus } from '@grpc/grpc-js';
import { AggregatedDiscoveryServiceService } from '../gen/envoy/service/discovery/v3/ads.js';
import type { DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest } from '../gen/envoy/service/discovery/v3/discovery.js';
import { createLogger } from '../log.js';
import { DeltaStream } from './delta-stream.js';
import { XDS_LIMITS } from './limits.js';
import { identityFromCertificate, type PeerIdentity, peerAddress, plaintextPeer } from './peer-identity.js';
import { decodeDeltaRequest, decodeSotwRequest } from './request-decoding.js';
import type { SnapshotCache } from './snapshot-cache.js';
import { SotwStream } from './sotw-stream.js';
import type { AdsStream } from './stream-common.js';

const log = createLogger('xds');

/**
 * SotW streams write pre-encoded responses (see response-encoding.ts): pass
 * their bytes through. Requests leave their node undecoded until a stream
 * reads it (request-decoding.ts).
 */
const adsServiceDefinition = {
  ...AggregatedDiscoveryServiceService,
  streamAggregatedResources: {
    ...AggregatedDiscoveryServiceService.streamAggregatedResources,
    requestDeserialize: (value: Buffer): DiscoveryRequest => decodeSotwRequest(value),
    responseSerialize: (value: Buffer): Buffer => value,
  },
  deltaAggregatedResources: {
    ...AggregatedDiscoveryServiceService.deltaAggregatedResources,
    requestDeserialize: (value: Buffer): DeltaDiscoveryRequest => decodeDeltaRequest(value),
  },
};

/** PEM contents: the server's certificate chain and key, and the CA that signs proxies' certificates. */
export interface AdsTls {
  cert: Buffer;
  key: Buffer;
  clientCa: Buffer;
}

export interface AdsServerOptions {
  /** mTLS: clients must present a certificate signed by clientCa that carries a SPIFFE id. */
  tls?: AdsTls;
  /** Concurrent streams at most (default XDS_LIMITS.maxStreams). */
  maxStreams?: number;
}

export class AdsServer {
  private readonly server = new Server({
    // Envoy keeps one long-lived stream per proxy; pings keep NATs and idle proxies honest.
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_timeout_ms': 10_000,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.max_receive_message_length': XDS_LIMITS.maxRequestBytes,
    'grpc.max_concurrent_streams': XDS_LIMITS.maxStreamsPerConnection,
  });
  private readonly streams = new Set<{ shutdown(): void }>();

  constructor(private readonly cache: SnapshotCache, private readonly options: AdsServerOptions = {}) {
    this.server.addService(adsServiceDefinition, {
      streamAggregatedResources: (call: ServerDuplexStream<DiscoveryRequest, Buffer>) => this.open(call, () => new SotwStream(call, this.cache, log)),
      deltaAggregatedResources: (call: ServerDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>) => this.open(call, () => new DeltaStream(call, this.cache, log)),
    });
  }

  /**
   * Binds host:port (port 0 picks one) and resolves to the bound port. host
   * must be an IP address: a name could resolve to several addresses, and
   * grpc-js reports success when any one of them binds.
   */
  listen(host: string, port: number): Promise<number> {
    if (isIP(host) === 0) return Promise.reject(new Error(`cannot listen for xDS on ${host}:${port}: the listen host must be an IP address`));
    const address = isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
    const tls = this.options.tls;
    const credentials = tls ? ServerCredentials.createSsl(tls.clientCa, [{ cert_chain: tls.cert, private_key: tls.key }], true) : ServerCredentials.createInsecure();
    return new Promise((resolve, reject) => {
      this.server.bindAsync(address, credentials, (err, bound) => {
        if (err) reject(new Error(`cannot listen for xDS on ${address}: ${err.message}`));
        else {
          log.info('ADS server listening', { address: isIP(host) === 6 ? `[${host}]:${bound}` : `${host}:${bound}`, mtls: tls !== undefined });
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

  /**
   * Starts a stream once the caller's identity is known. Under mTLS the TLS
   * handshake has already checked the certificate against the client CA; a
   * certificate that names no usable SPIFFE id is refused here.
   */
  private open<Req, Res>(call: ServerDuplexStream<Req, Res>, create: () => Pick<AdsStream<never, never>, 'setPeer' | 'shutdown'>): void {
    const maxStreams = this.options.maxStreams ?? XDS_LIMITS.maxStreams;
    if (this.streams.size >= maxStreams) {
      const message = `this control plane already serves ${maxStreams} ADS streams`;
      log.warn('refusing xDS stream', { peer: call.getPeer(), error: message });
      call.emit('error', Object.assign(new Error(message), { code: GrpcStatus.RESOURCE_EXHAUSTED, details: message }));
      return;
    }
    let peer: PeerIdentity = plaintextPeer(call.getPeer());
    if (this.options.tls) {
      const identity = identityFromCertificate(call.getAuthContext().sslPeerCertificate);
      if (!identity.ok) {
        log.warn('refusing xDS stream', { peer: call.getPeer(), error: identity.error });
        call.emit('error', Object.assign(new Error(identity.error), { code: GrpcStatus.UNAUTHENTICATED, details: identity.error }));
        return;
      }
      const address = peerAddress(call.getPeer());
      peer = address ? { ...identity.value, address } : identity.value;
    }
    const stream = create();
    stream.setPeer(peer);
    this.streams.add(stream);
    call.on('close', () => this.streams.delete(stream));
  }
}
