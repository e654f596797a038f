// State-of-the-World ADS stream (StreamAggregatedResources).
//
// A response for a type goes out only while the proxy has a request open for
// it (its previous response was ACKed or NACKed), and only when what we would
// send differs from what it last got. A NACKed version is not sent again.
import type { ServerDuplexStream } from '@grpc/grpc-js';
import { DiscoveryRequest, DiscoveryResponse } from '../gen/envoy/service/discovery/v3/discovery.js';
import type { Logger } from '../log.js';
import { contentVersion, type WireResource } from './resources.js';
import type { SnapshotCache } from './snapshot-cache.js';
import type { Snapshot } from './snapshot.js';
import { AdsStream, clustersMayBeRemoved, heldClusters } from './stream-common.js';
import { pushOrder, TypeUrl, wildcardTypes } from './type-urls.js';

interface SotwTypeState {
  /** The proxy has a request outstanding: we may respond. */
  watchOpen: boolean;
  wildcard: boolean;
  names: ReadonlySet<string>;
  /** version_info of the first request: what the proxy already had from an earlier stream. */
  initialVersion: string;
  lastNonce?: string;
  lastSentVersion?: string;
  lastSentNamesKey?: string;
  nackedVersion?: string;
  ackedVersion?: string;
  sent: ReadonlyMap<string, WireResource>;
}

export class SotwStream extends AdsStream<DiscoveryRequest, DiscoveryResponse> {
  private readonly types = new Map<TypeUrl, SotwTypeState>();
  private nonceCounter = 0;

  constructor(call: ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>, cache: SnapshotCache, log: Logger) {
    super(call, cache, log, 'sotw');
  }

  protected handleRequest(typeUrl: TypeUrl, req: DiscoveryRequest): void {
    const nodeId = this.nodeId!;
    let state = this.types.get(typeUrl);
    if (!state) {
      // A nonce from an earlier stream means nothing here: treat this as the first request.
      state = { watchOpen: false, wildcard: false, names: new Set(), initialVersion: req.versionInfo, sent: new Map() };
      this.types.set(typeUrl, state);
    } else if (req.responseNonce !== state.lastNonce) {
      this.log.debug('ignoring request with stale nonce', { node: nodeId, typeUrl, nonce: req.responseNonce, expected: state.lastNonce });
      return;
    } else if (req.errorDetail) {
      const version = state.lastSentVersion ?? '';
      state.nackedVersion = version;
      this.cache.recordNack(nodeId, typeUrl, version, req.errorDetail.message);
      this.log.warn('proxy rejected config (NACK)', { node: nodeId, typeUrl, version, error: req.errorDetail.message, keeps: req.versionInfo });
    } else if (req.responseNonce) {
      state.ackedVersion = req.versionInfo;
      state.nackedVersion = undefined;
      this.cache.recordAck(nodeId, typeUrl, req.versionInfo);
    }
    state.names = new Set(req.resourceNames);
    state.wildcard = wildcardTypes.has(typeUrl) && (req.resourceNames.length === 0 || state.names.has('*'));
    state.watchOpen = true;
    const snapshot = this.cache.getSnapshot(nodeId);
    if (!snapshot) return;
    this.respond(typeUrl, snapshot);
    // An ACKed listener or route may release clusters held back from the last change.
    if (typeUrl === TypeUrl.Listener || typeUrl === TypeUrl.RouteConfiguration) this.respond(TypeUrl.Cluster, snapshot);
  }

  protected pushAll(snapshot: Snapshot): void {
    for (const typeUrl of pushOrder) this.respond(typeUrl, snapshot);
  }

  private respond(typeUrl: TypeUrl, snapshot: Snapshot): void {
    const state = this.types.get(typeUrl);
    if (!state?.watchOpen) return;
    const { version, resources } = this.resourcesToServe(typeUrl, state, snapshot);
    const namesKey = state.wildcard ? '*' : [...state.names].sort().join(',');
    const sameNames = namesKey === state.lastSentNamesKey;
    if (state.lastSentVersion === undefined && version === state.initialVersion && version !== '') {
      // Reconnected with exactly what we hold: nothing to send, no churn.
      state.lastSentVersion = version;
      state.lastSentNamesKey = namesKey;
      state.sent = new Map(resources.map((r) => [r.name, r]));
      state.ackedVersion = version;
      this.cache.recordInSync(this.nodeId!, typeUrl, version);
      return;
    }
    if (sameNames && (version === state.lastSentVersion || version === state.nackedVersion)) return;
    const nonce = String(++this.nonceCounter);
    state.watchOpen = false;
    state.lastNonce = nonce;
    state.lastSentVersion = version;
    state.lastSentNamesKey = namesKey;
    state.sent = new Map(resources.map((r) => [r.name, r]));
    this.send(DiscoveryResponse.fromPartial({ versionInfo: version, typeUrl, nonce, resources: resources.map((r) => r.packed), controlPlane: { identifier: 'mediamesh' } }));
    this.cache.recordPush(this.nodeId!, typeUrl, version);
  }

  private resourcesToServe(typeUrl: TypeUrl, state: SotwTypeState, snapshot: Snapshot): { version: string; resources: WireResource[] } {
    const typeSnapshot = snapshot.forType(typeUrl);
    const resources = state.wildcard
      ? [...typeSnapshot.resources.values()]
      : [...state.names].map((n) => typeSnapshot.resources.get(n)).filter((r): r is WireResource => r !== undefined);
    if (typeUrl !== TypeUrl.Cluster) return { version: typeSnapshot.version, resources };
    const release = clustersMayBeRemoved(snapshot, (t) => this.types.get(t)?.ackedVersion, (t) => this.types.has(t));
    const held = heldClusters(snapshot, state.sent.values(), release);
    if (held.length === 0) return { version: typeSnapshot.version, resources };
    const heldKey = contentVersion(Buffer.from(held.map((c) => `${c.name}@${c.version}`).sort().join(',')));
    return { version: `${typeSnapshot.version}+held.${heldKey}`, resources: [...resources, ...held] };
  }
}
