// What SotW and Delta streams share: node bookkeeping, request checks and the
// rule that holds removed clusters back until listeners stop using them.
import type { ServerDuplexStream } from '@grpc/grpc-js';
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { Node } from '../gen/envoy/config/core/v3/base.js';
import { type Logger, errorMessage } from '../log.js';
import { identityUri, NodeIdClaimedError, type PeerIdentity, UNAUTHENTICATED } from './peer-identity.js';
import { InvalidProxyMetadataError } from './proxy-view-of.js';
import type { WireResource } from './resources.js';
import type { SnapshotCache } from './snapshot-cache.js';
import type { Snapshot } from './snapshot.js';
import { XDS_LIMITS } from './limits.js';
import { isTypeUrl, pushOrder, TypeUrl } from './type-urls.js';

/** Envoy's words for a remote extension still being fetched (Envoy 1.40 dynamic modules). */
const TRANSIENT_NACK = /not cached; background fetch in progress/i;
const TRANSIENT_NACK_FIRST_DELAY_MS = 250;
const TRANSIENT_NACK_MAX_DELAY_MS = 4000;
const TRANSIENT_NACK_MAX_ATTEMPTS = 8;

/** How long listeners wait for their clusters' endpoints before going out anyway. */
export const CLUSTER_WARMING_WAIT_MS = 5000;

export class StreamRequestError extends Error {
  constructor(readonly code: GrpcStatus, message: string) {
    super(message);
  }
}

export function requireTypeUrl(typeUrl: string): TypeUrl {
  if (!isTypeUrl(typeUrl)) {
    throw new StreamRequestError(GrpcStatus.INVALID_ARGUMENT, `unsupported type_url "${typeUrl}"; this server serves ${pushOrder.join(', ')}`);
  }
  return typeUrl;
}

/**
 * Clusters that a new snapshot drops stay served until the proxy has ACKed
 * the listeners and routes of that snapshot, so nothing in use disappears
 * first (make-before-break). A NACKed listener keeps its clusters too.
 */
export function clustersMayBeRemoved(snapshot: Snapshot, ackedVersion: (t: TypeUrl) => string | undefined, subscribed: (t: TypeUrl) => boolean): boolean {
  for (const t of [TypeUrl.Listener, TypeUrl.RouteConfiguration]) {
    if (subscribed(t) && ackedVersion(t) !== snapshot.forType(t).version) return false;
  }
  return true;
}

export function heldClusters(snapshot: Snapshot, clientClusters: Iterable<WireResource>, releaseAllowed: boolean): WireResource[] {
  if (releaseAllowed) return [];
  const current = snapshot.forType(TypeUrl.Cluster).resources;
  return [...clientClusters].filter((c) => !current.has(c.name));
}

/** Common life cycle: first request names the node, errors end the stream with a status. */
export abstract class AdsStream<Req extends { node?: Node | undefined; typeUrl: string }, Res> {
  protected nodeId?: string;
  private unwatch?: () => void;
  private closed = false;
  private peer: PeerIdentity = UNAUTHENTICATED;

  constructor(
    protected readonly call: ServerDuplexStream<Req, Res>,
    protected readonly cache: SnapshotCache,
    protected readonly log: Logger,
    private readonly protocol: 'sotw' | 'delta',
  ) {
    call.on('data', (req: Req) => this.onData(req));
    call.on('end', () => { this.close(); call.end(); });
    call.on('error', (err: unknown) => { this.log.debug('stream error', { node: this.nodeId, error: errorMessage(err) }); this.close(); });
    call.on('cancelled', () => this.close());
    call.on('close', () => this.close());
  }

  /** What the transport proved about the client; set by the server before the first request can arrive. */
  setPeer(peer: PeerIdentity): void {
    this.peer = peer;
  }

  protected abstract handleRequest(typeUrl: TypeUrl, req: Req): void;
  /** Answers for one type if it has anything new for the proxy and `mayRespond` agrees. */
  protected abstract respond(typeUrl: TypeUrl, snapshot: Snapshot): void;

  /** Every type in make-before-break order; `respond` asks `mayRespond` once it has something to send. */
  protected pushAll(snapshot: Snapshot): void {
    for (const typeUrl of pushOrder) this.respond(typeUrl, snapshot);
  }

  /**
   * Listeners and routes go out only once their clusters are in place. Asked
   * only when there is something new to send, so a change that leaves them
   * alone never waits on (or times) the clusters.
   */
  protected mayRespond(typeUrl: TypeUrl, snapshot: Snapshot): boolean {
    return (typeUrl !== TypeUrl.Listener && typeUrl !== TypeUrl.RouteConfiguration) || this.listenersMayGo(snapshot);
  }
  /** The proxy has settled (ACKed or NACKed) this snapshot's clusters and their endpoints. */
  protected abstract clustersSettled(snapshot: Snapshot): boolean;

  private readonly nackRetries = new Map<TypeUrl, { attempts: number; timer?: NodeJS.Timeout }>();

  /**
   * Some NACKs mean "not yet", not "never": Envoy rejects a listener whose
   * remote extension (the RTP filter fetched over HTTP) is still downloading,
   * and will not ask again by itself. Such a version is offered again, with
   * backoff, instead of being treated as final.
   */
  protected retryIfTransient(typeUrl: TypeUrl, message: string, allowResend: () => void): void {
    if (!TRANSIENT_NACK.test(message)) return;
    const retry = this.nackRetries.get(typeUrl) ?? { attempts: 0 };
    this.nackRetries.set(typeUrl, retry);
    if (retry.attempts >= TRANSIENT_NACK_MAX_ATTEMPTS || retry.timer) return;
    const delay = Math.min(TRANSIENT_NACK_FIRST_DELAY_MS * 2 ** retry.attempts, TRANSIENT_NACK_MAX_DELAY_MS);
    retry.attempts++;
    this.log.info('proxy is still fetching an extension; offering the config again', { node: this.nodeId, typeUrl, inMs: delay, attempt: retry.attempts });
    retry.timer = setTimeout(() => {
      retry.timer = undefined;
      const current = this.nodeId === undefined ? undefined : this.cache.getSnapshot(this.nodeId);
      if (!current || this.closed) return;
      allowResend();
      this.safely(() => this.pushAll(current));
    }, delay);
  }

