// Which part of the model a proxy gets. Producer routes apply to every proxy;
// a consumer route applies to its namespace's proxies and replaces the
// producer route of the same parent port there (GAMMA). A gateway (no
// namespace) gets the producer routes.
//
// Proxies whose views select the same routes share one key, and so one
// translation and one encoding: a sidecar in a namespace without consumer
// routes costs nothing beyond the producer view.
import type { MeshModel, UdpListenerModel } from '../model/ir.js';
import type { ProxyView } from '../model/proxy-view.js';

export const PRODUCER_VIEW_KEY = 'producer';

export function viewKey(model: MeshModel, view: ProxyView): string {
  return view.namespace !== undefined && model.consumerNamespaces.has(view.namespace) ? `namespace/${view.namespace}` : PRODUCER_VIEW_KEY;
}

export function listenersForView(model: MeshModel, view: ProxyView): UdpListenerModel[] {
  const ns = viewKey(model, view) === PRODUCER_VIEW_KEY ? undefined : view.namespace;
  if (ns === undefined) return model.udpListeners.filter((l) => l.consumerNamespace === undefined);
  const overridden = new Set(model.udpListeners.filter((l) => l.consumerNamespace === ns).map((l) => l.parent));
  return model.udpListeners.filter((l) => (l.consumerNamespace === undefined ? !overridden.has(l.parent) : l.consumerNamespace === ns));
}
