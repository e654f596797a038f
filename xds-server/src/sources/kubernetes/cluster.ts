// Everything `serve --kubernetes` adds, wired together: the informer source
// the control plane reads, the Lease that picks one replica, and that
// replica's route status writes.
import type { Clock } from '../../clock.js';
import type { RouteStatusEntry } from '../../status/route-status.js';
import { createLogger } from '../../log.js';
import { DEFAULT_LEASE_NAME } from './api-access.js';
import type { KubeClient } from './kube-client.js';
import { LeaderElector, type LeaderElectionOptions } from './leader-election.js';
import { KubernetesSource } from './kubernetes-source.js';
import { RouteStatusWriter } from './status-writer.js';

/** What the status writer reads from the control plane (which it sits below). */
export interface RouteStatusFeed {
  routeStatuses(): RouteStatusEntry[];
  onRouteStatusMayChange(listener: () => void): void;
}

export interface KubernetesModeOptions {
  client: KubeClient;
  /** Watch only this namespace (default: all). */
  namespace?: string;
  leaderElection: Pick<LeaderElectionOptions, 'namespace' | 'identity' | 'leaseDurationMs' | 'renewDeadlineMs' | 'retryPeriodMs'> & { leaseName?: string };
  statusDebounceMs?: number;
  clock?: Clock;
}

const log = createLogger('kubernetes');

export class KubernetesMode {
  readonly source: KubernetesSource;
  private readonly elector: LeaderElector;
  private writer?: RouteStatusWriter;

  constructor(private readonly options: KubernetesModeOptions) {
    const { client, clock } = options;
    this.source = new KubernetesSource(client, { clock, namespace: options.namespace });
    this.elector = new LeaderElector(client, { ...options.leaderElection, leaseName: options.leaderElection.leaseName ?? DEFAULT_LEASE_NAME, clock });
  }

  /** Once the control plane serves: campaign for the Lease, and write status while leading. */
  attach(controlPlane: RouteStatusFeed): void {
    const writer = (this.writer = new RouteStatusWriter(
      this.options.client,
      { statuses: () => controlPlane.routeStatuses(), storedStatus: (kind, ns, name) => this.source.storedStatus(kind, ns, name) },
      { clock: this.options.clock, debounceMs: this.options.statusDebounceMs },
    ));
    controlPlane.onRouteStatusMayChange(() => writer.statusMayHaveChanged());
    this.elector.on({
      started: () => {
        log.info('leading: this replica writes route status');
        writer.activate();
      },
      stopped: () => {
        log.info('no longer leading: another replica writes route status');
        writer.deactivate();
      },
    });
    this.elector.start();
  }

  isLeader(): boolean {
    return this.elector.isLeader();
  }

  statusWrites(): number {
    return this.writer?.writeCount() ?? 0;
  }

  statusFlushes(): number {
    return this.writer?.flushCount() ?? 0;
  }

  async stop(): Promise<void> {
    this.writer?.deactivate();
    await this.elector.stop();
    this.source.close();
  }
}
