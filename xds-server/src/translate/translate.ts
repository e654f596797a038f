// The translator: IR in, Envoy resources out. Pure; keeps going past a bad
// route and returns every error alongside what it could build.
import type { MeshModel } from '../model/ir.js';
import { emptyResources, type EnvoyResources } from '../xds/resources.js';
import { errorMessage } from '../log.js';
import { udpListenerName } from './names.js';
import { translateUdpListener, type UdpTranslateOptions } from './udp-route.js';

export interface TranslationError {
  resource: string;
  reason: string;
}

export interface TranslationResult {
  resources: EnvoyResources;
  errors: TranslationError[];
}

export type TranslateOptions = UdpTranslateOptions;

export function translateModel(model: MeshModel, options: TranslateOptions = {}): TranslationResult {
  const resources = emptyResources();
  const errors: TranslationError[] = [];
  for (const udp of model.udpListeners) {
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
