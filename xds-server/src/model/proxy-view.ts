// Who a proxy is, as far as routing cares: what it says in its bootstrap node
// metadata, overridden by what its client certificate proves. The translator
// is a pure function of (model, view).
import type { CapturedPorts } from '../interception/captured-ports.js';

/** Node metadata keys `mediamesh bootstrap` writes and the control plane reads. */
export const NODE_METADATA = {
  namespace: 'mediamesh.io/namespace',
  podIp: 'mediamesh.io/pod-ip',
  role: 'mediamesh.io/role',
  /** The port lists the injector gives the interception script (its --rtsp-ports, ...): which listeners the sidecar needs. */
  rtspPorts: 'mediamesh.io/rtsp-ports',
  inboundRtspPorts: 'mediamesh.io/inbound-rtsp-ports',
  inboundUdpPorts: 'mediamesh.io/inbound-udp-ports',
} as const;

export type ProxyRole = 'sidecar' | 'gateway';

export interface ProxyView {
  /** The proxy's namespace; undefined for a gateway, which serves every namespace's producer routes. */
  namespace?: string;
  podIp?: string;
  role: ProxyRole;
  /** What the interception script sends the sidecar (only a sidecar's pod is intercepted); undefined: nothing. */
  captured?: CapturedPorts;
}

export const GATEWAY_VIEW: ProxyView = Object.freeze({ role: 'gateway' });
