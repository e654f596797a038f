// RTSP relays on a real Envoy: the relay API (what a proxy's RTSP filter calls
// on a client's SETUP) pushes per-session UDP listeners to the asking proxy
// only, answers once that proxy ACKed them, and real datagrams then cross
// them both ways; TEARDOWN, the session timeout and a NACK all leave no
// listener and return the ports; only the proxy itself may ask.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { bootstrapYaml } from '../../xds-server/src/bootstrap/envoy-bootstrap.js';
import { rtpModuleFromOption } from '../../xds-server/src/cli/rtp-module-option.js';
import { type RunningControlPlane, startControlPlane } from '../../xds-server/src/cli/serve.js';
import { EnvoyProcess } from '../../xds-server/src/sidecar/envoy-process.js';
import { ConfigDir } from '../helpers/mesh-files.js';
import { waitFor } from '../helpers/poll.js';
import { freeUdpPort } from '../helpers/ports.js';

const NODE = 'camera-proxy';

class Socket {
  readonly received: string[] = [];
  private constructor(readonly socket: dgram.Socket, readonly port: number) {
    socket.on('message', (m) => this.received.push(m.toString()));
  }
  static async open(): Promise<Socket> {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
    return new Socket(s, s.address().port);
  }
  send(port: number, text: string): void {
    this.socket.send(text, port, '127.0.0.1');
  }
  close(): void {
    this.socket.close();
  }
}

/** An even port P such that P..P+7 looked free (the pool holds four pairs). */
async function freeRange(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const base = (await freeUdpPort()) & ~7;
    if (base >= 1024 && base + 7 <= 65535) return base;
  }
  throw new Error('no free port range');
}

