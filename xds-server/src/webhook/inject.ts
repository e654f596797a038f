// Sidecar injection as a pure function: a pod (as the API server or a
// manifest has it) and its namespace's labels in; the injected pod and the
// JSON Patch that makes it out, or why nothing was done. The mutating
// webhook and `mediamesh inject -f` both call it.
//
// What an opted-in pod gets:
//   - container mediamesh-proxy: the stock Envoy image, its bootstrap in an
//     env var with the pod's identity from the downward API, admin on
//     127.0.0.1 only, /tmp on an emptyDir (Envoy keeps extensions it fetched
//     from the control plane by sha256 there), group 1339 with NET_ADMIN for
//     its transparent listeners (or UID 1339 with nothing: ProxySecurity);
//   - init container mediamesh-init (last, after the pod's own): the
//     interception script with the pod's media ports, as root with
//     NET_ADMIN and NET_RAW;
//   - Istio's traffic.sidecar.istio.io/exclude{Inbound,Outbound}Ports with
//     the media ports merged in, so Istio's sidecar leaves them alone;
//   - mediamesh.io/status naming what was added (how a second injection
//     knows there is nothing to do).
import type { BootstrapCapturedPorts } from '../bootstrap/envoy-bootstrap.js';
import { checkCapturedPorts, MAX_INBOUND_UDP_PORTS } from '../interception/captured-ports.js';
import { type JsonPatchOperation, topLevelPatch } from './json-patch.js';
import { formatPortList, mergeCommaList, normalizeRanges, parsePortList, portCount, type PortRange, singlePorts } from '../interception/port-list.js';
import { BOOTSTRAP_ENV, DOWNWARD_ENV, sidecarBootstrapTemplate } from './sidecar-bootstrap.js';

export const ANNOTATIONS = {
  /** Pod annotation (or label): "true" opts in, "false" opts out. */
  inject: 'mediamesh.io/inject',
  /** Set by the injector: what it added, as JSON. */
  status: 'mediamesh.io/status',
  /** Ports this pod dials that go to the proxy. */
  rtspPorts: 'mediamesh.io/rtsp-ports',
  udpPorts: 'mediamesh.io/udp-ports',
  /** Ports this pod serves whose traffic goes through the proxy. */
  inboundRtspPorts: 'mediamesh.io/inbound-rtsp-ports',
  inboundUdpPorts: 'mediamesh.io/inbound-udp-ports',
  istioExcludeInbound: 'traffic.sidecar.istio.io/excludeInboundPorts',
  istioExcludeOutbound: 'traffic.sidecar.istio.io/excludeOutboundPorts',
  defaultContainer: 'kubectl.kubernetes.io/default-container',
} as const;

/** Namespace label that opts every pod of the namespace in. */
export const NAMESPACE_LABEL = 'mediamesh.io/inject';
export const NAMESPACE_LABEL_VALUE = 'enabled';

export const PROXY_CONTAINER = 'mediamesh-proxy';
export const INIT_CONTAINER = 'mediamesh-init';
export const PROXY_TMP_VOLUME = 'mediamesh-proxy-tmp';

/** RTSP's registered port and the common alternative, when a pod names none. */
const DEFAULT_RTSP_RANGES: readonly PortRange[] = [{ from: 554, to: 554 }, { from: 8554, to: 8554 }];
/** Where the control plane image keeps the interception script. */
export const INTERCEPT_SCRIPT = '/app/manifests/interception/mediamesh-intercept.sh';
/** UDP ports never taken from containerPorts by default: DNS. */
const NEVER_DEFAULT_UDP = new Set([53]);
/**
 * Istio's exclusion annotations take single ports, and Istio captures no
 * UDP anyway: UDP ports are listed there only while they are this few.
 */
export const MAX_ISTIO_UDP_PORTS = 256;
/**
 * The interception script gives each inbound UDP port a proxy port of its
 * own (15200, 15201, ...: a UDP listener cannot learn the original port),
 * and takes at most this many.
 */
export { MAX_INBOUND_UDP_PORTS };

