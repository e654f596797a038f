// A simulated Envoy on one ADS stream, SotW or Delta.
//
// Like Envoy it subscribes to CDS and LDS as wildcards, subscribes to EDS for
// the clusters CDS gave it (before ACKing that CDS response), and ACKs every
// response. It never NACKs. What it holds is kept per type as name → bytes so
// the bench can check that a change really arrived, and when.
import type { ClientDuplexStream } from '@grpc/grpc-js';
import type { Node } from '../../xds-server/src/gen/envoy/config/core/v3/base.js';
import type { AggregatedDiscoveryServiceClient } from '../../xds-server/src/gen/envoy/service/discovery/v3/ads.js';
import {
  DeltaDiscoveryRequest,
  type DeltaDiscoveryResponse,
  DiscoveryRequest,
  type DiscoveryResponse,
} from '../../xds-server/src/gen/envoy/service/discovery/v3/discovery.js';
import { TypeUrl } from '../../xds-server/src/xds/type-urls.js';
import { wallNowMs } from './clock.js';
import { type Expectation, expectationResourceName, expectationTypeUrl, resourceMatches } from './expectation.js';
import { topLevelStringField } from './proto-name.js';
import { nodeMetadata, type ProxySpec } from './views.js';
import type { XdsProtocol } from './worker-protocol.js';

export interface ProxyHooks {
  synced(proxy: SimulatedProxy): void;
  /** The proxy wrote its ACK of a response holding the armed expectation, at `atMs` (clock.ts). */
  converged(proxy: SimulatedProxy, round: number, atMs: number): void;
  failed(proxy: SimulatedProxy, error: string): void;
}

// Every proxy of a view gets the same bytes for the watched resource: decode
// each distinct (expectation, bytes) once per worker, not once per proxy. The
// worker hands all proxies of a view the same Expectation object, and a new
// one each round, so the memo is keyed by that object.
const memo = new WeakMap<Expectation, Map<string, boolean>>();

function matchesMemo(e: Expectation, bytes: Uint8Array): boolean {
  let seen = memo.get(e);
  if (!seen) memo.set(e, (seen = new Map()));
  const key = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  let found = seen.get(key);
  if (found === undefined) seen.set(key, (found = resourceMatches(e, bytes)));
  return found;
}

export abstract class SimulatedProxy {
  protected readonly held = new Map<TypeUrl, Map<string, Uint8Array>>();
  protected clusterNames: readonly string[] = [];
  protected readonly node: Node;
  private isSynced = false;
  private round = 0;
  private expect: Expectation;
  private convergedRound = 0;
  private stopping = false;

  readonly nodeId: string;

  constructor(protected readonly client: AggregatedDiscoveryServiceClient, readonly spec: ProxySpec, initial: Expectation, private readonly hooks: ProxyHooks) {
    this.nodeId = spec.nodeId;
    this.expect = initial;
    const metadata = nodeMetadata(spec);
    this.node = {
      id: spec.nodeId,
      // Per-proxy mode: the namespace, pod IP and role `mediamesh bootstrap` puts in a real Envoy's node.
      ...(metadata ? { metadata } : {}),
      cluster: 'mediamesh-bench',
      dynamicParameters: {},
      userAgentName: 'envoy',
      userAgentVersionType: { $case: 'userAgentVersion', value: '1.40.0-bench' },
      extensions: [],
      clientFeatures: ['envoy.lb.does_not_support_overprovisioning', 'xds.config.resource-ttl'],
      listeningAddresses: [],
    };
  }

  abstract start(): void;
  private stream?: { cancel(): void };

  get synced(): boolean {
    return this.isSynced;
  }

  /** From now on, report the first ACK after which the proxy holds `expect`. */
  arm(round: number, expect: Expectation): void {
    this.round = round;
    this.expect = expect;
  }

  stop(): void {
    this.stopping = true;
    this.stream?.cancel();
  }

  /** Routes the stream's responses to `onResponse`; its end or error fails the proxy unless stopping. */
  protected attach<Res>(call: ClientDuplexStream<never, Res>, onResponse: (res: Res) => void): void {
    this.stream = call;
    call.on('data', (res: Res) => this.safely(() => onResponse(res)));
    call.on('error', (err: Error) => this.streamFailed(`stream error: ${err.message}`));
    call.on('end', () => this.streamFailed('server ended the stream'));
  }

  protected streamFailed(what: string): void {
    if (!this.stopping) this.hooks.failed(this, `${this.nodeId}: ${what}`);
  }

  /** Call right after writing the ACK for a response of `typeUrl`. */
  protected acked(typeUrl: TypeUrl): void {
    const at = wallNowMs();
    if (!this.isSynced) {
      if (this.holdsInitialConfig()) {
        this.isSynced = true;
        this.hooks.synced(this);
      }
      return;
    }
    if (this.convergedRound !== this.round && typeUrl === expectationTypeUrl(this.expect) && this.holds(this.expect)) {
      this.convergedRound = this.round;
      this.hooks.converged(this, this.round, at);
    }
  }

  private holdsInitialConfig(): boolean {
    if ((this.held.get(TypeUrl.Cluster)?.size ?? 0) === 0 || !this.held.has(TypeUrl.Listener)) return false;
    const endpoints = this.held.get(TypeUrl.ClusterLoadAssignment);
    if (!endpoints || !this.clusterNames.every((n) => endpoints.has(n))) return false;
    return this.holds(this.expect);
  }

