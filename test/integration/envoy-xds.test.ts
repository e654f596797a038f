// A real Envoy, bootstrapped by `mediamesh bootstrap`, against a real
// `mediamesh serve` process; exercised over both SotW and Delta ADS.
import assert from 'node:assert/strict';
import { bootstrapYaml } from '../../xds-server/src/bootstrap/envoy-bootstrap.js';
import { EnvoyProcess } from '../../xds-server/src/sidecar/envoy-process.js';
import { ControlPlaneProcess } from '../helpers/control-plane-process.js';
import { ConfigDir, udpRouteDocuments } from '../helpers/mesh-files.js';
import { waitFor } from '../helpers/poll.js';
import { freeUdpPort } from '../helpers/ports.js';
import { UdpClient, UdpEchoBackend } from '../helpers/udp.js';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { projectRoot } from '../../xds-server/src/sidecar/envoy-binary.js';

/** The bootstrap exactly as the CLI prints it. */
function cliBootstrap(nodeId: string, xdsPort: number, delta: boolean): string {
  const cli = path.join(projectRoot(), 'bin/mediamesh.js');
  const yaml = execFileSync(process.execPath, [cli, 'bootstrap', '--node-id', nodeId, '--xds-address', `127.0.0.1:${xdsPort}`, '--admin-port', '0', ...(delta ? ['--delta'] : [])], { encoding: 'utf8' });
  // Sanity: the CLI and the library agree.
  assert.equal(yaml, bootstrapYaml({ nodeId, cluster: 'mediamesh-proxy', xdsHost: '127.0.0.1', xdsPort, adminAddress: '127.0.0.1', adminPort: 0, delta }));
  return yaml;
}