export interface InjectOptions {
  /** The sidecar's image: stock Envoy. */
  proxyImage: string;
  /** The init container's image: the control plane's, which carries the interception script, iptables and iproute2. */
  initImage: string;
  /** host:port of the control plane's xDS, as the sidecar dials it. */
  xdsAddress: string;
  /** host:port of the control plane's admin, where extensions are fetched. */
  extensionsAddress: string;
  /** Envoy admin, on 127.0.0.1 only (15000 is Istio's sidecar's in the same pod). */
  proxyAdminPort: number;
  /** The proxy's UID (and group); the interception script lets its traffic through. Istio's is 1337. */
  proxyUid: number;
  proxySecurity: ProxySecurity;
  /** Written into mediamesh.io/status. */
  version: string;
  proxyResources: Resources;
  initResources: Resources;
}

/**
 * How the proxy runs.
 *   transparent: as root in group 1339, with NET_ADMIN (IP_TRANSPARENT: the
 *     interception script delivers outbound media with its destination
 *     unchanged, and the sidecar's listeners bind the Services' addresses
 *     transparently) and NET_BIND_SERVICE (RTSP's 554) only. Kubernetes gives
 *     a non-root container no capabilities (no ambient ones), and the stock
 *     image's Envoy has no file capabilities, so this is the one way a stock
 *     Envoy gets them. The script exempts the proxy by group (--proxy-gid).
 *   unprivileged: UID 1339, no capabilities at all; only for listeners that
 *     are not transparent (or an Envoy image with file capabilities).
 */
export type ProxySecurity = 'transparent' | 'unprivileged';
export const PROXY_SECURITY: readonly ProxySecurity[] = ['transparent', 'unprivileged'];

export interface Resources {
  requests: Record<string, string>;
  limits: Record<string, string>;
}

export const CONTROL_PLANE_SERVICE = 'mediamesh-control-plane.mediamesh-system.svc';

export function defaultInjectOptions(version: string, overrides: Partial<InjectOptions> = {}): InjectOptions {
  return {
    proxyImage: 'envoyproxy/envoy:v1.40.0',
    initImage: `ghcr.io/mediamesh/control-plane:${version}`,
    xdsAddress: `${CONTROL_PLANE_SERVICE}:18000`,
    extensionsAddress: `${CONTROL_PLANE_SERVICE}:9090`,
    proxyAdminPort: 15100,
    proxyUid: 1339,
    proxySecurity: 'transparent',
    version,
    proxyResources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '2', memory: '1Gi' } },
    initResources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { cpu: '100m', memory: '64Mi' } },
    ...overrides,
  };
}

// Loose shapes: whatever else a pod carries is kept as it is.
export interface ContainerPort {
  containerPort: number;
  protocol?: string;
  name?: string;
  [key: string]: unknown;
}
export interface Container {
  name: string;
  ports?: ContainerPort[];
  [key: string]: unknown;
}
export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}
export interface PodSpec {
  containers?: Container[];
  initContainers?: Container[];
  volumes?: { name: string; [key: string]: unknown }[];
  hostNetwork?: boolean;
  [key: string]: unknown;
}
export interface Pod {
  metadata?: ObjectMeta;
  spec?: PodSpec;
  [key: string]: unknown;
}

/** The media ports of one pod, as given to the interception script. */
export interface MediaPorts {
  rtsp: readonly PortRange[];
  udp: readonly PortRange[];
  inboundRtsp: readonly PortRange[];
  inboundUdp: readonly PortRange[];
}

export type InjectResult =
  | { ok: true; pod: Pod; patch: JsonPatchOperation[]; skipped?: string }
  | { ok: false; error: string };

