// State-of-the-World ADS stream (StreamAggregatedResources).
//
// A response for a type goes out only while the proxy has a request open for
// it (its previous response was ACKed or NACKed), and only when what we would
// send differs from what it last got. A NACKed version is not sent again.
import type { ServerDuplexStream } from '@grpc/grpc-js';
import type { DiscoveryRequest } from '../gen/envoy/service/discovery/v3/discovery.js';
import { sotwResponseBody, withNonce } from './response-encoding.js';
import type { Logger } from '../log.js';
import { contentVersion, type WireResource } from './resources.js';
import type { SnapshotCache } from './snapshot-cache.js';
import { namesKey, type Selection, selectNamed, wholeType, withAdded } from './named-selection.js';
import type { Snapshot } from './snapshot.js';
import { AdsStream, clustersMayBeRemoved, heldClusters } from './stream-common.js';
import { TypeUrl, wildcardTypes } from './type-urls.js';

interface SotwTypeState {
  /** The proxy has a request outstanding: we may respond. */
  watchOpen: boolean;
  wildcard: boolean;
  /** Some request for this type named resources: an empty list now means "none", not legacy wildcard. */
  named: boolean;
  names: ReadonlySet<string>;
  /** The list `names` was made from, as the proxy sent it. */
  namesAsked: readonly string[];
  /** namesKey of `names`: which shared selection serves them (named-selection.ts). */
  namesKey: string;
  /** version_info of the first request: what the proxy already had from an earlier stream. */
  initialVersion: string;
  lastNonce?: string;
  lastSentVersion?: string;
  /** The names the last response answered ('*': all). */
  lastSentNames?: ReadonlySet<string> | '*';
  nackedVersion?: string;
  ackedVersion?: string;
  /** Offer the current version again even though it was sent (a transient NACK). */
  resend?: boolean;
  sent: ReadonlyMap<string, WireResource>;
}

export class SotwStream extends AdsStream<DiscoveryRequest, Buffer> {
  private readonly types = new Map<TypeUrl, SotwTypeState>();
  private nonceCounter = 0;

  constructor(call: ServerDuplexStream<DiscoveryRequest, Buffer>, cache: SnapshotCache, log: Logger) {
    super(call, cache, log, 'sotw');
  }

  protected handleRequest(typeUrl: TypeUrl, req: DiscoveryRequest): void {
    const nodeId = this.nodeId!;
    let state = this.types.get(typeUrl);
    if (!state) {
      // A nonce from an earlier stream means nothing here: treat this as the first request.
      state = { watchOpen: false, wildcard: false, named: false, names: new Set(), namesAsked: [], namesKey: namesKey([]), initialVersion: req.versionInfo, sent: new Map() };
      this.types.set(typeUrl, state);
    } else if (req.responseNonce !== state.lastNonce) {
      this.log.debug('ignoring request with stale nonce', { node: nodeId, typeUrl, nonce: req.responseNonce, expected: state.lastNonce });
      return;
    } else if (req.errorDetail) {
      const version = state.lastSentVersion ?? '';
      state.nackedVersion = version;
      this.cache.recordNack(nodeId, typeUrl, version, req.errorDetail.message);
      this.logNack(typeUrl, version, req.errorDetail.message, { keeps: req.versionInfo });
      const nacked = state;
      this.retryIfTransient(typeUrl, req.errorDetail.message, () => {
        if (nacked.nackedVersion === version) nacked.resend = true;
      });
    } else if (req.responseNonce) {
      state.ackedVersion = req.versionInfo;
      state.nackedVersion = undefined;
      this.clearTransientRetry(typeUrl);
      this.cache.recordAck(nodeId, typeUrl, req.versionInfo);
    }
    this.checkNameCount(typeUrl, req.resourceNames.length, 'the request names');
    // An ACK repeats the names of the request before it: keep the set it made.
    if (!sameList(req.resourceNames, state.namesAsked)) {
      state.names = new Set(req.resourceNames);
      state.namesAsked = req.resourceNames;
      state.namesKey = namesKey([...state.names]);
    }
    state.named ||= req.resourceNames.length > 0;
    state.wildcard = wildcardTypes.has(typeUrl) && (!state.named || state.names.has('*'));
    state.watchOpen = true;
    const snapshot = this.cache.getSnapshot(nodeId);
    // Any answer can unblock another type: settled clusters release listeners, an ACKed listener releases held clusters.
    if (snapshot) this.pushAll(snapshot);
  }

