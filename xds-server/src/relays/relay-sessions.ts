// RTSP sessions whose media crosses the mesh over UDP: for each, relay
// listeners on the proxy that asked, pushed to it alone and awaited until it
// ACKs them (proxy-resources.ts), and taken back when the session ends.
//
// A client's SETUP asks for `RTP/AVP;unicast;client_port=a-b`. The proxy's
// RTSP filter calls `open` before it forwards that SETUP: two port pairs come
// from the pool, one that the server will send to (`toClient`: RTP with the
// RTP filter, and RTCP, both forwarded to the client's own ports) and one the
// client will send to (`toServer`). The filter writes `toClient` into the
// SETUP's client_port and `toServer` into the reply's server_port. The reply
// also says where the server listens; `completeServer` then adds the two
// `toServer` listeners. The session ends with TEARDOWN or the connection
// (`close`), or when nothing refreshed it for its timeout (a client killed
// with SIGKILL sends neither), or when its proxy is forgotten.
import { type Clock, systemClock, type TimerHandle } from '../clock.js';
import { createLogger, errorMessage, type Logger } from '../log.js';
import type { UdpListenerModel } from '../model/ir.js';
import { Cluster, Cluster_DiscoveryType } from '../gen/envoy/config/cluster/v3/cluster.js';
import { translateUdpListener, type UdpTranslateOptions } from '../translate/udp-route.js';
import type { ProxyResourceRequest } from '../xds/proxy-resources.js';
import { emptyResources, type EnvoyResources } from '../xds/resources.js';
import type { PortPair, PortPool } from './port-pool.js';

export const RELAY_NAMESPACE = 'relays';
export const DEFAULT_SESSION_TIMEOUT_MS = 60_000;
/** Enough for a proxy in front of a few hundred cameras; each stream is four listeners on it. */
export const DEFAULT_SESSIONS_PER_PROXY = 256;
export const DEFAULT_ACK_TIMEOUT_MS = 5_000;
/** An RTSP session id is at most this long here (RFC 2326 allows any length; real servers use 8-32 characters). */
const MAX_SESSION_ID = 128;
const SESSION_ID = /^[A-Za-z0-9$\-_.+/:@=~]+$/;

/** What the proxy resources API does for us: one set of resources per owner, awaited until ACK. */
export interface ResourcePusher {
  apply(request: ProxyResourceRequest): Promise<void>;
  release(owner: string): void;
}

export interface Endpoint {
  address: string;
  rtp: number;
  rtcp: number;
}

export interface RelayGrant {
  /** The server sends here (the proxy forwards to the client's ports). */
  toClient: PortPair;
  /** The client sends here (the proxy forwards to the server's ports, once known). */
  toServer: PortPair;
  timeoutMs: number;
}

export type RelayFailure = 'no-ports' | 'limit' | 'bad-request' | 'unknown-session' | 'not-programmed';

export class RelayError extends Error {
  constructor(readonly failure: RelayFailure, message: string) {
    super(message);
  }
}

export interface RelaySessionsOptions {
  pool: PortPool;
  proxies: ResourcePusher;
  translate?: UdpTranslateOptions;
  clock?: Clock;
  log?: Logger;
  sessionTimeoutMs?: number;
  sessionsPerProxy?: number;
  ackTimeoutMs?: number;
  /** Where relay listeners bind on the proxy (default every address). */
  listenAddress?: string;
}

interface Session {
  node: string;
  id: string;
  client: Endpoint;
  server?: Endpoint;
  grant: RelayGrant;
  expiry?: TimerHandle;
}

export class RelaySessions {
  private readonly sessions = new Map<string, Session>();
  private readonly perProxy = new Map<string, number>();
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly timeoutMs: number;
  private readonly perProxyLimit: number;

  constructor(private readonly options: RelaySessionsOptions) {
    this.clock = options.clock ?? systemClock;
    this.log = options.log ?? createLogger('relays');
    this.timeoutMs = options.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS;
    this.perProxyLimit = options.sessionsPerProxy ?? DEFAULT_SESSIONS_PER_PROXY;
  }

