// Writes each Kubernetes route's status (Gateway API's `status.parents[]`)
// from the control plane's route status: Accepted, ResolvedRefs, Programmed
// per parent, with observedGeneration.
//
// Only while this replica leads (leader-election.ts), and only what changed:
// a route whose stored conditions already say the same (type, status, reason,
// message, observedGeneration) is not written, and a condition whose status
// did not change keeps the lastTransitionTime stored, so a new leader taking
// over writes nothing for routes whose status it agrees with. Changes are
// gathered for `debounceMs` on the injected clock, so a burst of ACKs makes
// one write per route, not one per ACK.
import type { ParentRef } from '../../api/types.js';
import { type Clock, systemClock, type TimerHandle } from '../../clock.js';
import { createLogger, errorMessage, type Logger } from '../../log.js';
import { stableJson } from '../../stable-json.js';
import type { RouteCondition, RouteStatusEntry } from '../../status/route-status.js';
import { objectPath, STATUS_KINDS } from './api-access.js';
import { isNotFound, type KubeClient } from './kube-client.js';
import { KUBERNETES_ORIGIN } from './to-document.js';

export const CONTROLLER_NAME = 'mediamesh.io/control-plane';
export const STATUS_DEBOUNCE_MS = 500;
/** Retry after a failed write (the API server unreachable, throttled). */
export const STATUS_RETRY_MS = 5_000;
/** Kubernetes caps a condition message at 32768 bytes; Envoy's NACK texts can be longer. */
const MAX_MESSAGE_CHARS = 4096;
const CONCURRENT_WRITES = 4;

export interface ApiRouteParentStatus {
  parentRef: ParentRef;
  controllerName: string;
  conditions: RouteCondition[];
}

export interface StatusWriterOptions {
  clock?: Clock;
  log?: Logger;
  debounceMs?: number;
}

export interface StatusWriterInputs {
  /** The control plane's route status, as of now. */
  statuses(): RouteStatusEntry[];
  /** The stored object (with its status) of a route, as the informer last saw it. */
  storedStatus(kind: string, namespace: string, name: string): { parents?: ApiRouteParentStatus[] } | undefined;
}

export class RouteStatusWriter {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly debounceMs: number;
  private active = false;
  private timer?: TimerHandle;
  private flushing: Promise<void> = Promise.resolve();
  private writes = 0;
  private flushes = 0;

  constructor(private readonly client: KubeClient, private readonly inputs: StatusWriterInputs, options: StatusWriterOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.log = options.log ?? createLogger('status-writer');
    this.debounceMs = options.debounceMs ?? STATUS_DEBOUNCE_MS;
  }

  /** Starts writing (this replica leads): everything is compared and written once, then on changes. */
  activate(): void {
    if (this.active) return;
    this.active = true;
    this.schedule(0);
  }

  deactivate(): void {
    this.active = false;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Something that feeds route status changed: write what differs once the burst settles. */
  statusMayHaveChanged(): void {
    if (this.active && this.timer === undefined) this.schedule(this.debounceMs);
  }

  /** Writes done so far (tests and /debug). */
  writeCount(): number {
    return this.writes;
  }

  /** Comparisons of every route's status with the stored one, done so far (each may write nothing). */
  flushCount(): number {
    return this.flushes;
  }

  /** Resolves when the write in progress, if any, is done. */
  idle(): Promise<void> {
    return this.flushing;
  }

  private schedule(ms: number): void {
    this.clock.clearTimeout(this.timer);
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.flushing = this.flushing.then(() => this.flush());
    }, ms);
  }

  private async flush(): Promise<void> {
    if (!this.active) return;
    const pending = this.inputs.statuses().filter((e) => e.source === KUBERNETES_ORIGIN).flatMap((entry) => {
      const kind = STATUS_KINDS.find((k) => k.kind === entry.kind);
      if (!kind) return [];
      const stored = this.inputs.storedStatus(entry.kind, entry.namespace, entry.name)?.parents ?? [];
      const desired = desiredParents(entry, stored);
      return sameParents(stored, desired) ? [] : [{ entry, path: `${objectPath(kind, entry.namespace, entry.name)}/status`, desired }];
    });
    let failed = false;
    for (let i = 0; i < pending.length && this.active; i += CONCURRENT_WRITES) {
      await Promise.all(pending.slice(i, i + CONCURRENT_WRITES).map(async ({ entry, path, desired }) => {
        try {
          await this.client.patch(path, { status: { parents: desired } }, 'merge');
          this.writes++;
        } catch (err) {
          if (isNotFound(err)) return; // deleted meanwhile: nothing to say about it
          failed = true;
          this.log.warn('cannot write route status; retrying', { route: `${entry.kind} ${entry.namespace}/${entry.name}`, error: errorMessage(err), retryInMs: STATUS_RETRY_MS });
        }
      }));
    }
    this.flushes++;
    if (failed && this.active) this.schedule(STATUS_RETRY_MS);
  }
}

/** The status to store: ours, keeping stored transition times where a condition's status did not change. */
export function desiredParents(entry: RouteStatusEntry, stored: readonly ApiRouteParentStatus[]): ApiRouteParentStatus[] {
  return entry.status.parents.map((p) => {
    const before = stored.find((s) => s.controllerName === CONTROLLER_NAME && sameJson(s.parentRef, p.parentRef));
    return {
      parentRef: p.parentRef,
      controllerName: CONTROLLER_NAME,
      conditions: p.conditions.map((c) => {
        const message = c.message.length > MAX_MESSAGE_CHARS ? `${c.message.slice(0, MAX_MESSAGE_CHARS - 1)}…` : c.message;
        const old = before?.conditions?.find((o) => o.type === c.type);
        const lastTransitionTime = old && old.status === c.status && old.lastTransitionTime ? old.lastTransitionTime : c.lastTransitionTime;
        return { type: c.type, status: c.status, reason: c.reason, message, observedGeneration: c.observedGeneration, lastTransitionTime };
      }),
    };
  });
}

function sameParents(stored: readonly ApiRouteParentStatus[], desired: readonly ApiRouteParentStatus[]): boolean {
  if (stored.length !== desired.length) return false;
  return desired.every((d, i) => {
    const s = stored[i]!;
    return s.controllerName === d.controllerName && sameJson(s.parentRef, d.parentRef) && (s.conditions ?? []).length === d.conditions.length
      && d.conditions.every((c, j) => sameJson(s.conditions[j], c));
  });
}

function sameJson(a: unknown, b: unknown): boolean {
  return stableJson(a) === stableJson(b);
}
