// The intermediate representation: what the mesh must do, with every
// reference resolved, and nothing Envoy-specific. Plain data; the translator
// is a pure function of it.

export interface RouteId {
  namespace: string;
  name: string;
}

export interface EndpointModel {
  address: string;
  port: number;
}

export interface BackendModel {
  service: RouteId;
  /** The Service port the route named. */
  servicePort: number;
  weight: number;
  /** Ready endpoints only, sorted for stable output. */
  endpoints: EndpointModel[];
}

export type AffinityModel = 'SourceIP' | 'SourceIPPort' | 'None';

export interface UdpListenerModel {
  route: RouteId;
  /** "namespace/name:port" of the parent Service port this listener serves. */
  parent: string;
  /** A consumer route's listener applies only to this namespace's proxies, replacing the producer route of the same parent. */
  consumerNamespace?: string;
  address: string;
  port: number;
  protocol: 'RTP' | 'Raw';
  affinity: AffinityModel;
  idleTimeoutMs: number;
  backends: BackendModel[];
  /** Payload type → clock rate (Hz) overrides for RTP tracking. */
  clockRates: Record<number, number>;
}

export type RtspPathMatchType = 'Exact' | 'PathPrefix' | 'RegularExpression';

export interface RtspPathMatchModel {
  type: RtspPathMatchType;
  value: string;
}

export interface RtspRuleModel {
  /** Position in spec.rules: names the rule's cluster. */
  index: number;
  /** Any of these selects the rule; a rule without matches takes every path (PathPrefix "/"). */
  matches: RtspPathMatchModel[];
  backends: BackendModel[];
  /** What the rule lets a client ask for in SETUP (the UDP relays act on it). */
  transport: 'Auto' | 'TCP' | 'UDP';
}

/** Active health checks: an RTSP OPTIONS that must be answered 200. */
export interface RtspHealthCheckModel {
  intervalMs: number;
  timeoutMs: number;
  healthyThreshold: number;
  unhealthyThreshold: number;
}

/** Passive failure detection: a backend endpoint is ejected after consecutive connect failures. */
export interface RtspOutlierDetectionModel {
  consecutiveFailures: number;
  intervalMs: number;
  baseEjectionTimeMs: number;
}

export interface RtspListenerModel {
  route: RouteId;
  /** "namespace/name:port" of the parent Service port this listener serves. */
  parent: string;
  /** A consumer route's listener applies only to this namespace's proxies, replacing the producer route of the same parent. */
  consumerNamespace?: string;
  address: string;
  port: number;
  /** Lower case; empty means any host. */
  hostnames: string[];
  rules: RtspRuleModel[];
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  healthCheck: RtspHealthCheckModel;
  outlierDetection: RtspOutlierDetectionModel;
}

export interface MeshModel {
  udpListeners: UdpListenerModel[];
  rtspListeners: RtspListenerModel[];
  /** Namespaces with at least one consumer route: only their proxies see something other than the producer routes. */
  consumerNamespaces: ReadonlySet<string>;
}

export function emptyModel(): MeshModel {
  return { udpListeners: [], rtspListeners: [], consumerNamespaces: new Set() };
}