  /** Relays for a new session, pushed to `node` and ACKed by it; throws RelayError or the push's error (NACK, timeout). */
  async open(node: string, id: string, client: Endpoint): Promise<RelayGrant> {
    checkSessionId(id);
    checkEndpoint(client, 'client');
    const key = sessionKey(node, id);
    if (this.sessions.has(key)) throw new RelayError('bad-request', `session ${id} of proxy ${node} already has relays; close it first`);
    if ((this.perProxy.get(node) ?? 0) >= this.perProxyLimit) throw new RelayError('limit', `proxy ${node} already relays ${this.perProxyLimit} sessions, its limit`);
    const toClient = this.options.pool.take();
    const toServer = toClient && this.options.pool.take();
    if (!toClient || !toServer) {
      if (toClient) this.options.pool.give(toClient);
      throw new RelayError('no-ports', `every relay port pair of ${this.options.pool.low}-${this.options.pool.high} is in use`);
    }
    const session: Session = { node, id, client, grant: { toClient, toServer, timeoutMs: this.timeoutMs } };
    this.sessions.set(key, session);
    this.perProxy.set(node, (this.perProxy.get(node) ?? 0) + 1);
    try {
      await this.push(session);
    } catch (err) {
      this.end(session, `its relays were not programmed: ${errorMessage(err)}`);
      throw err;
    }
    this.refresh(node, id);
    this.log.info('relays open', { node, session: id, toClient: toClient.rtp, toServer: toServer.rtp, client: `${client.address}:${client.rtp}` });
    return session.grant;
  }

  /** The server's ports, from its SETUP reply: the client's RTCP (and any RTP) can now reach it. */
  async completeServer(node: string, id: string, server: Endpoint): Promise<void> {
    checkEndpoint(server, 'server');
    const session = this.find(node, id);
    session.server = server;
    await this.push(session);
  }

  /** Any request of the session (PLAY, GET_PARAMETER keep-alive, ...) keeps its relays another timeout. */
  refresh(node: string, id: string): void {
    const session = this.find(node, id);
    this.clock.clearTimeout(session.expiry);
    session.expiry = this.clock.setTimeout(() => this.end(session, `no request for ${this.timeoutMs / 1000} s (session timeout)`), this.timeoutMs);
  }

  /** TEARDOWN, or the RTSP connection closed. */
  close(node: string, id: string, why = 'closed'): void {
    const session = this.sessions.get(sessionKey(node, id));
    if (session) this.end(session, why);
  }

  /** Sessions open now, per proxy (for /debug and tests). */
  list(): { node: string; session: string; toClient: PortPair; toServer: PortPair; serverKnown: boolean }[] {
    return [...this.sessions.values()].map((s) => ({ node: s.node, session: s.id, toClient: s.grant.toClient, toServer: s.grant.toServer, serverKnown: s.server !== undefined }));
  }

  /** The proxy is gone: its sessions end (proxy-resources already took their listeners back). */
  proxyGone(node: string): void {
    for (const s of [...this.sessions.values()]) if (s.node === node) this.end(s, 'its proxy is gone');
  }

  private find(node: string, id: string): Session {
    const session = this.sessions.get(sessionKey(node, id));
    if (!session) throw new RelayError('unknown-session', `proxy ${node} has no relayed session ${id}`);
    return session;
  }

  private push(session: Session): Promise<void> {
    return this.options.proxies.apply({
      owner: ownerOf(session),
      nodes: [session.node],
      ownerNode: session.node,
      resources: relayResources(session, this.options.listenAddress ?? '0.0.0.0', this.options.translate ?? {}),
      timeoutMs: this.options.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS,
    });
  }

