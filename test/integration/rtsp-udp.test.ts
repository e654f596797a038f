// RTSP with UDP transport through one proxy (file mode, a gateway), with real
// peers: a GStreamer camera, a control plane serving relay ports, a real
// Envoy running the RTSP Wasm filter, and unmodified ffmpeg and GStreamer
// clients asking for `RTP/AVP;unicast;client_port=a-b`. The filter holds each
// SETUP while the control plane pushes that session's relay listeners (with
// the RTP filter) to this proxy and awaits its ACK, rewrites the Transport of
// the SETUP and of its reply, and ends the relays with TEARDOWN or the
// connection. Orchestration failing answers 503 at once, never a hang.
import assert from 'node:assert/strict';
import { bootstrapYaml } from '../../xds-server/src/bootstrap/envoy-bootstrap.js';
import { rtpModuleFromOption } from '../../xds-server/src/cli/rtp-module-option.js';
import { builtRtspFilterPath, rtspFilterFromOption } from '../../xds-server/src/cli/rtsp-filter-option.js';
import { type RunningControlPlane, startControlPlane } from '../../xds-server/src/cli/serve.js';
import { EnvoyProcess } from '../../xds-server/src/sidecar/envoy-process.js';
import { ConfigDir, rtspRouteDocuments } from '../helpers/mesh-files.js';
import { waitFor } from '../helpers/poll.js';
import { freeTcpPort, freeUdpPort } from '../helpers/ports.js';
import { gstReachedEos, requireRtspTools, rtspExchange, RtspServerProcess, runClient } from '../helpers/rtsp.js';

const NAMESPACE = 'media';
const ROUTE = 'cameras';
const NODE = 'rtsp-gateway';
const STATS = `wasmcustom.mediamesh.rtsp.${NAMESPACE}.${ROUTE}.`;
/** Pairs in the relay pool: each relayed stream takes two (toClient, toServer). */
const POOL_PAIRS = 8;

function meshDocuments(listenPort: number, cameraPort: number): string {
  return rtspRouteDocuments({
    name: ROUTE,
    listenPort,
    backends: [{ name: 'cam', port: cameraPort }],
    rules: [
      { matches: [{ path: { type: 'PathPrefix', value: '/tcp-only' } }], transport: 'TCP', backendRefs: [{ name: 'cam' }] },
      { backendRefs: [{ name: 'cam' }] },
    ],
  }, NAMESPACE);
}

/** An even port P such that P..P+2*POOL_PAIRS-1 looked free. */
async function freeRange(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const base = (await freeUdpPort()) & ~15;
    if (base >= 1024 && base + 2 * POOL_PAIRS - 1 <= 65535) return base;
  }
  throw new Error('no free port range');
}

