// The Kubernetes config source: informers (list, then watch from the list's
// resourceVersion; a relist when the API server says 410 Gone) for the route
// CRs, Services and EndpointSlices, published to the control plane as whole
// documents in the same shapes a config directory holds.
//
// Losing the API server loses nothing: the informers keep the objects they
// last saw, the source keeps publishing them with a problem that says so, and
// each watch is restarted with a capped backoff until it lists again. A
// relist then adds, changes and deletes what changed meanwhile.
import { type KubernetesObject, ListWatch, Watch } from '@kubernetes/client-node';
import type { SourcedDocument } from '../../api/types.js';
import type { ConfigProblem } from '../../api/validate.js';
import { type Clock, systemClock, type TimerHandle } from '../../clock.js';
import { createLogger, errorMessage, type Logger } from '../../log.js';
import type { ConfigSource, SourceChange, SourceUpdate } from '../source.js';
import { collectionPath, POD_KIND, WATCHED_KINDS, type WatchedKind } from './api-access.js';
import type { KubeClient } from './kube-client.js';
import type { ApiRouteParentStatus } from './status-writer.js';
import { type ApiObject, KUBERNETES_ORIGIN, podAddresses, slimInPlace, toDocument } from './to-document.js';

export const RESTART_BACKOFF_MS = { first: 500, max: 30_000 } as const;

export interface KubernetesSourceOptions {
  clock?: Clock;
  log?: Logger;
  /** Only these namespaces (default: every namespace). */
  namespace?: string;
}

type Informer = ListWatch<KubernetesObject>;

interface KindWatch {
  kind: WatchedKind;
  /** The informer of the current attempt; a failed one is replaced by a fresh one that lists again. */
  informer: Informer;
  /** What the last informer that listed saw: served while a fresh one has not listed yet. */
  lastSeen: readonly KubernetesObject[];
  /** Whether `informer` has listed; the source is ready once every kind has listed once. */
  listed: boolean;
  everListed: boolean;
  /** The last failure, until the next successful list. */
  failure?: string;
  failures: number;
  restartTimer?: TimerHandle;
  /** The projected documents, by object: an unchanged object is not projected again. */
  documents: WeakMap<object, SourcedDocument | undefined>;
  /** Route kinds: metadata.generation last seen per namespace/name (bounded by the objects that exist). */
  generations: Map<string, number | undefined>;
}

/** Whether an updated route's spec may differ from what was projected before: CRs bump metadata.generation on every spec change. */
function specChanged(k: KindWatch, object: KubernetesObject): boolean {
  const key = `${object.metadata?.namespace}/${object.metadata?.name}`;
  const before = k.generations.get(key);
  const now = object.metadata?.generation;
  k.generations.set(key, now);
  return now === undefined || before !== now;
}

export class KubernetesSource implements ConfigSource {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly watcher: Watch;
  /** The config kinds (published as documents), then the pods (read for proxy identity only). */
  private readonly kinds: KindWatch[];
  private readonly pods: KindWatch;
  /** Pod by address, rebuilt on the first lookup after any pod event. */
  private podIndex?: Map<string, { namespace: string; name: string } | 'shared'>;
  private onChange?: (change: SourceChange) => void;
  private closed = false;
  private readonly listedWaiters = new Set<() => void>();

  constructor(private readonly client: KubeClient, private readonly options: KubernetesSourceOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.log = options.log ?? createLogger('kubernetes-source');
    this.watcher = new Watch(client.config);
    const watchOf = (kind: WatchedKind): KindWatch => {
      const entry = { kind, lastSeen: [], listed: false, everListed: false, failures: 0, documents: new WeakMap(), generations: new Map() } as unknown as KindWatch;
      entry.informer = this.makeInformer(entry);
      return entry;
    };
    this.kinds = WATCHED_KINDS.map(watchOf);
    this.pods = watchOf(POD_KIND);
  }

  private makeInformer(k: KindWatch): Informer {
    const path = collectionPath(k.kind, this.options.namespace);
    let informer: Informer;
    const list = async () => {
      const answer = await this.client.get<{ items?: ApiObject[] | null; metadata?: { resourceVersion?: string } }>(path);
      for (const item of answer.items ?? []) slimInPlace(k.kind, item);
      // ListWatch stores the items right after this resolves; look once it has.
      setImmediate(() => this.listSucceeded(k, informer));
      return { ...answer, items: answer.items ?? [] } as never;
    };
    informer = new ListWatch(path, this.watcher, list, false);
    const changed = () => {
      if (k.kind === POD_KIND) this.podIndex = undefined;
      else if (k.informer === informer && k.listed) this.changed();
    };
    informer.on('add', (object: KubernetesObject) => {
      slimInPlace(k.kind, object as ApiObject);
      if (k.kind.group === 'mediamesh.io') specChanged(k, object);
      changed();
    });
    informer.on('update', (object: KubernetesObject) => {
      slimInPlace(k.kind, object as ApiObject);
      if (k.kind === POD_KIND) return changed();
      // A route's own status write (ours, every few changes) bumps no generation: nothing to reload for it.
      if (k.kind.group === 'mediamesh.io' && !specChanged(k, object)) return;
      changed();
    });
    informer.on('delete', (object: KubernetesObject) => {
      k.generations.delete(`${object.metadata?.namespace}/${object.metadata?.name}`);
      changed();
    });
    informer.on('error', (err: unknown) => {
      if (k.informer === informer) this.failed(k, err);
    });
    return informer;
  }

  describe(): string {
    return `kubernetes (${this.client.server}${this.options.namespace ? `, namespace ${this.options.namespace}` : ''})`;
  }

