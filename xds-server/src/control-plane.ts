// Wires the stages: sources → object store → admission (last good per
// object) → model → per-view translation → per-proxy snapshots.
//
// Config bursts are coalesced (debounce) so one edit session is one push. An
// isolated edit should not wait for the quiet period, though: when every file
// a change touched was replaced whole and the result only adds or changes
// resources without new problems, it is applied after a short settle, or at
// once when a change says its write is complete (a file renamed into place). Removals
// and new problems wait for the quiet period, since they may be the first half
// of a multi-file edit (a route moving from one file to another).
import { type Clock, systemClock, type TimerHandle } from './clock.js';
import type { Node } from './gen/envoy/config/core/v3/base.js';
import { type Admission, type AdmissionHistory, type ConfigProblem, EMPTY_HISTORY, formatProblem, admitDocuments } from './api/validate.js';
import { createLogger, errorMessage } from './log.js';
import { buildModel } from './model/build-model.js';
import { emptyModel, type MeshModel } from './model/ir.js';
import { GATEWAY_VIEW, type ProxyView } from './model/proxy-view.js';
import type { ConfigSource, SourceChange } from './sources/source.js';
import { RouteStatusTracker, type RouteStatusEntry } from './status/route-status.js';
import { type MergedInputs, ObjectStore } from './store/object-store.js';
import type { TranslateOptions, TranslationError } from './translate/translate.js';
import { viewKey, viewShape } from './translate/view.js';
import { ViewSnapshots } from './translate/view-snapshots.js';
import { ProxyResources } from './xds/proxy-resources.js';
import type { PodLocator } from './xds/proxy-view-of.js';
import { SnapshotCache } from './xds/snapshot-cache.js';
import { Snapshot } from './xds/snapshot.js';

const log = createLogger('control-plane');
const PUBLISH_BATCH = 64;
/** Lets the events of one write (temp file, rename) arrive before an early apply reads the files. */
export const EARLY_APPLY_SETTLE_MS = 10;
/** Once a change says it completed something (a file renamed into place), the rest of the settle is not waited out. */
export const EARLY_APPLY_AFTER_COMPLETE_MS = 1;

export type ReloadKind = 'early' | 'settled';

/** One burst of changes: open from its first event until the quiet period after its last. */
interface Burst {
  settledTimer?: TimerHandle;
  earlyTimer?: TimerHandle;
  /** Every change so far replaced whole files. */
  wholeFiles: boolean;
  earlyApplied: boolean;
  /** A change arrived after the early reload read the files. */
  changedSinceEarly: boolean;
  /** The early reload was moved up because a change completed a write. */
  hurried: boolean;
}

export interface ControlPlaneOptions {
  /** One source, or several side by side (`sources`); an object may come from only one of them. */
  source?: ConfigSource;
  sources?: ConfigSource[];
  /** Quiet time after the last change before config is rebuilt and pushed. */
  debounceMs?: number;
  /** Apply whole-file, add-or-change-only edits without waiting for the quiet time (default true). */
  earlyApply?: boolean;
  translate?: TranslateOptions;
  clock?: Clock;
  /** How long a disconnected proxy's state is kept (default 10 minutes). */
  forgetAfterMs?: number;
  /** Disconnected proxies remembered at most (default 10,000; oldest forgotten first). */
  maxDisconnected?: number;
  /** Finds the pod a plaintext proxy connects from: its namespace then decides the proxy's view. */
  locatePod?: PodLocator;
}

export interface ConfigStatus {
  source: string;
  ready: boolean;
  generation: number;
  loadedAt?: string;
  /** Whether the last rebuild was an early apply or waited for the quiet period. */
  loadedBy?: ReloadKind;
  snapshotVersion: string;
  accepted: { documents: number; udpRoutes: number; rtspRoutes: number; services: number; endpointSlices: number };
  problems: (ConfigProblem & { message: string })[];
  translationErrors: TranslationError[];
}

/** A rebuild computed but not yet applied. */
interface Rebuild {
  inputs: MergedInputs;
  admission: Admission;
  problems: ConfigProblem[];
  views: ViewSnapshots;
  errors: TranslationError[];
  /** One proxy view per distinct (new view key, previous view key) among the proxies, the producer view first. */
  used: ProxyView[];
}

export class ControlPlane {
  readonly cache: SnapshotCache;
  readonly proxyResources: ProxyResources;
  private readonly sources: ConfigSource[];
  private readonly store = new ObjectStore();
  private readonly clock: Clock;
  private history: AdmissionHistory = EMPTY_HISTORY;
  private admission?: Admission;
  private views: ViewSnapshots;
  private snapshot = Snapshot.empty();
  private status: ConfigStatus;
  private readonly debounceMs: number;
  private readonly earlyApply: boolean;
  private burst?: Burst;
  private readonly routeStatus = new RouteStatusTracker();
  private readonly changeListeners = new Set<(status: ConfigStatus) => void>();
  private reloading: Promise<void> = Promise.resolve();

