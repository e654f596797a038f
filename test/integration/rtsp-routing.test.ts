// RTSP over TCP through the mesh, with real peers: two GStreamer RTSP
// servers play two versions of a camera backend, a control plane (in-process,
// file mode) translates an RtspRoute, a real Envoy runs the RTSP Wasm filter
// in front of tcp_proxy, and ffmpeg, gst-launch-1.0 and a raw RTSP client
// play through it. The route sends /cam1 to v1, /cam2 to v2 and /canary to
// both, 90/10; health checks run every 500 ms so a killed backend is noticed
// within the test.
import assert from 'node:assert/strict';
import { bootstrapYaml } from '../../xds-server/src/bootstrap/envoy-bootstrap.js';
import { rtpModuleFromOption } from '../../xds-server/src/cli/rtp-module-option.js';
import { builtRtspFilterPath, rtspFilterFromOption } from '../../xds-server/src/cli/rtsp-filter-option.js';
import { type RunningControlPlane, startControlPlane } from '../../xds-server/src/cli/serve.js';
import { EnvoyProcess } from '../../xds-server/src/sidecar/envoy-process.js';
import { ConfigDir, rtspRouteDocuments } from '../helpers/mesh-files.js';
import { waitFor } from '../helpers/poll.js';
import { freeTcpPort } from '../helpers/ports.js';
import { describeBackend, gstReachedEos, playInterleaved, requireRtspTools, rtspExchange, RtspServerProcess, runClient } from '../helpers/rtsp.js';

const NAMESPACE = 'media';
const ROUTE = 'cameras';
const STATS = `wasmcustom.mediamesh.rtsp.${NAMESPACE}.${ROUTE}.`;
const HEALTH_INTERVAL_MS = 500;
const UNHEALTHY_THRESHOLD = 2;
const PT_V1 = 96;
const PT_V2 = 97;

function meshDocuments(listenPort: number, v1Port: number, v2Port: number): string {
  return rtspRouteDocuments({
    name: ROUTE,
    listenPort,
    backends: [{ name: 'cam-v1', port: v1Port }, { name: 'cam-v2', port: v2Port }],
    rules: [
      { matches: [{ path: { type: 'PathPrefix', value: '/cam1' } }], backendRefs: [{ name: 'cam-v1' }] },
      { matches: [{ path: { type: 'RegularExpression', value: '/cam[2-9](/.*)?' } }], backendRefs: [{ name: 'cam-v2' }] },
      { matches: [{ path: { type: 'PathPrefix', value: '/canary' } }], backendRefs: [{ name: 'cam-v1', weight: 90 }, { name: 'cam-v2', weight: 10 }] },
    ],
    extraSpec: {
      healthCheck: { interval: `${HEALTH_INTERVAL_MS}ms`, timeout: '400ms', unhealthyThreshold: UNHEALTHY_THRESHOLD, healthyThreshold: 1 },
      outlierDetection: { consecutiveFailures: 2, interval: '1s', baseEjectionTime: '30s' },
      timeouts: { connect: '1s', idle: '30s' },
    },
  }, NAMESPACE);
}

interface HostStatus {
  address: string;
  healthy: boolean;
  failedHealthCheck: boolean;
  ejected: boolean;
}

