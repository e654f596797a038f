// The config the bench serves and the one-route change it makes each round.
//
// `routes` UdpRoutes, one YAML file each, every route with one backend of two
// endpoints. Round r rewrites route 0's file only:
//   endpoint: its first endpoint moves to port ENDPOINT_PORT_CHANGED + r — an
//             EDS-only change (cluster and listener stay byte-identical);
//   listener: its idle timeout becomes 60 + r seconds — an LDS-only change.
//
// The round's rewrite is atomic by default (`rename`: write a temp file and
// rename it over, as editors, `kubectl cp` and ConfigDir.write do). `in-place`
// (truncate + write of the same inode) is kept for servers whose watcher misses
// renames: Node 20's recursive fs.watch saw only the first rename-over of a
// file, which FileSource worked around in 46bae72 by watching each directory.
import fs from 'node:fs';
import path from 'node:path';
import { ConfigDir, udpRouteDocuments } from '../../test/helpers/mesh-files.js';
import { udpClusterName, udpListenerName } from '../../xds-server/src/translate/names.js';
import type { Expectation } from './expectation.js';

export type ChangeKind = 'endpoint' | 'listener';
export type WriteMode = 'in-place' | 'rename';

const NAMESPACE = 'media';
const LISTEN_PORT_BASE = 20_000;
const ENDPOINT_PORT_BASE = 30_000;
const ENDPOINT_PORT_CHANGED = 40_000;
const IDLE_TIMEOUT_BASE_S = 60;

export class BenchMesh {
  constructor(private readonly dir: ConfigDir, private readonly routes: number, private readonly change: ChangeKind, private readonly writeMode: WriteMode = 'rename') {}

  /** Writes every route in its round-0 form. */
  writeInitial(): void {
    for (let i = 0; i < this.routes; i++) this.dir.write(this.fileName(i), this.documents(i, 0));
  }

  /** Rewrites route 0 in its round-r form. */
  applyRound(round: number): void {
    const text = this.documents(0, round);
    if (this.writeMode === 'rename') this.dir.write(this.fileName(0), text);
    else fs.writeFileSync(path.join(this.dir.dir, this.fileName(0)), text);
  }

  /** What a proxy holds once it has the round-r config (round 0: the initial one). */
  expectation(round: number): Expectation {
    const id = { namespace: NAMESPACE, name: routeName(0) };
    const port = LISTEN_PORT_BASE;
    return this.change === 'endpoint'
      ? { kind: 'endpoint-port', clusterName: udpClusterName(id, port), port: firstEndpointPort(0, round) }
      : { kind: 'listener-idle-timeout', listenerName: udpListenerName(id, port), seconds: IDLE_TIMEOUT_BASE_S + round };
  }

  private fileName(i: number): string {
    return `${routeName(i)}.yaml`;
  }

  private documents(i: number, round: number): string {
    const changing = i === 0;
    return udpRouteDocuments({
      name: routeName(i),
      listenPort: LISTEN_PORT_BASE + i,
      backends: [{
        name: `${routeName(i)}-backend`,
        ports: [changing && this.change === 'endpoint' ? firstEndpointPort(i, round) : ENDPOINT_PORT_BASE + 2 * i, ENDPOINT_PORT_BASE + 2 * i + 1],
      }],
      extraSpec: { idleTimeout: `${changing && this.change === 'listener' ? IDLE_TIMEOUT_BASE_S + round : IDLE_TIMEOUT_BASE_S}s` },
    }, NAMESPACE);
  }
}

function routeName(i: number): string {
  return `bench-${String(i).padStart(4, '0')}`;
}

function firstEndpointPort(i: number, round: number): number {
  return round === 0 ? ENDPOINT_PORT_BASE + 2 * i : ENDPOINT_PORT_CHANGED + round;
}
