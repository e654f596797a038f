// The pipeline from files to snapshots: live reload, debouncing, and bad
// documents that never take good config down.
import assert from 'node:assert/strict';
import { ControlPlane } from '../../xds-server/src/control-plane.js';
import { FileSource } from '../../xds-server/src/sources/file-source.js';
import { TypeUrl } from '../../xds-server/src/xds/type-urls.js';
import { ConfigDir, udpRouteDocuments } from '../helpers/mesh-files.js';
import { waitFor } from '../helpers/poll.js';

describe('control plane over a watched directory', () => {
  let config: ConfigDir;
  let controlPlane: ControlPlane;

  beforeEach(() => {
    config = new ConfigDir();
  });
  afterEach(() => {
    controlPlane?.stop();
    config.cleanup();
  });

  const endpointsOf = () => [...controlPlane.currentSnapshot().forType(TypeUrl.ClusterLoadAssignment).resources.values()].map((r) => JSON.stringify(r.json()));

  it('picks up every replacement of the same file', async () => {
    config.write('feed.yaml', udpRouteDocuments({ name: 'feed', listenPort: 5004, backends: [{ name: 'v1', ports: [30000] }] }));
    controlPlane = new ControlPlane({ source: new FileSource(config.dir), debounceMs: 20 });
    await controlPlane.start();
    for (const port of [30001, 30002, 30003]) {
      config.write('feed.yaml', udpRouteDocuments({ name: 'feed', listenPort: 5004, backends: [{ name: 'v1', ports: [port] }] }));
      await waitFor(`endpoint port ${port}`, () => endpointsOf().some((e) => e.includes(`"portValue":${port}`)), 5000);
    }
  });

  it('coalesces a burst of changes into one rebuild', async () => {
    controlPlane = new ControlPlane({ source: new FileSource(config.dir), debounceMs: 150 });
    await controlPlane.start();
    let reloads = 0;
    controlPlane.onReload(() => reloads++);
    for (let i = 0; i < 10; i++) config.write(`route-${i}.yaml`, udpRouteDocuments({ name: `r${i}`, listenPort: 6000 + i, backends: [{ name: `b${i}`, ports: [31000 + i] }] }));
    await waitFor('all ten listeners', () => controlPlane.currentSnapshot().forType(TypeUrl.Listener).resources.size === 10, 5000);
    assert.equal(reloads, 1);
  });

  it('keeps serving good routes when a file turns bad, and reports the bad one', async () => {
    config.write('good.yaml', udpRouteDocuments({ name: 'good', listenPort: 5004, backends: [{ name: 'v1', ports: [30000] }] }));
    controlPlane = new ControlPlane({ source: new FileSource(config.dir), debounceMs: 20 });
    await controlPlane.start();
    const before = controlPlane.currentSnapshot().version;
    config.write('bad.yaml', 'apiVersion: mediamesh.io/v1alpha1\nkind: UdpRoute\nmetadata: {name: bad, namespace: media}\nspec: {parentRefs: [{name: good, port: 5004}], backendRefs: [{name: missing, port: 1}]}\n');
    await waitFor('problem reported', () => controlPlane.configStatus().problems.length > 0, 5000);
    const problem = controlPlane.configStatus().problems[0]!;
    assert.match(problem.message, /bad\.yaml: document 1 \(UdpRoute media\/bad\): spec\.backendRefs\[0\]\.name: backend Service media\/missing not found/);
    assert.equal(controlPlane.currentSnapshot().version, before, 'good config unchanged');
    config.write('bad.yaml', ': : not yaml [');
    await waitFor('syntax error reported', () => controlPlane.configStatus().problems.some((p) => /YAML syntax error/.test(p.reason)), 5000);
    assert.equal(controlPlane.currentSnapshot().version, before);
    assert.equal(controlPlane.configStatus().ready, true);
  });
});
