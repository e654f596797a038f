// xDS over mTLS against a real `mediamesh serve`: a real Envoy bootstrapped
// by `mediamesh bootstrap --tls-*` gets its listeners; clients without a
// certificate from the mesh CA, or without a SPIFFE id, are refused; the
// certificate's namespace wins over the one node metadata claims; a node id
// belongs to the identity holding it; Envoy refuses a control plane whose
// certificate does not name the address it dialled.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { credentials, status as GrpcStatus } from '@grpc/grpc-js';
import { parse, stringify } from 'yaml';
import { Node } from '../../xds-server/src/gen/envoy/config/core/v3/base.js';
import { Listener } from '../../xds-server/src/gen/envoy/config/listener/v3/listener.js';
import { AggregatedDiscoveryServiceClient } from '../../xds-server/src/gen/envoy/service/discovery/v3/ads.js';
import { projectRoot } from '../../xds-server/src/sidecar/envoy-binary.js';
import { EnvoyProcess } from '../../xds-server/src/sidecar/envoy-process.js';
import type { NodeStatusJson } from '../../xds-server/src/xds/node-status.js';
import { TypeUrl } from '../../xds-server/src/xds/type-urls.js';
import { openSotw, type SotwTestStream } from '../helpers/ads-client.js';
import { ControlPlaneProcess } from '../helpers/control-plane-process.js';
import { ConfigDir, udpRouteDocuments } from '../helpers/mesh-files.js';
import { waitFor } from '../helpers/poll.js';
import { freeUdpPort } from '../helpers/ports.js';
import { type IssuedCert, TestPki } from '../helpers/test-pki.js';

const cli = path.join(projectRoot(), 'bin/mediamesh.js');
const MEDIA_ID = 'spiffe://cluster.local/ns/media/sa/camera';
const GAMES_ID = 'spiffe://cluster.local/ns/games/sa/player';
const STUDIO_ID = 'spiffe://cluster.local/ns/studio/sa/editor';

/** A consumer route that only the studio namespace's proxies may be given. */
const studioRoute = (listenPort: number) => `
apiVersion: mediamesh.io/v1alpha1
kind: UdpRoute
metadata: {name: feed-studio, namespace: studio}
spec:
  parentRefs: [{name: feed, namespace: media, port: ${listenPort}}]
  backendRefs: [{name: feed-v1, namespace: media, port: 7000}]
`;

function bootstrapArgs(nodeId: string, xdsAddress: string, client: IssuedCert, ca: string): string[] {
  return ['bootstrap', '--node-id', nodeId, '--xds-address', xdsAddress, '--admin-port', '0', '--namespace', 'media', '--pod-ip', '127.0.0.1',
    '--tls-cert', client.cert, '--tls-key', client.key, '--ca', ca];
}