  protected clustersSettled(snapshot: Snapshot): boolean {
    const cds = this.types.get(TypeUrl.Cluster);
    if (!cds) return true;
    if (!cds.lastSentVersion?.startsWith(snapshot.forType(TypeUrl.Cluster).version) || !settled(cds)) return false;
    // Rejected clusters never warm: waiting for their endpoints would only delay the listeners.
    if (cds.nackedVersion === cds.lastSentVersion) return true;
    const eds = this.types.get(TypeUrl.ClusterLoadAssignment);
    const assignments = snapshot.forType(TypeUrl.ClusterLoadAssignment);
    for (const name of cds.sent.keys()) {
      if (!assignments.resources.has(name)) continue;
      if (!eds || !(eds.wildcard || eds.names.has(name))) return false;
      if (eds.lastSentVersion !== assignments.version || !settled(eds)) return false;
    }
    return true;
  }

  protected respond(typeUrl: TypeUrl, snapshot: Snapshot): void {
    const state = this.types.get(typeUrl);
    if (!state?.watchOpen) return;
    const names = state.wildcard ? '*' : state.names;
    // Every ACK asks again for every type: settle the common "nothing new" before gathering resources.
    // (Only clusters' version depends on more than the snapshot: the clusters held back.)
    if (typeUrl !== TypeUrl.Cluster && state.lastSentVersion !== undefined && !state.resend && askedNothingNew(names, state.lastSentNames)) {
      const version = snapshot.forType(typeUrl).version;
      if (version === state.lastSentVersion || version === state.nackedVersion) {
        state.lastSentNames = names;
        return;
      }
    }
    const { version, selection } = this.resourcesToServe(typeUrl, state, snapshot);
    const resources = selection.list;
    if (state.lastSentVersion === undefined && version === state.initialVersion && version !== '') {
      // Reconnected with exactly what we hold: nothing to send, no churn.
      state.lastSentVersion = version;
      state.lastSentNames = names;
      state.sent = selection.byName;
      state.ackedVersion = version;
      this.cache.recordInSync(this.nodeId!, typeUrl, version);
      return;
    }
    // The same names or fewer (an unsubscription) at a version already sent: nothing new to say.
    if (!state.resend && askedNothingNew(names, state.lastSentNames) && (version === state.lastSentVersion || version === state.nackedVersion)) {
      state.lastSentNames = names;
      return;
    }
    // For named types absence is not removal: an empty answer only helps a first request finish.
    if (names !== '*' && resources.length === 0 && state.lastSentVersion !== undefined) {
      state.lastSentNames = names;
      return;
    }
    if (!this.mayRespond(typeUrl, snapshot)) return;
    const nonce = String(++this.nonceCounter);
    state.resend = false;
    state.watchOpen = false;
    state.lastNonce = nonce;
    state.lastSentVersion = version;
    state.lastSentNames = names;
    state.sent = selection.byName;
    this.send(withNonce(sotwResponseBody(snapshot.forType(typeUrl), typeUrl, version, selection), nonce));
    this.cache.recordPush(this.nodeId!, typeUrl, version);
  }

  private resourcesToServe(typeUrl: TypeUrl, state: SotwTypeState, snapshot: Snapshot): { version: string; selection: Selection } {
    const typeSnapshot = snapshot.forType(typeUrl);
    const selection = state.wildcard ? wholeType(typeSnapshot) : selectNamed(typeSnapshot, state.names, state.namesKey);
    if (typeUrl !== TypeUrl.Cluster) return { version: typeSnapshot.version, selection };
    const release = clustersMayBeRemoved(snapshot, (t) => this.types.get(t)?.ackedVersion, (t) => this.types.has(t));
    const held = heldClusters(snapshot, state.sent.values(), release);
    if (held.length === 0) return { version: typeSnapshot.version, selection };
    const heldKey = contentVersion(Buffer.from(held.map((c) => `${c.name}@${c.version}`).sort().join(',')));
    return { version: `${typeSnapshot.version}+held.${heldKey}`, selection: withAdded(selection, held) };
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function askedNothingNew(names: ReadonlySet<string> | '*', lastSent: ReadonlySet<string> | '*' | undefined): boolean {
  if (lastSent === undefined) return false;
  // An ACK keeps the set of the request before it: usually the very set last answered.
  if (names === lastSent) return true;
  if (names === '*' || lastSent === '*') return false;
  for (const name of names) if (!lastSent.has(name)) return false;
  return true;
}

/** The proxy answered the last response of this type, either way. */
function settled(state: SotwTypeState): boolean {
  return state.lastSentVersion !== undefined && (state.ackedVersion === state.lastSentVersion || state.nackedVersion === state.lastSentVersion);
}
