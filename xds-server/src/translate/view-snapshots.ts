// One translation and one encoding per distinct view of a model: proxies
// whose views select the same routes share the same immutable Snapshot. A
// listener that several views include (a producer route) is translated and
// encoded once for all of them; a listener unchanged since the previous
// model keeps the translation it had, and an unchanged view its Snapshot. A
// sidecar's interception listeners are made once per set of captured ports.
import type { MeshModel } from '../model/ir.js';
import type { ProxyView } from '../model/proxy-view.js';
import { addResources, emptyResources, type EnvoyResources, toWireResources, type WireResource } from '../xds/resources.js';
import { consistencyProblems, InconsistentSnapshotError, Snapshot } from '../xds/snapshot.js';
import { LISTENER_KINDS, type ListenerKind, type TranslateOptions, type TranslationError, translateListener } from './translate.js';
import { capturedForView, type ListenerBinding, listenerOptionsForView, selectForView, type ViewListener, viewKey } from './view.js';
import { interceptionResources } from './interception-listeners.js';
import { type CapturedPorts, capturedPortsKey } from '../interception/captured-ports.js';

type Translated = { resources: EnvoyResources; wire: WireResource[] } | { error: TranslationError };

export interface ViewSnapshot {
  readonly key: string;
  readonly snapshot: Snapshot;
  readonly errors: readonly TranslationError[];
}

export class ViewSnapshots {
  private readonly byKey = new Map<string, ViewSnapshot>();
  private readonly byView = new WeakMap<ProxyView, ViewSnapshot>();
  /** Per binding (plain for gateways, transparent for sidecars, unbound RTSP for intercepted ones), per listener, its translation. */
  private readonly byListener = new Map<string, Map<object, Translated>>();
  /** Translations by kind, binding and listener content, for the next rebuild: only what this model uses is kept. */
  private readonly byContent = new Map<string, Translated>();
  private readonly inherited: ReadonlyMap<string, Translated>;
  private readonly inheritedViews: ReadonlyMap<string, ViewSnapshot>;

  /**
   * `previous`: the views of the model this one replaces. A listener whose
   * content did not change reuses its translation and encoding, so an
   * endpoint change re-encodes one listener's resources, not all of them.
   */
  constructor(
    readonly model: MeshModel,
    private readonly options: TranslateOptions,
    previous?: ViewSnapshots,
  ) {
    // Only the previous translations and snapshots, not the previous ViewSnapshots: no chain of models is kept alive.
    this.inherited = previous?.byContent ?? new Map();
    this.inheritedViews = previous?.byKey ?? new Map();
  }

  /** Translates the view's routes the first time a view with this key is asked for; throws if the result is inconsistent. */
  forView(view: ProxyView): ViewSnapshot {
    // A push asks for every proxy's view: answer a view object seen before without building its key.
    const seen = this.byView.get(view);
    if (seen) return seen;
    const key = viewKey(this.model, view);
    let found = this.byKey.get(key);
    if (!found) {
      const resources = emptyResources();
      const wire: WireResource[] = [];
      const errors: TranslationError[] = [];
      const binding = listenerOptionsForView(view);
      for (const kind of LISTENER_KINDS) {
        let translated = 0;
        for (const listener of selectForView(kind.listeners(this.model), this.model, view)) {
          const one = this.translateOnce(kind, listener, binding);
          if ('error' in one) errors.push(one.error);
          else {
            addResources(resources, one.resources);
            wire.push(...one.wire);
            translated++;
          }
        }
        if (translated > 0 && kind.shared) {
          const shared = this.sharedOnce(kind);
          addResources(resources, shared.resources);
          wire.push(...shared.wire);
        }
      }
      const captured = capturedForView(view);
      if (captured) {
        const interception = this.interceptionOnce(captured);
        addResources(resources, interception.resources);
        wire.push(...interception.wire);
      }
      const problems = consistencyProblems(resources);
      if (problems.length > 0) throw new InconsistentSnapshotError(problems);
      const built = Snapshot.fromWire(wire);
      // A view whose content did not change keeps its Snapshot object, and so the responses encoded for it.
      const before = this.inheritedViews.get(key)?.snapshot;
      const snapshot = before?.version === built.version ? before : built;
      found = Object.freeze({ key, snapshot, errors: Object.freeze(errors) });
      this.byKey.set(key, found);
    }
    this.byView.set(view, found);
    return found;
  }

  private translateOnce(kind: ListenerKind, listener: ViewListener, binding: ListenerBinding): Translated {
    const bindingKey = `${binding.transparent ? 'transparent' : 'plain'}${binding.bindToPort ? '' : '+unbound'}`;
    let translations = this.byListener.get(bindingKey);
    if (!translations) this.byListener.set(bindingKey, (translations = new Map()));
    let found = translations.get(listener);
    if (!found) {
      const content = `${kind.kind}\0${bindingKey}\0${JSON.stringify(listener)}`;
      found = this.inherited.get(content);
      if (!found) {
        const one = translateListener(kind, listener, { ...this.options, ...binding });
        found = 'error' in one ? one : { resources: one.resources, wire: toWireResources(one.resources) };
      }
      translations.set(listener, found);
      this.byContent.set(content, found);
    }
    return found;
  }

  /** A kind's shared resources, translated and encoded once and kept across rebuilds. */
  private sharedOnce(kind: ListenerKind): { resources: EnvoyResources; wire: WireResource[] } {
    const content = `${kind.kind}\0shared`;
    let found = this.byContent.get(content) ?? this.inherited.get(content);
    if (!found || 'error' in found) {
      const resources = kind.shared!();
      found = { resources, wire: toWireResources(resources) };
    }
    this.byContent.set(content, found);
    return found;
  }

  /** A set of captured ports' listeners, translated and encoded once and kept across rebuilds (they do not depend on the model). */
  private interceptionOnce(captured: CapturedPorts): { resources: EnvoyResources; wire: WireResource[] } {
    const content = `interception\0${capturedPortsKey(captured)}`;
    let found = this.byContent.get(content) ?? this.inherited.get(content);
    if (!found || 'error' in found) {
      const resources = interceptionResources(captured, this.options);
      found = { resources, wire: toWireResources(resources) };
    }
    this.byContent.set(content, found);
    return found;
  }

  translated(): ViewSnapshot[] {
    return [...this.byKey.values()];
  }
}