  constructor(private readonly options: ControlPlaneOptions) {
    this.sources = [...(options.source ? [options.source] : []), ...(options.sources ?? [])];
    if (this.sources.length === 0) throw new Error('the control plane needs at least one config source');
    this.clock = options.clock ?? systemClock;
    this.cache = new SnapshotCache({ clock: this.clock, forgetAfterMs: options.forgetAfterMs, maxDisconnected: options.maxDisconnected, locatePod: options.locatePod });
    this.debounceMs = options.debounceMs ?? 100;
    this.earlyApply = (options.earlyApply ?? true) && this.debounceMs > EARLY_APPLY_SETTLE_MS;
    this.views = new ViewSnapshots(emptyModel(), options.translate ?? {});
    this.status = {
      source: this.describeSources(),
      ready: false,
      generation: 0,
      snapshotVersion: this.snapshot.version,
      accepted: { documents: 0, udpRoutes: 0, rtspRoutes: 0, services: 0, endpointSlices: 0 },
      problems: [],
      translationErrors: [],
    };
    this.proxyResources = new ProxyResources(this.cache, (nodeIds) => { for (const id of nodeIds) this.publishNode(id); }, this.clock);
    this.cache.addEvents({ nodeConnected: (node: Node) => this.publishNode(node.id) });
  }

  async start(): Promise<void> {
    await Promise.all(this.sources.map((source) => source.start?.()));
    // Watching first: a change that lands while the first load runs schedules another, instead of being missed.
    for (const source of this.sources) source.watch((change) => this.scheduleReload(change));
    await this.reload();
  }

  stop(): void {
    this.clock.clearTimeout(this.burst?.settledTimer);
    this.clock.clearTimeout(this.burst?.earlyTimer);
    this.burst = undefined;
    for (const source of this.sources) source.close();
    this.cache.close();
  }

  configStatus(): ConfigStatus {
    return this.status;
  }

  /** The snapshot of the producer view (what a gateway gets). */
  currentSnapshot(): Snapshot {
    return this.snapshot;
  }

  currentModel(): MeshModel {
    return this.views.model;
  }

  /** The last applied admission: every route's newest generation, what serves, and why a version was rejected. */
  currentAdmission(): Admission | undefined {
    return this.admission;
  }

  /** Every route's Accepted, ResolvedRefs and Programmed conditions per parent, as of now. */
  routeStatuses(): RouteStatusEntry[] {
    if (!this.admission) return [];
    return this.routeStatus.statuses({ admission: this.admission, model: this.views.model, cache: this.cache, translationErrors: this.status.translationErrors });
  }

  /** The view a connected (or remembered) proxy is served. */
  viewOf(nodeId: string): ProxyView | undefined {
    return this.cache.nodeStatus(nodeId)?.view;
  }

  /**
   * The views of the proxies the cache remembers, the producer view first:
   * one per distinct pair of view keys under the new model and the current
   * one. Thousands of proxies share a few views, and translation, its errors
   * and the early-apply check need each pair once, not once per proxy.
   */
  private viewsInUse(next: MeshModel): ProxyView[] {
    const current = this.views.model;
    // Proxies are many and their shapes few: find the shapes first, then their keys under both models.
    const shapes = new Map<string, ProxyView>([[viewShape(GATEWAY_VIEW), GATEWAY_VIEW]]);
    for (const status of this.cache.allNodeStatuses()) {
      const shape = viewShape(status.view);
      if (!shapes.has(shape)) shapes.set(shape, status.view);
    }
    const distinct = new Map<string, ProxyView>();
    for (const view of shapes.values()) {
      const key = `${viewKey(next, view)}\0${viewKey(current, view)}`;
      if (!distinct.has(key)) distinct.set(key, view);
    }
    return [...distinct.values()];
  }

  /** Calls `listener` whenever route status may have changed: a reload, or a proxy connecting, ACKing, NACKing or going. */
  onRouteStatusMayChange(listener: () => void): void {
    this.changeListeners.add(() => listener());
    this.cache.addEvents({ nodeConnected: () => listener(), nodeDisconnected: listener, nodeForgotten: listener, acked: listener, nacked: listener });
  }

  onReload(listener: (status: ConfigStatus) => void): void {
    this.changeListeners.add(listener);
  }

