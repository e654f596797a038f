// Snapshots keyed by node id, plus the per-node ACK/NACK state. Knows nothing
// of gRPC: streams read snapshots and report what the proxy said.
//
// Node ids come from clients, so what is kept per node is bounded: a proxy
// that disconnected is forgotten after `forgetAfterMs`, and at most
// `maxDisconnected` disconnected proxies are remembered (oldest forgotten first).
import { type Clock, systemClock, type TimerHandle } from '../clock.js';
import type { Node } from '../gen/envoy/config/core/v3/base.js';
import type { NodeStatus, TypeStatus } from './node-status.js';
import { identityUri, NodeIdClaimedError, type PeerIdentity } from './peer-identity.js';
import { type PodLocator, proxyViewOf } from './proxy-view-of.js';
import { RequestDeferral } from './request-deferral.js';
import type { Snapshot } from './snapshot.js';
import type { TypeUrl } from './type-urls.js';

export type SnapshotListener = (snapshot: Snapshot) => void;

export interface CacheEvents {
  /** A proxy opened its first stream: the owner should give it a snapshot. */
  nodeConnected?(node: Node): void;
  nodeDisconnected?(nodeId: string): void;
  /** A disconnected proxy's state was dropped; anything kept for it can go too. */
  nodeForgotten?(nodeId: string): void;
  pushed?(nodeId: string, typeUrl: TypeUrl, version: string): void;
  acked?(nodeId: string, typeUrl: TypeUrl, version: string): void;
  nacked?(nodeId: string, typeUrl: TypeUrl, version: string, error: string): void;
}

export const DEFAULT_FORGET_AFTER_MS = 10 * 60_000;
export const DEFAULT_MAX_DISCONNECTED = 10_000;
/** Snapshots a node was recently given, so an ACK of a slightly older version can be read back. */
const RECENT_SNAPSHOTS = 8;

export interface SnapshotCacheOptions {
  clock?: Clock;
  forgetAfterMs?: number;
  maxDisconnected?: number;
  /** Finds the pod a plaintext proxy connects from (the Kubernetes source knows pods). */
  locatePod?: PodLocator;
}

export class SnapshotCache {
  /** Per node, the snapshot it is given now and the few before it, newest first. */
  private readonly recent = new Map<string, Snapshot[]>();
  /** Disconnected node → when; insertion order is disconnection order. */
  private readonly disconnected = new Map<string, number>();
  private sweepTimer?: TimerHandle;
  private readonly clock: Clock;
  private readonly forgetAfterMs: number;
  private readonly maxDisconnected: number;

  private readonly listeners = new Map<string, Set<SnapshotListener>>();
  private readonly statuses = new Map<string, NodeStatus>();
  private readonly events: CacheEvents[] = [];
  /** Streams hand their requests here, so a push to every proxy goes out before their answers are read. */
  readonly requests = new RequestDeferral();

  constructor(private readonly options: SnapshotCacheOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.forgetAfterMs = options.forgetAfterMs ?? DEFAULT_FORGET_AFTER_MS;
    this.maxDisconnected = options.maxDisconnected ?? DEFAULT_MAX_DISCONNECTED;
  }

  addEvents(events: CacheEvents): void {
    this.events.push(events);
  }

  setSnapshot(nodeId: string, snapshot: Snapshot): void {
    if (this.getSnapshot(nodeId) === snapshot) return;
    const recent = this.recent.get(nodeId) ?? [];
    recent.unshift(snapshot);
    if (recent.length > RECENT_SNAPSHOTS) recent.pop();
    this.recent.set(nodeId, recent);
    const status = this.statuses.get(nodeId);
    if (status) status.snapshotVersion = snapshot.version;
    for (const listener of this.listeners.get(nodeId) ?? []) listener(snapshot);
  }

  getSnapshot(nodeId: string): Snapshot | undefined {
    return this.recent.get(nodeId)?.[0];
  }

  /** The node's current snapshot and the few before it, newest first. */
  recentSnapshots(nodeId: string): readonly Snapshot[] {
    return this.recent.get(nodeId) ?? [];
  }

  /** Ids of nodes that connected and are not forgotten yet (they keep their snapshot). */
  knownNodes(): string[] {
    return [...this.statuses.keys()];
  }

  watch(nodeId: string, listener: SnapshotListener): () => void {
    let set = this.listeners.get(nodeId);
    if (!set) this.listeners.set(nodeId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(nodeId);
    };
  }