  /** Starts every informer; resolves once each kind has been listed once (a control plane must not serve an empty cluster). */
  async start(): Promise<void> {
    for (const k of [...this.kinds, this.pods]) void this.startInformer(k);
    await this.ready();
  }

  /** Resolves when every kind has been listed at least once. */
  ready(): Promise<void> {
    if (this.kinds.every((k) => k.everListed)) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (!this.kinds.every((k) => k.everListed)) return;
        this.listedWaiters.delete(check);
        resolve();
      };
      this.listedWaiters.add(check);
    });
  }

  load(): SourceUpdate {
    const documents: SourcedDocument[] = [];
    const problems: ConfigProblem[] = [];
    for (const k of this.kinds) {
      const objects = k.listed ? k.informer.list() : k.lastSeen;
      for (const object of objects) {
        // Raw JSON from the API (the list and watch are not deserialized into client-node's classes).
        if (!k.documents.has(object)) k.documents.set(object, toDocument(k.kind, object as ApiObject));
        const doc = k.documents.get(object);
        if (doc) documents.push(doc);
      }
      if (k.failure !== undefined) {
        const kept = objects.length > 0 ? `; still serving the ${objects.length} ${k.kind.kind} object${objects.length === 1 ? '' : 's'} last seen` : '';
        problems.push({ source: KUBERNETES_ORIGIN, index: -1, field: '', reason: `watching ${k.kind.kind}s failed (${k.failures} time${k.failures === 1 ? '' : 's'} in a row): ${k.failure}${kept}` });
      }
    }
    return { documents, problems };
  }

  watch(onChange: (change: SourceChange) => void): void {
    this.onChange = onChange;
  }

  close(): void {
    this.closed = true;
    for (const k of [...this.kinds, this.pods]) {
      this.clock.clearTimeout(k.restartTimer);
      void k.informer.stop().catch(() => undefined);
    }
  }

  /** The pod that owns `address` (not a host-network one, and only if exactly one does). */
  locatePod(address: string): { namespace: string; name: string } | undefined {
    if (!this.podIndex) {
      this.podIndex = new Map();
      const objects = this.pods.listed ? this.pods.informer.list() : this.pods.lastSeen;
      for (const object of objects) {
        const pod = podAddresses(object as ApiObject);
        if (!pod || pod.hostNetwork) continue;
        for (const ip of pod.ips) this.podIndex.set(ip, this.podIndex.has(ip) ? 'shared' : { namespace: pod.namespace, name: pod.name });
      }
    }
    const found = this.podIndex.get(address);
    return found === 'shared' ? undefined : found;
  }

  /** A route's status as stored in the cluster (what the status writer compares with). */
  storedStatus(kind: string, namespace: string, name: string): { parents?: ApiRouteParentStatus[] } | undefined {
    const k = this.kinds.find((x) => x.kind.kind === kind);
    if (!k) return undefined;
    const object = (k.listed ? k.informer.get(name, namespace) : k.lastSeen.find((o) => o.metadata?.name === name && o.metadata?.namespace === namespace)) as ApiObject | undefined;
    return object?.status as { parents?: ApiRouteParentStatus[] } | undefined;
  }

  /** Per kind: listed yet, and the current failure if any (for /debug and tests). */
  health(): { kind: string; listed: boolean; failure?: string }[] {
    return this.kinds.map((k) => ({ kind: k.kind.kind, listed: k.listed, ...(k.failure ? { failure: k.failure } : {}) }));
  }

  private async startInformer(k: KindWatch): Promise<void> {
    if (this.closed) return;
    try {
      await k.informer.start();
    } catch (err) {
      this.failed(k, err);
    }
  }

  private changed(): void {
    // Informer events carry whole objects: nothing half-written is ever seen.
    this.onChange?.({ wholeFiles: true, completed: true });
  }

  private listSucceeded(k: KindWatch, informer: Informer): void {
    if (this.closed || k.informer !== informer || k.listed) return;
    if (k.kind === POD_KIND) {
      k.listed = true;
      k.failure = undefined;
      k.failures = 0;
      this.podIndex = undefined;
      return;
    }
    const recovered = k.failure !== undefined;
    k.listed = true;
    k.failure = undefined;
    k.failures = 0;
    this.log.info(recovered ? 'listed again after a failure' : 'listed', { kind: k.kind.kind, objects: informer.list().length });
    if (!k.everListed) {
      k.everListed = true;
      for (const w of [...this.listedWaiters]) w();
    }
    this.changed();
  }

  private failed(k: KindWatch, err: unknown): void {
    if (this.closed) return;
    if (k.kind === POD_KIND && k.listed) this.podIndex = undefined;
    k.failure = errorMessage(err);
    k.failures++;
    // Keep serving what was seen; a fresh informer lists everything again, so deletions meanwhile are not missed.
    if (k.listed) k.lastSeen = k.informer.list();
    k.listed = false;
    void k.informer.stop().catch(() => undefined);
    const delay = Math.min(RESTART_BACKOFF_MS.max, RESTART_BACKOFF_MS.first * 2 ** Math.min(k.failures - 1, 16));
    this.log.warn('watch failed; keeping the objects last seen and listing again', { kind: k.kind.kind, error: k.failure, retryInMs: delay, objects: k.lastSeen.length });
    this.clock.clearTimeout(k.restartTimer);
    k.restartTimer = this.clock.setTimeout(() => {
      k.informer = this.makeInformer(k);
      void this.startInformer(k);
    }, delay);
    this.changed();
  }
}
