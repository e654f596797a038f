// The `mediamesh` command as a user runs it: serve's admin endpoints and
// clean SIGTERM, validate's exit codes and messages, and a bootstrap that
// Envoy itself accepts.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { parse } from 'yaml';
import { envoyBinary, projectRoot } from '../../xds-server/src/sidecar/envoy-binary.js';
import { TypeUrl } from '../../xds-server/src/xds/type-urls.js';
import { Node } from '../../xds-server/src/gen/envoy/config/core/v3/base.js';
import { adsClient, openSotw } from '../helpers/ads-client.js';
import { ControlPlaneProcess } from '../helpers/control-plane-process.js';
import { ConfigDir, udpRouteDocuments } from '../helpers/mesh-files.js';
import { TestPki } from '../helpers/test-pki.js';

const cli = path.join(projectRoot(), 'bin/mediamesh.js');
const mediamesh = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

/**
 * Runs `mediamesh serve` expecting it to give up: resolves with its exit
 * code and stderr, or with code null if it is still running after
 * timeoutMs (then it is killed).
 */
function serveUntilExit(args: string[], timeoutMs = 10_000): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [cli, 'serve', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve({ code: null, stderr });
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

/** Holds a TCP port on 127.0.0.1 the way another process would. */
async function holdPort(): Promise<net.Server> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

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
      assert.match(metrics, /^mediamesh_xds_disconnected_proxies 0$/m);
      assert.match(metrics, /^mediamesh_route_conditions\{type="Accepted",status="True"\} 1$/m, 'the good route');
      assert.match(metrics, /^mediamesh_route_conditions\{type="Accepted",status="False"\} 1$/m, 'the broken route');
      const routes = JSON.parse((await get('/debug/routes')).text) as { routes: { name: string; status: { parents: { conditions: { type: string; status: string; message: string }[] }[] } }[] };
      const broken = routes.routes.find((r) => r.name === 'broken')!.status.parents[0]!.conditions.find((c) => c.type === 'Accepted')!;
      assert.equal(broken.status, 'False');
      assert.match(broken.message, /spec\.backendRefs: must NOT have fewer than 1 items; nothing of this route is serving/);
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

    it('answers /debug/* for a loopback caller', async () => {
      const res = await fetch(`${cp!.adminUrl}/debug/nodes`);
      assert.equal(res.status, 200);
      assert.ok(Array.isArray(((await res.json()) as { nodes: unknown[] }).nodes));
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

  describe('serve start-up failures', () => {
    const config = new ConfigDir();
    before(() => config.write('feed.yaml', udpRouteDocuments({ name: 'feed', listenPort: 5004, backends: [{ name: 'v1', ports: [25004] }] })));
    after(() => config.cleanup());

    for (const [which, flag, otherFlag] of [['xDS', '--xds-port', '--admin-port'], ['admin', '--admin-port', '--xds-port']] as const) {
      it(`exits non-zero naming the port when the ${which} port is taken`, async () => {
        const held = await holdPort();
        try {
          const port = (held.address() as net.AddressInfo).port;
          const started = Date.now();
          const run = await serveUntilExit(['--config-dir', config.dir, '--listen-host', '127.0.0.1', flag, String(port), otherFlag, '0']);
          assert.notEqual(run.code, null, `serve still running after 10 s:\n${run.stderr}`);
          assert.notEqual(run.code, 0);
          assert.match(run.stderr, new RegExp(`mediamesh serve: cannot listen for ${which} on 127\\.0\\.0\\.1:${port}: .*address already in use.*choose another with ${flag}`));
          assert.ok(Date.now() - started < 10_000);
        } finally {
          held.close();
        }
      });
    }

    it('listens on loopback when no --listen-host is given', async () => {
      const child = spawn(process.execPath, [cli, 'serve', '--config-dir', config.dir, '--xds-port', '0', '--admin-port', '0'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, MEDIAMESH_LOG_LEVEL: 'info' } });
      try {
        const addresses = await new Promise<Record<string, string>>((resolve, reject) => {
          const found: Record<string, string> = {};
          let buffer = '';
          const timer = setTimeout(() => reject(new Error(`no listening lines in 15 s: ${buffer}`)), 15_000);
          child.stderr.on('data', (d: Buffer) => {
            buffer += d.toString();
            for (const line of buffer.split('\n')) {
              const m = /"component":"(xds|admin)","msg":"(?:ADS server|admin) listening","address":"([^"]+)"/.exec(line);
              if (m) found[m[1]!] = m[2]!;
            }
            if (found.xds && found.admin) {
              clearTimeout(timer);
              resolve(found);
            }
          });
        });
        assert.match(addresses.xds!, /^127\.0\.0\.1:\d+$/);
        assert.match(addresses.admin!, /^127\.0\.0\.1:\d+$/);
      } finally {
        child.kill('SIGKILL');
      }
    });

    const refusals: [string, string[], RegExp][] = [
      ['some but not all TLS flags', ['--tls-cert', '/tmp/cert.pem'], /--tls-cert, --tls-key, --client-ca go together: --tls-cert given without --tls-key, --client-ca/],
      ['an unreadable TLS file', ['--tls-cert', '/nonexistent/cert.pem', '--tls-key', '/nonexistent/key.pem', '--client-ca', '/nonexistent/ca.pem'], /--tls-cert \/nonexistent\/cert\.pem: cannot read: ENOENT/],
      ['a relay limit of none', ['--relay-ports', '41000-41015', '--relay-sessions-per-proxy', '0'], /--relay-sessions-per-proxy must be a whole number from 1 to 16384, got "0"/],
      ['a backwards relay port range', ['--relay-ports', '41015-41000'], /--relay-ports: /],
    ];
    for (const [what, args, message] of refusals) {
      it(`exits 2 naming the problem for ${what}`, async () => {
        const run = await serveUntilExit(['--config-dir', config.dir, '--xds-port', '0', '--admin-port', '0', ...args]);
        assert.equal(run.code, 2, run.stderr);
        assert.match(run.stderr, message);
      });
    }

    it('exits 2 when the TLS key does not belong to the certificate', async () => {
      const pki = new TestPki();
      try {
        const ca = pki.ca('ca');
        const a = pki.issue('a', ca, ['IP = 127.0.0.1']);
        const b = pki.issue('b', ca, ['IP = 127.0.0.1']);
        const run = await serveUntilExit(['--config-dir', config.dir, '--xds-port', '0', '--admin-port', '0', '--tls-cert', a.cert, '--tls-key', b.key, '--client-ca', ca.cert]);
        assert.equal(run.code, 2, run.stderr);
        assert.match(run.stderr, /--tls-cert .*a\.crt \/ --tls-key .*b\.key: not a usable certificate and key: .*key values mismatch/);
      } finally {
        pki.cleanup();
      }
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

    it('exits 1 for a route with two parents on one port and for a small route asking for thousands of listeners', () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mediamesh-validate-'));
      try {
        fs.writeFileSync(path.join(dir, 'a.yaml'), udpRouteDocuments({ name: 'feed', listenPort: 5004, backends: [{ name: 'v1', ports: [25004] }] }));
        const svc = (name: string, ip: string, port: number) => `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}, namespace: media}\nspec: {clusterIP: ${ip}, ports: [{port: ${port}, protocol: UDP}]}\n`;
        const ranges = Array.from({ length: 16 }, (_, i) => `{name: wide, port: ${2000 + i * 1000}, endPort: ${2999 + i * 1000}}`).join(', ');
        fs.writeFileSync(path.join(dir, 'b.yaml'), [
          svc('other', '127.0.0.2', 5004),
          svc('wide', '127.0.0.3', 2000),
          'apiVersion: mediamesh.io/v1alpha1\nkind: UdpRoute\nmetadata: {name: two-parents, namespace: media}\nspec: {parentRefs: [{name: other, port: 5004}, {name: feed, port: 5004}], backendRefs: [{name: v1, port: 7000}]}\n',
          `apiVersion: mediamesh.io/v1alpha1\nkind: UdpRoute\nmetadata: {name: wide, namespace: media}\nspec: {parentRefs: [${ranges}], backendRefs: [{name: v1, port: 7000}]}\n`,
        ].join('---\n'));
        const run = mediamesh('validate', dir);
        assert.equal(run.status, 1, run.stdout + run.stderr);
        assert.match(run.stdout, /\(UdpRoute media\/two-parents\): spec\.parentRefs\[1\]\.port: port 5004 is already served by this route through spec\.parentRefs\[0\]/);
        assert.match(run.stdout, /\(UdpRoute media\/wide\): spec\.parentRefs\[\d+\]\.endPort: the route would serve more than 1000 ports/);
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

    it('puts the proxy\'s identity in node metadata, gateway by default', () => {
      const metadata = (...args: string[]) => (parse(mediamesh('bootstrap', '--node-id', 'p', ...args).stdout) as { node: { metadata: Record<string, string> } }).node.metadata;
      assert.deepEqual(metadata('--namespace', 'media', '--pod-ip', '10.1.2.3'), { 'mediamesh.io/bootstrap': 'v1', 'mediamesh.io/namespace': 'media', 'mediamesh.io/pod-ip': '10.1.2.3', 'mediamesh.io/role': 'sidecar' });
      assert.deepEqual(metadata(), { 'mediamesh.io/bootstrap': 'v1', 'mediamesh.io/role': 'gateway' });
      assert.deepEqual(metadata('--namespace', 'edge', '--role', 'gateway'), { 'mediamesh.io/bootstrap': 'v1', 'mediamesh.io/namespace': 'edge', 'mediamesh.io/role': 'gateway' });
      assert.deepEqual(metadata('--namespace', 'media', '--rtsp-ports', '554,8554', '--inbound-rtsp-ports', '', '--inbound-udp-ports', '25004-25005'), {
        'mediamesh.io/bootstrap': 'v1', 'mediamesh.io/namespace': 'media', 'mediamesh.io/role': 'sidecar', 'mediamesh.io/rtsp-ports': '554,8554', 'mediamesh.io/inbound-udp-ports': '25004-25005',
      });
    });

    for (const [what, xdsAddress, san, sni] of [['a DNS name', 'mediamesh.mediamesh-system.svc:18000', { san_type: 'DNS', matcher: { exact: 'mediamesh.mediamesh-system.svc' } }, 'mediamesh.mediamesh-system.svc'], ['an IP', '127.0.0.1:18000', { san_type: 'IP_ADDRESS', matcher: { exact: '127.0.0.1' } }, undefined]] as const) {
      it(`prints an mTLS bootstrap Envoy 1.40 accepts, checking the control plane's SAN against ${what}`, () => {
        const pki = new TestPki();
        try {
          const ca = pki.ca('ca');
          const proxy = pki.issue('proxy', ca, ['URI = spiffe://cluster.local/ns/media/sa/cam']);
          const run = mediamesh('bootstrap', '--node-id', 'pod-a', '--xds-address', xdsAddress, '--namespace', 'media', '--tls-cert', proxy.cert, '--tls-key', proxy.key, '--ca', ca.cert);
          assert.equal(run.status, 0, run.stderr);
          const clusters = (parse(run.stdout) as { static_resources: { clusters: { name: string; transport_socket?: { typed_config: Record<string, unknown> } }[] } }).static_resources.clusters;
          const tls = clusters.find((c) => c.name === 'mediamesh-xds')!.transport_socket!.typed_config as { sni?: string; common_tls_context: { alpn_protocols: string[]; tls_certificates: unknown[]; validation_context: Record<string, unknown> } };
          assert.equal(tls.sni, sni);
          assert.deepEqual(tls.common_tls_context.alpn_protocols, ['h2']);
          assert.deepEqual(tls.common_tls_context.tls_certificates, [{ certificate_chain: { filename: proxy.cert }, private_key: { filename: proxy.key } }]);
          assert.deepEqual(tls.common_tls_context.validation_context, { trusted_ca: { filename: ca.cert }, match_typed_subject_alt_names: [san] });
          assert.equal(clusters.find((c) => c.name === 'mediamesh-extensions')!.transport_socket, undefined, 'the extensions cluster stays plain HTTP');
          const file = path.join(pki.dir, 'bootstrap.yaml');
          fs.writeFileSync(file, run.stdout);
          const out = execFileSync(envoyBinary(), ['--mode', 'validate', '-c', file, '--disable-hot-restart', '-l', 'error'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
          assert.match(out, /configuration .* OK/);
        } finally {
          pki.cleanup();
        }
      });
    }

    const refusals: [string, string[], RegExp][] = [
      ['a namespace that is no DNS label', ['--namespace', 'Media'], /--namespace "Media" is not a Kubernetes namespace name/],
      ['a pod IP that is no IP', ['--pod-ip', 'pod-a'], /--pod-ip "pod-a" is not an IP address/],
      ['an unknown role', ['--role', 'router'], /--role "router" must be one of sidecar, gateway/],
      ['a sidecar without a namespace', ['--role', 'sidecar'], /--role sidecar needs --namespace/],
      ['more inbound UDP ports than the interception script takes', ['--namespace', 'media', '--inbound-udp-ports', '10000-10064'], /--inbound-udp-ports: 65 ports; at most 64/],
      ['captured ports on a gateway', ['--rtsp-ports', '554'], /--rtsp-ports: only a sidecar's pod is intercepted/],
      ['some but not all TLS flags', ['--tls-cert', 'c.pem', '--ca', 'ca.pem'], /--tls-cert, --tls-key, --ca go together: --tls-cert, --ca given without --tls-key/],
    ];
    for (const [what, args, message] of refusals) {
      it(`exits 2 naming the problem for ${what}`, () => {
        const run = mediamesh('bootstrap', '--node-id', 'x', ...args);
        assert.equal(run.status, 2);
        assert.match(run.stderr, message);
      });
    }

    it('rejects a bad --xds-address', () => {
      const run = mediamesh('bootstrap', '--node-id', 'x', '--xds-address', 'host:notaport');
      assert.equal(run.status, 2);
      assert.match(run.stderr, /bad address "host:notaport"/);
    });
  });
});