  private describeSources(): string {
    return this.sources.map((s) => s.describe()).join(' + ');
  }

  private scheduleReload(change: SourceChange): void {
    const burst = this.burst ?? this.openBurst();
    burst.wholeFiles &&= change.wholeFiles;
    if (burst.earlyTimer === undefined) burst.changedSinceEarly = true;
    else if (change.completed && !burst.hurried) {
      burst.hurried = true;
      this.clock.clearTimeout(burst.earlyTimer);
      burst.earlyTimer = this.clock.setTimeout(() => this.reloadEarly(burst), EARLY_APPLY_AFTER_COMPLETE_MS);
    }
    this.clock.clearTimeout(burst.settledTimer);
    burst.settledTimer = this.clock.setTimeout(() => this.reloadSettled(burst), this.debounceMs);
  }

  private openBurst(): Burst {
    const burst: Burst = { wholeFiles: true, earlyApplied: false, changedSinceEarly: false, hurried: false };
    if (this.earlyApply) burst.earlyTimer = this.clock.setTimeout(() => this.reloadEarly(burst), EARLY_APPLY_SETTLE_MS);
    return (this.burst = burst);
  }

  private reloadEarly(burst: Burst): void {
    burst.earlyTimer = undefined;
    if (!burst.wholeFiles) return;
    this.reloading = this.reloading.then(async () => {
      burst.earlyApplied = await this.reload('early');
    });
  }

  private reloadSettled(burst: Burst): void {
    this.clock.clearTimeout(burst.earlyTimer);
    if (this.burst === burst) this.burst = undefined;
    this.reloading = this.reloading.then(async () => {
      // The early apply already read everything this burst wrote.
      if (burst.earlyApplied && !burst.changedSinceEarly) return;
      await this.reload();
    });
  }

  /** Resolves once every reload scheduled so far has run. */
  async settled(): Promise<void> {
    await this.reloading;
  }

  /**
   * Rebuilds everything from the sources; a failure keeps the last good
   * snapshot. An early reload only goes ahead if it is safe to apply before
   * the quiet period (see the top of this file); false if it did not.
   */
  async reload(kind: ReloadKind = 'settled'): Promise<boolean> {
    const startedAt = performance.now();
    try {
      await this.loadSources();
      const rebuild = this.rebuild();
      if (kind === 'early') {
        const wait = this.reasonToWait(rebuild);
        if (wait) {
          log.debug('change waits for the quiet period', { reason: wait, debounceMs: this.debounceMs });
          return false;
        }
      }
      await this.apply(rebuild, kind, startedAt);
    } catch (err) {
      if (kind === 'early') return false;
      log.error('config rebuild failed; keeping the last good config', { error: errorMessage(err), snapshot: this.snapshot.version });
      this.status = { ...this.status, generation: this.status.generation + 1, loadedBy: kind, translationErrors: [{ resource: '*', reason: errorMessage(err) }] };
    }
    for (const listener of this.changeListeners) listener(this.status);
    return true;
  }

  /** Each source's latest content into the store; a source that fails to load keeps what it published before. */
  private async loadSources(): Promise<void> {
    await Promise.all(this.sources.map(async (source) => {
      try {
        const update = await source.load();
        this.store.publish(source.describe(), update);
      } catch (err) {
        log.error('config source failed to load; keeping what it served before', { source: source.describe(), error: errorMessage(err) });
      }
    }));
  }

  private rebuild(): Rebuild {
    const inputs = this.store.merge();
    const admission = admitDocuments(inputs.documents, this.history);
    const views = new ViewSnapshots(buildModel(admission.config), this.options.translate ?? {}, this.views);
    // The producer view always; every other view some proxy uses now.
    const used = this.viewsInUse(views.model);
    const errors = new Map<string, TranslationError>();
    for (const view of used) for (const e of views.forView(view).errors) errors.set(`${e.resource}\0${e.reason}`, e);
    return { inputs, admission, problems: [...inputs.problems, ...admission.problems], views, errors: [...errors.values()], used };
  }

