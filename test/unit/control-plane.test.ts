// The pipeline from files to snapshots: live reload, debouncing (with the
// early apply of safe whole-file edits), and bad documents that never take
// good config down.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ControlPlane } from '../../xds-server/src/control-plane.js';
import { FileSource } from '../../xds-server/src/sources/file-source.js';
import { readYamlTree } from '../../xds-server/src/sources/read-yaml.js';
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

  it('reads a ConfigMap volume through its symlinks and follows its atomic swap', async () => {
    // The layout the kubelet writes: files in a timestamped dir, `..data` pointing at it, visible symlinks through `..data`.
    const publish = (stamp: string, endpointPort: number) => {
      fs.mkdirSync(path.join(config.dir, stamp));
      fs.writeFileSync(path.join(config.dir, stamp, 'feed.yaml'), udpRouteDocuments({ name: 'feed', listenPort: 5004, backends: [{ name: 'v1', ports: [endpointPort] }] }));
      fs.symlinkSync(stamp, path.join(config.dir, '..data_tmp'));
      fs.renameSync(path.join(config.dir, '..data_tmp'), path.join(config.dir, '..data'));
    };
    publish('..2026_11_21_10_00_00.000000001', 30010);
    fs.symlinkSync('..data/feed.yaml', path.join(config.dir, 'feed.yaml'));
    controlPlane = new ControlPlane({ source: new FileSource(config.dir), debounceMs: 20 });
    await controlPlane.start();
    assert.deepEqual(readYamlTree(config.dir).files, [path.join(config.dir, 'feed.yaml')], 'read once, through the symlink');
    assert.deepEqual(controlPlane.configStatus().problems, []);
    assert.ok(endpointsOf().some((e) => e.includes('"portValue":30010')));
    publish('..2026_11_21_10_05_00.000000002', 30011);
    fs.rmSync(path.join(config.dir, '..2026_11_21_10_00_00.000000001'), { recursive: true });
    await waitFor('the swapped-in endpoint', () => endpointsOf().some((e) => e.includes('"portValue":30011')), 5000);
    assert.equal(controlPlane.configStatus().accepted.udpRoutes, 1);
  });

  for (const earlyApply of [false, true]) {
    // An early apply may take the first files of a burst; the quiet period takes the rest.
    const most = earlyApply ? 2 : 1;
    it(`coalesces a burst of changes into ${most === 1 ? 'one rebuild' : 'at most two rebuilds'}${earlyApply ? '' : ' (strict debounce)'}`, async () => {
      controlPlane = new ControlPlane({ source: new FileSource(config.dir), debounceMs: 150, earlyApply });
      await controlPlane.start();
      let reloads = 0;
      controlPlane.onReload(() => reloads++);
      for (let i = 0; i < 10; i++) config.write(`route-${i}.yaml`, udpRouteDocuments({ name: `r${i}`, listenPort: 6000 + i, backends: [{ name: `b${i}`, ports: [31000 + i] }] }));
      await waitFor('all ten listeners', () => controlPlane.currentSnapshot().forType(TypeUrl.Listener).resources.size === 10, 5000);
      await new Promise((r) => setTimeout(r, 300));
      assert.ok(reloads >= 1 && reloads <= most, `${reloads} rebuilds`);
    });
  }

  describe('before the quiet period ends', () => {
    // Long enough that anything seen well before it was applied early.
    const DEBOUNCE_MS = 1500;
    const route = (name: string, port: number, endpointPort = 30000) => udpRouteDocuments({ name, listenPort: port, backends: [{ name: `${name}-v1`, ports: [endpointPort] }] });
    const listenerNames = () => [...controlPlane.currentSnapshot().forType(TypeUrl.Listener).resources.keys()];
    const start = async () => {
      controlPlane = new ControlPlane({ source: new FileSource(config.dir), debounceMs: DEBOUNCE_MS });
      await controlPlane.start();
    };
    /** Asserts `probe` stays false for a while after a change, then becomes true once the debounce ran. */
    const waitsForQuiet = async (what: string, probe: () => boolean) => {
      const changedAt = Date.now();
      await new Promise((r) => setTimeout(r, DEBOUNCE_MS / 3));
      assert.equal(probe(), false, `${what} was applied before the quiet period`);
      await waitFor(what, probe, 5000);
      assert.ok(Date.now() - changedAt >= DEBOUNCE_MS - 50, `${what} applied after ${Date.now() - changedAt} ms`);
    };

    it('applies the first whole-file edit of a burst early; the rest of the burst waits', async () => {
      config.write('a.yaml', route('a', 5004));
      await start();
      const changedAt = Date.now();
      config.write('b.yaml', route('b', 5006));
      await waitFor('listener b', () => listenerNames().some((n) => n.includes('~b~')), DEBOUNCE_MS - 200, 5);
      assert.ok(Date.now() - changedAt < DEBOUNCE_MS / 2, `applied after ${Date.now() - changedAt} ms`);
      assert.equal(controlPlane.configStatus().loadedBy, 'early');
      config.write('a.yaml', route('a', 5004, 30001));
      await waitsForQuiet('endpoint port 30001', () => endpointsOf().some((e) => e.includes('"portValue":30001')));
      assert.equal(controlPlane.configStatus().loadedBy, 'settled');
    });

    it('is not held back by a translation error that was already there', async () => {
      // No RTP module is configured here, so an RTP route fails to translate, and keeps failing.
      config.write('rtp.yaml', udpRouteDocuments({ name: 'cam', listenPort: 5010, backends: [{ name: 'cam-v1', ports: [30005] }], extraSpec: { protocol: 'RTP' } }));
      await start();
      assert.equal(controlPlane.configStatus().translationErrors.length, 1);
      const changedAt = Date.now();
      config.write('b.yaml', route('b', 5006));
      await waitFor('listener b', () => listenerNames().some((n) => n.includes('~b~')), DEBOUNCE_MS - 200, 5);
      assert.ok(Date.now() - changedAt < DEBOUNCE_MS / 2, `applied after ${Date.now() - changedAt} ms`);
    });

    it('makes an in-place write wait', async () => {
      config.write('a.yaml', route('a', 5004));
      await start();
      fs.writeFileSync(path.join(config.dir, 'a.yaml'), route('a', 5004, 30002));
      await waitsForQuiet('endpoint port 30002', () => endpointsOf().some((e) => e.includes('"portValue":30002')));
    });

    it('makes files in a new directory wait, since their writing was not watched', async () => {
      config.write('a.yaml', route('a', 5004));
      await start();
      fs.mkdirSync(path.join(config.dir, 'more'));
      fs.writeFileSync(path.join(config.dir, 'more', 'b.yaml'), route('b', 5006));
      await waitsForQuiet('listener b', () => listenerNames().some((n) => n.includes('~b~')));
    });

    it('makes a whole-file edit that removes a route wait', async () => {
      config.write('ab.yaml', `${route('a', 5004)}---\n${route('b', 5006)}`);
      await start();
      assert.equal(listenerNames().length, 2);
      config.write('ab.yaml', route('a', 5004));
      await waitsForQuiet('route b removed', () => listenerNames().length === 1);
    });

    it('makes a whole-file edit with a new problem wait, and reports it then', async () => {
      config.write('a.yaml', route('a', 5004));
      await start();
      config.write('bad.yaml', 'apiVersion: mediamesh.io/v1alpha1\nkind: UdpRoute\nmetadata: {name: bad, namespace: media}\nspec: {parentRefs: [{name: a, port: 5004}], backendRefs: [{name: missing, port: 1}]}\n');
      await waitsForQuiet('the problem reported', () => controlPlane.configStatus().problems.length === 1);
    });
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
