// One translation and one encoding per distinct view of a model: proxies
// whose views select the same routes share the same immutable Snapshot.
import type { MeshModel } from '../model/ir.js';
import type { ProxyView } from '../model/proxy-view.js';
import { Snapshot } from '../xds/snapshot.js';
import { type TranslateOptions, type TranslationError, translateModel } from './translate.js';
import { viewKey } from './view.js';

export interface ViewSnapshot {
  readonly key: string;
  readonly snapshot: Snapshot;
  readonly errors: readonly TranslationError[];
}

export class ViewSnapshots {
  private readonly byKey = new Map<string, ViewSnapshot>();

  constructor(
    readonly model: MeshModel,
    private readonly options: TranslateOptions,
  ) {}

  /** Translates the view's routes the first time a view with this key is asked for; throws if the result is inconsistent. */
  forView(view: ProxyView): ViewSnapshot {
    const key = viewKey(this.model, view);
    let found = this.byKey.get(key);
    if (!found) {
      const { resources, errors } = translateModel(this.model, this.options, view);
      found = Object.freeze({ key, snapshot: Snapshot.fromResources(resources), errors: Object.freeze(errors) });
      this.byKey.set(key, found);
    }
    return found;
  }

  translated(): ViewSnapshot[] {
    return [...this.byKey.values()];
  }
}
