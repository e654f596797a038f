// Translation shared across views and carried across rebuilds: a listener is
// translated and encoded once per model whatever number of views include it,
// and an unchanged listener keeps its encoding in the next model.
import assert from 'node:assert/strict';
import { admitDocuments } from '../../xds-server/src/api/validate.js';
import { buildModel } from '../../xds-server/src/model/build-model.js';
import { parseYamlText } from '../../xds-server/src/sources/read-yaml.js';
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

  it('gives proxies of views that select the same routes one snapshot', () => {
    const views = new ViewSnapshots(model(30000), {});
    assert.equal(views.forView({ role: 'sidecar', namespace: 'anywhere' }).snapshot, views.forView(gateway).snapshot);
    assert.equal(views.translated().length, 1);
  });
});