describe('xDS over mTLS', function () {
  this.timeout(90_000);
  const pki = new TestPki();
  const config = new ConfigDir();
  let meshCa: IssuedCert;
  let mediaClient: IssuedCert;
  let gamesClient: IssuedCert;
  let studioClient: IssuedCert;
  let controlPlane: ControlPlaneProcess | undefined;
  let listenPort: number;
  const clients: AggregatedDiscoveryServiceClient[] = [];
  const streams: SotwTestStream[] = [];

  before(async () => {
    meshCa = pki.ca('mesh-ca');
    const server = pki.issue('control-plane', meshCa, ['DNS = mediamesh.mediamesh-system.svc', 'IP = 127.0.0.1']);
    mediaClient = pki.issue('media-camera', meshCa, [`URI = ${MEDIA_ID}`]);
    gamesClient = pki.issue('games-player', meshCa, [`URI = ${GAMES_ID}`]);
    studioClient = pki.issue('studio-editor', meshCa, [`URI = ${STUDIO_ID}`]);
    listenPort = await freeUdpPort();
    config.write('feed.yaml', udpRouteDocuments({ name: 'feed', listenPort, backends: [{ name: 'feed-v1', ports: [25004], allowRoutesFrom: 'studio' }] }));
    config.write('studio.yaml', studioRoute(listenPort));
    controlPlane = await ControlPlaneProcess.start(config.dir, 0, ['--tls-cert', server.cert, '--tls-key', server.key, '--client-ca', meshCa.cert]);
  });

  after(async () => {
    for (const s of streams) s.close();
    for (const c of clients) c.close();
    await controlPlane?.stop();
    config.cleanup();
    pki.cleanup();
  });

  /** An ADS client over TLS that trusts the mesh CA and presents `cert` (or nothing). */
  const tlsClient = (cert?: IssuedCert): AggregatedDiscoveryServiceClient => {
    const creds = credentials.createSsl(fs.readFileSync(meshCa.cert), cert ? fs.readFileSync(cert.key) : null, cert ? fs.readFileSync(cert.cert) : null);
    // The name (a DNS SAN of the server certificate) keeps an IP out of SNI, which RFC 6066 forbids.
    const client = new AggregatedDiscoveryServiceClient(`127.0.0.1:${controlPlane!.xdsPort}`, creds, { 'grpc.ssl_target_name_override': 'mediamesh.mediamesh-system.svc' });
    clients.push(client);
    return client;
  };
  const open = (client: AggregatedDiscoveryServiceClient, nodeId: string, metadata?: Record<string, string>): SotwTestStream => {
    const s = openSotw(client);
    streams.push(s);
    s.request({ node: Node.fromPartial({ id: nodeId, cluster: 'test', metadata }), typeUrl: TypeUrl.Listener });
    return s;
  };
  const nodes = async (): Promise<NodeStatusJson[]> => ((await (await fetch(`${controlPlane!.adminUrl}/debug/nodes`)).json()) as { nodes: NodeStatusJson[] }).nodes;
  const node = async (id: string): Promise<NodeStatusJson | undefined> => (await nodes()).find((n) => n.id === id);

  it('serves a real Envoy bootstrapped with --tls-cert/--tls-key/--ca, and records its SPIFFE identity and view', async () => {
    const yaml = execFileSync(process.execPath, [cli, ...bootstrapArgs('camera-sidecar', `127.0.0.1:${controlPlane!.xdsPort}`, mediaClient, meshCa.cert)], { encoding: 'utf8' });
    const envoy = await EnvoyProcess.start({ bootstrapYaml: yaml });
    try {
      const listener = `udp~media~feed~${listenPort}`;
      await waitFor('listener over mTLS', async () => (await envoy.admin.listenerNames()).includes(listener));
      assert.ok((await envoy.admin.stat('cluster.mediamesh-xds.ssl.handshake')) >= 1, 'the xDS connection is TLS');
      const status = await waitFor('node recorded', () => node('camera-sidecar'));
      assert.equal(status.identity, MEDIA_ID);
      assert.deepEqual(status.view, { namespace: 'media', podIp: '127.0.0.1', role: 'sidecar' });
      assert.equal(status.connected, true);
      const table = execFileSync(process.execPath, [cli, 'status', '--admin-url', controlPlane!.adminUrl], { encoding: 'utf8' });
      assert.match(table, /NODE +CLUSTER +STATE +XDS +VIEW +IDENTITY +TYPE/);
      assert.match(table, new RegExp(`camera-sidecar +mediamesh-proxy +connected +sotw +media/sidecar +${MEDIA_ID} +[CEL]DS`));
    } finally {
      await envoy.stop();
    }
  });

  it('refuses a client that presents no certificate', async () => {
    const s = open(tlsClient(), 'no-cert');
    const err = await s.endedWith(10_000);
    assert.equal(err.code, GrpcStatus.UNAVAILABLE, err.message);
    assert.equal(await node('no-cert'), undefined);
  });

  it('refuses a client whose certificate another CA signed', async () => {
    const rogueCa = pki.ca('rogue-ca');
    const s = open(tlsClient(pki.issue('rogue', rogueCa, [`URI = ${MEDIA_ID}`])), 'rogue');
    const err = await s.endedWith(10_000);
    assert.equal(err.code, GrpcStatus.UNAVAILABLE, err.message);
    assert.equal(await node('rogue'), undefined);
  });

  it('refuses a certificate without a SPIFFE URI SAN, naming why', async () => {
    // A DNS SAN holding a comma and a fake URI entry must not pass for a SPIFFE id.
    const s = open(tlsClient(pki.issue('no-spiffe', meshCa, [`DNS = x, URI:${MEDIA_ID}`])), 'no-spiffe');
    const err = await s.endedWith(10_000);
    assert.equal(err.code, GrpcStatus.UNAUTHENTICATED);
    assert.match(err.details, /client certificate CN=no-spiffe has no URI SAN/);
    assert.equal(await node('no-spiffe'), undefined);
  });

  it('refuses a malformed SPIFFE id, naming why', async () => {
    const s = open(tlsClient(pki.issue('bad-spiffe', meshCa, ['URI = spiffe://cluster.local/ns/Media/sa/x'])), 'bad-spiffe');
    const err = await s.endedWith(10_000);
    assert.equal(err.code, GrpcStatus.UNAUTHENTICATED);
    assert.match(err.details, /namespace "Media" is not a DNS label/);
  });

  it('gives a proxy its certificate\'s namespace whatever its metadata claims', async () => {
    const s = open(tlsClient(gamesClient), 'claims-media', { 'mediamesh.io/namespace': 'media', 'mediamesh.io/role': 'sidecar' });
    await s.next(10_000);
    const status = (await node('claims-media'))!;
    assert.equal(status.identity, GAMES_ID);
    assert.deepEqual(status.view, { namespace: 'games', role: 'sidecar' });
    assert.ok(controlPlane!.logLines().some((l) => /claims another namespace/.test(l) && l.includes('"claimed":"media"') && l.includes('"proven":"games"')), 'the mismatch is logged');
  });

  it("never gives a proxy another namespace's view by claiming it in metadata", async () => {
    const listenerNames = async (s: SotwTestStream) => (await s.next(10_000)).resources.map((any) => Listener.decode(any.value).name).sort();
    const studioListener = `udp~studio~feed-studio~${listenPort}`;
    const genuine = open(tlsClient(studioClient), 'studio-proxy', { 'mediamesh.io/namespace': 'studio' });
    assert.deepEqual(await listenerNames(genuine), [studioListener], 'the studio certificate gets the studio view');
    const impostor = open(tlsClient(gamesClient), 'games-claims-studio', { 'mediamesh.io/namespace': 'studio' });
    assert.deepEqual(await listenerNames(impostor), [`udp~media~feed~${listenPort}`], 'a games certificate claiming studio gets the games view');
  });

  it('refuses invalid node metadata with INVALID_ARGUMENT', async () => {
    const s = open(tlsClient(mediaClient), 'bad-metadata', { 'mediamesh.io/pod-ip': 'not-an-ip', 'mediamesh.io/role': 'router' });
    const err = await s.endedWith(10_000);
    assert.equal(err.code, GrpcStatus.INVALID_ARGUMENT);
    assert.match(err.details, /mediamesh\.io\/pod-ip "not-an-ip" is not an IP address; node metadata mediamesh\.io\/role "router" must be one of sidecar, gateway/);
  });

  it('binds a node id to the identity holding it', async () => {
    const holder = open(tlsClient(mediaClient), 'shared-id');
    await holder.next(10_000);
    const intruder = open(tlsClient(gamesClient), 'shared-id');
    const err = await intruder.endedWith(10_000);
    assert.equal(err.code, GrpcStatus.PERMISSION_DENIED);
    assert.match(err.details, new RegExp(`node id "shared-id" is held by ${MEDIA_ID} on an open stream; ${GAMES_ID} may not claim it`));
    const status = (await node('shared-id'))!;
    assert.equal(status.identity, MEDIA_ID);
    assert.equal(status.connected, true, 'the refused stream does not disconnect the holder');
    assert.equal(status.streams, 1);

    // The same identity may open a second stream (a reconnect overlapping the old one).
    const again = open(tlsClient(mediaClient), 'shared-id');
    await again.next(10_000);
    // Once the holder is gone, the id is free again.
    holder.close();
    again.close();
    await waitFor('holder disconnected', async () => (await node('shared-id'))?.connected === false);
    const next = open(tlsClient(gamesClient), 'shared-id');
    await next.next(10_000);
    assert.equal((await node('shared-id'))!.identity, GAMES_ID);
  });

  it('Envoy refuses a control plane whose certificate does not name the address it dialled', async () => {
    const elsewhere = pki.issue('elsewhere', meshCa, ['DNS = xds.elsewhere.example', 'IP = 127.0.0.2']);
    const impostor = await ControlPlaneProcess.start(config.dir, 0, ['--tls-cert', elsewhere.cert, '--tls-key', elsewhere.key, '--client-ca', meshCa.cert]);
    let envoy: EnvoyProcess | undefined;
    try {
      const yaml = execFileSync(process.execPath, [cli, ...bootstrapArgs('careful-sidecar', `127.0.0.1:${impostor.xdsPort}`, mediaClient, meshCa.cert)], { encoding: 'utf8' });
      // Envoy never gets its first config here; let it report ready after 1 s instead of 15.
      const bootstrap = parse(yaml) as { dynamic_resources: Record<string, Record<string, unknown>> };
      for (const source of ['cds_config', 'lds_config']) bootstrap.dynamic_resources[source]!.initial_fetch_timeout = '1s';
      envoy = await EnvoyProcess.start({ bootstrapYaml: stringify(bootstrap) });
      await waitFor('a SAN verification failure', async () => (await envoy!.admin.stat('cluster.mediamesh-xds.ssl.fail_verify_san')) >= 1);
      assert.equal(await envoy.admin.stat('control_plane.connected_state'), 0);
      const seen = ((await (await fetch(`${impostor.adminUrl}/debug/nodes`)).json()) as { nodes: NodeStatusJson[] }).nodes;
      assert.deepEqual(seen.map((n) => n.id), [], 'the impostor never saw the proxy');
    } finally {
      await envoy?.stop();
      await impostor.stop();
    }
  });
});
