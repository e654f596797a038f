// gRPC's own xDS client (@grpc/grpc-js-xds) against our ADS server, in
// process: a second, independent implementation of the protocol next to
// Envoy (grpc-js-xds speaks SotW only). A channel to xds:///<listener>
// resolves LDS (API listener) → RDS → CDS → EDS from our cache, by name, and
// calls real gRPC servers on loopback.
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import * as grpcXds from '@grpc/grpc-js-xds';
import { Cluster, Cluster_DiscoveryType, Cluster_LbPolicy } from '../../xds-server/src/gen/envoy/config/cluster/v3/cluster.js';
import { ApiVersion, type ConfigSource } from '../../xds-server/src/gen/envoy/config/core/v3/config_source.js';
import { ClusterLoadAssignment } from '../../xds-server/src/gen/envoy/config/endpoint/v3/endpoint.js';
import { Listener } from '../../xds-server/src/gen/envoy/config/listener/v3/listener.js';
import { RouteConfiguration } from '../../xds-server/src/gen/envoy/config/route/v3/route.js';
import { Router } from '../../xds-server/src/gen/envoy/extensions/filters/http/router/v3/router.js';
import { HttpConnectionManager } from '../../xds-server/src/gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js';
import { errorMessage } from '../../xds-server/src/log.js';
import { AdsServer } from '../../xds-server/src/xds/ads-server.js';
import { emptyResources, packAny, type EnvoyResources } from '../../xds-server/src/xds/resources.js';
import { SnapshotCache } from '../../xds-server/src/xds/snapshot-cache.js';
import { Snapshot } from '../../xds-server/src/xds/snapshot.js';
import { shortTypeName, TypeUrl } from '../../xds-server/src/xds/type-urls.js';
import { waitFor } from '../helpers/poll.js';

const NODE_ID = 'grpc-client-1';
const LISTENER = 'echo.mediamesh.test';
const ROUTE = 'echo-route';
const ECHO_PATH = '/mediamesh.test.Echo/Echo';
/** The types a gRPC client subscribes to (it has no use for SDS secrets here). */
const GRPC_TYPES = [TypeUrl.Listener, TypeUrl.RouteConfiguration, TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment] as const;
/**
 * grpc-js-xds reads a per-channel bootstrap from this option (what its own
 * tests use). Unlike GRPC_XDS_BOOTSTRAP_CONFIG, which is read once per process
 * and feeds one process-wide xDS client, it gives each channel its own client:
 * no global state leaks between tests or into other suites.
 */
const BOOTSTRAP_OPTION = 'grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config';

const passBytes = (b: Buffer): Buffer => b;
const echoService: grpc.ServiceDefinition = {
  echo: { path: ECHO_PATH, requestStream: false, responseStream: false, requestSerialize: passBytes, requestDeserialize: passBytes, responseSerialize: passBytes, responseDeserialize: passBytes },
};

/** A real gRPC server on 127.0.0.1 that answers "<name>:<payload>". */
class EchoBackend {
  calls = 0;
  port = 0;
  private readonly server = new grpc.Server();

  private constructor(readonly name: string) {
    this.server.addService(echoService, {
      echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
        this.calls++;
        callback(null, Buffer.concat([Buffer.from(`${name}:`), call.request]));
      },
    });
  }

  static async start(name: string): Promise<EchoBackend> {
    const backend = new EchoBackend(name);
    backend.port = await new Promise<number>((resolve, reject) => {
      backend.server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound)));
    });
    return backend;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, 1000);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

// --- test-only builders: the smallest config a gRPC xDS client accepts ------

const ads: ConfigSource = { authorities: [], configSourceSpecifier: { $case: 'ads', value: {} }, resourceApiVersion: ApiVersion.V3 };

