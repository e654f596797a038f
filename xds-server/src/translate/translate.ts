// The translator: (IR, proxy view) in, Envoy resources out. Pure; keeps going
// past a bad route and returns every error alongside what it could build.
import type { MeshModel, UdpListenerModel } from '../model/ir.js';
import { GATEWAY_VIEW, type ProxyView } from '../model/proxy-view.js';
import { emptyResources, type EnvoyResources } from '../xds/resources.js';
import { errorMessage } from '../log.js';
import { udpListenerName } from './names.js';
import { translateUdpListener, type UdpTranslateOptions } from './udp-route.js';
import { listenersForView } from './view.js';

export interface TranslationError {
  resource: string;
  reason: string;
}

export interface TranslationResult {
  resources: EnvoyResources;
  errors: TranslationError[];
}

export type TranslateOptions = UdpTranslateOptions;

export function translateModel(model: MeshModel, options: TranslateOptions = {}, view: ProxyView = GATEWAY_VIEW): TranslationResult {
  const resources = emptyResources();
  const errors: TranslationError[] = [];
  for (const udp of listenersForView(model, view)) {
    const one = translateListener(udp, options);
    if ('error' in one) errors.push(one.error);
    else addResources(resources, one.resources);
  }
  return { resources, errors };
}

/** One listener of the model and what it needs (its cluster and endpoints), or why it cannot be built. */
export function translateListener(udp: UdpListenerModel, options: TranslateOptions): { resources: EnvoyResources } | { error: TranslationError } {
  try {
    const { listener, cluster, assignment } = translateUdpListener(udp, options);
    return { resources: { ...emptyResources(), listeners: [listener], clusters: [cluster], endpoints: [assignment] } };
  } catch (err) {
    return { error: { resource: udpListenerName(udp.route, udp.port), reason: errorMessage(err) } };
  }
}

export function addResources(into: EnvoyResources, from: EnvoyResources): void {
  into.listeners.push(...from.listeners);
  into.clusters.push(...from.clusters);
  into.endpoints.push(...from.endpoints);
  into.routes.push(...from.routes);
  into.secrets.push(...from.secrets);
}
