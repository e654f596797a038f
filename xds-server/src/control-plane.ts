// Wires the stages: source → validation → model → translator → snapshot cache.
//
// Config bursts are coalesced (debounce) so one edit session is one push. An
// isolated edit should not wait for the quiet period, though: when every file
// a change touched was replaced whole and the result only adds or changes
// resources without new problems, it is applied after a short settle. Removals
// and new problems wait for the quiet period, since they may be the first half
// of a multi-file edit (a route moving from one file to another).
import type { Node } from './gen/envoy/config/core/v3/base.js';
import { type ConfigProblem, formatProblem, validateDocuments } from './api/validate.js';
import { createLogger, errorMessage } from './log.js';
import { buildModel } from './model/build-model.js';
import type { ConfigSource, SourceChange } from './sources/source.js';
import { type TranslateOptions, type TranslationError, translateModel } from './translate/translate.js';
import { SnapshotCache } from './xds/snapshot-cache.js';
import { Snapshot } from './xds/snapshot.js';

const log = createLogger('control-plane');
const PUBLISH_BATCH = 64;
/** Lets the events of one write (temp file, rename) arrive before an early apply reads the files. */
export const EARLY_APPLY_SETTLE_MS = 10;

export type ReloadKind = 'early' | 'settled';

/** One burst of changes: open from its first event until the quiet period after its last. */
interface Burst {
  settledTimer?: NodeJS.Timeout;
  earlyTimer?: NodeJS.Timeout;
  /** Every change so far replaced whole files. */
  wholeFiles: boolean;
  earlyApplied: boolean;
  /** A change arrived after the early reload read the files. */
  changedSinceEarly: boolean;
}

export interface ControlPlaneOptions {
  source: ConfigSource;
  /** Quiet time after the last change before config is rebuilt and pushed. */
  debounceMs?: number;
  /** Apply whole-file, add-or-change-only edits without waiting for the quiet time (default true). */
  earlyApply?: boolean;
  translate?: TranslateOptions;
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

export class ControlPlane {
  readonly cache = new SnapshotCache();
  private snapshot = Snapshot.empty();
  private status: ConfigStatus;
  private readonly debounceMs: number;
  private readonly earlyApply: boolean;
  private burst?: Burst;
  private readonly changeListeners = new Set<(status: ConfigStatus) => void>();
  private reloading: Promise<void> = Promise.resolve();

  constructor(private readonly options: ControlPlaneOptions) {
    this.debounceMs = options.debounceMs ?? 100;
    this.earlyApply = (options.earlyApply ?? true) && this.debounceMs > EARLY_APPLY_SETTLE_MS;
    this.status = {
      source: options.source.describe(),
      ready: false,
      generation: 0,
      snapshotVersion: this.snapshot.version,
      accepted: { documents: 0, udpRoutes: 0, rtspRoutes: 0, services: 0, endpointSlices: 0 },
      problems: [],
      translationErrors: [],
    };
    this.cache.addEvents({ nodeConnected: (node: Node) => this.cache.setSnapshot(node.id, this.snapshot) });
  }

  async start(): Promise<void> {
    await this.reload();
    this.options.source.watch((change) => this.scheduleReload(change));
  }

  stop(): void {
    clearTimeout(this.burst?.settledTimer);
    clearTimeout(this.burst?.earlyTimer);
    this.burst = undefined;
    this.options.source.close();
  }

  configStatus(): ConfigStatus {
    return this.status;
  }

  currentSnapshot(): Snapshot {
    return this.snapshot;
  }

  onReload(listener: (status: ConfigStatus) => void): void {
    this.changeListeners.add(listener);
  }

  private scheduleReload(change: SourceChange): void {
    const burst = this.burst ?? this.openBurst();
    burst.wholeFiles &&= change.wholeFiles;
    if (burst.earlyTimer === undefined) burst.changedSinceEarly = true;
    clearTimeout(burst.settledTimer);
    burst.settledTimer = setTimeout(() => this.reloadSettled(burst), this.debounceMs);
  }