describe('RTSP relays on a real Envoy', function () {
  this.timeout(120_000);
  const config = new ConfigDir();
  let cp: RunningControlPlane;
  let envoy: EnvoyProcess;
  let base: number;
  let api: string;
  const sockets: Socket[] = [];
  let squatter: dgram.Socket | undefined;

  const call = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${api}${path}`, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) as Record<string, unknown> : {} };
  };
  const relayListeners = async () => (await envoy.admin.listenerNames()).filter((n) => n.startsWith('udp~relays~'));
  const socket = async () => {
    const s = await Socket.open();
    sockets.push(s);
    return s;
  };

  before(async () => {
    base = await freeRange();
    config.write('empty.yaml', '');
    cp = await startControlPlane({ configDir: config.dir, listenHost: '127.0.0.1', xdsPort: 0, adminPort: 0, debounceMs: 50, rtpModule: rtpModuleFromOption(undefined), relayPorts: `${base}-${base + 7}`, relaySessionTimeoutMs: 1500 });
    api = `http://127.0.0.1:${cp.adminPort}/relays/v1`;
    envoy = await EnvoyProcess.start({ bootstrapYaml: bootstrapYaml({ nodeId: NODE, cluster: 'mediamesh-proxy', xdsHost: '127.0.0.1', xdsPort: cp.xdsPort, adminAddress: '127.0.0.1', adminPort: 0, delta: false, namespace: 'media' }) });
    await waitFor('the proxy to connect', () => cp.controlPlane.cache.nodeStatus(NODE)?.connected === true, 30_000);
  });

  after(async () => {
    for (const s of sockets) s.close();
    squatter?.close();
    await envoy?.stop();
    await cp?.stop();
    config.cleanup();
  });

  it('answers 503 with Envoy\'s words when the proxy rejects the relays, and keeps nothing of them', async () => {
    // The pool's first pair goes to the first session: hold its RTP port, so Envoy cannot bind it and NACKs.
    squatter = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      squatter!.once('error', reject);
      squatter!.bind(base, '0.0.0.0', resolve);
    });
    try {
      const failed = await call('POST', '/sessions', { node: NODE, session: 'unbindable', client: { address: '127.0.0.1', rtp: 5000, rtcp: 5001 } });
      assert.equal(failed.status, 503, JSON.stringify(failed.body));
      assert.match(String(failed.body.error), new RegExp(`${base}`));
      assert.deepEqual(cp.relays!.list(), []);
      await waitFor('no relay listener after the NACK', async () => (await relayListeners()).length === 0, 10_000);
    } finally {
      squatter.close();
      squatter = undefined;
    }
  });

  it('answers a SETUP\'s request once the proxy holds the relays, and media crosses them both ways', async () => {
    const [client, clientRtcp, server, serverRtcp] = [await socket(), await socket(), await socket(), await socket()];
    const open = await call('POST', '/sessions', { node: NODE, session: 'cam1-A', client: { address: '127.0.0.1', rtp: client.port, rtcp: clientRtcp.port } });
    assert.equal(open.status, 200, JSON.stringify(open.body));
    const grant = open.body as { toClient: { rtp: number; rtcp: number }; toServer: { rtp: number; rtcp: number } };
    // Answered after the ACK: the listeners are there now, no waiting.
    assert.deepEqual((await relayListeners()).map((n) => Number(n.split('~').at(-1))).sort(), [grant.toClient.rtp, grant.toClient.rtcp]);

    server.send(grant.toClient.rtp, 'rtp from the server');
    server.send(grant.toClient.rtcp, 'rtcp from the server');
    await waitFor('RTP and RTCP at the client', () => client.received.length > 0 && clientRtcp.received.length > 0, 10_000);
    assert.deepEqual([client.received[0], clientRtcp.received[0]], ['rtp from the server', 'rtcp from the server']);

    assert.equal((await call('PUT', `/sessions/${NODE}/cam1-A/server`, { address: '127.0.0.1', rtp: server.port, rtcp: serverRtcp.port })).status, 204);
    clientRtcp.send(grant.toServer.rtcp, 'receiver report');
    await waitFor('RTCP at the server', () => serverRtcp.received.length > 0, 10_000);
    assert.equal(serverRtcp.received[0], 'receiver report');

    assert.equal((await call('POST', `/sessions/${NODE}/cam1-A/refresh`)).status, 204);
    assert.equal((await call('DELETE', `/sessions/${NODE}/cam1-A`)).status, 204);
    await waitFor('no relay listener after TEARDOWN', async () => (await relayListeners()).length === 0, 10_000);
    assert.deepEqual(cp.relays!.list(), []);
  });

  it('ends a session nothing refreshed once its timeout passes', async () => {
    const open = await call('POST', '/sessions', { node: NODE, session: 'abandoned', client: { address: '127.0.0.1', rtp: 5000, rtcp: 5001 } });
    assert.equal(open.status, 200);
    assert.equal((await relayListeners()).length, 2);
    await waitFor('the session to time out', async () => (await relayListeners()).length === 0 && cp.relays!.list().length === 0, 10_000, 100);
  });

  it('refuses a proxy that is not connected, and bad requests', async () => {
    const stranger = await call('POST', '/sessions', { node: 'someone-else', session: 'x', client: { address: '127.0.0.1', rtp: 5000, rtcp: 5001 } });
    assert.equal(stranger.status, 403);
    assert.match(String(stranger.body.error), /only proxy someone-else itself/);
    assert.equal((await call('POST', '/sessions', { node: NODE, session: 'bad id!', client: { address: '127.0.0.1', rtp: 5000, rtcp: 5001 } })).status, 400);
    assert.equal((await call('POST', '/sessions', { node: NODE, session: 'y', client: { address: 'not-an-ip', rtp: 5000, rtcp: 5001 } })).status, 400);
    assert.equal((await call('DELETE', `/sessions/someone-else/x`)).status, 403);
    assert.equal((await call('POST', `/sessions/${NODE}/unknown/refresh`)).status, 404);
    const huge = await fetch(`${api}/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ node: NODE, session: 'z', pad: 'x'.repeat(10_000) }) });
    assert.equal(huge.status, 400);
  });
});