/** Why a pod is not injected, or undefined when it is to be. */
export function skipReason(pod: Pod, namespaceLabels: Readonly<Record<string, string>>): string | undefined {
  const meta = pod.metadata ?? {};
  const own = meta.labels?.[ANNOTATIONS.inject] ?? meta.annotations?.[ANNOTATIONS.inject];
  const from = meta.labels?.[ANNOTATIONS.inject] !== undefined ? 'label' : 'annotation';
  if (own !== undefined && own !== 'true' && own !== 'false') return `${ANNOTATIONS.inject} ${from} is "${own}": neither "true" nor "false"`;
  if (own === 'false') return `the pod opts out (${ANNOTATIONS.inject}: "false")`;
  if (own !== 'true' && namespaceLabels[NAMESPACE_LABEL] !== NAMESPACE_LABEL_VALUE) {
    return `no opt-in: neither ${ANNOTATIONS.inject}: "true" on the pod nor ${NAMESPACE_LABEL}=${NAMESPACE_LABEL_VALUE} on its namespace`;
  }
  if (alreadyInjected(pod)) return 'already injected';
  if (pod.spec?.hostNetwork === true) return 'the pod uses the host network: interception would rewrite the node\'s own rules';
  return undefined;
}

export function alreadyInjected(pod: Pod): boolean {
  const named = (list: Container[] | undefined) => (list ?? []).some((c) => c.name === PROXY_CONTAINER);
  return pod.metadata?.annotations?.[ANNOTATIONS.status] !== undefined || named(pod.spec?.containers) || named(pod.spec?.initContainers);
}

function portsFromAnnotation(annotations: Record<string, string>, key: string): readonly PortRange[] | string | undefined {
  const value = annotations[key];
  if (value === undefined) return undefined;
  const parsed = parsePortList(value);
  return parsed.ok ? parsed.ranges : `annotation ${key}: ${parsed.error}`;
}

function containerPorts(pod: Pod, protocol: 'TCP' | 'UDP'): ContainerPort[] {
  return (pod.spec?.containers ?? []).flatMap((c) => c.ports ?? []).filter((p) => (p.protocol ?? 'TCP') === protocol && Number.isInteger(p.containerPort));
}

const ranges = (ports: number[]): PortRange[] => normalizeRanges(ports.map((p) => ({ from: p, to: p })));
const within = (port: number, list: readonly PortRange[]) => list.some((r) => port >= r.from && port <= r.to);

/**
 * The pod's media ports: each from its annotation, else
 *   outbound RTSP: 554 and 8554;
 *   outbound and inbound UDP: the pod's UDP containerPorts (but 53);
 *   inbound RTSP: TCP containerPorts in the outbound RTSP list or named rtsp*.
 */
export function mediaPorts(pod: Pod): { ok: true; ports: MediaPorts } | { ok: false; error: string } {
  const annotations = pod.metadata?.annotations ?? {};
  const udpContainerPorts = ranges(containerPorts(pod, 'UDP').map((p) => p.containerPort).filter((p) => !NEVER_DEFAULT_UDP.has(p)));
  const rtsp = portsFromAnnotation(annotations, ANNOTATIONS.rtspPorts) ?? DEFAULT_RTSP_RANGES;
  if (typeof rtsp === 'string') return { ok: false, error: rtsp };
  const rtspContainerPorts = ranges(containerPorts(pod, 'TCP').filter((p) => within(p.containerPort, rtsp) || /^rtsp/i.test(p.name ?? '')).map((p) => p.containerPort));
  const found: Record<keyof MediaPorts, readonly PortRange[] | string | undefined> = {
    rtsp,
    udp: portsFromAnnotation(annotations, ANNOTATIONS.udpPorts) ?? udpContainerPorts,
    inboundRtsp: portsFromAnnotation(annotations, ANNOTATIONS.inboundRtspPorts) ?? rtspContainerPorts,
    inboundUdp: portsFromAnnotation(annotations, ANNOTATIONS.inboundUdpPorts) ?? udpContainerPorts,
  };
  for (const value of Object.values(found)) if (typeof value === 'string') return { ok: false, error: value };
  const ports = found as MediaPorts;
  const inboundUdp = portCount(ports.inboundUdp);
  if (inboundUdp > MAX_INBOUND_UDP_PORTS) {
    const from = annotations[ANNOTATIONS.inboundUdpPorts] !== undefined ? `annotation ${ANNOTATIONS.inboundUdpPorts}` : 'the pod\'s UDP containerPorts';
    return { ok: false, error: `${from}: ${inboundUdp} inbound UDP ports; interception takes at most ${MAX_INBOUND_UDP_PORTS} (each gets a proxy port of its own)` };
  }
  // The script refuses the proxy's own ports, and so does the sidecar's bootstrap: better said at admission.
  const annotationOf = { rtspPorts: ANNOTATIONS.rtspPorts, inboundRtspPorts: ANNOTATIONS.inboundRtspPorts, inboundUdpPorts: ANNOTATIONS.inboundUdpPorts } as const;
  const captured = checkCapturedPorts(capturedPortLists(ports), (key) => `the pod's ports (annotation ${annotationOf[key]} or containerPorts)`);
  if (!captured.ok) return { ok: false, error: captured.errors.join('; ') };
  return { ok: true, ports };
}