function apiListener(name: string, routeConfigName: string): Listener {
  const hcm = HttpConnectionManager.fromPartial({
    routeSpecifier: { $case: 'rds', value: { routeConfigName, configSource: ads } },
    httpFilters: [{ name: 'router', configType: { $case: 'typedConfig', value: packAny('envoy.extensions.filters.http.router.v3.Router', Router.fromPartial({}), Router) } }],
  });
  return Listener.fromPartial({
    name,
    apiListener: { apiListener: packAny('envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager', hcm, HttpConnectionManager) },
  });
}

function routeTo(name: string, cluster: string): RouteConfiguration {
  return RouteConfiguration.fromPartial({
    name,
    virtualHosts: [{ name: 'echo', domains: ['*'], routes: [{ match: { pathSpecifier: { $case: 'prefix', value: '' } }, action: { $case: 'route', value: { clusterSpecifier: { $case: 'cluster', value: cluster } } } }] }],
  });
}

function edsCluster(name: string, lbPolicy = Cluster_LbPolicy.ROUND_ROBIN): Cluster {
  return Cluster.fromPartial({
    name,
    clusterDiscoveryType: { $case: 'type', value: Cluster_DiscoveryType.EDS },
    edsClusterConfig: { edsConfig: ads },
    lbPolicy,
  });
}

function assignment(clusterName: string, port: number): ClusterLoadAssignment {
  return ClusterLoadAssignment.fromPartial({
    clusterName,
    endpoints: [{
      locality: { region: 'local', zone: 'loopback' },
      // gRPC ignores a locality without a weight.
      loadBalancingWeight: 1,
      lbEndpoints: [{ hostIdentifier: { $case: 'endpoint', value: { address: { address: { $case: 'socketAddress', value: { address: '127.0.0.1', portSpecifier: { $case: 'portValue', value: port } } } } } } }],
    }],
  });
}

interface MeshSpec {
  /** The cluster the route sends to, with the port of its one endpoint. */
  cluster: string;
  port: number;
  lbPolicy?: Cluster_LbPolicy;
}

function meshSnapshot(spec: MeshSpec): Snapshot {
  const resources: EnvoyResources = {
    ...emptyResources(),
    listeners: [apiListener(LISTENER, ROUTE)],
    routes: [routeTo(ROUTE, spec.cluster)],
    clusters: [edsCluster(spec.cluster, spec.lbPolicy)],
    endpoints: [assignment(spec.cluster, spec.port)],
  };
  return Snapshot.fromResources(resources);
}

// --- client side ---------------------------------------------------------

function echo(client: grpc.Client, payload: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(ECHO_PATH, passBytes, passBytes, Buffer.from(payload), { deadline: Date.now() + timeoutMs }, (err, reply) => {
      if (err) reject(err);
      else resolve(reply!.toString());
    });
  });
}

/** Calls until the reply comes from `backend` (config changes land asynchronously). */
function echoFrom(client: grpc.Client, backend: EchoBackend, payload: string): Promise<string> {
  return waitFor(`a call answered by backend "${backend.name}"`, async () => {
    const reply = await echo(client, payload, 1000);
    return reply === `${backend.name}:${payload}` ? reply : undefined;
  });
}

/** Calls back to back until stopped, keeping every failure and which backend answered. */
class SteadyTraffic {
  readonly failures: string[] = [];
  readonly answeredByBackend = new Map<string, number>();
  private running = true;
  private readonly loop: Promise<void>;

  constructor(client: grpc.Client) {
    this.loop = (async () => {
      for (let i = 0; this.running; i++) {
        try {
          const reply = await echo(client, `n${i}`, 2000);
          const backend = reply.slice(0, reply.indexOf(':'));
          this.answeredByBackend.set(backend, (this.answeredByBackend.get(backend) ?? 0) + 1);
        } catch (err) {
          this.failures.push(errorMessage(err));
        }
      }
    })();
  }

