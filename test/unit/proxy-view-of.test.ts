// The view a proxy gets from its node metadata and, under mTLS, its
// certificate; and the cache's rule that a node id belongs to the identity
// holding it.
import assert from 'node:assert/strict';
import { Node } from '../../xds-server/src/gen/envoy/config/core/v3/base.js';
import type { Logger } from '../../xds-server/src/log.js';
import type { ProxyView } from '../../xds-server/src/model/proxy-view.js';
import { NodeIdClaimedError, type PeerIdentity, plaintextPeer, UNAUTHENTICATED } from '../../xds-server/src/xds/peer-identity.js';
import { InvalidProxyMetadataError, type PodLocator, proxyViewOf } from '../../xds-server/src/xds/proxy-view-of.js';
import { podAddresses, slimInPlace } from '../../xds-server/src/sources/kubernetes/to-document.js';
import { POD_KIND } from '../../xds-server/src/sources/kubernetes/api-access.js';
import { SnapshotCache } from '../../xds-server/src/xds/snapshot-cache.js';

const peerIn = (namespace: string): PeerIdentity => ({
  authenticated: true,
  spiffe: { uri: `spiffe://cluster.local/ns/${namespace}/sa/default`, trustDomain: 'cluster.local', namespace, serviceAccount: 'default' },
});
const node = (metadata?: Record<string, unknown>, id = 'pod-a') => Node.fromPartial({ id, cluster: 'c', metadata });
const sidecarIn = (namespace: string) => ({ 'mediamesh.io/namespace': namespace, 'mediamesh.io/role': 'sidecar' });

/** A logger that keeps its warnings, to assert on them. */
function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const none = (): void => {};
  return { warnings, debug: none, info: none, error: none, warn: (msg, fields) => warnings.push(`${msg} ${JSON.stringify(fields)}`) };
}