  protected clearTransientRetry(typeUrl: TypeUrl): void {
    const retry = this.nackRetries.get(typeUrl);
    if (!retry) return;
    clearTimeout(retry.timer);
    this.nackRetries.delete(typeUrl);
  }

  private warmingTimer?: NodeJS.Timeout;
  private warmingGaveUpOn?: string;

  /**
   * Listeners and routes go out only once the clusters they use are in place
   * (make-before-break). A proxy that never asks for some endpoints must not
   * stall its listeners forever, so the wait is bounded.
   */
  protected listenersMayGo(snapshot: Snapshot): boolean {
    if (this.clustersSettled(snapshot)) {
      clearTimeout(this.warmingTimer);
      this.warmingTimer = undefined;
      return true;
    }
    if (this.warmingGaveUpOn === snapshot.version) return true;
    this.warmingTimer ??= setTimeout(() => {
      this.warmingTimer = undefined;
      const current = this.nodeId === undefined ? undefined : this.cache.getSnapshot(this.nodeId);
      if (!current || this.closed) return;
      this.warmingGaveUpOn = current.version;
      this.log.warn('clusters not settled in time; sending listeners anyway', { node: this.nodeId, snapshot: current.version, waitedMs: CLUSTER_WARMING_WAIT_MS });
      this.safely(() => this.pushAll(current));
    }, CLUSTER_WARMING_WAIT_MS);
    return false;
  }

  private readonly lastNackLogged = new Map<TypeUrl, string>();

  /** Logs a NACK once per distinct version and error, so a client repeating one cannot flood the log. */
  protected logNack(typeUrl: TypeUrl, version: string, error: string, fields: Record<string, unknown> = {}): void {
    const key = `${version}\0${error}`;
    if (this.lastNackLogged.get(typeUrl) === key) return;
    this.lastNackLogged.set(typeUrl, key);
    this.log.warn('proxy rejected config (NACK)', { node: this.nodeId, typeUrl, version, error, ...fields });
  }

  /** Refuses a request naming more resources than any real proxy would. */
  protected checkNameCount(typeUrl: TypeUrl, count: number, what: string): void {
    if (count > XDS_LIMITS.maxNamesPerType) {
      throw new StreamRequestError(GrpcStatus.RESOURCE_EXHAUSTED, `${what} ${count} ${typeUrl} names; at most ${XDS_LIMITS.maxNamesPerType} per type on one stream`);
    }
  }

  protected send(res: Res): void {
    if (!this.closed) this.call.write(res);
  }

  private onData(req: Req): void {
    this.cache.requests.run(() => this.handleData(req));
  }

  private handleData(req: Req): void {
    if (this.closed) return;
    try {
      if (this.nodeId === undefined) {
        const node = req.node;
        if (!node?.id) throw new StreamRequestError(GrpcStatus.INVALID_ARGUMENT, 'the first request on a stream must carry node.id');
        if (node.id.length > XDS_LIMITS.maxNodeIdLength || node.cluster.length > XDS_LIMITS.maxNodeIdLength) {
          throw new StreamRequestError(GrpcStatus.INVALID_ARGUMENT, `node.id and node.cluster may be at most ${XDS_LIMITS.maxNodeIdLength} characters`);
        }
        // Opened before nodeId is set: a refused stream must not close the holder's node.
        this.cache.streamOpened(node, this.protocol, this.peer);
        this.nodeId = node.id;
        this.unwatch = this.cache.watch(node.id, (snapshot) => this.safely(() => this.pushAll(snapshot)));
        this.log.info('proxy connected', { node: node.id, cluster: node.cluster, protocol: this.protocol, identity: identityUri(this.peer) });
      }
      this.handleRequest(requireTypeUrl(req.typeUrl), req);
    } catch (err) {
      this.fail(err);
    }
  }

  private safely(work: () => void): void {
    try {
      work();
    } catch (err) {
      this.fail(err);
    }
  }

  private fail(err: unknown): void {
    const code = err instanceof StreamRequestError ? err.code
      : err instanceof InvalidProxyMetadataError ? GrpcStatus.INVALID_ARGUMENT
      : err instanceof NodeIdClaimedError ? GrpcStatus.PERMISSION_DENIED
      : GrpcStatus.INTERNAL;
    const details = errorMessage(err);
    this.log.warn('closing stream', { node: this.nodeId, code, error: details });
    this.close();
    // grpc-js turns an 'error' emitted on a server stream into the call's final status.
    this.call.emit('error', Object.assign(new Error(details), { code, details }));
  }

  /** Ends the call with OK (server shutdown); the proxy keeps its config and reconnects later. */
  shutdown(): void {
    const wasOpen = !this.closed;
    this.close();
    if (wasOpen) this.call.end();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.warmingTimer);
    for (const retry of this.nackRetries.values()) clearTimeout(retry.timer);
    this.unwatch?.();
    if (this.nodeId !== undefined) {
      this.cache.streamClosed(this.nodeId);
      this.log.info('proxy disconnected', { node: this.nodeId, protocol: this.protocol });
    }
  }
}
