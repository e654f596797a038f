// Incremental ADS stream (DeltaAggregatedResources).
//
// We track what the proxy has (name → version), send only resources whose
// version differs, and name the ones that went away. A resource version the
// proxy rejected is not offered again until it changes.
import type { ServerDuplexStream } from '@grpc/grpc-js';
import { DeltaDiscoveryRequest, DeltaDiscoveryResponse } from '../gen/envoy/service/discovery/v3/discovery.js';
import type { Logger } from '../log.js';
import type { WireResource } from './resources.js';
import type { SnapshotCache } from './snapshot-cache.js';
import type { Snapshot } from './snapshot.js';
import { XDS_LIMITS } from './limits.js';
import { AdsStream, clustersMayBeRemoved } from './stream-common.js';
import { TypeUrl } from './type-urls.js';

interface PendingResponse {
  readonly systemVersion: string;
  /** name → the version the proxy had before this response (undefined: had none). */
  readonly previous: ReadonlyMap<string, string | undefined>;
  readonly sent: ReadonlyMap<string, string | null>;
}

interface DeltaTypeState {
  wildcard: boolean;
  subscribed: Set<string>;
  clientHas: Map<string, string>;
  rejected: Map<string, string>;
  pending: Map<string, PendingResponse>;
}

export class DeltaStream extends AdsStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse> {
  private readonly types = new Map<TypeUrl, DeltaTypeState>();
  private nonceCounter = 0;

  constructor(call: ServerDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>, cache: SnapshotCache, log: Logger) {
    super(call, cache, log, 'delta');
  }

  protected handleRequest(typeUrl: TypeUrl, req: DeltaDiscoveryRequest): void {
    const nodeId = this.nodeId!;
    let state = this.types.get(typeUrl);
    this.checkNameCount(typeUrl, Object.keys(req.initialResourceVersions).length, 'the request reports holding');
    this.checkNameCount(typeUrl, (state?.subscribed.size ?? 0) + req.resourceNamesSubscribe.length, 'subscribing to');
    if (!state) {
      state = {
        // Legacy wildcard: a first request that names nothing wants everything.
        wildcard: req.resourceNamesSubscribe.length === 0,
        subscribed: new Set(),
        clientHas: new Map(Object.entries(req.initialResourceVersions)),
        rejected: new Map(),
        pending: new Map(),
      };
      this.types.set(typeUrl, state);
    }
    for (const name of req.resourceNamesSubscribe) {
      if (name === '*') state.wildcard = true;
      else state.subscribed.add(name);
    }
    for (const name of req.resourceNamesUnsubscribe) {
      if (name === '*') state.wildcard = false;
      else {
        state.subscribed.delete(name);
        state.clientHas.delete(name);
      }
    }
    if (req.responseNonce) {
      const pending = state.pending.get(req.responseNonce);
      state.pending.delete(req.responseNonce);
      if (!pending) {
        this.log.debug('ignoring ACK/NACK for unknown nonce', { node: nodeId, typeUrl, nonce: req.responseNonce });
      } else if (req.errorDetail) {
        for (const [name, version] of pending.sent) {
          if (version !== null) state.rejected.set(name, version);
          const before = pending.previous.get(name);
          if (before === undefined) state.clientHas.delete(name);
          else state.clientHas.set(name, before);
        }
        this.cache.recordNack(nodeId, typeUrl, pending.systemVersion, req.errorDetail.message);
        this.logNack(typeUrl, pending.systemVersion, req.errorDetail.message);
        const rejected = state.rejected;
        this.retryIfTransient(typeUrl, req.errorDetail.message, () => {
          for (const [name, version] of pending.sent) if (version !== null && rejected.get(name) === version) rejected.delete(name);
        });
      } else {
        this.clearTransientRetry(typeUrl);
        this.cache.recordAck(nodeId, typeUrl, pending.systemVersion);
      }
    }
    const snapshot = this.cache.getSnapshot(nodeId);
    // Any answer can unblock another type: settled clusters release listeners, an ACKed listener releases held clusters.
    if (snapshot) this.pushAll(snapshot);
  }

