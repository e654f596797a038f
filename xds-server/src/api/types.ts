// The documents mediamesh reads: its own CRs (group mediamesh.io, v1alpha1)
// and the plain Kubernetes Service and EndpointSlice it resolves them against.
// Shapes follow Gateway API's route conventions (GAMMA: parentRefs are Services).

export const MEDIAMESH_API_VERSION = 'mediamesh.io/v1alpha1';
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface ParentRef {
  group?: string;
  kind?: 'Service';
  name: string;
  namespace?: string;
  /** The Service port the route serves; with endPort, the first of a range. */
  port: number;
  endPort?: number;
}

export interface BackendRef {
  group?: string;
  kind?: 'Service';
  name: string;
  namespace?: string;
  port: number;
  /** Relative share of sessions; defaults to 1. */
  weight?: number;
}

export type SessionAffinity = 'SourceIP' | 'SourceIPPort' | 'None';

export interface UdpRouteSpec {
  parentRefs: ParentRef[];
  protocol?: 'RTP' | 'Raw';
  backendRefs: BackendRef[];
  sessionAffinity?: SessionAffinity;
  /** Go-style duration: "60s", "1m30s", "500ms". */
  idleTimeout?: string;
  rtp?: {
    /** Payload type (as a string key) → clock rate in Hz. */
    clockRate?: Record<string, number>;
    trackSequence?: boolean;
  };
}

export interface UdpRoute {
  apiVersion: typeof MEDIAMESH_API_VERSION;
  kind: 'UdpRoute';
  metadata: ObjectMeta;
  spec: UdpRouteSpec;
}

export interface RtspPathMatch {
  type?: 'Exact' | 'PathPrefix' | 'RegularExpression';
  value: string;
}

export interface RtspRouteRule {
  matches?: { path?: RtspPathMatch }[];
  backendRefs: BackendRef[];
  transport?: 'Auto' | 'TCP' | 'UDP';
}

export interface RtspRouteSpec {
  parentRefs: ParentRef[];
  hostnames?: string[];
  rules: RtspRouteRule[];
  healthCheck?: { interval?: string; timeout?: string; healthyThreshold?: number; unhealthyThreshold?: number };
  outlierDetection?: { consecutiveFailures?: number; interval?: string; baseEjectionTime?: string };
  timeouts?: { connect?: string; idle?: string };
}

export interface RtspRoute {
  apiVersion: typeof MEDIAMESH_API_VERSION;
  kind: 'RtspRoute';
  metadata: ObjectMeta;
  spec: RtspRouteSpec;
}

export interface ServicePort {
  name?: string;
  port: number;
  targetPort?: number | string;
  protocol?: 'TCP' | 'UDP' | 'SCTP';
}

export interface Service {
  apiVersion: 'v1';
  kind: 'Service';
  metadata: ObjectMeta;
  spec: { clusterIP?: string; ports: ServicePort[]; selector?: Record<string, string> };
}

export interface EndpointSlice {
  apiVersion: 'discovery.k8s.io/v1';
  kind: 'EndpointSlice';
  metadata: ObjectMeta;
  addressType: 'IPv4' | 'IPv6' | 'FQDN';
  ports?: { name?: string; port?: number; protocol?: 'TCP' | 'UDP' | 'SCTP' }[];
  endpoints: { addresses: string[]; conditions?: { ready?: boolean; serving?: boolean; terminating?: boolean } }[];
}

export type MeshDocument = UdpRoute | RtspRoute | Service | EndpointSlice;
export type MeshKind = MeshDocument['kind'];

/** Where a document came from, so every error can point at it. */
export interface DocumentOrigin {
  /** File path (file source) or "kubernetes" (cluster source). */
  source: string;
  /** 0-based index of the document in its file. */
  index: number;
}

export interface SourcedDocument<T = unknown> {
  origin: DocumentOrigin;
  document: T;
}

/** The validated configuration the model is built from. */
export interface MeshConfig {
  services: Service[];
  endpointSlices: EndpointSlice[];
  udpRoutes: UdpRoute[];
  rtspRoutes: RtspRoute[];
}

export function namespaceOf(meta: ObjectMeta): string {
  return meta.namespace ?? 'default';
}

export function objectKey(kind: string, meta: ObjectMeta): string {
  return `${kind} ${namespaceOf(meta)}/${meta.name}`;
}