describe('proxyViewOf', () => {
  const views: [string, Record<string, unknown> | undefined, PeerIdentity, ProxyView][] = [
    ['no metadata: a gateway', undefined, UNAUTHENTICATED, { role: 'gateway' }],
    ['a namespace: a sidecar', { 'mediamesh.io/namespace': 'media', 'mediamesh.io/pod-ip': '10.1.2.3' }, UNAUTHENTICATED, { namespace: 'media', podIp: '10.1.2.3', role: 'sidecar' }],
    ['a gateway in a namespace', { 'mediamesh.io/namespace': 'edge', 'mediamesh.io/role': 'gateway' }, UNAUTHENTICATED, { namespace: 'edge', role: 'gateway' }],
    ['an IPv6 pod IP', { 'mediamesh.io/namespace': 'media', 'mediamesh.io/pod-ip': 'fd00::5' }, UNAUTHENTICATED, { namespace: 'media', podIp: 'fd00::5', role: 'sidecar' }],
    ['other metadata keys are ignored', { 'mediamesh.io/bootstrap': 'v1', ISTIO_VERSION: '1.22' }, UNAUTHENTICATED, { role: 'gateway' }],
    ['the certificate\'s namespace over the claimed one', { 'mediamesh.io/namespace': 'media' }, peerIn('games'), { namespace: 'games', role: 'sidecar' }],
    ['the certificate\'s namespace when none is claimed', {}, peerIn('games'), { namespace: 'games', role: 'sidecar' }],
    ['an authenticated gateway keeps its namespace', { 'mediamesh.io/role': 'gateway' }, peerIn('edge'), { namespace: 'edge', role: 'gateway' }],
    ['a sidecar\'s captured ports, inbound UDP expanded and ascending as the script numbers them', { ...sidecarIn('media'), 'mediamesh.io/rtsp-ports': '554,8554', 'mediamesh.io/inbound-rtsp-ports': '554', 'mediamesh.io/inbound-udp-ports': '25006, 25004-25005' }, UNAUTHENTICATED,
      { namespace: 'media', role: 'sidecar', captured: { outboundRtsp: true, inboundRtsp: true, inboundUdp: [25004, 25005, 25006] } }],
    ['only inbound UDP captured', { ...sidecarIn('media'), 'mediamesh.io/inbound-udp-ports': '25004' }, UNAUTHENTICATED, { namespace: 'media', role: 'sidecar', captured: { outboundRtsp: false, inboundRtsp: false, inboundUdp: [25004] } }],
    ['empty lists: nothing captured', { ...sidecarIn('media'), 'mediamesh.io/rtsp-ports': '', 'mediamesh.io/inbound-udp-ports': ' ' }, UNAUTHENTICATED, { namespace: 'media', role: 'sidecar' }],
    ['64 inbound UDP ports, the most the script takes (15200-15263)', { ...sidecarIn('media'), 'mediamesh.io/inbound-udp-ports': '10000-10063' }, UNAUTHENTICATED,
      { namespace: 'media', role: 'sidecar', captured: { outboundRtsp: false, inboundRtsp: false, inboundUdp: Array.from({ length: 64 }, (_, i) => 10000 + i) } }],
    ['captured ports of a sidecar whose namespace its certificate proves', { 'mediamesh.io/rtsp-ports': '554' }, peerIn('games'), { namespace: 'games', role: 'sidecar', captured: { outboundRtsp: true, inboundRtsp: false, inboundUdp: [] } }],
  ];
  for (const [what, metadata, peer, view] of views) {
    it(`gives ${what}`, () => assert.deepEqual(proxyViewOf(node(metadata), peer, recordingLogger()), view));
  }

  it('warns when the claimed namespace is not the proven one, and only then', () => {
    const log = recordingLogger();
    proxyViewOf(node({ 'mediamesh.io/namespace': 'media' }), peerIn('games'), log);
    assert.equal(log.warnings.length, 1);
    assert.match(log.warnings[0]!, /"node":"pod-a","claimed":"media","proven":"games","identity":"spiffe:\/\/cluster.local\/ns\/games\/sa\/default"/);
    proxyViewOf(node({ 'mediamesh.io/namespace': 'games' }), peerIn('games'), log);
    proxyViewOf(node({}), peerIn('games'), log);
    assert.equal(log.warnings.length, 1);
  });

  const invalid: [string, Record<string, unknown>, PeerIdentity, RegExp][] = [
    ['a namespace that is no DNS label', { 'mediamesh.io/namespace': 'Media_1' }, UNAUTHENTICATED, /node "pod-a": node metadata mediamesh.io\/namespace "Media_1" is not a Kubernetes namespace name/],
    ['an empty namespace', { 'mediamesh.io/namespace': '' }, UNAUTHENTICATED, /mediamesh.io\/namespace "" is not/],
    ['a namespace that is not a string', { 'mediamesh.io/namespace': 7 }, UNAUTHENTICATED, /mediamesh.io\/namespace must be a string, got 7/],
    ['a pod IP that is no IP', { 'mediamesh.io/pod-ip': '10.0.0.300' }, UNAUTHENTICATED, /mediamesh.io\/pod-ip "10.0.0.300" is not an IP address/],
    ['an unknown role', { 'mediamesh.io/role': 'router' }, UNAUTHENTICATED, /mediamesh.io\/role "router" must be one of sidecar, gateway/],
    ['a sidecar without a namespace', { 'mediamesh.io/role': 'sidecar' }, UNAUTHENTICATED, /role "sidecar" needs node metadata mediamesh.io\/namespace/],
    ['a bad claim even when the certificate decides the namespace', { 'mediamesh.io/namespace': 'NOPE' }, peerIn('games'), /"NOPE" is not a Kubernetes namespace name/],
    ['65 inbound UDP ports', { ...sidecarIn('media'), 'mediamesh.io/inbound-udp-ports': '10000-10064' }, UNAUTHENTICATED, /mediamesh.io\/inbound-udp-ports: 65 ports; at most 64/],
    ['a whole-range inbound UDP list (counted, never expanded)', { ...sidecarIn('media'), 'mediamesh.io/inbound-udp-ports': '1-65535' }, UNAUTHENTICATED, /65535 ports; at most 64/],
    ['an inbound UDP port among the proxy\'s own', { ...sidecarIn('media'), 'mediamesh.io/inbound-udp-ports': '25004,15263' }, UNAUTHENTICATED, /15200-15263 are the proxy's own inbound UDP ports/],
    ['the proxy\'s inbound RTSP port as an app port', { ...sidecarIn('media'), 'mediamesh.io/inbound-rtsp-ports': '15100-15110' }, UNAUTHENTICATED, /15106 is the proxy's own inbound RTSP port/],
    ['a port that is no port', { ...sidecarIn('media'), 'mediamesh.io/rtsp-ports': '554,70000' }, UNAUTHENTICATED, /mediamesh.io\/rtsp-ports: "70000" is not a port/],
    ['a list that is not a string', { ...sidecarIn('media'), 'mediamesh.io/inbound-udp-ports': [25004] }, UNAUTHENTICATED, /inbound-udp-ports must be a string such as "554,8554", got \[25004\]/],
    ['a list longer than any port list', { ...sidecarIn('media'), 'mediamesh.io/rtsp-ports': '554,'.repeat(1000) + '554' }, UNAUTHENTICATED, /rtsp-ports is 4003 characters long; at most 2048/],
    ['more entries than a port list has', { ...sidecarIn('media'), 'mediamesh.io/rtsp-ports': Array.from({ length: 300 }, (_, i) => String(i + 1)).join(',') }, UNAUTHENTICATED, /rtsp-ports: more than 256 entries/],
    ['captured ports on a gateway', { 'mediamesh.io/role': 'gateway', 'mediamesh.io/rtsp-ports': '554' }, UNAUTHENTICATED, /mediamesh.io\/rtsp-ports: only a sidecar's pod is intercepted/],
    ['captured ports on a proxy without a namespace (a gateway)', { 'mediamesh.io/inbound-udp-ports': '25004' }, UNAUTHENTICATED, /node "pod-a": node metadata mediamesh.io\/inbound-udp-ports: only a sidecar's pod is intercepted/],
  ];
  for (const [what, metadata, peer, reason] of invalid) {
    it(`refuses ${what}`, () => {
      assert.throws(() => proxyViewOf(node(metadata), peer, recordingLogger()), (err: unknown) => err instanceof InvalidProxyMetadataError && reason.test(err.message));
    });
  }

  it('lists every bad value at once', () => {
    assert.throws(() => proxyViewOf(node({ 'mediamesh.io/pod-ip': 'x', 'mediamesh.io/role': 'y' }), UNAUTHENTICATED, recordingLogger()), /pod-ip "x" is not an IP address; node metadata mediamesh.io\/role "y"/);
  });
});

describe('SnapshotCache node identity', () => {
  it('records view and identity, and refuses another identity for a connected node id without changing its status', () => {
    const cache = new SnapshotCache();
    cache.streamOpened(node({ 'mediamesh.io/namespace': 'media' }, 'shared'), 'sotw', peerIn('media'));
    const before = structuredClone(cache.nodeStatus('shared'));
    assert.equal(before!.identity, 'spiffe://cluster.local/ns/media/sa/default');
    assert.deepEqual(before!.view, { namespace: 'media', role: 'sidecar' });

    assert.throws(() => cache.streamOpened(node({}, 'shared'), 'delta', peerIn('games')), (err: unknown) =>
      err instanceof NodeIdClaimedError && err.message === 'node id "shared" is held by spiffe://cluster.local/ns/media/sa/default on an open stream; spiffe://cluster.local/ns/games/sa/default may not claim it');
    assert.deepEqual(cache.nodeStatus('shared'), before);

    // The holder may open more streams; once all are closed another identity may take the id.
    cache.streamOpened(node({}, 'shared'), 'sotw', peerIn('media'));
    assert.equal(cache.nodeStatus('shared')!.streams, 2);
    cache.streamClosed('shared');
    cache.streamClosed('shared');
    cache.streamOpened(node({}, 'shared'), 'sotw', peerIn('games'));
    assert.equal(cache.nodeStatus('shared')!.identity, 'spiffe://cluster.local/ns/games/sa/default');
    assert.deepEqual(cache.nodeStatus('shared')!.view, { namespace: 'games', role: 'sidecar' });
  });

  it('refuses invalid metadata before recording anything', () => {
    const cache = new SnapshotCache();
    assert.throws(() => cache.streamOpened(node({ 'mediamesh.io/role': 'x' }, 'bad'), 'sotw', UNAUTHENTICATED), InvalidProxyMetadataError);
    assert.equal(cache.nodeStatus('bad'), undefined);
  });
});

describe('a plaintext proxy in a known pod', () => {
  const pods: PodLocator = (address) => (address === '10.4.0.7' ? { namespace: 'games', name: 'server-0' } : undefined);
  const from = (address: string): PeerIdentity => ({ authenticated: false, address });

  it('gets the namespace of the pod it connects from, whatever its metadata claims, and a warning', () => {
    const log = recordingLogger();
    assert.deepEqual(proxyViewOf(node({ 'mediamesh.io/namespace': 'media', 'mediamesh.io/pod-ip': '10.9.9.9' }), from('10.4.0.7'), log, pods), { namespace: 'games', podIp: '10.4.0.7', role: 'sidecar' });
    assert.equal(log.warnings.length, 1);
    assert.match(log.warnings[0]!, /games\/server-0/);
  });

  it('keeps its metadata when no single pod has the address, and a gateway is never moved into a pod\'s namespace', () => {
    assert.deepEqual(proxyViewOf(node({ 'mediamesh.io/namespace': 'media' }), from('10.4.0.8'), recordingLogger(), pods), { namespace: 'media', role: 'sidecar' });
    assert.deepEqual(proxyViewOf(node({ 'mediamesh.io/role': 'gateway' }), from('10.4.0.7'), recordingLogger(), pods), { role: 'gateway' });
  });

  it('reads the address out of gRPC\'s peer strings', () => {
    assert.deepEqual(plaintextPeer('10.4.0.7:45678'), { authenticated: false, address: '10.4.0.7' });
    assert.deepEqual(plaintextPeer('ipv4:10.4.0.7:45678'), { authenticated: false, address: '10.4.0.7' });
    assert.deepEqual(plaintextPeer('[fd00::7]:45678'), { authenticated: false, address: 'fd00::7' });
    assert.deepEqual(plaintextPeer('[::ffff:10.4.0.7]:45678'), { authenticated: false, address: '10.4.0.7' });
    assert.deepEqual(plaintextPeer('unix:/tmp/x'), UNAUTHENTICATED);
  });

  it('keeps only a pod\'s name, namespace and addresses in the informer cache', () => {
    const pod = { metadata: { name: 'server-0', namespace: 'games', uid: 'u', resourceVersion: '9', labels: { app: 'x' }, managedFields: [{}] }, spec: { containers: [{ name: 'c', image: 'i' }] }, status: { podIP: '10.4.0.7', podIPs: [{ ip: '10.4.0.7' }, { ip: 'fd00::7' }], phase: 'Running' } };
    slimInPlace(POD_KIND, pod);
    assert.deepEqual(pod, { metadata: { name: 'server-0', namespace: 'games', uid: 'u', resourceVersion: '9' }, spec: {}, status: { podIP: '10.4.0.7', podIPs: [{ ip: '10.4.0.7' }, { ip: 'fd00::7' }] } });
    assert.deepEqual(podAddresses(pod), { namespace: 'games', name: 'server-0', ips: ['10.4.0.7', 'fd00::7'], hostNetwork: false });
  });
});
