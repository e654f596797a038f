// What each proxy has accepted or rejected, per resource type: the state
// behind `mediamesh status`, /debug/nodes and the ACK/NACK metrics.
import type { ProxyView } from '../model/proxy-view.js';
import { shortTypeName, type TypeUrl } from './type-urls.js';

export interface NackRecord {
  readonly version: string;
  readonly error: string;
  readonly at: string;
}

/** Times are epoch milliseconds: cheap on the hot path, formatted only for people. */
export interface TypeStatus {
  sentVersion?: string;
  sentAt?: number;
  ackedVersion?: string;
  ackedAt?: number;
  lastNack?: NackRecord;
}

export interface TypeStatusJson {
  typeUrl: string;
  sentVersion?: string;
  sentAt?: string;
  ackedVersion?: string;
  ackedAt?: string;
  lastNack?: NackRecord;
}

export interface NodeStatus {
  readonly id: string;
  cluster: string;
  userAgent: string;
  protocol: 'sotw' | 'delta';
  connected: boolean;
  streams: number;
  connectedAt: string;
  /** When the last stream closed, while the proxy is disconnected. */
  disconnectedAt?: string;
  /** What the proxy is given a view of: its node metadata, its namespace overridden by its certificate's. */
  view: ProxyView;
  /** The SPIFFE URI its client certificate proved; undefined without mTLS. */
  identity?: string;
  /** The IP address its newest stream comes from (who may ask for this proxy's RTSP relays). */
  address?: string;
  /** The snapshot version the cache holds for this node. */
  snapshotVersion?: string;
  types: Map<TypeUrl, TypeStatus>;
}

/** What /debug/nodes and `mediamesh status` read: the same fields, types keyed by short name. */
export type NodeStatusJson = Omit<NodeStatus, 'types'> & { types: Record<string, TypeStatusJson> };

const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());

export function nodeStatusToJson(status: NodeStatus): NodeStatusJson {
  const types: NodeStatusJson['types'] = {};
  for (const [typeUrl, t] of status.types) {
    types[shortTypeName(typeUrl)] = { typeUrl, sentVersion: t.sentVersion, sentAt: iso(t.sentAt), ackedVersion: t.ackedVersion, ackedAt: iso(t.ackedAt), lastNack: t.lastNack };
  }
  return {
    id: status.id,
    cluster: status.cluster,
    userAgent: status.userAgent,
    protocol: status.protocol,
    connected: status.connected,
    streams: status.streams,
    connectedAt: status.connectedAt,
    disconnectedAt: status.disconnectedAt,
    view: status.view,
    identity: status.identity,
    snapshotVersion: status.snapshotVersion,
    types,
  };
}
