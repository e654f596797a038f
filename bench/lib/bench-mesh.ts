// The config the bench serves and the one-route change it makes each round.
//
// `routes` UdpRoutes in namespace `media`, one YAML file each, every route with
// one backend of two endpoints. Round r rewrites route 0's file only:
//   endpoint: its backend's first endpoint moves to port ENDPOINT_PORT_CHANGED + r
//             — an EDS-only change (cluster and listener stay byte-identical);
//   listener: its idle timeout becomes 60 + r seconds — an LDS-only change.
//
// Per-proxy mode (`views` > 0) adds, in each namespace ns-k, a consumer route
// (Gateway API GAMMA, DESIGN.md §5): a UdpRoute whose parentRef is route 0's
// Service in `media`, sending to route 0's backend (shared by every view) and
// to a backend of its own namespace (an endpoint no other view has). It
// applies only to proxies in ns-k and wins there over route 0, so every
// namespace's proxies get a listener, cluster and endpoints of their own. The
// endpoint change reaches every view through the shared backend.
//
// The round's rewrite is atomic by default (`rename`: write a temp file and
// rename it over, as editors, `kubectl cp` and ConfigDir.write do). `in-place`
// (truncate + write of the same inode) is kept for servers whose watcher misses
// renames: Node 20's recursive fs.watch saw only the first rename-over of a
// file, which FileSource worked around in 46bae72 by watching each directory.
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { ConfigDir, udpRouteDocuments } from '../../test/helpers/mesh-files.js';
import { viewNamespace } from './views.js';

export type ChangeKind = 'endpoint' | 'listener';
export type WriteMode = 'in-place' | 'rename';

const NAMESPACE = 'media';
const LISTEN_PORT_BASE = 20_000;
const ENDPOINT_PORT_BASE = 30_000;
const ENDPOINT_PORT_CHANGED = 40_000;
/** Consumer backends of namespace k listen on this + k: below ENDPOINT_PORT_CHANGED for up to 1000 routes and 8000 views. */
const CONSUMER_ENDPOINT_PORT_BASE = 32_000;
const IDLE_TIMEOUT_BASE_S = 60;
const BACKEND_SERVICE_PORT = 7000;
const CONSUMER_ROUTE = 'consumer';

/** What changes in round r: found in the round's resources of every view to know what each proxy must hold. */
export type RoundChange =
  | { kind: 'endpoint-port'; port: number }
  | { kind: 'listener-idle-timeout'; seconds: number };

export class BenchMesh {
  constructor(
    private readonly dir: ConfigDir,
    private readonly routes: number,
    private readonly change: ChangeKind,
    private readonly writeMode: WriteMode = 'rename',
    private readonly views = 0,
  ) {
    if (views > 0 && change !== 'endpoint') throw new Error('per-proxy mode (--views) changes a shared endpoint: it needs --change endpoint');
  }

  get configDir(): string {
    return this.dir.dir;
  }

  /** Every config file in its round-r form (round 0: the initial config), by file name. */
  filesAt(round: number): Map<string, string> {
    const files = new Map<string, string>();
    for (let i = 0; i < this.routes; i++) files.set(routeFileName(i), this.routeDocuments(i, i === 0 ? round : 0));
    for (let k = 0; k < this.views; k++) files.set(`${CONSUMER_ROUTE}-${viewNamespace(k)}.yaml`, consumerDocuments(k));
    return files;
  }

  /** Writes every file in its round-0 form. */
  writeInitial(): void {
    for (const [name, text] of this.filesAt(0)) this.dir.write(name, text);
  }

  /** Rewrites route 0's file in its round-r form: the one write a round's clock starts at. */
  applyRound(round: number): void {
    const text = this.routeDocuments(0, round);
    if (this.writeMode === 'rename') this.dir.write(routeFileName(0), text);
    else fs.writeFileSync(path.join(this.dir.dir, routeFileName(0)), text);
  }

  /** The value only the round-r config has (round 0: the initial one). */
  roundChange(round: number): RoundChange {
    return this.change === 'endpoint'
      ? { kind: 'endpoint-port', port: firstEndpointPort(round) }
      : { kind: 'listener-idle-timeout', seconds: IDLE_TIMEOUT_BASE_S + round };
  }

  private routeDocuments(i: number, round: number): string {
    const changing = i === 0;
    return udpRouteDocuments({
      name: routeName(i),
      listenPort: LISTEN_PORT_BASE + i,
      backends: [{
        name: backendName(i),
        ports: [changing && this.change === 'endpoint' ? firstEndpointPort(round) : ENDPOINT_PORT_BASE + 2 * i, ENDPOINT_PORT_BASE + 2 * i + 1],
        // Every namespace's consumer route sends to route 0's backend too.
        ...(changing && this.views > 0 ? { allowRoutesFrom: '*' } : {}),
      }],
      extraSpec: { idleTimeout: `${changing && this.change === 'listener' ? IDLE_TIMEOUT_BASE_S + round : IDLE_TIMEOUT_BASE_S}s` },
    }, NAMESPACE);
  }
}

/** Namespace ns-k's consumer route over route 0's Service, and the backend only ns-k has. */
function consumerDocuments(k: number): string {
  const namespace = viewNamespace(k);
  const ownBackend = `${CONSUMER_ROUTE}-backend`;
  const docs: unknown[] = [
    { apiVersion: 'v1', kind: 'Service', metadata: { name: ownBackend, namespace }, spec: { ports: [{ name: 'media', port: BACKEND_SERVICE_PORT, protocol: 'UDP' }] } },
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `${ownBackend}-0`, namespace, labels: { 'kubernetes.io/service-name': ownBackend } },
      addressType: 'IPv4',
      ports: [{ name: 'media', port: CONSUMER_ENDPOINT_PORT_BASE + k, protocol: 'UDP' }],
      endpoints: [{ addresses: ['127.0.0.1'], conditions: { ready: true } }],
    },
    {
      apiVersion: 'mediamesh.io/v1alpha1',
      kind: 'UdpRoute',
      metadata: { name: CONSUMER_ROUTE, namespace },
      spec: {
        parentRefs: [{ kind: 'Service', name: routeName(0), namespace: NAMESPACE, port: LISTEN_PORT_BASE }],
        backendRefs: [
          { name: backendName(0), namespace: NAMESPACE, port: BACKEND_SERVICE_PORT },
          { name: ownBackend, port: BACKEND_SERVICE_PORT },
        ],
        idleTimeout: `${IDLE_TIMEOUT_BASE_S}s`,
      },
    },
  ];
  return docs.map((d) => stringify(d)).join('---\n');
}

function routeName(i: number): string {
  return `bench-${String(i).padStart(4, '0')}`;
}

function routeFileName(i: number): string {
  return `${routeName(i)}.yaml`;
}

function backendName(i: number): string {
  return `${routeName(i)}-backend`;
}

function firstEndpointPort(round: number): number {
  return round === 0 ? ENDPOINT_PORT_BASE : ENDPOINT_PORT_CHANGED + round;
}