for (const mode of ['sotw', 'delta'] as const) {
  describe(`Envoy over ADS (${mode})`, function () {
    this.timeout(90_000);
    const config = new ConfigDir();
    let controlPlane: ControlPlaneProcess | undefined;
    let envoy: EnvoyProcess | undefined;
    let client: UdpClient;
    const backends: UdpEchoBackend[] = [];
    let listenPort: number;
    const nodeId = `sidecar-${mode}`;

    before(async () => {
      listenPort = await freeUdpPort();
      backends.push(await UdpEchoBackend.start('v1'), await UdpEchoBackend.start('v2'));
      config.write('feed.yaml', udpRouteDocuments({ name: 'feed', listenPort, backends: [{ name: 'feed-v1', ports: [backends[0]!.port] }] }));
      controlPlane = await ControlPlaneProcess.start(config.dir);
      envoy = await EnvoyProcess.start({ bootstrapYaml: cliBootstrap(nodeId, controlPlane.xdsPort, mode === 'delta') });
      client = await UdpClient.open();
    });

    after(async () => {
      await envoy?.stop();
      await controlPlane?.stop();
      await client?.close();
      await Promise.all(backends.map((b) => b.close()));
      config.cleanup();
    });

    const listenerName = () => `udp~media~feed~${listenPort}`;
    const reply = (payload: string) => client.exchange(listenPort, payload, 500);

    it('receives the UDP listener and forwards a datagram to the backend and back', async () => {
      await waitFor('listener in /listeners', async () => (await envoy!.admin.listenerNames()).includes(listenerName()));
      const dumped = await envoy!.admin.dynamicListeners();
      assert.deepEqual(dumped.map((l) => l.name), [listenerName()]);
      assert.ok(dumped[0]!.versionInfo, 'listener carries the version the control plane sent');
      assert.equal(await waitFor('echo through Envoy', () => reply('ping')), 'v1:ping');
      assert.ok((await envoy!.admin.stat(`udp.media.feed.${listenPort}.downstream_sess_rx_datagrams`)) >= 1);
      const node = (await controlPlane!.debugNodes()).nodes.find((n) => n.id === nodeId)!;
      assert.equal(node.connected, true);
      for (const type of ['CDS', 'EDS', 'LDS']) assert.equal(node.types[type]!.ackedVersion, node.types[type]!.sentVersion, `${type} ACKed`);
    });

    it('applies a route change live, through EDS, without touching the listener', async () => {
      const modifiedBefore = await envoy!.admin.stat('listener_manager.listener_modified');
      const pid = envoy!.pid;
      config.write('feed.yaml', udpRouteDocuments({ name: 'feed', listenPort, backends: [{ name: 'feed-v1', ports: [backends[1]!.port] }] }));
      // A new source port is a new session, so each probe is routed afresh.
      await waitFor('traffic on the new backend', async () => {
        const fresh = await UdpClient.open();
        try {
          return (await fresh.exchange(listenPort, 'x', 300)) === 'v2:x';
        } finally {
          await fresh.close();
        }
      });
      assert.equal(envoy!.pid, pid);
      assert.ok(envoy!.isRunning());
      assert.equal(await envoy!.admin.stat('listener_manager.listener_modified'), modifiedBefore, 'listener untouched');
    });

    it('records a NACK with Envoy\'s error and keeps serving the last good listener', async () => {
      const badPort = await freeUdpPort();
      // 192.0.2.1 (TEST-NET-1) is on no interface here: Envoy cannot bind it and rejects the listener.
      config.write('bad.yaml', udpRouteDocuments({ name: 'unbindable', listenPort: badPort, clusterIP: '192.0.2.1', backends: [{ name: 'unbindable-v1', ports: [backends[0]!.port] }] }));
      const nack = await waitFor('NACK recorded', async () => (await controlPlane!.debugNodes()).nodes.find((n) => n.id === nodeId)?.types.LDS?.lastNack);
      assert.match(nack.error, /192\.0\.2\.1/);
      assert.match(nack.error, /bind|assign/i);
      const metrics = await (await fetch(`${controlPlane!.adminUrl}/metrics`)).text();
      assert.match(metrics, /mediamesh_xds_nacks_total\{type="LDS"\} [1-9]/);
      const status = execFileSync(process.execPath, [path.join(projectRoot(), 'bin/mediamesh.js'), 'status', '--admin-url', controlPlane!.adminUrl], { encoding: 'utf8' });
      assert.match(status, new RegExp(`${nodeId}[\\s\\S]*LDS[\\s\\S]*192\\.0\\.2\\.1`));
      // The good listener still forwards.
      assert.ok((await envoy!.admin.listenerNames()).includes(listenerName()));
      assert.equal(await waitFor('echo after NACK', () => reply('still')), 'v2:still');
      // Fixing the config gets an ACK again.
      config.remove('bad.yaml');
      await waitFor('LDS ACKed after the fix', async () => {
        const lds = (await controlPlane!.debugNodes()).nodes.find((n) => n.id === nodeId)?.types.LDS;
        return lds && lds.ackedVersion === lds.sentVersion && lds.ackedVersion !== nack.version;
      });
    });

    it('keeps forwarding while the control plane is down and resyncs without draining listeners', async () => {
      const xdsPort = controlPlane!.xdsPort;
      const before = {
        added: await envoy!.admin.stat('listener_manager.listener_added'),
        modified: await envoy!.admin.stat('listener_manager.listener_modified'),
        removed: await envoy!.admin.stat('listener_manager.listener_removed'),
      };
      await controlPlane!.stop('SIGKILL');
      await waitFor('Envoy notices the control plane is gone', async () => (await envoy!.admin.stat('control_plane.connected_state')) === 0);
      assert.equal(await waitFor('echo with no control plane', () => reply('alone')), 'v2:alone');

      controlPlane = await ControlPlaneProcess.start(config.dir, xdsPort);
      await waitFor('Envoy reconnects', async () => (await envoy!.admin.stat('control_plane.connected_state')) === 1, 20_000);
      await waitFor('node known again', async () => (await controlPlane!.debugNodes()).nodes.find((n) => n.id === nodeId)?.connected);
      assert.equal(await reply('back'), 'v2:back');
      assert.deepEqual({
        added: await envoy!.admin.stat('listener_manager.listener_added'),
        modified: await envoy!.admin.stat('listener_manager.listener_modified'),
        removed: await envoy!.admin.stat('listener_manager.listener_removed'),
      }, before, 'no listener was re-added, modified or removed');
      assert.equal(await envoy!.admin.stat('listener_manager.total_listeners_draining'), 0);
    });
  });
}