  /** `startedAt`: when the reload began reading its sources (performance.now()), for the log. */
  private async apply(rebuild: Rebuild, kind: ReloadKind, startedAt: number): Promise<void> {
    const { inputs, admission, problems, views, errors } = rebuild;
    this.store.commit(inputs);
    this.history = admission.history;
    this.admission = admission;
    this.logNewProblems(problems, errors);
    const snapshot = views.forView(GATEWAY_VIEW).snapshot;
    const config = admission.config;
    this.status = {
      source: this.describeSources(),
      ready: true,
      generation: this.status.generation + 1,
      loadedAt: new Date().toISOString(),
      loadedBy: kind,
      snapshotVersion: snapshot.version,
      accepted: {
        documents: config.udpRoutes.length + config.rtspRoutes.length + config.services.length + config.endpointSlices.length,
        udpRoutes: config.udpRoutes.length,
        rtspRoutes: config.rtspRoutes.length,
        services: config.services.length,
        endpointSlices: config.endpointSlices.length,
      },
      problems: problems.map((p) => ({ ...p, message: formatProblem(p) })),
      translationErrors: errors,
    };
    const previous = new Map(this.views.translated().map((v) => [v.key, v.snapshot]));
    const changed = views.translated().some((v) => previous.get(v.key) !== v.snapshot);
    const before = this.snapshot.version;
    // Always the new model: a view no proxy uses yet, and route status, must follow it even when no snapshot changed.
    this.views = views;
    this.snapshot = snapshot;
    if (changed) {
      log.info('config changed', { snapshot: snapshot.version, previous: before, views: views.translated().length, resources: snapshot.resourceCount(), rejected: problems.length, applied: kind, buildMs: Math.round((performance.now() - startedAt) * 10) / 10 });
      await this.publish();
    }
  }

  /** Why a rebuild must not be applied before the quiet period, if it must not. */
  private reasonToWait(rebuild: Rebuild): string | undefined {
    const known = new Set(this.status.problems.map((p) => p.message));
    const fresh = rebuild.problems.find((p) => !known.has(formatProblem(p)));
    if (fresh) return `new problem: ${formatProblem(fresh)}`;
    const errorText = (e: TranslationError) => `${e.resource}: ${e.reason}`;
    const knownErrors = new Set(this.status.translationErrors.map(errorText));
    const freshError = rebuild.errors.find((e) => !knownErrors.has(errorText(e)));
    if (freshError) return `new translation error: ${errorText(freshError)}`;
    const compared = new Set<string>();
    for (const view of rebuild.used) {
      const [after, before] = [rebuild.views.forView(view), this.views.forView(view)];
      // Proxies with equal views share snapshots: compare each pair once, not once per proxy.
      if (compared.has(`${after.key}\0${before.key}`)) continue;
      compared.add(`${after.key}\0${before.key}`);
      const removed = after.snapshot.removedSince(before.snapshot);
      if (removed.length > 0) return `removes ${removed.slice(0, 3).join(', ')}${removed.length > 3 ? ', …' : ''}`;
    }
    return undefined;
  }

  /** What one proxy is given: its view's snapshot plus anything added for it alone. */
  private snapshotForNode(nodeId: string): Snapshot {
    const base = this.views.forView(this.viewOf(nodeId) ?? GATEWAY_VIEW).snapshot;
    const extra = this.proxyResources.forNode(nodeId);
    try {
      return base.withExtra(extra);
    } catch (err) {
      log.error('per-proxy resources clash with the view; serving the view alone', { node: nodeId, error: errorMessage(err) });
      return base;
    }
  }

  private publishNode(nodeId: string): void {
    // A forgotten proxy gets nothing: a snapshot kept for it would outlive its bound.
    if (!this.cache.nodeStatus(nodeId)) return;
    try {
      this.cache.setSnapshot(nodeId, this.snapshotForNode(nodeId));
    } catch (err) {
      log.error('cannot build this proxy\'s snapshot; it keeps its last good one', { node: nodeId, error: errorMessage(err) });
    }
  }

  /**
   * Hands every node its snapshot, yielding to the event loop between
   * batches so the first proxies' responses go out while the rest are still
   * being served. The proxies' answers wait until all are served
   * (request-deferral.ts).
   */
  private publish(): Promise<void> {
    return this.cache.requests.during(() => this.publishInBatches());
  }

  private async publishInBatches(): Promise<void> {
    const views = this.views;
    const nodes = this.cache.knownNodes();
    for (let i = 0; i < nodes.length; i++) {
      if (i > 0 && i % PUBLISH_BATCH === 0) await new Promise((resolve) => setImmediate(resolve));
      // A newer rebuild may have been applied while we yielded.
      if (this.views !== views) return;
      this.publishNode(nodes[i]!);
    }
  }

  private logNewProblems(problems: readonly ConfigProblem[], errors: readonly TranslationError[]): void {
    const before = new Set(this.status.problems.map((p) => p.message));
    for (const p of problems) {
      const message = formatProblem(p);
      if (!before.has(message)) log.warn('rejected config', { problem: message, source: p.source, index: p.index, field: p.field, reason: p.reason });
    }
    for (const e of errors) log.error('translation failed', { resource: e.resource, reason: e.reason });
  }
}