  private end(session: Session, why: string): void {
    const key = sessionKey(session.node, session.id);
    if (this.sessions.get(key) !== session) return;
    this.sessions.delete(key);
    this.clock.clearTimeout(session.expiry);
    const left = (this.perProxy.get(session.node) ?? 1) - 1;
    if (left > 0) this.perProxy.set(session.node, left);
    else this.perProxy.delete(session.node);
    this.options.proxies.release(ownerOf(session));
    this.options.pool.give(session.grant.toClient);
    this.options.pool.give(session.grant.toServer);
    this.log.info('relays closed', { node: session.node, session: session.id, why });
  }
}

function sessionKey(node: string, id: string): string {
  return `${node}\0${id}`;
}

function ownerOf(s: Session): string {
  return `rtsp-relay:${s.node}:${s.id}`;
}

function checkSessionId(id: string): void {
  if (id.length === 0 || id.length > MAX_SESSION_ID || !SESSION_ID.test(id)) {
    throw new RelayError('bad-request', `session id must be 1-${MAX_SESSION_ID} characters of RTSP's safe set, got ${JSON.stringify(id.slice(0, 40))}`);
  }
}

function checkEndpoint(e: Endpoint, what: string): void {
  const port = (p: unknown) => Number.isInteger(p) && (p as number) >= 1 && (p as number) <= 65535;
  if (typeof e?.address !== 'string' || !/^[0-9a-fA-F:.]+$/.test(e.address) || !port(e.rtp) || !port(e.rtcp)) {
    throw new RelayError('bad-request', `${what} must be {address: an IP, rtp: port, rtcp: port}, got ${JSON.stringify(e).slice(0, 120)}`);
  }
}

/** The session's listeners: toward the client always, toward the server once its ports are known. */
export function relayResources(s: Session | { node: string; id: string; client: Endpoint; server?: Endpoint; grant: RelayGrant }, listenAddress: string, translate: UdpTranslateOptions): EnvoyResources {
  const legs: { port: number; to: { address: string; port: number }; rtp: boolean }[] = [
    { port: s.grant.toClient.rtp, to: { address: s.client.address, port: s.client.rtp }, rtp: translate.rtpModule !== undefined },
    { port: s.grant.toClient.rtcp, to: { address: s.client.address, port: s.client.rtcp }, rtp: false },
  ];
  if (s.server) {
    legs.push({ port: s.grant.toServer.rtp, to: { address: s.server.address, port: s.server.rtp }, rtp: false });
    legs.push({ port: s.grant.toServer.rtcp, to: { address: s.server.address, port: s.server.rtcp }, rtp: false });
  }
  const out = emptyResources();
  for (const leg of legs) {
    const model: UdpListenerModel = {
      route: { namespace: RELAY_NAMESPACE, name: `${s.node}.${s.id}`.replace(/[^A-Za-z0-9.-]/g, '-').slice(0, 200) },
      parent: `${RELAY_NAMESPACE}/${s.id}:${leg.port}`,
      address: listenAddress,
      port: leg.port,
      protocol: leg.rtp ? 'RTP' : 'Raw',
      // One client per session: its packets keep one upstream socket.
      affinity: 'SourceIPPort',
      idleTimeoutMs: DEFAULT_SESSION_TIMEOUT_MS,
      clockRates: {},
      backends: [{ service: { namespace: RELAY_NAMESPACE, name: s.id }, servicePort: leg.to.port, weight: 1, endpoints: [leg.to] }],
    };
    const r = translateUdpListener(model, translate);
    out.listeners.push(r.listener);
    // A relay's one endpoint is known when it is made and never changes: a
    // STATIC cluster carries it, one resource instead of a cluster and its EDS
    // assignment (a stream is then 8 resources on its proxy, not 12).
    out.clusters.push(Cluster.fromPartial({ ...r.cluster, clusterDiscoveryType: { $case: 'type', value: Cluster_DiscoveryType.STATIC }, edsClusterConfig: undefined, loadAssignment: r.assignment }));
  }
  return out;
}
