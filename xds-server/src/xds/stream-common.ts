// What SotW and Delta streams share: node bookkeeping, request checks and the
// rule that holds removed clusters back until listeners stop using them.
import type { ServerDuplexStream } from '@grpc/grpc-js';
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { Node } from '../gen/envoy/config/core/v3/base.js';
import { type Logger, errorMessage } from '../log.js';
import type { WireResource } from './resources.js';
import type { SnapshotCache } from './snapshot-cache.js';
import type { Snapshot } from './snapshot.js';
import { isTypeUrl, pushOrder, TypeUrl } from './type-urls.js';

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

  protected abstract handleRequest(typeUrl: TypeUrl, req: Req): void;
  protected abstract pushAll(snapshot: Snapshot): void;

  protected send(res: Res): void {
    if (!this.closed) this.call.write(res);
  }

  private onData(req: Req): void {
    if (this.closed) return;
    try {
      if (this.nodeId === undefined) {
        const node = req.node;
        if (!node?.id) throw new StreamRequestError(GrpcStatus.INVALID_ARGUMENT, 'the first request on a stream must carry node.id');
        this.nodeId = node.id;
        this.cache.streamOpened(node, this.protocol);
        this.unwatch = this.cache.watch(node.id, (snapshot) => this.safely(() => this.pushAll(snapshot)));
        this.log.info('proxy connected', { node: node.id, cluster: node.cluster, protocol: this.protocol });
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
    const code = err instanceof StreamRequestError ? err.code : GrpcStatus.INTERNAL;
    const details = errorMessage(err);
    this.log.warn('closing stream', { node: this.nodeId, code, error: details });
    this.close();
    this.call.destroy(Object.assign(new Error(details), { code, details }));
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
    this.unwatch?.();
    if (this.nodeId !== undefined) {
      this.cache.streamClosed(this.nodeId);
      this.log.info('proxy disconnected', { node: this.nodeId, protocol: this.protocol });
    }
  }
}
