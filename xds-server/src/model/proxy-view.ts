// Who a proxy is, as far as routing cares: what it says in its bootstrap node
// metadata, overridden by what its client certificate proves. The translator
// is a pure function of (model, view).

/** Node metadata keys `mediamesh bootstrap` writes and the control plane reads. */
export const NODE_METADATA = {
  namespace: 'mediamesh.io/namespace',
  podIp: 'mediamesh.io/pod-ip',
  role: 'mediamesh.io/role',
} as const;

export type ProxyRole = 'sidecar' | 'gateway';

export interface ProxyView {
  /** The proxy's namespace; undefined for a gateway, which serves every namespace's producer routes. */
  namespace?: string;
  podIp?: string;
  role: ProxyRole;
}

export const GATEWAY_VIEW: ProxyView = Object.freeze({ role: 'gateway' });
