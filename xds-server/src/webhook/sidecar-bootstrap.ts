// The injected sidecar's Envoy bootstrap: what `mediamesh bootstrap` writes,
// rendered once at injection time with the pod's identity left as references
// to environment variables the downward API fills in. Kubernetes expands
// $(NAME) in a container's env values and args from the env defined before
// them, so Envoy gets `--config-yaml "$(MEDIAMESH_BOOTSTRAP)"` with the pod's
// own name, namespace and IP already in place; nothing runs before Envoy and
// nothing is written to disk.
import { stringify } from 'yaml';
import { type BootstrapCapturedPorts, bootstrapConfig, parseHostPort } from '../bootstrap/envoy-bootstrap.js';
import { NODE_METADATA } from '../model/proxy-view.js';

/** Environment variables of the proxy container, filled by the downward API. */
export const DOWNWARD_ENV = [
  { name: 'POD_NAME', fieldPath: 'metadata.name' },
  { name: 'POD_NAMESPACE', fieldPath: 'metadata.namespace' },
  { name: 'POD_IP', fieldPath: 'status.podIP' },
] as const;

/** The env var holding the rendered bootstrap (after the downward API ones). */
export const BOOTSTRAP_ENV = 'MEDIAMESH_BOOTSTRAP';

export interface SidecarBootstrapOptions {
  /** host:port of the control plane's xDS (a DNS name is resolved by Envoy, STRICT_DNS). */
  xdsAddress: string;
  /** host:port of the control plane's admin, where extensions are fetched by sha256. */
  extensionsAddress: string;
  adminPort: number;
  /** Envoy's node.cluster. */
  cluster: string;
  /** What the init container's interception script captures: the control plane makes the listeners for it. */
  capturedPorts?: BootstrapCapturedPorts;
}

const ref = (name: string) => `$(${name})`;

/** Stand-ins that pass bootstrapConfig's checks; replaced below by references. */
const STAND_IN = { nodeId: 'mediamesh-stand-in-node', namespace: 'mediamesh-stand-in-namespace', podIp: '192.0.2.255' };

/**
 * The bootstrap YAML with $(POD_NAME), $(POD_NAMESPACE) and $(POD_IP) where
 * the identity goes: node id "<pod>.<namespace>", the namespace and pod IP in
 * node metadata, role sidecar, and the captured port lists. Every string is double-quoted, so a namespace
 * such as "1e3" stays a string once expanded. Any other "$" is doubled, which
 * is how Kubernetes escapes it.
 */
export function sidecarBootstrapTemplate(o: SidecarBootstrapOptions): string {
  const xds = parseHostPort(o.xdsAddress, 18000);
  const extensions = parseHostPort(o.extensionsAddress, 9090);
  const config = bootstrapConfig({
    nodeId: STAND_IN.nodeId,
    cluster: o.cluster,
    xdsHost: xds.host,
    xdsPort: xds.port,
    adminAddress: '127.0.0.1',
    adminPort: o.adminPort,
    delta: false,
    extensionsHost: extensions.host,
    extensionsPort: extensions.port,
    namespace: STAND_IN.namespace,
    podIp: STAND_IN.podIp,
    role: 'sidecar',
    capturedPorts: o.capturedPorts,
  }) as { node: { id: string; metadata: Record<string, string> } };
  if (config.node.metadata[NODE_METADATA.namespace] !== STAND_IN.namespace || config.node.metadata[NODE_METADATA.podIp] !== STAND_IN.podIp) {
    throw new Error('bootstrap node metadata is not where the injector expects it');
  }
  const text = stringify(config, { defaultStringType: 'QUOTE_DOUBLE', defaultKeyType: 'PLAIN', lineWidth: 0, aliasDuplicateObjects: false });
  const escaped = text.replaceAll('$', '$$$$');
  return escaped
    .replaceAll(`"${STAND_IN.nodeId}"`, `"${ref('POD_NAME')}.${ref('POD_NAMESPACE')}"`)
    .replaceAll(`"${STAND_IN.namespace}"`, `"${ref('POD_NAMESPACE')}"`)
    .replaceAll(`"${STAND_IN.podIp}"`, `"${ref('POD_IP')}"`);
}

/**
 * What the kubelet does to an env value or argument: $(NAME) becomes the
 * variable's value when it is defined, "$$" becomes "$", anything else stays.
 */
export function expandKubernetesReferences(text: string, env: Readonly<Record<string, string>>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name: string | undefined) => {
    if (name === undefined) return '$';
    return Object.hasOwn(env, name) ? env[name]! : match;
  });
}
