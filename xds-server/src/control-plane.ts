// Wires the stages: source → validation → model → translator → snapshot cache.
// Config bursts are coalesced (debounce) so one edit session is one push.
import type { Node } from './gen/envoy/config/core/v3/base.js';
import { type ConfigProblem, formatProblem, validateDocuments } from './api/validate.js';
import { createLogger, errorMessage } from './log.js';
import { buildModel } from './model/build-model.js';
import type { ConfigSource } from './sources/source.js';
import { type TranslateOptions, type TranslationError, translateModel } from './translate/translate.js';
import { SnapshotCache } from './xds/snapshot-cache.js';
import { Snapshot } from './xds/snapshot.js';

const log = createLogger('control-plane');
const PUBLISH_BATCH = 64;

export interface ControlPlaneOptions {
  source: ConfigSource;
  /** Quiet time after the last change before config is rebuilt and pushed. */
  debounceMs?: number;
  translate?: TranslateOptions;
}

export interface ConfigStatus {
  source: string;
  ready: boolean;
  generation: number;
  loadedAt?: string;
  snapshotVersion: string;
  accepted: { documents: number; udpRoutes: number; rtspRoutes: number; services: number; endpointSlices: number };
  problems: (ConfigProblem & { message: string })[];
  translationErrors: TranslationError[];
}

export class ControlPlane {
  readonly cache = new SnapshotCache();
  private snapshot = Snapshot.empty();
  private timer?: NodeJS.Timeout;
  private status: ConfigStatus;
  private readonly debounceMs: number;
  private readonly changeListeners = new Set<(status: ConfigStatus) => void>();
  private reloading: Promise<void> = Promise.resolve();

  constructor(private readonly options: ControlPlaneOptions) {
    this.debounceMs = options.debounceMs ?? 100;
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
    this.options.source.watch(() => this.scheduleReload());
  }

  stop(): void {
    clearTimeout(this.timer);
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

  private scheduleReload(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.reloading = this.reloading.then(() => this.reload());
    }, this.debounceMs);
  }

  /** Rebuilds everything from the source; a failure keeps the last good snapshot. */
  async reload(): Promise<void> {
    try {
      const update = await this.options.source.load();
      const { config, problems } = validateDocuments(update.documents);
      const allProblems = [...update.problems, ...problems];
      const { resources, errors } = translateModel(buildModel(config), this.options.translate);
      const snapshot = Snapshot.fromResources(resources);
      this.logNewProblems(allProblems, errors);
      this.status = {
        source: this.options.source.describe(),
        ready: true,
        generation: this.status.generation + 1,
        loadedAt: new Date().toISOString(),
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
        log.info('config changed', { snapshot: snapshot.version, previous: this.snapshot.version, resources: snapshot.resourceCount(), rejected: allProblems.length });
        this.snapshot = snapshot;
        await this.publish(snapshot);
      }
    } catch (err) {
      log.error('config rebuild failed; keeping the last good config', { error: errorMessage(err), snapshot: this.snapshot.version });
      this.status = { ...this.status, ready: this.status.ready, generation: this.status.generation + 1, translationErrors: [{ resource: '*', reason: errorMessage(err) }] };
    }
    for (const listener of this.changeListeners) listener(this.status);
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
