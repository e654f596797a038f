// Which view each simulated proxy is in, and how the bench names views.
//
// Without --views every proxy states no namespace: a gateway, one view for
// all (the bench's original mode). With --views N, proxy i is a sidecar in
// namespace ns-<i mod N> and says so in its node metadata, as
// `mediamesh bootstrap --namespace` makes a real Envoy do.
import { NODE_METADATA, type ProxyView } from '../../xds-server/src/model/proxy-view.js';

/** The view key of a proxy that states no namespace. Namespaces are DNS labels: no clash. */
export const GATEWAY_VIEW_KEY = '_';

/** A simulated proxy's identity: its node id and, in per-proxy mode, where it runs. */
export interface ProxySpec {
  nodeId: string;
  namespace?: string;
  podIp?: string;
}

export function viewKeyOf(namespace: string | undefined): string {
  return namespace ?? GATEWAY_VIEW_KEY;
}

export function viewNamespace(index: number): string {
  return `ns-${index}`;
}

/** The view keys of a run: one per namespace, or the gateway view alone. */
export function viewKeys(views: number): string[] {
  return views === 0 ? [GATEWAY_VIEW_KEY] : Array.from({ length: views }, (_, k) => viewNamespace(k));
}

/** What mediamesh's translator is told about a proxy of this view. */
export function proxyViewOf(key: string): ProxyView {
  return key === GATEWAY_VIEW_KEY ? { role: 'gateway' } : { namespace: key, role: 'sidecar' };
}

/** Proxy `i` of `views` namespaces (0: gateway mode). */
export function proxySpec(i: number, views: number): ProxySpec {
  const nodeId = `bench-proxy-${String(i).padStart(5, '0')}`;
  if (views === 0) return { nodeId };
  return { nodeId, namespace: viewNamespace(i % views), podIp: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` };
}

/** The bootstrap node metadata (a protobuf Struct) a proxy of this spec sends. */
export function nodeMetadata(spec: ProxySpec): Record<string, string> | undefined {
  if (spec.namespace === undefined) return undefined;
  return {
    [NODE_METADATA.namespace]: spec.namespace,
    [NODE_METADATA.role]: 'sidecar',
    ...(spec.podIp ? { [NODE_METADATA.podIp]: spec.podIp } : {}),
  };
}
