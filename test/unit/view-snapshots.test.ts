// Translation shared across views and carried across rebuilds: a listener is
// translated and encoded once per model whatever number of views include it,
// and an unchanged listener keeps its encoding in the next model.
import assert from 'node:assert/strict';
import { admitDocuments } from '../../xds-server/src/api/validate.js';
import { buildModel } from '../../xds-server/src/model/build-model.js';
import { parseYamlText } from '../../xds-server/src/sources/read-yaml.js';
import type { ProxyView } from '../../xds-server/src/model/proxy-view.js';
import { ViewSnapshots } from '../../xds-server/src/translate/view-snapshots.js';
import { TypeUrl } from '../../xds-server/src/xds/type-urls.js';
import { udpRouteDocuments } from '../helpers/mesh-files.js';

const model = (feedEndpoint: number) => {
  const text = [
    udpRouteDocuments({ name: 'feed', listenPort: 5004, backends: [{ name: 'feed-v1', ports: [feedEndpoint] }] }),
    udpRouteDocuments({ name: 'game', listenPort: 7777, backends: [{ name: 'game-v1', ports: [27777] }] }, 'games'),
  ].join('---\n');
  return buildModel(admitDocuments(parseYamlText(text, 'inline').documents).config);
};
const gateway = { role: 'gateway' as const };
const resource = (views: ViewSnapshots, typeUrl: TypeUrl, name: string) => views.forView(gateway).snapshot.forType(typeUrl).resources.get(name)!;

