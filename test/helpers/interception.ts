// The interception script as the e2e tests drive it in pod namespaces, the
// sidecar Envoy beside it (UID 1339, as an injected pod runs it) and readers
// for what the kernel holds: iptables in both backends, ip rules and routes.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { stringify } from 'yaml';
import { type BootstrapCapturedPorts, bootstrapConfig } from '../../xds-server/src/bootstrap/envoy-bootstrap.js';
import { INBOUND_RTSP_PROXY_PORT, INBOUND_UDP_PROXY_BASE, OUTBOUND_RTSP_PROXY_PORT } from '../../xds-server/src/interception/captured-ports.js';
import { projectRoot } from '../../xds-server/src/sidecar/envoy-binary.js';
import { EnvoyProcess } from '../../xds-server/src/sidecar/envoy-process.js';
import type { NetnsLab, Pod } from './netns.js';

export const INTERCEPT_SCRIPT = path.join(projectRoot(), 'manifests/interception/mediamesh-intercept.sh');
export const NET_PROBE = path.join(projectRoot(), 'test/e2e/tools/net_probe.py');
/** Debian's python3, which GStreamer's python3-gi belongs to. */
export const PYTHON = '/usr/bin/python3';

/** What the script documents: the proxy's UID, its mark, route table and inbound ports. */
export const PROXY_UID = 1339;
export const MARK = '0x10000/0x10000';
export const ROUTE_TABLE = 1339;
export { INBOUND_RTSP_PROXY_PORT, INBOUND_UDP_PROXY_BASE, OUTBOUND_RTSP_PROXY_PORT };
/** Where the tests' sidecars serve Envoy admin (on the pod IP, for the root namespace to read). */
export const SIDECAR_ADMIN_PORT = 15100;

export type Backend = 'legacy' | 'nft';

/** Fails (never skips) naming what is missing. */
export function checkTools(extra: string[][] = []): void {
  const missing: string[] = [];
  const probes = [
    ['sh', '-c', 'true'],
    ['ip', '-V'],
    ['iptables-legacy', '--version'], ['iptables-legacy-save', '--version'], ['iptables-legacy-restore', '--version'],
    ['iptables-nft', '--version'], ['iptables-nft-save', '--version'], ['iptables-nft-restore', '--version'],
    ['setpriv', '--version'],
    [PYTHON, '--version'],
    ...extra,
  ];
  for (const argv of probes) {
    try {
      execFileSync(argv[0]!, argv.slice(1), { stdio: 'ignore', timeout: 10_000 });
    } catch {
      missing.push(argv.join(' '));
    }
  }
  if (missing.length) throw new Error(`the interception tests need iproute2, iptables (both backends), util-linux setpriv, python3 and the tools below; these checks failed: ${missing.join('; ')}`);
}

export function runScript(lab: NetnsLab, pod: string, args: string[]): string {
  return lab.exec(pod, ['sh', INTERCEPT_SCRIPT, ...args]);
}

export function saveOutput(lab: NetnsLab, pod: string, backend: Backend, counters = false): string {
  return lab.exec(pod, [`iptables-${backend}-save`, ...(counters ? ['-c'] : [])]);
}

/**
 * iptables-save output compared as rules: comments and counters dropped, and
 * a table that holds nothing (built-in chains only, ACCEPT policies, no rule)
 * left out, as a table no rule was ever added to. Such a table stays behind
 * once its last rule is removed, and iptables cannot delete it.
 */
export function normalizeSave(text: string): string {
  const tables: string[] = [];
  let block: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\[\d+:\d+\]/g, '[0:0]').trimEnd();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('*')) block = [line];
    else block.push(line);
    if (line === 'COMMIT') {
      const holdsSomething = block.some((l) => l.startsWith('-A ') || (l.startsWith(':') && !/^:[A-Z]+ ACCEPT \[0:0\]$/.test(l)));
      if (holdsSomething) tables.push(block.join('\n'));
      block = [];
    }
  }
  return tables.sort().join('\n');
}

/** Everything interception may touch, in a form two moments of one pod can be compared by. */
export function networkingSnapshot(lab: NetnsLab, pod: string): string {
  return [
    '== iptables-legacy', normalizeSave(saveOutput(lab, pod, 'legacy')),
    '== iptables-nft', normalizeSave(saveOutput(lab, pod, 'nft')),
    '== ip rule', lab.exec(pod, ['ip', '-4', 'rule', 'show']).trim(),
    '== ip route', lab.exec(pod, ['ip', '-4', 'route', 'show', 'table', 'all']).trim(),
  ].join('\n');
}

