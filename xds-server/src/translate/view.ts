// Which part of the model a proxy gets. Producer routes apply to every proxy;
// a consumer route applies to its namespace's proxies and replaces the
// producer route of the same parent port there (GAMMA). A gateway (no
// namespace) gets the producer routes.
//
// Proxies whose views select the same routes, in the same role, with the
// same captured ports, share one key, and so one translation and one
// encoding: a sidecar in a namespace without consumer routes costs nothing
// beyond the other sidecars' producer view. The role matters because a
// sidecar binds its UDP listeners transparently (listenerOptionsForView) and
// a gateway does not; the captured ports because they say which
// interception listeners a sidecar gets and whether its RtspRoute listeners
// bind (pods declaring the same ports, usually the injector's defaults,
// share a key).
import type { MeshModel, UdpListenerModel } from '../model/ir.js';
import type { ProxyView } from '../model/proxy-view.js';
import { type CapturedPorts, capturedPortsKey } from '../interception/captured-ports.js';

export const PRODUCER_VIEW_KEY = 'producer';

/** What view selection needs of a listener, whatever its route kind. */
export interface ViewListener {
  /** "namespace/name:port" of the parent Service port. */
  parent: string;
  consumerNamespace?: string;
}

/** Which routes the view selects: the producer routes, or a namespace's consumer routes over them. */
function routesKey(model: MeshModel, view: ProxyView): string {
  return view.namespace !== undefined && model.consumerNamespaces.has(view.namespace) ? `namespace/${view.namespace}` : PRODUCER_VIEW_KEY;
}

export function viewKey(model: MeshModel, view: ProxyView): string {
  return `${routesKey(model, view)}${bindingSuffix(view)}`;
}

/**
 * What of a view's key depends on the view alone, kept per view object
 * (views are never changed once made): every rebuild asks it of every
 * connected proxy, and a push for each of them again.
 */
const bindingSuffixes = new WeakMap<ProxyView, string>();
function bindingSuffix(view: ProxyView): string {
  let suffix = bindingSuffixes.get(view);
  if (suffix === undefined) {
    const captured = capturedForView(view);
    suffix = `${listenerOptionsForView(view).transparent ? '+transparent' : ''}${captured ? `+captured(${capturedPortsKey(captured)})` : ''}`;
    bindingSuffixes.set(view, suffix);
  }
  return suffix;
}

/**
 * Views with the same shape have the same key under every model: what the
 * key depends on (the namespace) plus the binding. Lets a caller find the
 * distinct views among many proxies without building keys for each.
 */
export function viewShape(view: ProxyView): string {
  return view.namespace === undefined ? bindingSuffix(view) : `${view.namespace}/${bindingSuffix(view)}`;
}

export interface ListenerBinding {
  /** UDP listeners bind their Service address with IP_TRANSPARENT. */
  transparent: boolean;
  /** RtspRoute listeners bind their Service address and port; when false, the entry listener hands them their connections. */
  bindToPort: boolean;
}

/**
 * How a view's listeners are bound. A sidecar's UDP listeners serve Service
 * addresses that are not its pod's: the interception script
 * (manifests/interception) hands it that traffic with the destination
 * unchanged, so it binds them transparently. An intercepted sidecar gets its
 * pod's outbound RTSP on the entry listener (127.0.0.1:15101), which hands
 * each connection to the RtspRoute listener of its original destination:
 * those bind nothing (an RTSP server pod holds 0.0.0.0:554 itself, and a
 * Service address is none of the pod's). A sidecar without interception
 * (`mediamesh bootstrap --namespace` on a laptop) and a gateway bind
 * addresses of their own.
 */
export function listenerOptionsForView(view: ProxyView): ListenerBinding {
  return { transparent: view.role === 'sidecar', bindToPort: capturedForView(view) === undefined };
}

/** What the interception script sends this proxy: only a sidecar's pod is intercepted. */
export function capturedForView(view: ProxyView): CapturedPorts | undefined {
  return view.role === 'sidecar' ? view.captured : undefined;
}

/**
 * The listeners of one route kind a view gets. A consumer route replaces the
 * producer route of its parent port within the same kind (a Service may
 * serve one port number over both TCP and UDP).
 */
export function selectForView<L extends ViewListener>(listeners: readonly L[], model: MeshModel, view: ProxyView): L[] {
  const ns = routesKey(model, view) === PRODUCER_VIEW_KEY ? undefined : view.namespace;
  if (ns === undefined) return listeners.filter((l) => l.consumerNamespace === undefined);
  const overridden = new Set(listeners.filter((l) => l.consumerNamespace === ns).map((l) => l.parent));
  return listeners.filter((l) => (l.consumerNamespace === undefined ? !overridden.has(l.parent) : l.consumerNamespace === ns));
}

/** The UdpRoute listeners a view gets. */
export function listenersForView(model: MeshModel, view: ProxyView): UdpListenerModel[] {
  return selectForView(model.udpListeners, model, view);
}