  private openBurst(): Burst {
    const burst: Burst = { wholeFiles: true, earlyApplied: false, changedSinceEarly: false };
    if (this.earlyApply) burst.earlyTimer = setTimeout(() => this.reloadEarly(burst), EARLY_APPLY_SETTLE_MS);
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
    clearTimeout(burst.earlyTimer);
    if (this.burst === burst) this.burst = undefined;
    this.reloading = this.reloading.then(async () => {
      // The early apply already read everything this burst wrote.
      if (burst.earlyApplied && !burst.changedSinceEarly) return;
      await this.reload();
    });
  }

  /**
   * Rebuilds everything from the source; a failure keeps the last good
   * snapshot. An early reload only goes ahead if it is safe to apply before
   * the quiet period (see the top of this file); false if it did not.
   */
  async reload(kind: ReloadKind = 'settled'): Promise<boolean> {
    try {
      const update = await this.options.source.load();
      const { config, problems } = validateDocuments(update.documents);
      const allProblems = [...update.problems, ...problems];
      const { resources, errors } = translateModel(buildModel(config), this.options.translate);
      const snapshot = Snapshot.fromResources(resources);
      if (kind === 'early') {
        const wait = this.reasonToWait(snapshot, allProblems, errors);
        if (wait) {
          log.debug('change waits for the quiet period', { reason: wait, debounceMs: this.debounceMs });
          return false;
        }
      }
      this.logNewProblems(allProblems, errors);
      this.status = {
        source: this.options.source.describe(),
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
        problems: allProblems.map((p) => ({ ...p, message: formatProblem(p) })),
        translationErrors: errors,
      };
      if (snapshot.version !== this.snapshot.version) {
        log.info('config changed', { snapshot: snapshot.version, previous: this.snapshot.version, resources: snapshot.resourceCount(), rejected: allProblems.length, applied: kind });
        this.snapshot = snapshot;
        await this.publish(snapshot);
      }
    } catch (err) {
      if (kind === 'early') return false;
      log.error('config rebuild failed; keeping the last good config', { error: errorMessage(err), snapshot: this.snapshot.version });
      this.status = { ...this.status, ready: this.status.ready, generation: this.status.generation + 1, loadedBy: kind, translationErrors: [{ resource: '*', reason: errorMessage(err) }] };
    }
    for (const listener of this.changeListeners) listener(this.status);
    return true;
  }

  /** Why a rebuild must not be applied before the quiet period, if it must not. */
  private reasonToWait(snapshot: Snapshot, problems: readonly ConfigProblem[], errors: readonly TranslationError[]): string | undefined {
    const known = new Set(this.status.problems.map((p) => p.message));
    const fresh = problems.find((p) => !known.has(formatProblem(p)));
    if (fresh) return `new problem: ${formatProblem(fresh)}`;
    const errorText = (e: TranslationError) => `${e.resource}: ${e.reason}`;
    const knownErrors = new Set(this.status.translationErrors.map(errorText));
    const freshError = errors.find((e) => !knownErrors.has(errorText(e)));
    if (freshError) return `new translation error: ${errorText(freshError)}`;
    const removed = snapshot.removedSince(this.snapshot);
    if (removed.length > 0) return `removes ${removed.slice(0, 3).join(', ')}${removed.length > 3 ? ', …' : ''}`;
    return undefined;
  }

  /**
   * Hands the snapshot to every node, yielding to the event loop between
   * batches so the first proxies' responses go out (and their ACKs come back)
   * while the rest are still being served.
   */
  private async publish(snapshot: Snapshot): Promise<void> {
    const nodes = this.cache.knownNodes();
    for (let i = 0; i < nodes.length; i++) {
      if (i > 0 && i % PUBLISH_BATCH === 0) await new Promise((resolve) => setImmediate(resolve));
      // A newer snapshot may have been published while we yielded.
      if (this.snapshot !== snapshot) return;
      this.cache.setSnapshot(nodes[i]!, snapshot);
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