describe('RTSP with UDP transport through relays (one proxy, ffmpeg and GStreamer clients)', function () {
  this.timeout(180_000);
  const config = new ConfigDir();
  let cp: RunningControlPlane | undefined;
  let envoy: EnvoyProcess | undefined;
  let camera: RtspServerProcess | undefined;
  let port = 0;

  const url = (path: string) => `rtsp://127.0.0.1:${port}${path}`;
  const relayListeners = async () => (await envoy!.admin.listenerNames()).filter((n) => n.startsWith('udp~relays~'));
  const stats = async () => envoy!.admin.stats('mediamesh');
  const stat = (s: Map<string, number>, name: string) => s.get(STATS + name) ?? 0;
  /** RTP packets the relay listeners' RTP filter counted: mediamesh.rtp.relays.<node>.<relay>.packets. */
  const relayedRtp = (s: Map<string, number>) => [...s].filter(([k]) => /^mediamesh\.rtp\.relays\..*\.packets$/.test(k)).reduce((n, [, v]) => n + v, 0);

  before(async function () {
    this.timeout(90_000);
    requireRtspTools();
    assert.ok(builtRtspFilterPath(), 'the RTSP filter is not built: run npm run setup');
    camera = await RtspServerProcess.start({ name: 'v1', payloadType: 96, paths: ['/cam1', '/tcp-only'] });
    port = await freeTcpPort();
    const base = await freeRange();
    config.write('cameras.yaml', meshDocuments(port, camera.port));
    cp = await startControlPlane({
      configDir: config.dir, listenHost: '127.0.0.1', xdsPort: 0, adminPort: 0, debounceMs: 50,
      rtpModule: rtpModuleFromOption(undefined), rtspFilter: rtspFilterFromOption(undefined),
      relayPorts: `${base}-${base + 2 * POOL_PAIRS - 1}`, relaySessionTimeoutMs: 3000,
    });
    envoy = await EnvoyProcess.start({
      bootstrapYaml: bootstrapYaml({ nodeId: NODE, cluster: 'mediamesh-proxy', xdsHost: '127.0.0.1', xdsPort: cp.xdsPort, extensionsHost: '127.0.0.1', extensionsPort: cp.adminPort, adminAddress: '127.0.0.1', adminPort: 0, delta: false }),
      concurrency: 2,
    });
    await waitFor('the RTSP listener active in Envoy', async () => (await envoy!.admin.listenerNames()).includes(`rtsp~${NAMESPACE}~${ROUTE}~${port}`), 30_000);
  });

  after(async () => {
    await Promise.allSettled([envoy?.stop(), camera?.stop()]);
    await cp?.stop();
    config.cleanup();
  });

  it('ffmpeg over UDP decodes frames relayed through the proxy, and the relays go with the session', async () => {
    const before = await stats();
    const run = await runClient('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-rtsp_transport', 'udp', '-i', url('/cam1'), '-frames:v', '40', '-f', 'null', '-'], 40_000);
    assert.equal(run.code, 0, `ffmpeg failed (${run.signal ?? run.code}): ${run.output}`);
    assert.equal(run.output.trim(), '', 'ffmpeg reported errors');
    const after = await waitFor('the relays counted and ended', async () => {
      const s = await stats();
      return stat(s, 'relays.active') === 0 && stat(s, 'relays.granted') > stat(before, 'relays.granted') ? s : undefined;
    }, 10_000);
    assert.equal(stat(after, 'relays.failed'), stat(before, 'relays.failed'));
    assert.equal(stat(after, 'rtp.packets'), stat(before, 'rtp.packets'), 'no interleaved RTP: the media went over UDP');
    assert.ok(relayedRtp(after) - relayedRtp(before) >= 40, `the relay's RTP filter saw the frames' packets (${relayedRtp(after) - relayedRtp(before)})`);
    await waitFor('no relay listener left after TEARDOWN', async () => (await relayListeners()).length === 0, 10_000);
    assert.deepEqual(cp!.relays!.list(), []);
  });

  it('GStreamer rtspsrc over UDP plays through the relays', async () => {
    const run = await runClient('gst-launch-1.0', ['rtspsrc', `location=${url('/cam1')}`, 'protocols=udp', '!', 'rtpvp8depay', '!', 'vp8dec', '!', 'fakesink', 'num-buffers=30'], 40_000);
    // rtspsrc has no frame limit of its own: the sink's num-buffers ends the pipeline with EOS.
    const eos = gstReachedEos(run);
    assert.ok(eos.ok, eos.why);
    await waitFor('no relay listener left', async () => (await relayListeners()).length === 0, 10_000);
  });

  it('RTCP crosses the relays both ways: the server\'s reports to the client, the client\'s to the server', async () => {
    const done = new AbortController();
    const run = runClient('gst-launch-1.0', ['-q', 'rtspsrc', `location=${url('/cam1')}`, 'protocols=udp', '!', 'rtpvp8depay', '!', 'vp8dec', '!', 'fakesink'], 40_000, done.signal);
    const relay = await waitFor('a relayed stream', () => cp!.relays!.list()[0], 10_000);
    const received = async (port: number) => {
      const s = await envoy!.admin.stats('^udp\\.relays\\.');
      return [...s].filter(([k]) => k.endsWith(`.${port}.downstream_sess_rx_datagrams`)).reduce((n, [, v]) => n + v, 0);
    };
    // RTCP reports come every few seconds (RFC 3550's interval, at least 5 s on average, randomized, the first sooner);
    // the client plays until both were seen, for at most 40 s.
    await waitFor('a server report relayed toward the client', async () => (await received(relay.toClient.rtcp)) > 0, 30_000);
    await waitFor('a client report relayed toward the server', async () => (await received(relay.toServer.rtcp)) > 0, 30_000);
    assert.ok((await received(relay.toClient.rtp)) > 0, 'and RTP toward the client');
    done.abort();
    await run;
    await waitFor('no relay listener left', async () => (await relayListeners()).length === 0, 10_000);
  });

  it('a client killed with SIGKILL leaves no relay listener behind', async () => {
    const run = runClient('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-rtsp_transport', 'udp', '-i', url('/cam1'), '-t', '60', '-f', 'null', '-'], 8_000);
    await waitFor('relays while it plays', async () => (await relayListeners()).length >= 2, 15_000);
    const result = await run;
    assert.equal(result.signal, 'SIGKILL');
    await waitFor('no relay listener left after the connection closed', async () => (await relayListeners()).length === 0, 10_000);
    assert.deepEqual(cp!.relays!.list(), []);
  });

  it('a route that allows TCP only answers a UDP SETUP with 461, and no relay is asked for', async () => {
    const before = await stats();
    const setup = `SETUP ${url('/tcp-only/stream=0')} RTSP/1.0\r\nCSeq: 3\r\nTransport: RTP/AVP;unicast;client_port=5000-5001\r\n\r\n`;
    const exchange = await rtspExchange(port, setup, { timeoutMs: 5000 });
    assert.equal(exchange.response?.status, 461, exchange.received);
    assert.equal(exchange.response?.headers.get('cseq'), '3');
    const after = await stats();
    assert.equal(stat(after, 'transport_refused') - stat(before, 'transport_refused'), 1);
    assert.equal(stat(after, 'relays.requested'), stat(before, 'relays.requested'));
  });

  it('with every relay port in use, a SETUP gets 503 at once and the session after it still plays', async () => {
    // Hold the whole pool through the API, as other sessions would.
    const api = `http://127.0.0.1:${cp!.adminPort}/relays/v1/sessions`;
    const held: string[] = [];
    for (let i = 0; i < POOL_PAIRS / 2; i++) {
      const r = await fetch(api, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ node: NODE, session: `hold-${i}`, client: { address: '127.0.0.1', rtp: 9, rtcp: 9 } }) });
      assert.equal(r.status, 200, await r.text());
      held.push(`hold-${i}`);
    }
    try {
      const started = Date.now();
      const setup = `SETUP ${url('/cam1/stream=0')} RTSP/1.0\r\nCSeq: 7\r\nTransport: RTP/AVP;unicast;client_port=5000-5001\r\n\r\n`;
      const exchange = await rtspExchange(port, setup, { timeoutMs: 5000 });
      assert.equal(exchange.response?.status, 503, exchange.received);
      assert.equal(exchange.response?.headers.get('cseq'), '7');
      assert.ok(Date.now() - started < 3000, `answered in ${Date.now() - started} ms`);
    } finally {
      for (const id of held) await fetch(`${api}/${NODE}/${id}`, { method: 'DELETE' });
    }
    const run = await runClient('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-rtsp_transport', 'udp', '-i', url('/cam1'), '-frames:v', '10', '-f', 'null', '-'], 40_000);
    assert.equal(run.code, 0, `ffmpeg failed after the pool was released: ${run.output}`);
  });
});