  /**
   * Called by a stream on its first request. Throws, changing nothing, when
   * the node metadata is invalid (InvalidProxyMetadataError) or another
   * identity holds the node id on an open stream (NodeIdClaimedError).
   */
  streamOpened(node: Node, protocol: 'sotw' | 'delta', peer: PeerIdentity): void {
    const view = proxyViewOf(node, peer, undefined, this.options.locatePod);
    const identity = identityUri(peer);
    let status = this.statuses.get(node.id);
    if (status?.connected && status.identity !== identity) throw new NodeIdClaimedError(node.id, status.identity, identity);
    if (!status) {
      status = {
        id: node.id,
        cluster: node.cluster,
        userAgent: [node.userAgentName, node.userAgentVersionType?.$case === 'userAgentVersion' ? node.userAgentVersionType.value : ''].filter(Boolean).join('/'),
        protocol,
        connected: true,
        streams: 0,
        connectedAt: new Date().toISOString(),
        view,
        types: new Map(),
      };
      this.statuses.set(node.id, status);
    }
    status.view = view;
    status.identity = identity;
    status.address = peer.address;
    status.protocol = protocol;
    status.connected = true;
    status.disconnectedAt = undefined;
    this.disconnected.delete(node.id);
    status.connectedAt = new Date().toISOString();
    status.streams++;
    const fresh = status.streams === 1;
    if (fresh) for (const e of this.events) e.nodeConnected?.(node);
    status.snapshotVersion = this.getSnapshot(node.id)?.version;
  }

  streamClosed(nodeId: string): void {
    const status = this.statuses.get(nodeId);
    if (!status) return;
    status.streams = Math.max(0, status.streams - 1);
    if (status.streams === 0) {
      status.connected = false;
      status.disconnectedAt = new Date().toISOString();
      this.disconnected.delete(nodeId);
      this.disconnected.set(nodeId, this.clock.now());
      for (const e of this.events) e.nodeDisconnected?.(nodeId);
      this.sweep();
    }
  }

  /** Disconnected proxies still remembered. */
  disconnectedCount(): number {
    return this.disconnected.size;
  }

  /** Forgets what is over the count bound or past its time, then waits for the next expiry. */
  private sweep(): void {
    this.clock.clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
    const now = this.clock.now();
    for (const [nodeId, since] of this.disconnected) {
      if (this.disconnected.size <= this.maxDisconnected && now - since < this.forgetAfterMs) break;
      this.forget(nodeId);
    }
    const oldest = this.disconnected.values().next();
    if (!oldest.done) this.sweepTimer = this.clock.setTimeout(() => this.sweep(), Math.max(0, oldest.value + this.forgetAfterMs - now));
  }

  private forget(nodeId: string): void {
    this.disconnected.delete(nodeId);
    this.statuses.delete(nodeId);
    this.recent.delete(nodeId);
    for (const e of this.events) e.nodeForgotten?.(nodeId);
  }

  /** Stops the expiry timer (server shutdown). */
  close(): void {
    this.clock.clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
  }

  recordPush(nodeId: string, typeUrl: TypeUrl, version: string): void {
    const t = this.typeStatus(nodeId, typeUrl);
    t.sentVersion = version;
    t.sentAt = Date.now();
    for (const e of this.events) e.pushed?.(nodeId, typeUrl, version);
  }

  recordAck(nodeId: string, typeUrl: TypeUrl, version: string): void {
    const t = this.typeStatus(nodeId, typeUrl);
    t.ackedVersion = version;
    t.ackedAt = Date.now();
    for (const e of this.events) e.acked?.(nodeId, typeUrl, version);
  }

  /** The proxy holds exactly this version without a new response (reconnect, or a fix that needs no push). */
  recordInSync(nodeId: string, typeUrl: TypeUrl, version: string): void {
    const t = this.typeStatus(nodeId, typeUrl);
    if (t.ackedVersion === version && t.sentVersion === version) return;
    const now = Date.now();
    t.sentVersion = version;
    t.sentAt = now;
    t.ackedVersion = version;
    t.ackedAt = now;
  }

  recordNack(nodeId: string, typeUrl: TypeUrl, version: string, error: string): void {
    const t = this.typeStatus(nodeId, typeUrl);
    t.lastNack = { version, error, at: new Date().toISOString() };
    for (const e of this.events) e.nacked?.(nodeId, typeUrl, version, error);
  }

  nodeStatus(nodeId: string): NodeStatus | undefined {
    return this.statuses.get(nodeId);
  }

  allNodeStatuses(): NodeStatus[] {
    return [...this.statuses.values()];
  }

  connectedCount(): number {
    let n = 0;
    for (const s of this.statuses.values()) if (s.connected) n++;
    return n;
  }

  private typeStatus(nodeId: string, typeUrl: TypeUrl): TypeStatus {
    const status = this.statuses.get(nodeId);
    if (!status) throw new Error(`no stream open for node "${nodeId}"`);
    let t = status.types.get(typeUrl);
    if (!t) status.types.set(typeUrl, (t = {}));
    return t;
  }
}
