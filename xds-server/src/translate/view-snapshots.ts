// One translation and one encoding per distinct view of a model: proxies
// whose views select the same routes share the same immutable Snapshot. A
// listener that several views include (a producer route) is translated and
// encoded once for all of them; a listener unchanged since the previous
// model keeps the translation it had, and an unchanged view its Snapshot.
import type { MeshModel, UdpListenerModel } from '../model/ir.js';
import type { ProxyView } from '../model/proxy-view.js';
import { emptyResources, type EnvoyResources, toWireResources, type WireResource } from '../xds/resources.js';
import { consistencyProblems, InconsistentSnapshotError, Snapshot } from '../xds/snapshot.js';
import { addResources, type TranslateOptions, type TranslationError, translateListener } from './translate.js';
import { listenersForView, viewKey } from './view.js';

type Translated = { resources: EnvoyResources; wire: WireResource[] } | { error: TranslationError };

export interface ViewSnapshot {
  readonly key: string;
  readonly snapshot: Snapshot;
  readonly errors: readonly TranslationError[];
}

export class ViewSnapshots {
  private readonly byKey = new Map<string, ViewSnapshot>();
  private readonly byListener = new Map<UdpListenerModel, Translated>();
  /** Translations by listener content, for the next rebuild: only what this model uses is kept. */
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
    const key = viewKey(this.model, view);
    let found = this.byKey.get(key);
    if (!found) {
      const resources = emptyResources();
      const wire: WireResource[] = [];
      const errors: TranslationError[] = [];
      for (const listener of listenersForView(this.model, view)) {
        const one = this.translateOnce(listener);
        if ('error' in one) errors.push(one.error);
        else {
          addResources(resources, one.resources);
          wire.push(...one.wire);
        }
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
    return found;
  }

  private translateOnce(listener: UdpListenerModel): Translated {
    let found = this.byListener.get(listener);
    if (!found) {
      const content = JSON.stringify(listener);
      found = this.inherited.get(content);
      if (!found) {
        const one = translateListener(listener, this.options);
        found = 'error' in one ? one : { resources: one.resources, wire: toWireResources(one.resources) };
      }
      this.byListener.set(listener, found);
      this.byContent.set(content, found);
    }
    return found;
  }

  translated(): ViewSnapshot[] {
    return [...this.byKey.values()];
  }
}