/** Packet counters of the rules whose text matches, summed (iptables-save -c). */
export function rulePackets(lab: NetnsLab, pod: string, backend: Backend, match: RegExp): number {
  let packets = 0;
  let found = false;
  for (const line of saveOutput(lab, pod, backend, true).split('\n')) {
    const m = /^\[(\d+):\d+\] (-A .*)$/.exec(line);
    if (m && match.test(m[2]!)) {
      packets += Number(m[1]);
      found = true;
    }
  }
  if (!found) throw new Error(`no iptables-${backend} rule in ${pod} matches ${match}:\n${saveOutput(lab, pod, backend)}`);
  return packets;
}

/** Which backends hold chains with this prefix in the pod. */
export function backendsWith(lab: NetnsLab, pod: string, prefix: string): Backend[] {
  return (['legacy', 'nft'] as const).filter((b) => new RegExp(`^:${prefix}`, 'm').test(saveOutput(lab, pod, b)));
}

// --- Static stand-ins for a sidecar without captured ports in its metadata -
// The control plane makes these listeners for a sidecar whose bootstrap
// carries its pod's captured ports (startSidecar's capturedPorts, as the
// injector writes them; translate/interception-listeners.ts); these are the
// same shapes, static, for tests that want a sidecar without them
// (istio-coexistence, whose RTSP peer is a raw TCP echo no RTSP filter
// would pass).

const UDP_PROXY = 'type.googleapis.com/envoy.extensions.filters.udp.udp_proxy.v3.UdpProxyConfig';
const UDP_ROUTE = 'type.googleapis.com/envoy.extensions.filters.udp.udp_proxy.v3.Route';
const TCP_PROXY = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';

export interface StaticResources {
  listeners: Record<string, unknown>[];
  clusters: Record<string, unknown>[];
}

const socketAddress = (address: string, port: number, protocol?: 'UDP') => ({ socket_address: { address, port_value: port, ...(protocol && { protocol }) } });

function staticCluster(name: string, address: string, port: number, protocol?: 'UDP'): Record<string, unknown> {
  return { name, type: 'STATIC', connect_timeout: '1s', load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress(address, port, protocol) } }] }] } };
}

/**
 * Inbound UDP as the script hands it over: app port `appPort` arrives on the
 * proxy's port `proxyPort` (15200 + its index) and goes on to the app on
 * loopback. Stats: udp.inbound_<appPort>.*.
 */
export function inboundUdp(appPort: number, proxyPort: number): StaticResources {
  const name = `inbound-udp-${appPort}`;
  return {
    listeners: [{
      name,
      address: socketAddress('0.0.0.0', proxyPort, 'UDP'),
      udp_listener_config: {},
      listener_filters: [{
        name: 'envoy.filters.udp_listener.udp_proxy',
        typed_config: { '@type': UDP_PROXY, stat_prefix: `inbound_${appPort}`, matcher: { on_no_match: { action: { name: 'route', typed_config: { '@type': UDP_ROUTE, cluster: name } } } } },
      }],
    }],
    clusters: [staticCluster(name, '127.0.0.1', appPort, 'UDP')],
  };
}

/**
 * Inbound RTSP as the script hands it over: every inbound RTSP port arrives
 * on 15106; the original destination (SO_ORIGINAL_DST, the REDIRECT's
 * conntrack entry) says where the app listens. Stats: tcp.inbound_rtsp.*.
 */
