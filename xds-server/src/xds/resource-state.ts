// Whether a proxy holds one resource at one version, read from what it ACKed
// and NACKed. Envoy applies the resources of one update one by one (a bad
// listener does not stop the others), so a NACK rejects the resources its
// error names and leaves the rest of that version in place.
import type { TypeStatus } from './node-status.js';
import type { SnapshotCache } from './snapshot-cache.js';
import type { Snapshot } from './snapshot.js';
import type { TypeUrl } from './type-urls.js';

export type ResourceState =
  | { state: 'acked'; version: string }
  | { state: 'rejected'; version: string; error: string }
  | { state: 'pending' };

export interface ResourceRef {
  typeUrl: TypeUrl;
  name: string;
  /** The resource's content version (WireResource.version). */
  version: string;
}

/** A SotW version for clusters may carry held-back clusters ("<version>+held.<key>"). */
function typeVersionOf(sent: string): string {
  const plus = sent.indexOf('+');
  return plus < 0 ? sent : sent.slice(0, plus);
}

function snapshotWithTypeVersion(snapshots: readonly Snapshot[], typeUrl: TypeUrl, version: string): Snapshot | undefined {
  const wanted = typeVersionOf(version);
  return snapshots.find((s) => s.forType(typeUrl).version === wanted);
}

/** A NACK later than the last ACK speaks for the version it names. */
function nackIsNewest(t: TypeStatus): boolean {
  return t.lastNack !== undefined && (t.ackedAt === undefined || Date.parse(t.lastNack.at) >= t.ackedAt);
}

/** The proxy has ACKed, for every type given, exactly this snapshot's version: all of it is in place. */
export function holdsSnapshot(cache: SnapshotCache, nodeId: string, snapshot: Snapshot, types: readonly TypeUrl[]): boolean {
  const status = cache.nodeStatus(nodeId);
  return types.every((typeUrl) => {
    const t = status?.types.get(typeUrl);
    return t?.ackedVersion !== undefined && typeVersionOf(t.ackedVersion) === snapshot.forType(typeUrl).version && !nackIsNewest(t);
  });
}

export function resourceState(cache: SnapshotCache, nodeId: string, ref: ResourceRef): ResourceState {
  const t = cache.nodeStatus(nodeId)?.types.get(ref.typeUrl);
  if (!t) return { state: 'pending' };
  const recent = cache.recentSnapshots(nodeId);
  const holds = (version: string | undefined): boolean => {
    if (version === undefined) return false;
    return snapshotWithTypeVersion(recent, ref.typeUrl, version)?.forType(ref.typeUrl).resources.get(ref.name)?.version === ref.version;
  };
  if (nackIsNewest(t) && holds(t.lastNack!.version)) {
    return t.lastNack!.error.includes(ref.name) ? { state: 'rejected', version: t.lastNack!.version, error: t.lastNack!.error } : { state: 'acked', version: t.lastNack!.version };
  }
  if (holds(t.ackedVersion)) return { state: 'acked', version: t.ackedVersion! };
  return { state: 'pending' };
}
