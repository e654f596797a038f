// Resources added for named proxies only, on top of what their view gives
// them (an RTSP session's relay listeners on the proxies of its path), and a
// promise that settles when every one of those proxies has them: resolved on
// ACK, rejected with Envoy's own text on NACK, or on timeout. Each set belongs
// to an owner; releasing the owner removes its resources, and a set that
// failed is removed at once, so nothing half-applied lingers.
import { type Clock, systemClock, type TimerHandle } from '../clock.js';
import { type ResourceRef, resourceState } from './resource-state.js';
import { type EnvoyResources, toWireResources, type WireResource } from './resources.js';
import type { SnapshotCache } from './snapshot-cache.js';

/** Per-proxy additions one proxy may carry, across owners. */
export const MAX_EXTRA_RESOURCES_PER_PROXY = 4096;
export const DEFAULT_APPLY_TIMEOUT_MS = 10_000;

export type ProxyResourceFailure = 'nack' | 'timeout' | 'not-connected' | 'disconnected' | 'limit' | 'conflict' | 'released';

export class ProxyResourceError extends Error {
  constructor(readonly failure: ProxyResourceFailure, message: string, readonly nodeId?: string) {
    super(message);
  }
}

export interface ProxyResourceRequest {
  /** Who the resources belong to (e.g. an RTSP session); one set per owner. */
  owner: string;
  nodes: readonly string[];
  resources: EnvoyResources;
  timeoutMs?: number;
  /** The proxy that asked (an RTSP filter's own proxy): when the control plane forgets it, the set goes from every proxy. */
  ownerNode?: string;
}

interface OwnedSet {
  readonly owner: string;
  readonly ownerNode?: string;
  readonly nodes: ReadonlySet<string>;
  readonly wire: readonly WireResource[];
  waiter?: { resolve(): void; reject(err: ProxyResourceError): void; timer: TimerHandle };
}

export class ProxyResources {
  private readonly sets = new Map<string, OwnedSet>();
  private readonly byNode = new Map<string, Set<OwnedSet>>();

  /** `changed` is told which proxies' additions changed, so their snapshots can be rebuilt. */
  constructor(
    private readonly cache: SnapshotCache,
    private readonly changed: (nodeIds: readonly string[]) => void,
    private readonly clock: Clock = systemClock,
  ) {
    cache.addEvents({
      acked: (nodeId) => this.check(nodeId),
      nacked: (nodeId) => this.check(nodeId),
      nodeDisconnected: (nodeId) => this.failNode(nodeId, 'disconnected', `proxy ${nodeId} disconnected before it ACKed`),
      nodeForgotten: (nodeId) => this.dropNode(nodeId),
    });
  }

  /** Adds (or replaces) the owner's resources on the named proxies and waits until all of them ACK. */
  apply(request: ProxyResourceRequest): Promise<void> {
    this.release(request.owner);
    const wire = toWireResources(request.resources);
    const nodes = new Set(request.nodes);
    for (const nodeId of nodes) {
      if (!this.cache.nodeStatus(nodeId)?.connected) return Promise.reject(new ProxyResourceError('not-connected', `proxy ${nodeId} is not connected`, nodeId));
      const carried = new Set(this.forNode(nodeId).map(resourceKey));
      if (carried.size + wire.length > MAX_EXTRA_RESOURCES_PER_PROXY) {
        return Promise.reject(new ProxyResourceError('limit', `proxy ${nodeId} would carry ${carried.size + wire.length} per-proxy resources; the limit is ${MAX_EXTRA_RESOURCES_PER_PROXY}`, nodeId));
      }
      const clash = wire.find((r) => carried.has(resourceKey(r)));
      if (clash) return Promise.reject(new ProxyResourceError('conflict', `proxy ${nodeId} already carries ${clash.name} for another owner`, nodeId));
    }
    const set: OwnedSet = { owner: request.owner, nodes, wire, ...(request.ownerNode === undefined ? {} : { ownerNode: request.ownerNode }) };
    this.sets.set(request.owner, set);
    for (const nodeId of nodes) {
      const owned = this.byNode.get(nodeId) ?? new Set();
      owned.add(set);
      this.byNode.set(nodeId, owned);
    }
    const settled = new Promise<void>((resolve, reject) => {
      const timeoutMs = request.timeoutMs ?? DEFAULT_APPLY_TIMEOUT_MS;
      const timer = this.clock.setTimeout(() => this.fail(set, new ProxyResourceError('timeout', `not every proxy ACKed ${request.owner}'s resources within ${timeoutMs} ms (waiting for ${this.waitingOn(set).join(', ')})`)), timeoutMs);
      set.waiter = { resolve, reject, timer };
    });
    this.changed([...nodes]);
    for (const nodeId of nodes) this.check(nodeId);
    return settled;
  }