  protected clustersSettled(snapshot: Snapshot): boolean {
    const cds = this.types.get(TypeUrl.Cluster);
    if (!cds) return true;
    if (!this.settledOn(TypeUrl.Cluster, snapshot)) return false;
    const eds = this.types.get(TypeUrl.ClusterLoadAssignment);
    const assignments = snapshot.forType(TypeUrl.ClusterLoadAssignment).resources;
    for (const name of cds.clientHas.keys()) {
      if (!assignments.has(name)) continue;
      if (!eds || !(eds.wildcard || eds.subscribed.has(name))) return false;
    }
    return !eds || this.settledOn(TypeUrl.ClusterLoadAssignment, snapshot);
  }

  /** No response in flight, and every resource in scope is held at its snapshot version or was rejected at it. */
  private settledOn(typeUrl: TypeUrl, snapshot: Snapshot): boolean {
    const state = this.types.get(typeUrl);
    if (!state || state.pending.size > 0) return false;
    for (const resource of snapshot.forType(typeUrl).resources.values()) {
      if (!(state.wildcard || state.subscribed.has(resource.name))) continue;
      const held = state.clientHas.get(resource.name);
      if (held !== resource.version && state.rejected.get(resource.name) !== resource.version) return false;
    }
    return true;
  }

  protected respond(typeUrl: TypeUrl, snapshot: Snapshot): void {
    const state = this.types.get(typeUrl);
    if (!state) return;
    const typeSnapshot = snapshot.forType(typeUrl);
    const inScope = (name: string): boolean => state.wildcard || state.subscribed.has(name);
    const updates: WireResource[] = [];
    for (const resource of typeSnapshot.resources.values()) {
      if (!inScope(resource.name)) continue;
      if (state.clientHas.get(resource.name) === resource.version) continue;
      if (state.rejected.get(resource.name) === resource.version) continue;
      updates.push(resource);
    }
    // Clusters, and the endpoints they carry, leave only after the listeners moving off them are in place.
    const mayRemove = (typeUrl !== TypeUrl.Cluster && typeUrl !== TypeUrl.ClusterLoadAssignment)
      || clustersMayBeRemoved(snapshot, (t) => (this.holdsAll(t, snapshot) ? snapshot.forType(t).version : undefined), (t) => this.types.has(t));
    const removals = mayRemove ? [...state.clientHas.keys()].filter((name) => !typeSnapshot.resources.has(name) && inScope(name)) : [];
    if (updates.length === 0 && removals.length === 0) {
      if (this.holdsAll(typeUrl, snapshot)) this.cache.recordInSync(this.nodeId!, typeUrl, typeSnapshot.version);
      return;
    }
    if (!this.mayRespond(typeUrl, snapshot)) return;

    const nonce = String(++this.nonceCounter);
    const previous = new Map<string, string | undefined>();
    const sent = new Map<string, string | null>();
    for (const r of updates) {
      previous.set(r.name, state.clientHas.get(r.name));
      sent.set(r.name, r.version);
      state.clientHas.set(r.name, r.version);
    }
    for (const name of removals) {
      previous.set(name, state.clientHas.get(name));
      sent.set(name, null);
      state.clientHas.delete(name);
    }
    state.pending.set(nonce, { systemVersion: typeSnapshot.version, previous, sent });
    // A client that never answers must not make us remember every response.
    if (state.pending.size > XDS_LIMITS.maxPendingPerType) state.pending.delete(state.pending.keys().next().value!);
    this.send(DeltaDiscoveryResponse.fromPartial({
      systemVersionInfo: typeSnapshot.version,
      typeUrl,
      nonce,
      resources: updates.map((r) => ({ name: r.name, version: r.version, resource: r.packed })),
      removedResources: removals,
      controlPlane: { identifier: 'mediamesh' },
    }));
    this.cache.recordPush(this.nodeId!, typeUrl, typeSnapshot.version);
  }

  /** The proxy has ACKed every resource of this type that the snapshot has for it. */
  private holdsAll(typeUrl: TypeUrl, snapshot: Snapshot): boolean {
    const state = this.types.get(typeUrl);
    if (!state || state.pending.size > 0) return false;
    for (const resource of snapshot.forType(typeUrl).resources.values()) {
      if ((state.wildcard || state.subscribed.has(resource.name)) && state.clientHas.get(resource.name) !== resource.version) return false;
    }
    return true;
  }
}
