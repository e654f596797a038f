// The `mediamesh` command as a user runs it: serve's admin endpoints and
// clean SIGTERM, validate's exit codes and messages, and a bootstrap that
// Envoy itself accepts.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { envoyBinary, projectRoot } from '../../xds-server/src/sidecar/envoy-binary.js';
import { TypeUrl } from '../../xds-server/src/xds/type-urls.js';
import { Node } from '../../xds-server/src/gen/envoy/config/core/v3/base.js';
import { adsClient, openSotw } from '../helpers/ads-client.js';
import { ControlPlaneProcess } from '../helpers/control-plane-process.js';
import { ConfigDir, udpRouteDocuments } from '../helpers/mesh-files.js';

const cli = path.join(projectRoot(), 'bin/mediamesh.js');
const mediamesh = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

describe('mediamesh command', function () {
  this.timeout(60_000);

  describe('serve', () => {
    const config = new ConfigDir();
    let cp: ControlPlaneProcess | undefined;

    before(async () => {
      config.write('feed.yaml', udpRouteDocuments({ name: 'feed', listenPort: 5004, backends: [{ name: 'v1', ports: [25004] }] }));
      config.write('broken.yaml', 'apiVersion: mediamesh.io/v1alpha1\nkind: UdpRoute\nmetadata: {name: broken, namespace: media}\nspec: {parentRefs: [{name: feed, port: 5004}], backendRefs: []}\n');
      cp = await ControlPlaneProcess.start(config.dir);
    });
    after(async () => {
      await cp?.stop('SIGKILL');
      config.cleanup();
    });

    it('answers health, readiness, metrics and debug endpoints', async () => {
      const get = async (p: string) => {
        const res = await fetch(`${cp!.adminUrl}${p}`);
        return { status: res.status, text: await res.text() };
      };
      assert.deepEqual(await get('/healthz'), { status: 200, text: 'ok\n' });
      assert.equal((await get('/readyz')).status, 200);
      const metrics = (await get('/metrics')).text;
      for (const name of ['mediamesh_xds_connected_proxies', 'mediamesh_xds_pushes_total', 'mediamesh_xds_push_latency_seconds', 'mediamesh_xds_acks_total', 'mediamesh_xds_nacks_total', 'mediamesh_config_errors']) {
        assert.match(metrics, new RegExp(`^# TYPE ${name} `, 'm'), name);
      }
      assert.match(metrics, /^mediamesh_config_errors 1$/m, 'the broken document is counted');
      const debugConfig = JSON.parse((await get('/debug/config')).text) as { ready: boolean; accepted: { udpRoutes: number }; problems: { message: string }[] };
      assert.equal(debugConfig.ready, true);
      assert.equal(debugConfig.accepted.udpRoutes, 1);
      assert.match(debugConfig.problems[0]!.message, /broken\.yaml: document 1 \(UdpRoute media\/broken\): spec\.backendRefs: must NOT have fewer than 1 items/);
      const dump = JSON.parse((await get('/debug/config_dump')).text) as { resources: { type: string; resources: { name: string; resource: { listenerFilters?: { typedConfig: Record<string, unknown> }[] } }[] }[] };
      const lds = dump.resources.find((r) => r.type === 'LDS')!;
      assert.equal(lds.resources[0]!.name, 'udp~media~feed~5004');
      assert.equal(lds.resources[0]!.resource.listenerFilters![0]!.typedConfig['@type'], 'type.googleapis.com/envoy.extensions.filters.udp.udp_proxy.v3.UdpProxyConfig', 'Anys are unpacked for people');
      assert.equal((await get('/debug/config_dump?node=nobody')).status, 404);
    });

    it('ends open ADS streams and exits 0 on SIGTERM', async () => {
      const client = adsClient(cp!.xdsPort);
      const stream = openSotw(client);
      stream.request({ node: Node.fromPartial({ id: 'sigterm-probe' }), typeUrl: TypeUrl.Listener });
      await stream.next();
      const code = await cp!.stop('SIGTERM');
      assert.equal(code, 0);
      const deadline = Date.now() + 5000;
      while (!stream.ended && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.ok(stream.ended === 'ok' || (typeof stream.ended === 'object' && stream.ended.code !== GrpcStatus.INTERNAL), `stream ended cleanly (${JSON.stringify(stream.ended)})`);
      assert.ok(!cp!.logLines().some((l) => /unhandled/i.test(l)), 'no unhandled rejections');
      client.close();
    });
  });

  describe('validate', () => {
    const examples = fs.readdirSync(path.join(projectRoot(), 'examples'), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
    for (const example of examples) {
      it(`exits 0 on the ${example} example`, () => {
        const run = mediamesh('validate', path.join(projectRoot(), 'examples', example));
        assert.equal(run.status, 0, run.stdout + run.stderr);
        assert.match(run.stderr, /^ok: \d+ files, [1-9]\d* UdpRoutes/);
      });
    }

    it('exits 1 with one line per problem', () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mediamesh-validate-'));
      try {
        // Two new routes on one socket: the first by namespace/name keeps it (Gateway API's tie-break).
        fs.writeFileSync(path.join(dir, 'a.yaml'), udpRouteDocuments({ name: 'feed', listenPort: 5004, backends: [{ name: 'v1', ports: [25004] }] }));
        fs.writeFileSync(path.join(dir, 'b.yaml'), 'kind: Gadget\nmetadata: {name: g}\n---\napiVersion: mediamesh.io/v1alpha1\nkind: UdpRoute\nmetadata: {name: zz-dup, namespace: media}\nspec: {parentRefs: [{name: feed, port: 5004}], backendRefs: [{name: v1, port: 7000}]}\n');
        const run = mediamesh('validate', dir);
        assert.equal(run.status, 1);
        const lines = run.stdout.trim().split('\n');
        assert.equal(lines.length, 2, run.stdout);
        assert.match(lines[0]!, /b\.yaml: document 1 \(Gadget default\/g\): kind: unknown kind "Gadget"; expected one of UdpRoute, RtspRoute, Service, EndpointSlice/);
        assert.match(lines[1]!, /b\.yaml: document 2 \(UdpRoute media\/zz-dup\): spec\.parentRefs\[0\]\.port: UDP 127\.0\.0\.1:5004 is already served by UdpRoute media\/feed/);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('exits 2 with a message for a path that does not exist', () => {
      const run = mediamesh('validate', '/nonexistent/mediamesh');
      assert.equal(run.status, 2);
      assert.match(run.stderr, /ENOENT|no such file/);
    });
  });

  describe('bootstrap', () => {
    for (const delta of [false, true]) {
      it(`prints a bootstrap Envoy 1.40 accepts (${delta ? 'Delta' : 'SotW'})`, () => {
        const run = mediamesh('bootstrap', '--node-id', 'pod-a', '--xds-address', 'mediamesh.mesh-system.svc:18000', '--admin-port', '15000', ...(delta ? ['--delta'] : []));
        assert.equal(run.status, 0, run.stderr);
        assert.match(run.stdout, delta ? /api_type: DELTA_GRPC/ : /api_type: GRPC/);
        const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mediamesh-bootstrap-')), 'bootstrap.yaml');
        fs.writeFileSync(file, run.stdout);
        const out = execFileSync(envoyBinary(), ['--mode', 'validate', '-c', file, '--disable-hot-restart', '-l', 'error'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
        assert.match(out, /configuration .* OK/);
        fs.rmSync(path.dirname(file), { recursive: true, force: true });
      });
    }

    it('rejects a bad --xds-address', () => {
      const run = mediamesh('bootstrap', '--node-id', 'x', '--xds-address', 'host:notaport');
      assert.equal(run.status, 2);
      assert.match(run.stderr, /bad address "host:notaport"/);
    });
  });
});