  /** Removes the owner's resources from its proxies (a no-op if it has none). */
  release(owner: string): void {
    const set = this.sets.get(owner);
    if (!set) return;
    this.remove(set);
    set.waiter?.reject(new ProxyResourceError('released', `${owner}'s resources were released before every proxy ACKed them`));
    this.settle(set);
    this.changed([...set.nodes]);
  }

  /** What the proxy carries beyond its view. */
  forNode(nodeId: string): WireResource[] {
    return [...(this.byNode.get(nodeId) ?? [])].flatMap((set) => set.wire);
  }

  owners(): string[] {
    return [...this.sets.keys()];
  }

  private refs(set: OwnedSet): ResourceRef[] {
    return set.wire.map((r) => ({ typeUrl: r.typeUrl, name: r.name, version: r.version }));
  }

  private waitingOn(set: OwnedSet): string[] {
    return [...set.nodes].filter((nodeId) => this.refs(set).some((ref) => resourceState(this.cache, nodeId, ref).state !== 'acked'));
  }

  private check(nodeId: string): void {
    for (const set of [...(this.byNode.get(nodeId) ?? [])]) {
      if (!set.waiter) continue;
      const rejection = this.refs(set).map((ref) => ({ ref, state: resourceState(this.cache, nodeId, ref) })).find((r) => r.state.state === 'rejected');
      if (rejection && rejection.state.state === 'rejected') {
        this.fail(set, new ProxyResourceError('nack', `proxy ${nodeId} rejected ${rejection.ref.name}: ${rejection.state.error}`, nodeId));
      } else if (this.waitingOn(set).length === 0) {
        set.waiter.resolve();
        this.settle(set);
      }
    }
  }

  private fail(set: OwnedSet, err: ProxyResourceError): void {
    if (!set.waiter) return;
    set.waiter.reject(err);
    this.settle(set);
    if (this.sets.get(set.owner) === set) {
      this.remove(set);
      this.changed([...set.nodes]);
    }
  }

  private failNode(nodeId: string, failure: ProxyResourceFailure, message: string): void {
    for (const set of [...(this.byNode.get(nodeId) ?? [])]) this.fail(set, new ProxyResourceError(failure, message, nodeId));
  }

  private dropNode(nodeId: string): void {
    for (const set of [...this.sets.values()]) if (set.ownerNode === nodeId) this.release(set.owner);
    const owned = this.byNode.get(nodeId);
    if (!owned) return;
    this.byNode.delete(nodeId);
    for (const set of owned) if ([...set.nodes].every((n) => n === nodeId || !this.cache.nodeStatus(n))) this.sets.delete(set.owner);
  }

  private settle(set: OwnedSet): void {
    if (set.waiter) this.clock.clearTimeout(set.waiter.timer);
    set.waiter = undefined;
  }

  private remove(set: OwnedSet): void {
    this.sets.delete(set.owner);
    for (const nodeId of set.nodes) {
      const owned = this.byNode.get(nodeId);
      owned?.delete(set);
      if (owned?.size === 0) this.byNode.delete(nodeId);
    }
  }
}

function resourceKey(r: WireResource): string {
  return `${r.typeUrl} ${r.name}`;
}