/** The init container's arguments, as the interception script's contract has them. */
export function interceptionArgs(ports: MediaPorts, proxyUid: number, proxyGid?: number): string[] {
  const args = ['apply', '--proxy-uid', String(proxyUid), ...(proxyGid === undefined ? [] : ['--proxy-gid', String(proxyGid)])];
  const flags: [string, readonly PortRange[]][] = [['--rtsp-ports', ports.rtsp], ['--udp-ports', ports.udp], ['--inbound-rtsp-ports', ports.inboundRtsp], ['--inbound-udp-ports', ports.inboundUdp]];
  for (const [flag, list] of flags) if (list.length > 0) args.push(flag, formatPortList(list));
  return args;
}

/**
 * The ports Istio's sidecar must leave alone, singly: every RTSP port
 * (Istio captures TCP), and the UDP ports while they are few (Istio captures
 * no UDP, so a wide RTP range is left out rather than written port by port).
 * Inbound and outbound alike: a media port is ours in both directions.
 */
export function istioExcludedPorts(ports: MediaPorts): number[] {
  const tcp = singlePorts(normalizeRanges([...ports.rtsp, ...ports.inboundRtsp]));
  const udpRanges = normalizeRanges([...ports.udp, ...ports.inboundUdp]);
  const udp = portCount(udpRanges) <= MAX_ISTIO_UDP_PORTS ? singlePorts(udpRanges) : [];
  return [...new Set([...tcp, ...udp])].sort((a, b) => a - b);
}

/** The lists the interception script is given that the sidecar's listeners depend on (outbound UDP needs none: its listeners are per Service). */
function capturedPortLists(ports: MediaPorts): BootstrapCapturedPorts {
  const list = (ranges: readonly PortRange[]) => (ranges.length > 0 ? formatPortList(ranges) : undefined);
  return { rtspPorts: list(ports.rtsp), inboundRtspPorts: list(ports.inboundRtsp), inboundUdpPorts: list(ports.inboundUdp) };
}

function proxyContainer(o: InjectOptions, ports: MediaPorts): Container {
  return {
    name: PROXY_CONTAINER,
    image: o.proxyImage,
    imagePullPolicy: 'IfNotPresent',
    command: ['/usr/local/bin/envoy'],
    args: ['--config-yaml', `$(${BOOTSTRAP_ENV})`, '--concurrency', '2', '--log-level', 'info'],
    env: [
      ...DOWNWARD_ENV.map((e) => ({ name: e.name, valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: e.fieldPath } } })),
      { name: BOOTSTRAP_ENV, value: sidecarBootstrapTemplate({ xdsAddress: o.xdsAddress, extensionsAddress: o.extensionsAddress, adminPort: o.proxyAdminPort, cluster: 'mediamesh-proxy', capturedPorts: capturedPortLists(ports) }) },
    ],
    resources: structuredClone(o.proxyResources),
    securityContext: o.proxySecurity === 'transparent'
      ? {
          runAsUser: 0,
          runAsGroup: o.proxyUid,
          runAsNonRoot: false,
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          privileged: false,
          capabilities: { drop: ['ALL'], add: ['NET_ADMIN', 'NET_BIND_SERVICE'] },
        }
      : {
          runAsUser: o.proxyUid,
          runAsGroup: o.proxyUid,
          runAsNonRoot: true,
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          privileged: false,
          capabilities: { drop: ['ALL'] },
        },
    volumeMounts: [{ name: PROXY_TMP_VOLUME, mountPath: '/tmp' }],
  };
}