  private holds(e: Expectation): boolean {
    const bytes = this.held.get(expectationTypeUrl(e))?.get(expectationResourceName(e));
    return bytes !== undefined && matchesMemo(e, bytes);
  }

  protected safely(work: () => void): void {
    try {
      work();
    } catch (err) {
      this.streamFailed(err instanceof Error ? err.message : String(err));
    }
  }
}

/** StreamAggregatedResources: full state per response, ACK = version_info + response_nonce echo. */
export class SotwProxy extends SimulatedProxy {
  private call?: ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>;
  private eds = { version: '', nonce: '', namesKey: '' };

  start(): void {
    this.call = this.client.streamAggregatedResources();
    this.attach(this.call, (res) => this.onResponse(res));
    this.request({ typeUrl: TypeUrl.Cluster });
    this.request({ typeUrl: TypeUrl.Listener });
  }

  private sentNode = false;

  constructor(client: AggregatedDiscoveryServiceClient, spec: ProxySpec, initial: Expectation, hooks: ProxyHooks, private readonly nodeOnEveryRequest: boolean) {
    super(client, spec, initial, hooks);
  }

  /**
   * An Envoy started from `mediamesh bootstrap` sends its node on the first
   * request only (set_node_on_first_message_only); Envoy's own default, on
   * every request, is --node-on-every-request.
   */
  private request(fields: Partial<DiscoveryRequest>): void {
    const node = this.nodeOnEveryRequest || !this.sentNode ? this.node : undefined;
    this.sentNode = true;
    this.call!.write(DiscoveryRequest.fromPartial({ ...fields, node }));
  }

  private onResponse(res: DiscoveryResponse): void {
    const typeUrl = res.typeUrl as TypeUrl;
    const byName = new Map<string, Uint8Array>();
    for (const any of res.resources) byName.set(topLevelStringField(any.value), any.value);
    this.held.set(typeUrl, byName);
    if (typeUrl === TypeUrl.Cluster) {
      const names = [...byName.keys()].sort();
      const key = names.join(',');
      if (key !== this.eds.namesKey) {
        this.eds.namesKey = key;
        this.clusterNames = names;
        this.request({ typeUrl: TypeUrl.ClusterLoadAssignment, resourceNames: names, versionInfo: this.eds.version, responseNonce: this.eds.nonce });
      }
    }
    if (typeUrl === TypeUrl.ClusterLoadAssignment) {
      this.eds.version = res.versionInfo;
      this.eds.nonce = res.nonce;
    }
    const resourceNames = typeUrl === TypeUrl.ClusterLoadAssignment ? [...this.clusterNames] : [];
    this.request({ typeUrl, versionInfo: res.versionInfo, responseNonce: res.nonce, resourceNames });
    this.acked(typeUrl);
  }
}

/** DeltaAggregatedResources: changed resources and removals per response, ACK = nonce echo. */
export class DeltaProxy extends SimulatedProxy {
  private call?: ClientDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;
  private readonly edsSubscribed = new Set<string>();
  private sentNode = false;

  start(): void {
    this.call = this.client.deltaAggregatedResources();
    this.attach(this.call, (res) => this.onResponse(res));
    // An empty first subscription is the (legacy) wildcard Envoy sends.
    this.request({ typeUrl: TypeUrl.Cluster });
    this.request({ typeUrl: TypeUrl.Listener });
  }

  /** Delta streams carry the node on the first request only. */
  private request(fields: Partial<DeltaDiscoveryRequest>): void {
    const node = this.sentNode ? undefined : this.node;
    this.sentNode = true;
    this.call!.write(DeltaDiscoveryRequest.fromPartial({ ...fields, node }));
  }

  private onResponse(res: DeltaDiscoveryResponse): void {
    const typeUrl = res.typeUrl as TypeUrl;
    let byName = this.held.get(typeUrl);
    if (!byName) this.held.set(typeUrl, (byName = new Map()));
    for (const r of res.resources) byName.set(r.name, r.resource?.value ?? new Uint8Array());
    for (const name of res.removedResources) byName.delete(name);
    if (typeUrl === TypeUrl.Cluster) {
      const names = [...byName.keys()].sort();
      const subscribe = names.filter((n) => !this.edsSubscribed.has(n));
      const unsubscribe = [...this.edsSubscribed].filter((n) => !byName.has(n));
      for (const n of subscribe) this.edsSubscribed.add(n);
      for (const n of unsubscribe) this.edsSubscribed.delete(n);
      this.clusterNames = names;
      if (subscribe.length > 0 || unsubscribe.length > 0) {
        this.request({ typeUrl: TypeUrl.ClusterLoadAssignment, resourceNamesSubscribe: subscribe, resourceNamesUnsubscribe: unsubscribe });
      }
    }
    this.request({ typeUrl, responseNonce: res.nonce });
    this.acked(typeUrl);
  }
}

export function createProxy(o: { protocol: XdsProtocol; nodeOnEveryRequest: boolean }, client: AggregatedDiscoveryServiceClient, spec: ProxySpec, initial: Expectation, hooks: ProxyHooks): SimulatedProxy {
  return o.protocol === 'delta' ? new DeltaProxy(client, spec, initial, hooks) : new SotwProxy(client, spec, initial, hooks, o.nodeOnEveryRequest);
}
