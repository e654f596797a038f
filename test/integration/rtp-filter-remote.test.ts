// The RTP filter delivered the way a stock Envoy image needs it: fetched from
// the control plane over HTTP and checked against its sha256. Envoy NACKs the
// listener while the download runs; the control plane offers it again.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bootstrapYaml } from '../../xds-server/src/bootstrap/envoy-bootstrap.js';
import { builtRtpModulePath } from '../../xds-server/src/cli/rtp-module-option.js';
import { EnvoyProcess } from '../../xds-server/src/sidecar/envoy-process.js';
import { ControlPlaneProcess } from '../helpers/control-plane-process.js';
import { ConfigDir, udpRouteDocuments } from '../helpers/mesh-files.js';
import { waitFor } from '../helpers/poll.js';
import { freeUdpPort } from '../helpers/ports.js';

function rtpPacket(seq: number, ssrc: number): Buffer {
  const packet = Buffer.alloc(12 + 160);
  packet[0] = 0x80;
  packet[1] = 96;
  packet.writeUInt16BE(seq & 0xffff, 2);
  packet.writeUInt32BE((seq * 3000) >>> 0, 4);
  packet.writeUInt32BE(ssrc, 8);
  return packet;
}

describe('RTP filter fetched from the control plane (remote module with sha256)', function () {
  this.timeout(60_000);
  const config = new ConfigDir();
  let cp: ControlPlaneProcess | undefined;
  let envoy: EnvoyProcess | undefined;
  let sink: dgram.Socket | undefined;
  let received = 0;
  let listenPort = 0;

  before(async () => {
    const module = builtRtpModulePath();
    assert.ok(module, 'the RTP filter is not built: run npm run setup');
    // Envoy caches fetched modules by sha256 under the temp dir: start cold so the fetch really happens.
    const sha256 = createHash('sha256').update(fs.readFileSync(module)).digest('hex');
    fs.rmSync(path.join(os.tmpdir(), `envoy_dynamic_module_${sha256}.so`), { force: true });
    sink = dgram.createSocket('udp4');
    sink.on('message', () => received++);
    await new Promise<void>((resolve) => sink!.bind(0, '127.0.0.1', () => resolve()));
    listenPort = await freeUdpPort();
    config.write('feed.yaml', udpRouteDocuments({ name: 'feed', listenPort, backends: [{ name: 'feed-v1', ports: [sink.address().port] }], extraSpec: { protocol: 'RTP' } }));
    cp = await ControlPlaneProcess.start(config.dir, 0, ['--rtp-module', 'remote']);
    envoy = await EnvoyProcess.start({ bootstrapYaml: bootstrapYaml({ nodeId: 'remote-module', cluster: 'mediamesh-proxy', xdsHost: '127.0.0.1', xdsPort: cp.xdsPort, adminAddress: '127.0.0.1', adminPort: 0, delta: false, extensionsHost: '127.0.0.1', extensionsPort: cp.adminPort }) });
  });

  after(async () => {
    await envoy?.stop();
    await cp?.stop();
    sink?.close();
    config.cleanup();
  });

  it('NACKs while fetching, gets the listener again, and counts RTP through it', async () => {
    await waitFor('RTP listener active in Envoy', async () => (await envoy!.admin.listenerNames()).some((n) => n.startsWith('udp~media~feed~')), 30_000);
    const lds = (await cp!.debugNodes()).nodes.find((n) => n.id === 'remote-module')!.types.LDS!;
    assert.match(lds.lastNack?.error ?? '', /not cached; background fetch in progress/, 'the first offer was NACKed while Envoy fetched the module');
    await waitFor('LDS ACKed after the fetch', async () => {
      const t = (await cp!.debugNodes()).nodes.find((n) => n.id === 'remote-module')!.types.LDS!;
      return t.ackedVersion === t.sentVersion;
    });
    assert.ok(cp!.logLines().some((l) => l.includes('"msg":"serving extension"')), 'Envoy downloaded the .so from the control plane');

    const sender = dgram.createSocket('udp4');
    try {
      for (let seq = 1; seq <= 200; seq++) if (seq % 50 !== 0) sender.send(rtpPacket(seq, 0xfeed), listenPort, '127.0.0.1');
      await waitFor('all packets through', () => received === 196);
      const stats = await waitFor('filter counted them', async () => {
        const s = await envoy!.admin.stats('^mediamesh\\.rtp\\.media\\.feed\\.');
        return s.get('mediamesh.rtp.media.feed.packets') === 196 ? s : undefined;
      });
      assert.equal((stats.get('mediamesh.rtp.media.feed.lost') ?? 0) + (stats.get('mediamesh.rtp.media.feed.lost_pending') ?? 0), 3, 'seq 50, 100 and 150 are missing (200 is past the end)');
    } finally {
      sender.close();
    }
  });
});