describe('RTSP over TCP through Envoy (RtspRoute, the Wasm filter, GStreamer cameras, ffmpeg and GStreamer clients)', function () {
  this.timeout(180_000);
  const config = new ConfigDir();
  let cp: RunningControlPlane | undefined;
  let envoy: EnvoyProcess | undefined;
  let v1: RtspServerProcess | undefined;
  let v2: RtspServerProcess | undefined;
  let port = 0;

  const url = (path: string) => `rtsp://127.0.0.1:${port}${path}`;
  const stats = async (): Promise<Map<string, number>> => envoy!.admin.stats(`^${STATS.replace(/\./g, '\\.')}`);
  const stat = (s: Map<string, number>, name: string) => s.get(STATS + name) ?? 0;
  const hosts = async (cluster: string): Promise<HostStatus[]> => {
    const json = JSON.parse(await envoy!.admin.get('/clusters?format=json')) as { cluster_statuses?: { name: string; host_statuses?: { address: { socket_address: { port_value: number } }; health_status: Record<string, unknown> }[] }[] };
    const found = (json.cluster_statuses ?? []).find((c) => c.name === cluster);
    return (found?.host_statuses ?? []).map((h) => ({
      address: `127.0.0.1:${h.address.socket_address.port_value}`,
      healthy: h.health_status.eds_health_status === 'HEALTHY' && !Object.keys(h.health_status).some((k) => k.startsWith('failed') && h.health_status[k] === true),
      failedHealthCheck: h.health_status.failed_active_health_check === true,
      ejected: h.health_status.failed_outlier_check === true,
    }));
  };

  before(async function () {
    this.timeout(90_000);
    requireRtspTools();
    assert.ok(builtRtspFilterPath(), 'the RTSP filter is not built: run npm run setup');
    v1 = await RtspServerProcess.start({ name: 'v1', payloadType: PT_V1, paths: ['/cam1', '/canary'] });
    v2 = await RtspServerProcess.start({ name: 'v2', payloadType: PT_V2, paths: ['/cam2', '/canary'] });
    port = await freeTcpPort();
    config.write('cameras.yaml', meshDocuments(port, v1.port, v2.port));
    cp = await startControlPlane({ configDir: config.dir, listenHost: '127.0.0.1', xdsPort: 0, adminPort: 0, debounceMs: 50, rtpModule: rtpModuleFromOption(undefined), rtspFilter: rtspFilterFromOption(undefined) });
    envoy = await EnvoyProcess.start({
      bootstrapYaml: bootstrapYaml({ nodeId: 'rtsp-gateway', cluster: 'mediamesh-proxy', xdsHost: '127.0.0.1', xdsPort: cp.xdsPort, adminAddress: '127.0.0.1', adminPort: 0, delta: false }),
      concurrency: 2,
      captureStdout: true,
      fileFlushIntervalMs: 100,
    });
    await waitFor('the RTSP listener active in Envoy', async () => (await envoy!.admin.listenerNames()).includes(`rtsp~${NAMESPACE}~${ROUTE}~${port}`), 30_000);
    await waitFor('both canary backends healthy', async () => {
      const h = await hosts(`rtsp~${NAMESPACE}~${ROUTE}~${port}~2`);
      return h.length === 2 && h.every((x) => x.healthy);
    }, 15_000);
  });

  after(async () => {
    // Each stop is bounded and independent: one failing leaves the others to run.
    await Promise.allSettled([envoy?.stop(), v1?.stop(), v2?.stop()]);
    await cp?.stop();
    config.cleanup();
  });

  it('reports the RtspRoute Accepted, ResolvedRefs and Programmed', async () => {
    const conditions = await waitFor('Programmed', () => {
      const route = cp!.controlPlane.routeStatuses().find((r) => r.kind === 'RtspRoute' && r.name === ROUTE);
      const list = route?.status.parents[0]?.conditions;
      return list?.find((c) => c.type === 'Programmed')?.status === 'True' ? list : undefined;
    });
    assert.deepEqual(conditions.map((c) => [c.type, c.status]), [['Accepted', 'True'], ['ResolvedRefs', 'True'], ['Programmed', 'True']]);
  });

  it('sends /cam1 and /cam2 to different backends, and ffmpeg decodes frames from each', async () => {
    for (const [path, server, other] of [['/cam1', v1!, v2!], ['/cam2', v2!, v1!]] as const) {
      const [before, otherBefore] = [server.describes(path), other.describes(path)];
      const run = await runClient('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-rtsp_transport', 'tcp', '-i', url(path), '-frames:v', '30', '-f', 'null', '-'], 30_000);
      assert.equal(run.code, 0, `ffmpeg ${path} failed (${run.signal ?? run.code}): ${run.output}`);
      assert.equal(run.output.trim(), '', 'ffmpeg reported errors');
      // The server reports a DESCRIBE after answering it: give its line a moment.
      await waitFor(`${server.name} reports ${path}`, () => server.describes(path) === before + 1, 5000);
      assert.equal(other.describes(path), otherBefore, `${other.name} never saw ${path}`);
    }
  });

  it('GStreamer rtspsrc over TCP decodes frames', async () => {
    const run = await runClient('gst-launch-1.0', ['rtspsrc', `location=${url('/cam1')}`, 'protocols=tcp', '!', 'rtpvp8depay', '!', 'vp8dec', '!', 'fakesink', 'num-buffers=30'], 30_000);
    const eos = gstReachedEos(run);
    assert.ok(eos.ok, eos.why);
  });

  it('shows in Envoy admin what a client did: requests by method, responses, session, SETUP latency, interleaved RTP', async () => {
    const before = await stats();
    const played = await playInterleaved(port, '/cam2', 90);
    const after = await waitFor('the TEARDOWN counted', async () => {
      const s = await stats();
      // (Earlier clients' connections may still be closing, so sessions_active is not compared with before.)
      return stat(s, 'requests.TEARDOWN') > stat(before, 'requests.TEARDOWN') && stat(s, 'responses.2xx') - stat(before, 'responses.2xx') >= 5 ? s : undefined;
    });
    const delta = (name: string) => stat(after, name) - stat(before, name);
    for (const method of ['OPTIONS', 'DESCRIBE', 'SETUP', 'PLAY', 'TEARDOWN']) assert.equal(delta(`requests.${method}`), played.requests[method], `requests.${method}`);
    assert.equal(delta('responses.2xx'), 5);
    assert.equal(delta('sessions_total'), 1);
    assert.ok(stat(after, 'sessions_active') <= stat(before, 'sessions_active'), 'the TEARDOWN ended the session');
    assert.equal(delta('connections_total'), 1);
    assert.deepEqual([...played.payloadTypes], [PT_V2], 'the media came from v2');
    // Envoy counts every RTP frame it passed on; the client stopped reading at the TEARDOWN answer.
    assert.ok(delta('rtp.packets') >= played.rtpPackets && delta('rtp.packets') <= played.rtpPackets + 10, `rtp.packets ${delta('rtp.packets')} vs ${played.rtpPackets} received`);
    assert.equal(delta('rtp.lost'), 0);
    assert.ok(delta('bytes.server_to_client') > 0 && delta('bytes.client_to_server') > 0);
    // Prometheus: the route, method, class and direction are labels (mediamesh bootstrap's stats tags).
    const route = `rtsp_route="${NAMESPACE}.${ROUTE}"`;
    const prometheus = await envoy!.admin.get('/stats/prometheus');
    assert.match(prometheus, new RegExp(`^mediamesh_rtsp_requests\\{${route},rtsp_method="SETUP"\\} [1-9]\\d*$`, 'm'));
    assert.match(prometheus, new RegExp(`^mediamesh_rtsp_responses\\{${route},rtsp_status_class="2xx"\\} [1-9]\\d*$`, 'm'));
    assert.match(prometheus, new RegExp(`^mediamesh_rtsp_rtp_packets\\{${route}\\} [1-9]\\d*$`, 'm'));
    // SETUP latency is a histogram; Envoy merges histograms at its stats flush (every 5 s).
    await waitFor('the SETUP latency histogram flushed', async () => new RegExp(`^mediamesh_rtsp_setup_latency_us_count\\{${route}\\} [1-9]\\d*$`, 'm').test(await envoy!.admin.get('/stats/prometheus')), 12_000, 250);
  });

  it('splits /canary 90/10 between v1 and v2 over 100 sessions', async () => {
    const before = [v1!.describes('/canary'), v2!.describes('/canary')];
    const byPt = new Map<number, number>();
    const sessions = 100;
    let next = 0;
    await Promise.all(Array.from({ length: 10 }, async () => {
      while (next < sessions) {
        next++;
        const answer = await describeBackend(port, '/canary', next);
        assert.equal(answer.status, 200);
        byPt.set(answer.payloadType!, (byPt.get(answer.payloadType!) ?? 0) + 1);
      }
    }));
    const [toV1, toV2] = [byPt.get(PT_V1) ?? 0, byPt.get(PT_V2) ?? 0];
    assert.equal(toV1 + toV2, sessions);
    assert.ok(toV2 >= 4 && toV2 <= 18, `v2 got ${toV2} of ${sessions} sessions (weight 10 of 100)`);
    // The servers agree with what the client saw (their report lines follow their answers).
    await waitFor('the servers report every session', () => v1!.describes('/canary') - before[0]! === toV1 && v2!.describes('/canary') - before[1]! === toV2, 5000);
  });

  it('answers an unknown path 404 with the client\'s CSeq, then closes', async () => {
    const before = await stats();
    const exchange = await rtspExchange(port, `DESCRIBE ${url('/kitchen')} RTSP/1.0\r\nCSeq: 77\r\n\r\n`, { untilClose: true, timeoutMs: 5000 });
    assert.equal(exchange.response?.status, 404, exchange.received);
    assert.equal(exchange.response?.headers.get('cseq'), '77');
    assert.ok(exchange.closed, 'the proxy closed the connection');
    assert.equal(stat(await stats(), 'no_route') - stat(before, 'no_route'), 1);
  });

  it('survives malformed RTSP: each is answered 400 or closed, Envoy keeps serving', async () => {
    const before = await stats();
    const routed = `DESCRIBE ${url('/cam1')} RTSP/1.0\r\nCSeq: 1\r\n\r\n`;
    const cases: { name: string; bytes: (string | Buffer)[]; expect: 400 | 'closed' }[] = [
      { name: 'garbage', bytes: [Buffer.from([0x16, 0x03, 0x01, 0x00, 0xff, 0x00, 0x0d, 0x0a, 0x0d, 0x0a])], expect: 400 },
      { name: 'huge header', bytes: [`DESCRIBE ${url('/cam1')} RTSP/1.0\r\nCSeq: 2\r\nX-Junk: ${'x'.repeat(20_000)}\r\n\r\n`], expect: 400 },
      { name: 'bad Content-Length', bytes: [`ANNOUNCE ${url('/cam1')} RTSP/1.0\r\nCSeq: 3\r\nContent-Length: 12abc\r\n\r\n`], expect: 400 },
      { name: 'conflicting Content-Length', bytes: [`ANNOUNCE ${url('/cam1')} RTSP/1.0\r\nCSeq: 4\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab`], expect: 400 },
      { name: 'bad version', bytes: [`DESCRIBE ${url('/cam1')} RTSP/9.9\r\nCSeq: 5\r\n\r\n`], expect: 400 },
      { name: 'zero-length interleaved frame after a routed request', bytes: [routed, Buffer.from([0x24, 0x00, 0x00, 0x00])], expect: 'closed' },
      { name: 'header line folding after a routed request', bytes: [routed, `OPTIONS * RTSP/1.0\r\nCSeq: 2\r\n folded\r\n\r\n`], expect: 'closed' },
      { name: 'binary junk after a routed request', bytes: [routed, Buffer.alloc(64, 0xfe)], expect: 'closed' },
    ];
    for (const c of cases) {
      const exchange = await rtspExchange(port, c.bytes, { untilClose: true, timeoutMs: 5000 });
      assert.ok(exchange.closed, `${c.name}: the connection was closed`);
      if (c.expect === 400) assert.match(exchange.received, /^RTSP\/1\.0 (400 Bad Request|505 RTSP Version Not Supported)\r\n/, `${c.name}: answered ${JSON.stringify(exchange.received.slice(0, 80))}`);
    }
    // A request cut into one-byte segments is no error at all.
    const split = await rtspExchange(port, [...`DESCRIBE ${url('/cam1')} RTSP/1.0\r\nCSeq: 9\r\nAccept: application/sdp\r\n\r\n`].map((ch) => ch), { timeoutMs: 10_000 });
    assert.equal(split.response?.status, 200, 'a request split across segments is routed');
    assert.ok(envoy!.isRunning(), 'Envoy is still running');
    assert.equal((await envoy!.admin.get('/ready')).trim(), 'LIVE');
    const after = await stats();
    assert.ok(stat(after, 'parse_errors') - stat(before, 'parse_errors') >= cases.length, 'every malformed input was counted');
    assert.equal(stat(after, 'bad_requests') - stat(before, 'bad_requests'), cases.filter((c) => c.expect === 400).length);
    const run = await runClient('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-rtsp_transport', 'tcp', '-i', url('/cam1'), '-frames:v', '10', '-f', 'null', '-'], 30_000);
    assert.equal(run.code, 0, `a later session works: ${run.output}`);
  });

  it('closes a client that never completes its first request (10 s), without troubling a backend', async () => {
    const before = [v1!.describes(), v2!.describes()];
    const started = Date.now();
    const exchange = await rtspExchange(port, `DESCRIBE ${url('/cam1')} RTSP/1.0\r\nCSeq: 1\r\n`, { untilClose: true, timeoutMs: 15_000 });
    const ms = Date.now() - started;
    assert.ok(exchange.closed, 'closed by the proxy');
    assert.equal(exchange.received, '', 'nothing was answered');
    assert.ok(ms >= 9_000 && ms <= 12_500, `closed after ${ms} ms`);
    assert.deepEqual([v1!.describes(), v2!.describes()], before);
  });

  it('stops sending new sessions to a killed backend within the health-check interval', async function () {
    const canary = `rtsp~${NAMESPACE}~${ROUTE}~${port}~2`;
    const v2Address = `127.0.0.1:${v2!.port}`;
    const killedAt = Date.now();
    await v2!.stop('SIGKILL');
    // No traffic meanwhile: only the active health check can notice.
    await waitFor('v2 failing its health check', async () => (await hosts(canary)).find((h) => h.address === v2Address)?.failedHealthCheck, 10_000, 20);
    const detectedMs = Date.now() - killedAt;
    // interval × threshold, the probe timeout, and one interval of phase.
    const bound = HEALTH_INTERVAL_MS * (UNHEALTHY_THRESHOLD + 1) + 400;
    assert.ok(detectedMs <= bound, `v2 was noticed ${detectedMs} ms after the kill (bound ${bound} ms)`);
    const before = v1!.describes('/canary');
    for (let i = 0; i < 30; i++) {
      const answer = await describeBackend(port, '/canary', i + 1);
      assert.deepEqual(answer, { status: 200, payloadType: PT_V1 }, `session ${i + 1} after the kill`);
    }
    await waitFor('v1 reports all 30', () => v1!.describes('/canary') - before === 30, 5000);
    // A path only v2 served has nowhere to go: the client is closed, not left hanging.
    const orphan = await rtspExchange(port, `DESCRIBE ${url('/cam2')} RTSP/1.0\r\nCSeq: 1\r\n\r\n`, { untilClose: true, timeoutMs: 5000 });
    assert.ok(orphan.closed && !orphan.response, `a /cam2 client is closed: ${JSON.stringify(orphan.received)}`);
    this.test!.title += ` (noticed after ${detectedMs} ms)`;
  });

  it('lets clients that arrive before the health check notices get in by retrying once', async function () {
    const canary = `rtsp~${NAMESPACE}~${ROUTE}~${port}~2`;
    // v2 comes back on its port and is healthy again after one good probe.
    v2 = await RtspServerProcess.start({ name: 'v2', payloadType: PT_V2, paths: ['/cam2', '/canary'], port: v2!.port });
    const v2Address = `127.0.0.1:${v2.port}`;
    await waitFor('v2 healthy again', async () => (await hosts(canary)).find((h) => h.address === v2Address)?.healthy, 15_000);
    await v2.stop('SIGKILL');
    // At once, before a probe runs: tcp_proxy's second connect attempt, the client's
    // second try, and outlier ejection after two failed connects all help.
    const answers = await Promise.all(Array.from({ length: 20 }, async (_, i) => {
      for (let attempt = 1; ; attempt++) {
        try {
          const answer = await describeBackend(port, '/canary', i + 1);
          if (answer.status === 200 || attempt === 2) return answer;
        } catch (err) {
          if (attempt === 2) throw err;
        }
      }
    }));
    assert.deepEqual(answers, Array(20).fill({ status: 200, payloadType: PT_V1 }), 'every client got in, retrying at most once');
    const state = await waitFor('v2 out of rotation', async () => {
      const found = (await hosts(canary)).find((h) => h.address === v2Address);
      return found && !found.healthy ? found : undefined;
    }, HEALTH_INTERVAL_MS * (UNHEALTHY_THRESHOLD + 1) + 400, 20);
    this.test!.title += ` (v2 ${[state.ejected ? 'ejected by outlier detection' : '', state.failedHealthCheck ? 'failing its health check' : ''].filter(Boolean).join(' and ')})`;
  });
});