function initContainer(o: InjectOptions, ports: MediaPorts): Container {
  return {
    name: INIT_CONTAINER,
    image: o.initImage,
    imagePullPolicy: 'IfNotPresent',
    command: ['sh', INTERCEPT_SCRIPT],
    args: interceptionArgs(ports, o.proxyUid, o.proxySecurity === 'transparent' ? o.proxyUid : undefined),
    resources: structuredClone(o.initResources),
    securityContext: {
      // iptables needs root and these two capabilities in the pod's network namespace; nothing else.
      runAsUser: 0,
      runAsGroup: 0,
      runAsNonRoot: false,
      allowPrivilegeEscalation: false,
      privileged: false,
      // iptables takes its lock under /run.
      readOnlyRootFilesystem: false,
      capabilities: { drop: ['ALL'], add: ['NET_ADMIN', 'NET_RAW'] },
    },
  };
}

/**
 * Injects the sidecar and init container into an opted-in pod. A pod that
 * did not opt in, opted out, is already injected or uses the host network
 * comes back unchanged with the reason in `skipped`; a pod whose port
 * annotations do not parse is an error.
 */
export function injectPod(pod: Pod, namespaceLabels: Readonly<Record<string, string>>, options: InjectOptions): InjectResult {
  const skipped = skipReason(pod, namespaceLabels);
  if (skipped !== undefined) return { ok: true, pod, patch: [], skipped };
  const clash = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].find((c) => c.name === INIT_CONTAINER);
  if (clash) return { ok: false, error: `the pod already has a container named ${INIT_CONTAINER}` };
  if ((pod.spec?.volumes ?? []).some((v) => v.name === PROXY_TMP_VOLUME)) return { ok: false, error: `the pod already has a volume named ${PROXY_TMP_VOLUME}` };
  const found = mediaPorts(pod);
  if (!found.ok) return found;

  const injected = structuredClone(pod);
  const meta = (injected.metadata ??= {});
  const spec = (injected.spec ??= {});
  const annotations = { ...meta.annotations };
  const excluded = istioExcludedPorts(found.ports);
  if (excluded.length > 0) {
    annotations[ANNOTATIONS.istioExcludeInbound] = mergeCommaList(annotations[ANNOTATIONS.istioExcludeInbound], excluded);
    annotations[ANNOTATIONS.istioExcludeOutbound] = mergeCommaList(annotations[ANNOTATIONS.istioExcludeOutbound], excluded);
  }
  // `kubectl logs` and `exec` without -c keep picking the application.
  const first = spec.containers?.[0]?.name;
  if (first !== undefined && annotations[ANNOTATIONS.defaultContainer] === undefined) annotations[ANNOTATIONS.defaultContainer] = first;
  annotations[ANNOTATIONS.status] = JSON.stringify({ version: options.version, containers: [PROXY_CONTAINER], initContainers: [INIT_CONTAINER], volumes: [PROXY_TMP_VOLUME] });
  meta.annotations = annotations;

  // Last among init containers: the pod's own init containers run before
  // interception, so their traffic does not wait for a proxy not yet started.
  spec.initContainers = [...(spec.initContainers ?? []), initContainer(options, found.ports)];
  spec.containers = [...(spec.containers ?? []), proxyContainer(options, found.ports)];
  spec.volumes = [...(spec.volumes ?? []), { name: PROXY_TMP_VOLUME, emptyDir: { sizeLimit: '64Mi' } }];
  return { ok: true, pod: injected, patch: topLevelPatch(pod, injected) };
}
