// The translator: (IR, proxy view) in, Envoy resources out. Pure; keeps going
// past a bad route and returns every error alongside what it could build.
//
// Route kinds plug in through LISTENER_KINDS: where the model keeps their
// listeners, how one listener becomes resources, and what a view with any of
// them needs once (RTSP's reject listener and cluster).
import type { MeshModel, RtspListenerModel, UdpListenerModel } from '../model/ir.js';
import { GATEWAY_VIEW, type ProxyView } from '../model/proxy-view.js';
import { addResources, emptyResources, type EnvoyResources } from '../xds/resources.js';
import { errorMessage } from '../log.js';
import { rtspListenerName, udpListenerName } from './names.js';
import { type RtspTranslateOptions, rtspSharedResources, translateRtspListener } from './rtsp-route.js';
import { translateUdpListener, type UdpTranslateOptions } from './udp-route.js';
import { capturedForView, listenerOptionsForView, selectForView, type ViewListener } from './view.js';
import { type InterceptionTranslateOptions, interceptionResources } from './interception-listeners.js';

export interface TranslationError {
  resource: string;
  reason: string;
}

export interface TranslationResult {
  resources: EnvoyResources;
  errors: TranslationError[];
}

/** Set once for the control plane; how each view binds its listeners (transparent, bindToPort) is added per view. */
export type TranslateOptions = UdpTranslateOptions & RtspTranslateOptions & InterceptionTranslateOptions;

export interface ListenerKind<L extends ViewListener = ViewListener> {
  /** Stable: keys translations across rebuilds. */
  readonly kind: 'udp' | 'rtsp';
  listeners(model: MeshModel): readonly L[];
  /** The listener's resource name, for errors. */
  name(listener: L): string;
  /** Throws with the reason when the listener cannot be built. */
  translate(listener: L, options: TranslateOptions): EnvoyResources;
  /** Resources a view needs once when it has at least one listener of this kind. */
  shared?(): EnvoyResources;
}

const udpKind: ListenerKind<UdpListenerModel> = {
  kind: 'udp',
  listeners: (model) => model.udpListeners,
  name: (l) => udpListenerName(l.route, l.port),
  translate: (l, options) => {
    const { listener, cluster, assignment } = translateUdpListener(l, options);
    return { ...emptyResources(), listeners: [listener], clusters: [cluster], endpoints: [assignment] };
  },
};

const rtspKind: ListenerKind<RtspListenerModel> = {
  kind: 'rtsp',
  listeners: (model) => model.rtspListeners,
  name: (l) => rtspListenerName(l.route, l.port),
  translate: (l, options) => translateRtspListener(l, options),
  shared: rtspSharedResources,
};

/** Every route kind, in the order their resources are added (names never collide across kinds). */
export const LISTENER_KINDS: readonly ListenerKind[] = [udpKind as ListenerKind, rtspKind as ListenerKind];

export function translateModel(model: MeshModel, options: TranslateOptions = {}, view: ProxyView = GATEWAY_VIEW): TranslationResult {
  const resources = emptyResources();
  const errors: TranslationError[] = [];
  const listenerOptions = { ...options, ...listenerOptionsForView(view) };
  for (const kind of LISTENER_KINDS) {
    let translated = 0;
    for (const listener of selectForView(kind.listeners(model), model, view)) {
      const one = translateListener(kind, listener, listenerOptions);
      if ('error' in one) errors.push(one.error);
      else {
        addResources(resources, one.resources);
        translated++;
      }
    }
    if (translated > 0 && kind.shared) addResources(resources, kind.shared());
  }
  const captured = capturedForView(view);
  if (captured) addResources(resources, interceptionResources(captured, options));
  return { resources, errors };
}

/** One listener of the model and what it needs (its clusters and endpoints), or why it cannot be built. */
export function translateListener<L extends ViewListener>(kind: ListenerKind<L>, listener: L, options: TranslateOptions): { resources: EnvoyResources } | { error: TranslationError } {
  try {
    return { resources: kind.translate(listener, options) };
  } catch (err) {
    return { error: { resource: kind.name(listener), reason: errorMessage(err) } };
  }
}