export function inboundRtsp(): StaticResources {
  return {
    listeners: [{
      name: 'inbound-rtsp',
      address: socketAddress('0.0.0.0', INBOUND_RTSP_PROXY_PORT),
      listener_filters: [{ name: 'envoy.filters.listener.original_dst', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst' } }],
      filter_chains: [{ filters: [{ name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': TCP_PROXY, stat_prefix: 'inbound_rtsp', cluster: 'inbound-original-dst' } }] }],
    }],
    clusters: [{ name: 'inbound-original-dst', type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED', connect_timeout: '1s' }],
  };
}

/**
 * The outbound RTSP port the script redirects to (127.0.0.1:15101): the
 * original destination (SO_ORIGINAL_DST) picks the Service's listener
 * (use_original_dst); a connection for which there is none is passed through
 * to where it was going. Stats: tcp.outbound_passthrough.*.
 */
export function outboundTcpEntry(): StaticResources {
  return {
    listeners: [{
      name: 'outbound-tcp',
      address: socketAddress('127.0.0.1', OUTBOUND_RTSP_PROXY_PORT),
      use_original_dst: true,
      listener_filters: [{ name: 'envoy.filters.listener.original_dst', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst' } }],
      filter_chains: [{ filters: [{ name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': TCP_PROXY, stat_prefix: 'outbound_passthrough', cluster: 'outbound-original-dst' } }] }],
    }],
    clusters: [{ name: 'outbound-original-dst', type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED', connect_timeout: '1s' }],
  };
}

/**
 * A Service's outbound TCP listener as a sidecar needs it beside the script:
 * on the Service's address and port, binding nothing (the entry listener
 * hands it its connections). A stand-in for the RTSP listener (RtspRoute
 * translation is built elsewhere). Stats: tcp.<name>.*.
 */
export function outboundTcp(name: string, vip: string, port: number, backend: { address: string; port: number }): StaticResources {
  return {
    listeners: [{
      name,
      address: socketAddress(vip, port),
      bind_to_port: false,
      filter_chains: [{ filters: [{ name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': TCP_PROXY, stat_prefix: name, cluster: name } }] }],
    }],
    clusters: [staticCluster(name, backend.address, backend.port)],
  };
}

export interface SidecarOptions {
  xdsHost: string;
  xdsPort: number;
  namespace: string;
  /** The lists the pod's script was given: the control plane makes the listeners they land on. */
  capturedPorts?: BootstrapCapturedPorts;
  /** The control plane's admin port on the xDS host: extensions and the relay API. */
  adminPort?: number;
  extra?: StaticResources[];
}

/**
 * The pod's sidecar: `mediamesh bootstrap --namespace --pod-ip` (role
 * sidecar, with the captured ports if given) plus any static listeners, run
 * as UID/GID 1339 with NET_ADMIN as an ambient capability (transparent
 * listeners need it).
 */
export async function startSidecar(pod: Pod, o: SidecarOptions): Promise<EnvoyProcess> {
  const config = bootstrapConfig({ nodeId: `sidecar-${pod.name}`, cluster: 'mediamesh-proxy', xdsHost: o.xdsHost, xdsPort: o.xdsPort, adminAddress: pod.ip, adminPort: SIDECAR_ADMIN_PORT, delta: false, namespace: o.namespace, podIp: pod.ip, capturedPorts: o.capturedPorts, ...(o.adminPort && { extensionsHost: o.xdsHost, extensionsPort: o.adminPort }) });
  const statics = config.static_resources as { clusters: unknown[]; listeners?: unknown[] };
  statics.listeners = (o.extra ?? []).flatMap((e) => e.listeners);
  statics.clusters.push(...(o.extra ?? []).flatMap((e) => e.clusters));
  return EnvoyProcess.start({
    bootstrapYaml: stringify(config),
    prefix: pod.prefix,
    concurrency: 1,
    user: { uid: PROXY_UID, gid: PROXY_UID, capabilities: ['net_admin'] },
  });
}

export function probe(args: string[]): string[] {
  return [PYTHON, NET_PROBE, ...args];
}

/** Runs a net_probe client in the pod (as `uid`, if given) and parses its JSON line. */
export function probeJson<T>(lab: NetnsLab, pod: string, args: string[], uid?: number): T {
  const user = uid === undefined ? [] : ['setpriv', '--reuid', String(uid), '--regid', String(uid), '--clear-groups'];
  const out = lab.exec(pod, [...user, ...probe(args)]);
  try {
    return JSON.parse(out.trim().split('\n').pop()!) as T;
  } catch {
    throw new Error(`net_probe ${args.join(' ')} in ${pod} printed no JSON: ${out}`);
  }
}

export interface UdpSendReport { sent: number; replies: number; tags: Record<string, number>; errors: string[]; local: string }
export interface TcpSendReport { reply?: string; error?: string }
export interface HttpGetReport { status?: number; body?: string; error?: string }
