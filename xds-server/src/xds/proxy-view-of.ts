// Who a connecting proxy is, for routing: its node metadata (what
// `mediamesh bootstrap` wrote), validated, with the namespace its client
// certificate proves taking precedence over the one it claims; without a
// certificate, the namespace of the pod it connects from, when a cluster
// source knows that pod.
import { isIP } from 'node:net';
import type { Node } from '../gen/envoy/config/core/v3/base.js';
import { type CapturedPorts, type CapturedPortLists, checkCapturedPorts } from '../interception/captured-ports.js';
import { createLogger, type Logger } from '../log.js';
import { NODE_METADATA, type ProxyRole, type ProxyView } from '../model/proxy-view.js';
import { DNS_LABEL, type PeerIdentity } from './peer-identity.js';

const defaultLog = createLogger('proxy-view');

/** Node metadata a proxy view cannot be built from; the stream is refused with this message. */
export class InvalidProxyMetadataError extends Error {}

export interface ProxyMetadataValues extends CapturedPortLists {
  namespace?: unknown;
  podIp?: unknown;
  role?: unknown;
}

export interface ValidProxyMetadata {
  namespace?: string;
  podIp?: string;
  role?: ProxyRole;
  captured?: CapturedPorts;
}

const ROLES: readonly ProxyRole[] = ['sidecar', 'gateway'];

/**
 * Checks the identity values and the captured port lists wherever they come
 * from (node metadata here, command-line flags in `mediamesh bootstrap`).
 * `name` says how the caller calls each value in its messages. Port lists
 * are for a sidecar only: a gateway's traffic is not intercepted.
 */
export function checkProxyMetadata(values: ProxyMetadataValues, name: (key: keyof ProxyMetadataValues) => string): { ok: true; value: ValidProxyMetadata } | { ok: false; errors: string[] } {
  const errors: string[] = [];
  const text = (key: keyof ProxyMetadataValues): string | undefined => {
    const v = values[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') {
      errors.push(`${name(key)} must be a string, got ${JSON.stringify(v)}`);
      return undefined;
    }
    return v;
  };
  const namespace = text('namespace');
  const podIp = text('podIp');
  const role = text('role');
  if (namespace !== undefined && !DNS_LABEL.test(namespace)) errors.push(`${name('namespace')} "${namespace}" is not a Kubernetes namespace name (a DNS label: a-z, 0-9 and -, at most 63)`);
  if (podIp !== undefined && isIP(podIp) === 0) errors.push(`${name('podIp')} "${podIp}" is not an IP address`);
  if (role !== undefined && !ROLES.includes(role as ProxyRole)) errors.push(`${name('role')} "${role}" must be one of ${ROLES.join(', ')}`);
  const captured = checkCapturedPorts(values, name);
  if (!captured.ok) errors.push(...captured.errors);
  else if (captured.value !== undefined && role === 'gateway') errors.push(capturedByGateway(values, name));
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, value: { namespace, podIp, role: role as ProxyRole | undefined, ...(captured.ok && captured.value !== undefined && { captured: captured.value }) } };
}

/** Why a proxy that is a gateway (said so, or has no namespace) cannot have captured ports. */
export function capturedByGateway(values: CapturedPortLists, name: (key: keyof CapturedPortLists) => string): string {
  const given = (['rtspPorts', 'inboundRtspPorts', 'inboundUdpPorts'] as const).filter((k) => values[k] !== undefined).map(name).join(', ');
  return `${given}: only a sidecar's pod is intercepted, and this proxy is a gateway (a sidecar has role sidecar and a namespace)`;
}

/**
 * The view a proxy gets. An authenticated proxy is in its certificate's
 * namespace whatever its metadata claims (a mismatch is logged); a proxy
 * with no namespace at all is a gateway. Throws InvalidProxyMetadataError.
 */
/** The pod at an address, as a cluster source knows it: `undefined` if none, or if several share it (host network). */
export type PodLocator = (address: string) => { namespace: string; name: string } | undefined;

export function proxyViewOf(node: Node, peer: PeerIdentity, log: Logger = defaultLog, locatePod?: PodLocator): ProxyView {
  const metadata: Record<string, unknown> = node.metadata ?? {};
  const values: ProxyMetadataValues = {
    namespace: metadata[NODE_METADATA.namespace],
    podIp: metadata[NODE_METADATA.podIp],
    role: metadata[NODE_METADATA.role],
    rtspPorts: metadata[NODE_METADATA.rtspPorts],
    inboundRtspPorts: metadata[NODE_METADATA.inboundRtspPorts],
    inboundUdpPorts: metadata[NODE_METADATA.inboundUdpPorts],
  };
  const checked = checkProxyMetadata(values, (key) => `node metadata ${NODE_METADATA[key]}`);
  if (!checked.ok) throw new InvalidProxyMetadataError(`node "${node.id}": ${checked.errors.join('; ')}`);
  const claimed = checked.value;
  let namespace = claimed.namespace;
  if (peer.authenticated) {
    namespace = peer.spiffe.namespace;
    if (claimed.namespace !== undefined && claimed.namespace !== namespace) {
      log.warn('node metadata claims another namespace than its certificate; using the certificate\'s', { node: node.id, claimed: claimed.namespace, proven: namespace, identity: peer.spiffe.uri });
    }
  }
  let podIp = claimed.podIp;
  // Without a certificate, the cluster still knows whose pod the connection comes from: a sidecar gets its pod's namespace.
  const pod = !peer.authenticated && peer.address !== undefined && claimed.role !== 'gateway' ? locatePod?.(peer.address) : undefined;
  if (pod && !peer.authenticated) {
    if (claimed.namespace !== undefined && claimed.namespace !== pod.namespace) {
      log.warn('node metadata claims another namespace than the pod it connects from; using the pod\'s', { node: node.id, claimed: claimed.namespace, pod: `${pod.namespace}/${pod.name}`, address: peer.address });
    }
    namespace = pod.namespace;
    podIp = peer.address;
  }
  const role = claimed.role ?? (namespace === undefined ? 'gateway' : 'sidecar');
  if (role === 'sidecar' && namespace === undefined) {
    throw new InvalidProxyMetadataError(`node "${node.id}": role "sidecar" needs node metadata ${NODE_METADATA.namespace} (a proxy without a namespace is a gateway)`);
  }
  if (role !== 'sidecar' && claimed.captured !== undefined) throw new InvalidProxyMetadataError(`node "${node.id}": ${capturedByGateway(values, (key) => `node metadata ${NODE_METADATA[key]}`)}`);
  return {
    ...(namespace !== undefined && { namespace }),
    ...(podIp !== undefined && { podIp }),
    role,
    ...(claimed.captured !== undefined && { captured: claimed.captured }),
  };
}