  answeredBy(backend: string): Promise<number> {
    const seen = this.answeredByBackend.get(backend) ?? 0;
    return waitFor(`steady traffic answered by backend "${backend}"`, () => {
      const now = this.answeredByBackend.get(backend) ?? 0;
      return now > seen ? now : undefined;
    });
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

describe('gRPC xDS client (@grpc/grpc-js-xds) over ADS', function () {
  this.timeout(30_000);
  const cache = new SnapshotCache();
  const server = new AdsServer(cache);
  const backends: EchoBackend[] = [];
  const pushes: { typeUrl: TypeUrl; version: string }[] = [];
  const nacks: { typeUrl: TypeUrl; version: string; error: string }[] = [];
  let client: grpc.Client | undefined;
  let good: Snapshot;
  let moved: Snapshot;

  const typeStatus = (typeUrl: TypeUrl) => cache.nodeStatus(NODE_ID)?.types.get(typeUrl);
  /** The client ACKed exactly the version the snapshot holds for this type, and that is what we sent last. */
  const ackedCurrent = (typeUrl: TypeUrl, snapshot: Snapshot): boolean => {
    const t = typeStatus(typeUrl);
    const version = snapshot.forType(typeUrl).version;
    return t?.sentVersion === version && t.ackedVersion === version;
  };

  before(async () => {
    backends.push(await EchoBackend.start('a'), await EchoBackend.start('b'));
    good = meshSnapshot({ cluster: 'echo', port: backends[0]!.port });
    moved = meshSnapshot({ cluster: 'echo', port: backends[1]!.port });
    cache.addEvents({
      nodeConnected: (node) => cache.setSnapshot(node.id, good),
      pushed: (nodeId, typeUrl, version) => {
        if (nodeId === NODE_ID) pushes.push({ typeUrl, version });
      },
      nacked: (nodeId, typeUrl, version, error) => {
        if (nodeId === NODE_ID) nacks.push({ typeUrl, version, error });
      },
    });
    const port = await server.listen('127.0.0.1', 0);
    grpcXds.register();
    const bootstrap = {
      xds_servers: [{ server_uri: `127.0.0.1:${port}`, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
      node: { id: NODE_ID, locality: {} },
    };
    client = new grpc.Client(`xds:///${LISTENER}`, grpc.credentials.createInsecure(), { [BOOTSTRAP_OPTION]: JSON.stringify(bootstrap) });
  });

  after(async () => {
    client?.close();
    await server.stop(1000);
    await Promise.all(backends.map((b) => b.close()));
  });

  it('resolves xds:/// through LDS → RDS → CDS → EDS and reaches the backend', async () => {
    assert.equal(await echo(client!, 'hello'), 'a:hello');
    assert.equal(backends[0]!.calls, 1);
    await waitFor('LDS, RDS, CDS and EDS ACKed', () => GRPC_TYPES.every((t) => ackedCurrent(t, good)));
    const status = cache.nodeStatus(NODE_ID)!;
    assert.equal(status.connected, true);
    assert.equal(status.protocol, 'sotw');
    assert.match(status.userAgent, /grpc/i, 'the node is gRPC, not Envoy');
    for (const typeUrl of GRPC_TYPES) {
      const t = status.types.get(typeUrl);
      assert.ok(t, `${shortTypeName(typeUrl)} was pushed`);
      assert.equal(t.ackedVersion, t.sentVersion, `${shortTypeName(typeUrl)} ACKed the version sent`);
      assert.equal(t.lastNack, undefined, `${shortTypeName(typeUrl)} not NACKed`);
    }
    assert.equal(status.types.has(TypeUrl.Secret), false, 'no SDS for a client that did not ask');
  });

  it('moves traffic to a new endpoint with one EDS push, ACKed', async () => {
    for (const t of [TypeUrl.Listener, TypeUrl.RouteConfiguration, TypeUrl.Cluster]) {
      assert.equal(moved.forType(t).version, good.forType(t).version, `fixture: only EDS differs (${shortTypeName(t)})`);
    }
    pushes.length = 0;
    cache.setSnapshot(NODE_ID, moved);
    assert.equal(await echoFrom(client!, backends[1]!, 'again'), 'b:again');
    await waitFor('new EDS version ACKed', () => ackedCurrent(TypeUrl.ClusterLoadAssignment, moved));
    assert.deepEqual(pushes, [{ typeUrl: TypeUrl.ClusterLoadAssignment, version: moved.forType(TypeUrl.ClusterLoadAssignment).version }]);
    for (const t of GRPC_TYPES) assert.equal(typeStatus(t)?.lastNack, undefined, `${shortTypeName(t)} not NACKed`);
  });

  it('records gRPC’s NACK of a cluster it cannot use and keeps the last good config serving', async () => {
    const rejected = meshSnapshot({ cluster: 'echo', port: backends[1]!.port, lbPolicy: Cluster_LbPolicy.LEAST_REQUEST });
    const badVersion = rejected.forType(TypeUrl.Cluster).version;
    assert.notEqual(badVersion, moved.forType(TypeUrl.Cluster).version);
    nacks.length = 0;
    cache.setSnapshot(NODE_ID, rejected);
    const nack = await waitFor('CDS NACK', () => typeStatus(TypeUrl.Cluster)?.lastNack);
    assert.deepEqual(nacks.map((n) => shortTypeName(n.typeUrl)), ['CDS'], 'only the cluster was rejected');
    assert.equal(nack.version, badVersion);
    assert.match(nack.error, /unsupported lb_policy: LEAST_REQUEST/);
    const cds = typeStatus(TypeUrl.Cluster)!;
    assert.equal(cds.sentVersion, badVersion);
    assert.equal(cds.ackedVersion, moved.forType(TypeUrl.Cluster).version, 'the client still holds the previous cluster');
    assert.equal(await echo(client!, 'still'), 'b:still', 'the previous good config keeps serving');

    // Fixing the config is a fresh version the client accepts.
    pushes.length = 0;
    cache.setSnapshot(NODE_ID, moved);
    await waitFor('CDS back on the good version', () => ackedCurrent(TypeUrl.Cluster, moved));
    assert.deepEqual(pushes.map((p) => shortTypeName(p.typeUrl)), ['CDS']);
    assert.equal(await echo(client!, 'fixed'), 'b:fixed');
  });

  it('re-routes to a new cluster through RDS without failing a call, then drops the old cluster', async () => {
    // Cluster "echo" leaves the snapshot; the route now names "echo-v2" (backend a).
    const rerouted = meshSnapshot({ cluster: 'echo-v2', port: backends[0]!.port });
    assert.equal(rerouted.forType(TypeUrl.Listener).version, moved.forType(TypeUrl.Listener).version, 'fixture: the listener is unchanged');
    nacks.length = 0;
    const traffic = new SteadyTraffic(client!);
    try {
      await traffic.answeredBy('b');
      cache.setSnapshot(NODE_ID, rerouted);
      await traffic.answeredBy('a');
    } finally {
      await traffic.stop();
    }
    assert.deepEqual(traffic.failures, [], 'no call failed while the route moved');
    await waitFor('RDS, CDS and EDS ACKed at the new versions', () => GRPC_TYPES.every((t) => ackedCurrent(t, rerouted)));
    // The CDS version carries no "+held" suffix: the old cluster was released once the route was ACKed.
    assert.equal(typeStatus(TypeUrl.Cluster)!.ackedVersion, rerouted.forType(TypeUrl.Cluster).version);
    assert.deepEqual(nacks, []);
  });

  it('closing the channel unsubscribes every type and ends the stream, with no response to the unsubscriptions', async () => {
    pushes.length = 0;
    client!.close();
    await waitFor('the node to disconnect', () => cache.nodeStatus(NODE_ID)?.connected === false);
    // grpc-js-xds half-closes the call after its last unsubscription. A response to any of
    // them ("resource_names: []") is ACKed on that half-closed call and the call is never
    // read to its end: the connection, and this process, then stay up for its 5-minute keepalive.
    assert.deepEqual(pushes, [], 'no response after the client unsubscribed');
  });
});