describe('view snapshots', () => {
  it('keeps the encoding of a listener that did not change, and re-encodes the one that did', () => {
    const first = new ViewSnapshots(model(30000), {});
    first.forView(gateway);
    const second = new ViewSnapshots(model(30001), {}, first);
    assert.equal(resource(second, TypeUrl.ClusterLoadAssignment, 'udp~games~game~7777'), resource(first, TypeUrl.ClusterLoadAssignment, 'udp~games~game~7777'), 'the same encoded object');
    assert.equal(resource(second, TypeUrl.Listener, 'udp~games~game~7777'), resource(first, TypeUrl.Listener, 'udp~games~game~7777'));
    assert.notEqual(resource(second, TypeUrl.ClusterLoadAssignment, 'udp~media~feed~5004').version, resource(first, TypeUrl.ClusterLoadAssignment, 'udp~media~feed~5004').version);
    second.forView(gateway);
    const third = new ViewSnapshots(model(30001), {}, second);
    assert.equal(third.forView(gateway).snapshot.version, second.forView(gateway).snapshot.version);
  });

  it('translates RTSP listeners once too, and adds the shared reject listener once per view and once per rebuild', () => {
    const rtsp = (endpoint: string) => buildModel(admitDocuments(parseYamlText(`
apiVersion: v1
kind: Service
metadata: {name: cams, namespace: media}
spec: {clusterIP: 127.0.0.1, ports: [{port: 554, protocol: TCP}, {port: 555, protocol: TCP}]}
---
apiVersion: v1
kind: Service
metadata: {name: cam-v1, namespace: media}
spec: {ports: [{port: 8554, protocol: TCP}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: cam-v1-a, namespace: media, labels: {kubernetes.io/service-name: cam-v1}}
addressType: IPv4
endpoints: [{addresses: ["${endpoint}"]}]
---
apiVersion: mediamesh.io/v1alpha1
kind: RtspRoute
metadata: {name: cams, namespace: media}
spec:
  parentRefs: [{name: cams, port: 554}, {name: cams, port: 555}]
  rules: [{backendRefs: [{name: cam-v1, port: 8554}]}]
`, 'inline').documents).config);
    const options = { rtspFilter: { kind: 'local' as const, path: '/opt/mediamesh/mediamesh_rtsp_filter.wasm' } };
    const first = new ViewSnapshots(rtsp('10.0.0.1'), options);
    const snapshot = first.forView(gateway).snapshot;
    assert.deepEqual([...snapshot.forType(TypeUrl.Listener).resources.keys()], ['mediamesh-rtsp-reject', 'rtsp~media~cams~554', 'rtsp~media~cams~555']);
    assert.equal(first.forView(gateway).errors.length, 0);
    const second = new ViewSnapshots(rtsp('10.0.0.2'), options, first);
    assert.equal(resource(second, TypeUrl.Listener, 'mediamesh-rtsp-reject'), resource(first, TypeUrl.Listener, 'mediamesh-rtsp-reject'), 'the same encoded object');
    assert.equal(resource(second, TypeUrl.Listener, 'rtsp~media~cams~554').version, resource(first, TypeUrl.Listener, 'rtsp~media~cams~554').version, 'an endpoint change leaves the listener\'s bytes alone');
    assert.notEqual(resource(second, TypeUrl.ClusterLoadAssignment, 'rtsp~media~cams~554~0').version, resource(first, TypeUrl.ClusterLoadAssignment, 'rtsp~media~cams~554~0').version);
  });

  it('gives proxies of views that select the same routes, in the same role, one snapshot', () => {
    const views = new ViewSnapshots(model(30000), {});
    assert.equal(views.forView({ role: 'sidecar', namespace: 'anywhere' }).snapshot, views.forView({ role: 'sidecar', namespace: 'elsewhere' }).snapshot);
    assert.equal(views.forView({ role: 'gateway', namespace: 'edge' }).snapshot, views.forView(gateway).snapshot);
    assert.equal(views.translated().length, 2, 'one for the sidecars, one for the gateways');
  });

  it('binds a sidecar\'s UDP listeners transparently (interception hands it Service addresses), a gateway\'s not', () => {
    const views = new ViewSnapshots(model(30000), {});
    const listener = (view: ProxyView) => views.forView(view).snapshot.forType(TypeUrl.Listener).resources.get('udp~media~feed~5004')!.json() as { transparent?: boolean; address: unknown };
    const sidecar = listener({ role: 'sidecar', namespace: 'media' });
    const edge = listener(gateway);
    assert.equal(sidecar.transparent, true);
    assert.equal(edge.transparent, undefined);
    assert.deepEqual(sidecar.address, edge.address, 'the same address: the Service\'s');
  });

  it('keeps each binding\'s encoding across rebuilds', () => {
    const sidecar = { role: 'sidecar' as const, namespace: 'media' };
    const first = new ViewSnapshots(model(30000), {});
    first.forView(sidecar);
    first.forView(gateway);
    const second = new ViewSnapshots(model(30000), {}, first);
    assert.equal(second.forView(sidecar).snapshot, first.forView(sidecar).snapshot);
    assert.equal(second.forView(gateway).snapshot, first.forView(gateway).snapshot);
  });

  it('gives sidecars with the same captured ports one snapshot, other ports another, and makes the interception listeners once across rebuilds', () => {
    const captured = (inboundUdp: number[]) => ({ role: 'sidecar' as const, namespace: 'media', captured: { outboundRtsp: true, inboundRtsp: true, inboundUdp } });
    const first = new ViewSnapshots(model(30000), {});
    const a = first.forView(captured([25004, 25006]));
    assert.equal(first.forView({ ...captured([25004, 25006]), namespace: 'elsewhere', podIp: '10.1.0.9' }).snapshot, a.snapshot, 'the pod IP and a namespace without consumer routes do not matter');
    const b = first.forView(captured([25004]));
    assert.notEqual(b.key, a.key);
    assert.notEqual(first.forView({ role: 'sidecar', namespace: 'media' }).key, a.key, 'nothing captured: a key of its own');
    const names = (v: typeof a) => [...v.snapshot.forType(TypeUrl.Listener).resources.keys()];
    assert.deepEqual(names(a), ['inbound~rtsp', 'inbound~udp~25004', 'inbound~udp~25006', 'outbound~rtsp', 'udp~games~game~7777', 'udp~media~feed~5004']);
    assert.deepEqual(names(b), ['inbound~rtsp', 'inbound~udp~25004', 'outbound~rtsp', 'udp~games~game~7777', 'udp~media~feed~5004']);
    const port = (v: typeof a, name: string) => (v.snapshot.forType(TypeUrl.Listener).resources.get(name)!.json() as { address: { socketAddress: { portValue: number } } }).address.socketAddress.portValue;
    assert.deepEqual([port(a, 'inbound~udp~25004'), port(a, 'inbound~udp~25006'), port(b, 'inbound~udp~25004')], [15200, 15201, 15200], 'the n-th port of each pod on 15200+n');
    const second = new ViewSnapshots(model(30001), {}, first);
    const again = second.forView(captured([25004, 25006])).snapshot.forType(TypeUrl.Listener).resources.get('outbound~rtsp');
    assert.equal(again, a.snapshot.forType(TypeUrl.Listener).resources.get('outbound~rtsp'), 'the same encoded object after a model change');
  });
});
