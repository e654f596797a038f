// The translator: (IR, proxy view) in, Envoy resources out. Pure; keeps going
// past a bad route and returns every error alongside what it could build.
import type { MeshModel } from '../model/ir.js';
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
    try {
      const { listener, cluster, assignment } = translateUdpListener(udp, options);
      resources.listeners.push(listener);
      resources.clusters.push(cluster);
      resources.endpoints.push(assignment);
    } catch (err) {
      errors.push({ resource: udpListenerName(udp.route, udp.port), reason: errorMessage(err) });
    }
  }
  return { resources, errors };
}
