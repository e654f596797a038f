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

export interface MeshModel {
  udpListeners: UdpListenerModel[];
  /** Namespaces with at least one consumer route: only their proxies see something other than the producer routes. */
  consumerNamespaces: ReadonlySet<string>;
}
