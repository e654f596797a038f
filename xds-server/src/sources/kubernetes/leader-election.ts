// Leader election on a coordination.k8s.io Lease, so that of several replicas
// (every one of which serves xDS) only one writes route status.
//
// The rules are client-go's: the holder renews every `retryPeriodMs`; another
// candidate takes the Lease once it has seen the same record unchanged for
// `leaseDurationMs` of its own clock (never comparing clocks across
// machines); a leader that could not renew for `renewDeadlineMs` steps down
// before anyone else may take over; a leader that stops cleanly hands the
// Lease back at once. Every write carries the resourceVersion it read, so two
// candidates racing for an expired Lease cannot both win.
import { type Clock, systemClock, type TimerHandle } from '../../clock.js';
import { createLogger, errorMessage, type Logger } from '../../log.js';
import { LEASE, objectPath, collectionPath } from './api-access.js';
import { isConflict, isNotFound, type KubeClient } from './kube-client.js';

export interface LeaderElectionOptions {
  namespace: string;
  leaseName: string;
  /** Who we are in the Lease's holderIdentity: the pod name in a cluster. */
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  clock?: Clock;
  log?: Logger;
  /** Wall time for the Lease's acquire/renew timestamps (informational to other readers only). */
  wallNow?: () => Date;
}

export const LEASE_DEFAULTS = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 } as const;

interface LeaseObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string };
  spec?: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number | null;
    acquireTime?: string | null;
    renewTime?: string | null;
    leaseTransitions?: number | null;
  };
}

export interface LeadershipEvents {
  started?(): void;
  stopped?(): void;
}

export class LeaderElector {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private leading = false;
  private running = false;
  private timer?: TimerHandle;
  /** The record last read, and when (our clock) it was first seen as it is. */
  private observed?: { key: string; at: number };
  private lastRenewAt = 0;
  private readonly listeners: LeadershipEvents[] = [];
  private tick: Promise<void> = Promise.resolve();

  constructor(private readonly client: KubeClient, private readonly options: LeaderElectionOptions) {
    this.clock = options.clock ?? systemClock;
    this.log = options.log ?? createLogger('leader-election');
    this.leaseDurationMs = options.leaseDurationMs ?? LEASE_DEFAULTS.leaseDurationMs;
    this.renewDeadlineMs = options.renewDeadlineMs ?? LEASE_DEFAULTS.renewDeadlineMs;
    this.retryPeriodMs = options.retryPeriodMs ?? LEASE_DEFAULTS.retryPeriodMs;
    if (!(this.retryPeriodMs < this.renewDeadlineMs && this.renewDeadlineMs < this.leaseDurationMs)) {
      throw new Error(`leader election needs retry period < renew deadline < lease duration (got ${this.retryPeriodMs} ms, ${this.renewDeadlineMs} ms, ${this.leaseDurationMs} ms)`);
    }
  }

  isLeader(): boolean {
    return this.leading;
  }

  on(events: LeadershipEvents): void {
    this.listeners.push(events);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /** Stops campaigning; a leader hands the Lease back so another replica takes over without waiting it out. */
  async stop(): Promise<void> {
    this.running = false;
    this.clock.clearTimeout(this.timer);
    await this.tick;
    if (!this.leading) return;
    this.setLeading(false);
    try {
      const lease = await this.read();
      if (lease?.spec?.holderIdentity !== this.options.identity) return;
      await this.client.replace(this.path(), { ...lease, spec: { ...lease.spec, holderIdentity: null, leaseDurationSeconds: 1, renewTime: this.microTime() } });
      this.log.info('handed the lease back', { lease: this.leaseRef() });
    } catch (err) {
      this.log.warn('could not hand the lease back; another replica takes over once it expires', { lease: this.leaseRef(), error: errorMessage(err) });
    }
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    this.timer = this.clock.setTimeout(() => {
      this.tick = this.tryAcquireOrRenew().finally(() => this.schedule(this.retryPeriodMs));
    }, ms);
  }

  private async tryAcquireOrRenew(): Promise<void> {
    const now = this.clock.now();
    try {
      const lease = await this.read();
      if (!this.running) return;
      if (!lease) {
        await this.client.create(collectionPath(LEASE, this.options.namespace), this.record(undefined, true));
        return this.renewed(now, 'created the lease');
      }
      const spec = lease.spec ?? {};
      const key = `${spec.holderIdentity ?? ''}\0${spec.renewTime ?? ''}\0${lease.metadata.resourceVersion ?? ''}`;
      if (this.observed?.key !== key) this.observed = { key, at: now };
      const holder = spec.holderIdentity ?? '';
      const mine = holder === this.options.identity;
      const durationMs = (spec.leaseDurationSeconds ?? this.leaseDurationMs / 1000) * 1000;
      const expired = holder === '' || now - this.observed.at >= durationMs;
      if (!mine && !expired) {
        if (this.leading) this.setLeading(false);
        return;
      }
      await this.client.replace(this.path(), this.record(lease, !mine));
      this.renewed(now, mine ? undefined : `took over the lease from ${holder || 'nobody'}`);
    } catch (err) {
      if (isConflict(err)) this.log.debug('lost a race for the lease', { lease: this.leaseRef() });
      else this.log.warn('cannot read or write the lease', { lease: this.leaseRef(), error: errorMessage(err) });
      // A leader that cannot renew steps down before the others may take over.
      if (this.leading && now - this.lastRenewAt >= this.renewDeadlineMs) {
        this.log.warn('could not renew the lease in time; no longer the leader', { lease: this.leaseRef(), renewDeadlineMs: this.renewDeadlineMs });
        this.setLeading(false);
      }
    }
  }

  private renewed(now: number, why: string | undefined): void {
    this.lastRenewAt = now;
    if (why) this.log.info(why, { lease: this.leaseRef(), identity: this.options.identity });
    if (!this.leading) this.setLeading(true);
  }

  private setLeading(leading: boolean): void {
    this.leading = leading;
    for (const l of this.listeners) (leading ? l.started : l.stopped)?.();
  }

  private record(before: LeaseObject | undefined, acquiring: boolean): LeaseObject {
    const at = this.microTime();
    const spec = before?.spec ?? {};
    return {
      apiVersion: `${LEASE.group}/${LEASE.version}`,
      kind: 'Lease',
      metadata: { ...(before?.metadata ?? {}), name: this.options.leaseName, namespace: this.options.namespace },
      spec: {
        holderIdentity: this.options.identity,
        leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000),
        acquireTime: acquiring ? at : spec.acquireTime ?? at,
        renewTime: at,
        leaseTransitions: (spec.leaseTransitions ?? 0) + (acquiring && before ? 1 : 0),
      },
    };
  }

  private async read(): Promise<LeaseObject | undefined> {
    try {
      return await this.client.get<LeaseObject>(this.path());
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  private path(): string {
    return objectPath(LEASE, this.options.namespace, this.options.leaseName);
  }

  private leaseRef(): string {
    return `${this.options.namespace}/${this.options.leaseName}`;
  }

  /** The Lease's MicroTime: RFC 3339 with exactly six fractional digits, which the API server requires. */
  private microTime(): string {
    const d = (this.options.wallNow ?? (() => new Date()))();
    return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
  }
}
