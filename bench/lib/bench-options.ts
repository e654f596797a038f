// Command-line options of bench/xds-convergence.ts, parsed and bounded.
import os from 'node:os';
import type { ChangeKind, WriteMode } from './bench-mesh.js';
import type { XdsProtocol } from './worker-protocol.js';
import { GO_PEER_NAME } from './go-peer-process.js';

export type PeerName = typeof GO_PEER_NAME;
import { int, OptionsError, parseFlags } from './option-values.js';

export { OptionsError };

export interface BenchOptions {
  clients: number;
  workers: number;
  rounds: number;
  warmupRounds: number;
  routes: number;
  /** Namespaces the proxies are spread over, each with a consumer route (0: no namespace, one gateway view). */
  views: number;
  /** A second control plane measured in the same run, serving the same resources. */
  peer?: PeerName;
  /** Where mediamesh reads its config: a directory, or a real API server (`--source kubernetes`). */
  source: 'files' | 'kubernetes';
  /** With a peer: pairs of sittings, in ABBA order (lib/sittings.ts); each sitting is a fresh server and fresh clients. */
  sittings: number;
  change: ChangeKind;
  writeMode: WriteMode;
  protocol: XdsProtocol;
  /** SotW clients send their node with every request (Envoy's default), not the first only (as `mediamesh bootstrap` configures). */
  nodeOnEveryRequest: boolean;
  debounceMs: number;
  strictDebounce: boolean;
  timeoutS: number;
  clientsPerConnection: number;
  rampBatch: number;
  rampIntervalMs: number;
  settleMs: number;
  json: boolean;
  check: boolean;
  serverCpuProf?: string;
  clientCpuProf?: string;
}

export const USAGE = `usage: npm run bench:xds -- [options]
  --clients N                 simulated proxies (default 1000)
  --workers N                 client worker processes (default: one per CPU; more only add
                              context switches: on 2 CPUs, 4 workers used twice the client CPU of 2)
  --rounds N                  config changes measured (default 5)
  --warmup-rounds N           changes made first and reported apart, not pooled (default 2:
                              a control plane runs warm; the cold figure is reported as *_warmup)
  --routes N                  UdpRoutes served to every proxy (default 10)
  --views N                   per-proxy mode: proxy i is a sidecar in namespace ns-<i mod N> (node
                              metadata) and each namespace has a consumer route over route 0's
                              Service, so the N views get different resources (default 0: proxies
                              state no namespace and all share one view); needs --change endpoint
  --peer go-control-plane     also measure a go-control-plane server (bench/go-control-plane/, built
                              on demand) serving the same per-view resources to the same clients,
                              with the same rounds; adds peer and ratios to the JSON
  --sittings N                with --peer: N pairs of sittings in ABBA order (mediamesh then the
                              peer, then the peer first, ...), each a fresh server and clients with
                              its own warm-up; figures pool the measured rounds of every sitting
                              of a side (default 2)
  --source files|kubernetes   where mediamesh reads the config: a watched directory (default), or a
                              real kube-apiserver + etcd on loopback (built by npm run setup): the
                              objects applied with kubectl, each round a PATCH of the EndpointSlice
                              (needs --change endpoint; not with --peer)
  --change endpoint|listener  EDS-only (default) or LDS-only change of one route
  --write rename|in-place     how the route file is rewritten (default rename: temp file + rename)
  --delta                     DeltaAggregatedResources instead of SotW
  --node-on-every-request     SotW clients send their node with every request (Envoy's default);
                              by default only with the first, as \`mediamesh bootstrap\` configures Envoy
  --debounce-ms N             the server's config debounce (default 100)
  --strict-debounce           every change waits for the debounce (serve --strict-debounce);
                              by default a renamed-in file that only changes objects applies early
  --clients-per-connection N  proxies sharing one gRPC channel (default 1: own HTTP/2 connection)
  --ramp-batch N              channels a worker opens per ramp step (default 50)
  --ramp-interval-ms N        pause between ramp steps (default 20)
  --settle-ms N               quiet time between rounds (default 300)
  --timeout-s N               give up (exit 1) after this long (default 120, 240 per --sittings
                              pair with --peer)
  --server-cpu-prof DIR       run the server with node --cpu-prof into DIR; print its hot spots
  --client-cpu-prof DIR       the same for the client workers (profiles only, no summary)
  --check                     exit 1 if p99 > 250 ms, RSS/client > 1 MiB, or (with --peer) a p99
                              worse than the peer's
  --json                      last stdout line: one JSON summary`;

export function parseBenchOptions(argv: string[]): BenchOptions | 'help' {
  const v = parseFlags(argv, {
    clients: { type: 'string' },
    workers: { type: 'string' },
    rounds: { type: 'string' },
    'warmup-rounds': { type: 'string' },
    routes: { type: 'string' },
    views: { type: 'string' },
    peer: { type: 'string' },
    source: { type: 'string' },
    sittings: { type: 'string' },
    change: { type: 'string' },
    write: { type: 'string' },
    delta: { type: 'boolean' },
    'node-on-every-request': { type: 'boolean' },
    'debounce-ms': { type: 'string' },
    'strict-debounce': { type: 'boolean' },
    'clients-per-connection': { type: 'string' },
    'ramp-batch': { type: 'string' },
    'ramp-interval-ms': { type: 'string' },
    'settle-ms': { type: 'string' },
    'timeout-s': { type: 'string' },
    'server-cpu-prof': { type: 'string' },
    'client-cpu-prof': { type: 'string' },
    check: { type: 'boolean' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (v.help) return 'help';
  const change = v.change ?? 'endpoint';
  if (change !== 'endpoint' && change !== 'listener') throw new OptionsError(`--change must be endpoint or listener, got "${change}"`);
  const writeMode = v.write ?? 'rename';
  if (writeMode !== 'in-place' && writeMode !== 'rename') throw new OptionsError(`--write must be rename or in-place, got "${writeMode}"`);
  const clients = int(v.clients, 'clients', 1000, 1, 10_000);
  const views = int(v.views, 'views', 0, 0, 1000);
  if (views > 0 && change !== 'endpoint') throw new OptionsError('--views changes an endpoint every view shares: it needs --change endpoint');
  if (v.peer !== undefined && v.peer !== GO_PEER_NAME) throw new OptionsError(`--peer must be ${GO_PEER_NAME}, got "${v.peer}"`);
  const source = v.source ?? 'files';
  if (source !== 'files' && source !== 'kubernetes') throw new OptionsError(`--source must be files or kubernetes, got "${source}"`);
  if (source === 'kubernetes' && v.peer !== undefined) throw new OptionsError('--source kubernetes measures mediamesh alone: leave out --peer');
  if (source === 'kubernetes' && change !== 'endpoint') throw new OptionsError('--source kubernetes changes an EndpointSlice: it needs --change endpoint');
  if (v.sittings !== undefined && v.peer === undefined) throw new OptionsError('--sittings alternates mediamesh with a peer: it needs --peer');
  const sittings = int(v.sittings, 'sittings', v.peer === undefined ? 1 : 2, 1, 20);
  return {
    clients,
    workers: Math.min(clients, int(v.workers, 'workers', os.availableParallelism(), 1, 32)),
    rounds: int(v.rounds, 'rounds', 5, 1, 100),
    warmupRounds: int(v['warmup-rounds'], 'warmup-rounds', 2, 0, 100),
    routes: int(v.routes, 'routes', 10, 1, 1000),
    views,
    peer: v.peer === undefined ? undefined : GO_PEER_NAME,
    sittings,
    source,
    change,
    writeMode,
    protocol: v.delta ? 'delta' : 'sotw',
    nodeOnEveryRequest: v['node-on-every-request'] ?? false,
    debounceMs: int(v['debounce-ms'], 'debounce-ms', 100, 0, 10_000),
    strictDebounce: v['strict-debounce'] ?? false,
    timeoutS: int(v['timeout-s'], 'timeout-s', v.peer !== undefined ? 120 * 2 * sittings : source === 'kubernetes' ? 300 : 120, 5, 3600),
    clientsPerConnection: int(v['clients-per-connection'], 'clients-per-connection', 1, 1, 10_000),
    rampBatch: int(v['ramp-batch'], 'ramp-batch', 50, 1, 10_000),
    rampIntervalMs: int(v['ramp-interval-ms'], 'ramp-interval-ms', 20, 0, 10_000),
    settleMs: int(v['settle-ms'], 'settle-ms', 300, 0, 60_000),
    json: v.json ?? false,
    check: v.check ?? false,
    serverCpuProf: v['server-cpu-prof'],
    clientCpuProf: v['client-cpu-prof'],
  };
}
