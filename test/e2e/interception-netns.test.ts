// The interception script (manifests/interception/mediamesh-intercept.sh),
// tested for real: pods as network namespaces, each with the script applied
// as the injector's init container applies it and a sidecar Envoy running as
// UID 1339, connected to a control plane in the root namespace.
//
//   client pod: the app (probes, GStreamer, ffmpeg) and its sidecar.
//     Outbound RTSP (554) and UDP (5004) are captured; Services are virtual
//     addresses of the lab's subnet that no pod holds (.240 up), as
//     clusterIPs are.
//   server pod: two RTSP cameras (gst-rtsp-server on 0.0.0.0:554 and 8554),
//     echo servers, an RTP receiver, an HTTP server and a UDP port 53 echo,
//     and its sidecar. Inbound RTSP (554, 8554) and UDP (25004, 25006,
//     25008) are captured.
//   scratch pod: nothing runs; apply/clean are compared there.
//
// Every listener of both sidecars comes from the control plane: each
// sidecar's bootstrap carries the port lists its pod's script was given (as
// the injector writes them), and the translator makes the UdpRoute and
// RtspRoute listeners, the outbound RTSP entry on 127.0.0.1:15101, inbound
// RTSP on 15106 and inbound UDP on 15200+n from them.
//
// Must run as root; fails (never skips) otherwise or when a tool is missing.
import assert from 'node:assert/strict';
import path from 'node:path';
import { rtpModuleFromOption } from '../../xds-server/src/cli/rtp-module-option.js';
import { type RunningControlPlane, startControlPlane } from '../../xds-server/src/cli/serve.js';
import { projectRoot } from '../../xds-server/src/sidecar/envoy-binary.js';
import type { EnvoyProcess } from '../../xds-server/src/sidecar/envoy-process.js';
import { rtspFilterFromOption } from '../../xds-server/src/cli/rtsp-filter-option.js';
import type { BootstrapCapturedPorts } from '../../xds-server/src/bootstrap/envoy-bootstrap.js';
import {
  backendsWith, checkTools, type HttpGetReport, networkingSnapshot, normalizeSave, probe, probeJson, PROXY_UID, PYTHON,
  rulePackets, runScript, saveOutput, startSidecar, type TcpSendReport, type UdpSendReport,
} from '../helpers/interception.js';
import { ConfigDir, rtspRouteDocuments, udpRouteDocuments } from '../helpers/mesh-files.js';
import { NetnsLab, type PodProcess, requireRoot } from '../helpers/netns.js';
import { waitFor } from '../helpers/poll.js';

const NAMESPACE = 'media';
const RTP_RECEIVER = path.join(projectRoot(), 'test/e2e/tools/rtp_receiver.py');
const RTSP_SERVER = path.join(projectRoot(), 'test/e2e/tools/rtsp_server.py');
/** What each pod's script captures; its sidecar's bootstrap carries the same lists, as the injector writes them. */
const CLIENT_PORTS: BootstrapCapturedPorts = { rtspPorts: '554' };
const SERVER_PORTS: BootstrapCapturedPorts = { inboundRtspPorts: '554,8554', inboundUdpPorts: '25008,25004,25006' };
const CLIENT_FLAGS = ['--proxy-uid', String(PROXY_UID), '--rtsp-ports', CLIENT_PORTS.rtspPorts!, '--udp-ports', '5004'];
const SERVER_FLAGS = ['--proxy-uid', String(PROXY_UID), '--inbound-rtsp-ports', SERVER_PORTS.inboundRtspPorts!, '--inbound-udp-ports', SERVER_PORTS.inboundUdpPorts!];
/** Inbound UDP app ports, in the order the script gives them proxy ports (ascending). */
const INBOUND_UDP = [25004, 25006, 25008];

/** An RtspRoute on a Service address, to one backend Service whose endpoint is `backend`. */
function rtspRoute(name: string, clusterIP: string, backend: { address: string; port: number }): string {
  return rtspRouteDocuments({ name, listenPort: 554, clusterIP, backends: [{ name: `${name}-v1`, ...backend }] }, NAMESPACE);
}

/** Relay ports (RTSP over UDP) both sidecars get listeners from: four per relayed stream. */
const RELAY_PORTS = '41000-41031';

describe('interception in pod namespaces: client and server pods with sidecar Envoys (UID 1339)', function () {
  this.timeout(180_000);
  const config = new ConfigDir();
  let lab: NetnsLab;
  let cp: RunningControlPlane | undefined;
  const sidecars: Record<string, EnvoyProcess> = {};
  const cameras: Record<string, PodProcess> = {};
  const beforeApply: Record<string, string> = {};
  const figures: string[] = [];
  const vip = (n: number) => `${lab.subnet}.${n}`;
  const VIPS = { feedA: 240, feedB: 241, cam: 242, rtspCams: 243, rtspLobby: 244, nowhere: 250 };

  before(async function () {
    this.timeout(90_000);
    requireRoot('test/e2e/interception-netns');
    checkTools([['gst-launch-1.0', '--version'], ['gst-inspect-1.0', 'vp8enc'], ['gst-inspect-1.0', 'rtpvp8pay'], [PYTHON, '-c', "import gi; gi.require_version('Gst', '1.0')"]]);
    lab = NetnsLab.create(['client', 'server', 'scratch']);
    lab.onDestroy(() => {
      void cp?.stop();
      config.cleanup();
    });
    const server = lab.pod('server');
    const started = Date.now();

    // Two Services on UDP 5004 with their own backends, and an RTP one.
    config.write('feed-a.yaml', udpRouteDocuments({ name: 'feed-a', listenPort: 5004, clusterIP: vip(VIPS.feedA), backends: [{ name: 'feed-a-v1', ports: [25004], address: server.ip }] }, NAMESPACE));
    config.write('feed-b.yaml', udpRouteDocuments({ name: 'feed-b', listenPort: 5004, clusterIP: vip(VIPS.feedB), backends: [{ name: 'feed-b-v1', ports: [25006], address: server.ip }] }, NAMESPACE));
    config.write('cam.yaml', udpRouteDocuments({
      name: 'cam', listenPort: 5004, clusterIP: vip(VIPS.cam), backends: [{ name: 'cam-v1', ports: [25008], address: server.ip }],
      extraSpec: { protocol: 'RTP', rtp: { clockRate: { '96': 90_000 } } },
    }, NAMESPACE));

    config.write('rtsp-cams.yaml', rtspRoute('rtsp-cams', vip(VIPS.rtspCams), { address: server.ip, port: 554 }));
    config.write('rtsp-lobby.yaml', rtspRoute('rtsp-lobby', vip(VIPS.rtspLobby), { address: server.ip, port: 8554 }));

    for (const pod of ['client', 'server', 'scratch']) beforeApply[pod] = networkingSnapshot(lab, pod);
    runScript(lab, 'client', ['apply', ...CLIENT_FLAGS]);
    runScript(lab, 'server', ['apply', ...SERVER_FLAGS]);

    cp = await startControlPlane({ configDir: config.dir, listenHost: lab.hostIp, xdsPort: 0, adminPort: 0, debounceMs: 50, rtpModule: rtpModuleFromOption(undefined), rtspFilter: rtspFilterFromOption(undefined), relayPorts: RELAY_PORTS });

    for (const [port, tag] of [[25004, 'A'], [25006, 'B'], [53, 'DNS']] as const) {
      await lab.spawn('server', `udp echo ${port}`, probe(['udp-echo', '--port', String(port), '--tag', tag])).line(/^ready /, 10_000);
    }
    // Two cameras, told apart by their RTP payload type and their names in the DESCRIBE events they print.
    for (const [port, name, pt, mount] of [[554, 'cams', 96, '/cam1'], [8554, 'lobby', 97, '/lobby']] as const) {
      cameras[name] = lab.spawn('server', `rtsp_server ${port}`, [PYTHON, RTSP_SERVER, '--address', '0.0.0.0', '--port', String(port), '--name', name, '--payload-type', String(pt), '--paths', mount]);
      await cameras[name].line(/"event": "ready"/, 15_000);
    }
    const http = lab.spawn('server', 'http.server 8080', [PYTHON, '-u', '-m', 'http.server', '8080', '--bind', '0.0.0.0', '--directory', path.join(projectRoot(), 'manifests/interception')]);
    await http.line(/Serving HTTP/, 10_000);

    const xds = { xdsHost: lab.hostIp, xdsPort: cp.xdsPort, adminPort: cp.adminPort, namespace: NAMESPACE };
    sidecars.client = await startSidecar(lab.pod('client'), { ...xds, capturedPorts: CLIENT_PORTS });
    sidecars.server = await startSidecar(server, { ...xds, capturedPorts: SERVER_PORTS });
    const routes = [...['feed-a', 'feed-b', 'cam'].map((r) => `udp~${NAMESPACE}~${r}~5004`), ...['rtsp-cams', 'rtsp-lobby'].map((r) => `rtsp~${NAMESPACE}~${r}~554`)];
    for (const [pod, interception] of [['client', ['outbound~rtsp']], ['server', ['inbound~rtsp', ...INBOUND_UDP.map((p) => `inbound~udp~${p}`)]]] as const) {
      await waitFor(`${pod} sidecar's listeners from the control plane`, async () => {
        const names = await sidecars[pod]!.admin.listenerNames();
        return [...routes, ...interception].every((n) => names.includes(n)) && names;
      }, 20_000);
    }
    // Only what each pod's script captures: no entry in the server, no inbound listeners in the client.
    assert.ok(!(await sidecars.server.admin.listenerNames()).includes('outbound~rtsp'));
    assert.ok(!(await sidecars.client.admin.listenerNames()).some((n) => n.startsWith('inbound~')));
    figures.push(`set-up (namespaces, script in two pods, control plane, two sidecars, listeners): ${Date.now() - started} ms`);
  });

  after(async function () {
    this.timeout(30_000);
    if (figures.length) console.log(`      measured:\n${figures.map((f) => `        ${f}`).join('\n')}`);
    const failed = this.test?.parent?.tests.some((t) => t.state === 'failed') ?? false;
    const errors: string[] = [];
    for (const [pod, envoy] of Object.entries(sidecars)) {
      await envoy.stop({ keepWorkDir: failed }).catch((e: unknown) => errors.push(String(e)));
      if (failed) console.log(`      ${pod} sidecar's log and bootstrap: ${envoy.workDir}`);
    }
    await cp?.stop().catch((e: unknown) => errors.push(String(e)));
    if (lab) {
      await lab.close();
      const left = lab.leftovers();
      if (left.length) errors.push(`left behind: ${left.join(', ')}`);
    }
    config.cleanup();
    if (errors.length) throw new Error(`cleanup: ${errors.join('; ')}`);
  });

  const stat = (pod: string, name: string) => sidecars[pod]!.admin.stat(name);
  /** Every session and connection a sidecar's listeners have taken. */
  async function downstreamTotal(pod: string): Promise<number> {
    const all = await sidecars[pod]!.admin.stats('downstream_(sess|cx)_total$');
    return [...all].filter(([name]) => /^(udp|tcp)\./.test(name) || /^listener\.[0-9]/.test(name)).reduce((n, [, v]) => n + v, 0);
  }

  it('routes two Services on UDP 5004 to their own backends, through both sidecars', async () => {
    const a = probeJson<UdpSendReport>(lab, 'client', ['udp-send', '--to', `${vip(VIPS.feedA)}:5004`, '--count', '10', '--message', 'to-a']);
    const b = probeJson<UdpSendReport>(lab, 'client', ['udp-send', '--to', `${vip(VIPS.feedB)}:5004`, '--count', '10', '--message', 'to-b']);
    figures.push(`UDP 5004: Service .${VIPS.feedA} answered ${JSON.stringify(a.tags)}, Service .${VIPS.feedB} answered ${JSON.stringify(b.tags)}`);
    assert.deepEqual(a.tags, { A: 10 }, `feed-a: ${JSON.stringify(a)}`);
    assert.deepEqual(b.tags, { B: 10 }, `feed-b: ${JSON.stringify(b)}`);
    // The client's sidecar took each Service's datagrams on that Service's listener...
    assert.equal(await stat('client', `udp.${NAMESPACE}.feed-a.5004.downstream_sess_rx_datagrams`), 10);
    assert.equal(await stat('client', `udp.${NAMESPACE}.feed-b.5004.downstream_sess_rx_datagrams`), 10);
    // ...and the server's sidecar took them in on the app's port's own proxy port.
    assert.equal(await stat('server', 'udp.inbound.25004.downstream_sess_rx_datagrams'), 10);
    assert.equal(await stat('server', 'udp.inbound.25006.downstream_sess_rx_datagrams'), 10);
    assert.ok(rulePackets(lab, 'client', 'nft', /outbound UDP/) >= 20, 'the client marked them');
    assert.equal(rulePackets(lab, 'server', 'nft', /inbound UDP 25004/), 1, 'one flow redirected (nat sees its first packet)');
    assert.equal(rulePackets(lab, 'server', 'nft', /inbound UDP 25006.*--to-ports 15201/), 1, 'the second declared port on the second proxy port');
  });

  it('carries a real RTP stream (GStreamer VP8) through both sidecars with nothing lost', async () => {
    const receiver = lab.spawn('server', 'rtp_receiver.py', [PYTHON, RTP_RECEIVER, '--port', '25008', '--clock-rate', '90000', '--payload', '96', '--encoding', 'VP8', '--idle-ms', '1500', '--max-seconds', '60']);
    await receiver.line(/^ready /, 10_000);
    const sender = lab.spawn('client', 'gst-launch-1.0', [
      'gst-launch-1.0', '-q', 'videotestsrc', 'is-live=true', 'num-buffers=90', 'pattern=ball',
      '!', 'video/x-raw,width=320,height=240,framerate=30/1', '!', 'vp8enc', 'deadline=1', '!', 'rtpvp8pay', 'pt=96', 'mtu=1200',
      '!', 'udpsink', `host=${vip(VIPS.cam)}`, 'port=5004',
    ]);
    await sender.finished(30_000);
    await receiver.finished(20_000);
    const got = receiver.report<{ datagrams: number; sources: { missing: number; duplicates: number; unique: number }[] }>();
    const filterPackets = await stat('client', `mediamesh.rtp.${NAMESPACE}.cam.packets`);
    const inbound = await stat('server', 'udp.inbound.25008.downstream_sess_rx_datagrams');
    const inboundFilterPackets = await stat('server', 'mediamesh.rtp.inbound.25008.packets');
    figures.push(`RTP: GStreamer sent 90 VP8 frames; client sidecar's RTP filter counted ${filterPackets} packets, server sidecar took ${inbound} in (its RTP filter: ${inboundFilterPackets}), receiver got ${got.datagrams} (${got.sources[0]?.missing} missing)`);
    assert.ok(got.datagrams >= 90, `the receiver got only ${got.datagrams} datagrams`);
    assert.equal(got.sources.length, 1);
    assert.equal(got.sources[0]!.missing, 0);
    assert.equal(got.sources[0]!.duplicates, 0);
    assert.equal(filterPackets, got.datagrams, "the client sidecar's RTP filter counted every packet");
    assert.equal(inbound, got.datagrams, "every packet went in through the server's sidecar");
    assert.equal(inboundFilterPackets, got.datagrams, "the server sidecar's inbound RTP filter counted every packet");
  });

  /** DESCRIBEs a camera answered (rtsp_server.py prints one event line for each). */
  const describes = (camera: string, mount: string) => cameras[camera]!.stdout.split('\n').filter((l) => l.includes('"event": "describe"') && l.includes(`"path": "${mount}"`)).length;
  const rtspStat = (route: string, name: string) => stat('client', `wasmcustom.mediamesh.rtsp.${NAMESPACE}.${route}.${name}`);

  it('plays RTSP from unmodified clients in the client pod (ffmpeg, GStreamer rtspsrc; TCP transport) through both sidecars, the Service address picking the camera', async () => {
    const counters = async () => ({
      inbound: await stat('server', 'tcp.inbound.rtsp.downstream_cx_total'),
      passthrough: await stat('client', 'tcp.outbound.passthrough.downstream_cx_total'),
      cams: await stat('client', `tcp.rtsp.${NAMESPACE}.rtsp-cams.554.downstream_cx_total`),
      lobby: await stat('client', `tcp.rtsp.${NAMESPACE}.rtsp-lobby.554.downstream_cx_total`),
    });
    const before = await counters();
    const ffmpeg = lab.spawn('client', 'ffmpeg', ['ffmpeg', '-hide_banner', '-loglevel', 'error', '-rtsp_transport', 'tcp', '-i', `rtsp://${vip(VIPS.rtspCams)}:554/cam1`, '-frames:v', '30', '-f', 'null', '-']);
    await ffmpeg.finished(30_000);
    const gst = lab.spawn('client', 'gst-launch-1.0 rtspsrc', ['gst-launch-1.0', 'rtspsrc', `location=rtsp://${vip(VIPS.rtspLobby)}:554/lobby`, 'protocols=tcp', '!', 'rtpvp8depay', '!', 'vp8dec', '!', 'fakesink', 'num-buffers=30']);
    // EOS: the sink took its 30 buffers (an error would have ended the pipeline without it). What
    // gst-launch reports while shutting down after that is gst-rtsp-server's (test/helpers/rtsp.ts gstReachedEos).
    await gst.line(/^Got EOS from element "pipeline0"/, 30_000);
    await gst.stop();
    const after = await counters();
    const delta = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - before[k as keyof typeof before]]));
    figures.push(`RTSP: ffmpeg played .${VIPS.rtspCams}:554/cam1, rtspsrc played .${VIPS.rtspLobby}:554/lobby; connections ${JSON.stringify(delta)}`);
    // Each Service address reached its own camera, through its RtspRoute's listener (and its RTSP filter) in the client's sidecar...
    assert.equal(describes('cams', '/cam1'), 1, cameras.cams!.describe());
    assert.equal(describes('lobby', '/lobby'), 1, cameras.lobby!.describe());
    assert.ok(delta.cams! >= 1 && delta.lobby! >= 1, JSON.stringify(delta));
    assert.equal(await rtspStat('rtsp-cams', 'requests.DESCRIBE'), 1);
    assert.equal(await rtspStat('rtsp-lobby', 'requests.DESCRIBE'), 1);
    assert.ok(await rtspStat('rtsp-cams', 'requests.PLAY') >= 1);
    // ...handed over by the entry listener, which passed nothing through itself...
    assert.equal(delta.passthrough, 0);
    // ...and in through the server's sidecar, one connection for each.
    assert.equal(delta.inbound, delta.cams! + delta.lobby!);
  });

  it('plays RTSP with UDP transport (ffmpeg) through relays on both sidecars, and takes them all down after', async () => {
    const relays = () => cp!.relays!.list();
    const relayListeners = async (pod: string) => (await sidecars[pod]!.admin.listenerNames()).filter((n) => n.startsWith('udp~relays~'));
    const before = { cams: describes('cams', '/cam1'), granted: await rtspStat('rtsp-cams', 'relays.granted') };
    const ffmpeg = lab.spawn('client', 'ffmpeg udp', ['ffmpeg', '-hide_banner', '-loglevel', 'error', '-rtsp_transport', 'udp', '-i', `rtsp://${vip(VIPS.rtspCams)}:554/cam1`, '-frames:v', '60', '-f', 'null', '-']);
    // While it plays: one relayed stream on each sidecar on the path, each with its own listeners.
    const seen = await waitFor('relays on both sidecars', () => {
      const nodes = new Set(relays().map((r) => r.node));
      return nodes.has('sidecar-client') && nodes.has('sidecar-server') ? relays() : undefined;
    }, 20_000);
    await ffmpeg.finished(40_000);
    assert.equal(ffmpeg.stderr.trim(), '', 'ffmpeg reported errors');
    assert.equal(describes('cams', '/cam1'), before.cams + 1);
    assert.equal(await rtspStat('rtsp-cams', 'relays.granted'), before.granted + 1);
    assert.equal(await stat('server', 'wasmcustom.mediamesh.rtsp.inbound.rtsp.relays.granted') >= 1, true, 'the server sidecar relayed too');
    // The media crossed both relays toward the client: the client side's RTP filter counted the frames' packets.
    const clientRelay = seen.find((r) => r.node === 'sidecar-client')!;
    const rtp = await sidecars.client!.admin.stats('^mediamesh\\.rtp\\.relays\\.');
    const packets = [...rtp].filter(([k]) => k.endsWith('.packets')).reduce((n, [, v]) => n + v, 0);
    figures.push(`RTSP over UDP: ffmpeg decoded 60 frames; relays ${JSON.stringify(seen.map((r) => [r.node, r.toClient.rtp, r.toServer.rtp]))}; client relay RTP packets ${packets}`);
    assert.ok(packets >= 60, `client relay ${clientRelay.session} counted ${packets} RTP packets`);
    await waitFor('no relays left on either sidecar', async () => relays().length === 0 && (await relayListeners('client')).length === 0 && (await relayListeners('server')).length === 0, 15_000);
  });

  it('passes RTSP to an address no Service has straight through to it (and in through the server sidecar)', async () => {
    const server = lab.pod('server');
    const before = { passthrough: await stat('client', 'tcp.outbound.passthrough.downstream_cx_total'), inbound: await stat('server', 'tcp.inbound.rtsp.downstream_cx_total') };
    const direct = probeJson<TcpSendReport>(lab, 'client', ['tcp-send', '--to', `${server.ip}:554`, '--message', `OPTIONS rtsp://${server.ip}:554/cam1 RTSP/1.0\r\nCSeq: 7\r\n\r\n`]);
    assert.match(direct.reply ?? '', /^RTSP\/1\.0 200 OK\r\n/, JSON.stringify(direct));
    assert.match(direct.reply ?? '', /\r\nCSeq: 7\r\n/);
    assert.equal(await stat('client', 'tcp.outbound.passthrough.downstream_cx_total'), before.passthrough + 1);
    assert.equal(await stat('server', 'tcp.inbound.rtsp.downstream_cx_total'), before.inbound + 1);
  });

  it('leaves HTTP (8080) and DNS-like UDP 53 alone: no rule of ours counts them, no sidecar sees them', async () => {
    const ours = () => ({
      clientMarked: rulePackets(lab, 'client', 'nft', /-j MARK/),
      clientDelivered: rulePackets(lab, 'client', 'nft', /^-A MEDIAMESH_DELIVER -m socket/),
      serverRedirected: rulePackets(lab, 'server', 'nft', /-j REDIRECT/),
    });
    const before = { ...ours(), clientEnvoy: await downstreamTotal('client'), serverEnvoy: await downstreamTotal('server') };
    const http = probeJson<HttpGetReport>(lab, 'client', ['http-get', '--url', `http://${lab.pod('server').ip}:8080/`]);
    const dns = probeJson<UdpSendReport>(lab, 'client', ['udp-send', '--to', `${lab.pod('server').ip}:53`, '--count', '5']);
    const after = { ...ours(), clientEnvoy: await downstreamTotal('client'), serverEnvoy: await downstreamTotal('server') };
    figures.push(`HTTP and UDP 53: http ${http.status}, dns ${JSON.stringify(dns.tags)}; counters ${JSON.stringify(before)} -> ${JSON.stringify(after)}`);
    assert.equal(http.status, 200, JSON.stringify(http));
    assert.match(http.body ?? '', /mediamesh-intercept\.sh/, 'the app\'s own HTTP server answered');
    assert.deepEqual(dns.tags, { DNS: 5 });
    assert.deepEqual(after, before);
  });

  it('never captures the proxy\'s own traffic (UID 1339)', () => {
    const marked = rulePackets(lab, 'client', 'nft', /-j MARK/);
    const exempt = rulePackets(lab, 'client', 'nft', /^-A MEDIAMESH_OUTBOUND -m owner --uid-owner 1339/);
    // As the proxy, to a Service address: the packets go out to the wire, where nobody holds it.
    const asProxy = probeJson<UdpSendReport>(lab, 'client', ['udp-send', '--to', `${vip(VIPS.feedA)}:5004`, '--count', '3', '--timeout-ms', '500'], PROXY_UID);
    assert.equal(asProxy.sent, 3);
    assert.equal(asProxy.replies, 0, 'the proxy\'s own datagrams did not come back to a listener of its own');
    assert.equal(rulePackets(lab, 'client', 'nft', /-j MARK/), marked, 'none marked');
    assert.ok(rulePackets(lab, 'client', 'nft', /^-A MEDIAMESH_OUTBOUND -m owner --uid-owner 1339/) >= exempt + 3);
  });

  it('drops captured UDP that no proxy listener takes', () => {
    const dropped = rulePackets(lab, 'client', 'nft', /MEDIAMESH_DELIVER .* -j DROP/);
    const udp = probeJson<UdpSendReport>(lab, 'client', ['udp-send', '--to', `${vip(VIPS.nowhere)}:5004`, '--count', '4', '--timeout-ms', '300']);
    figures.push(`UDP with no listener: ${udp.replies} replies, ${rulePackets(lab, 'client', 'nft', /MEDIAMESH_DELIVER .* -j DROP/) - dropped} dropped`);
    assert.equal(udp.replies, 0);
    assert.equal(rulePackets(lab, 'client', 'nft', /MEDIAMESH_DELIVER .* -j DROP/) - dropped, 4);
  });

  describe('apply and clean, in the scratch pod', () => {
    const flags = ['--proxy-uid', '1339', '--proxy-gid', '1339', '--rtsp-ports', '554,8554', '--udp-ports', '5004-5005,6000', '--inbound-rtsp-ports', '554', '--inbound-udp-ports', '25004,25006-25007'];
    for (const backend of ['auto (nft in a fresh namespace)', 'legacy'] as const) {
      it(`${backend}: applying twice leaves the same rules; clean leaves the pod as it was`, () => {
        const extra = backend === 'legacy' ? ['--iptables-backend', 'legacy'] : [];
        const before = networkingSnapshot(lab, 'scratch');
        runScript(lab, 'scratch', ['apply', ...flags, ...extra]);
        const once = networkingSnapshot(lab, 'scratch');
        runScript(lab, 'scratch', ['apply', ...flags, ...extra]);
        const twice = networkingSnapshot(lab, 'scratch');
        assert.notEqual(once, before, 'apply changed something');
        assert.equal(twice, once, 'the second apply changed nothing');
        const expected = backend === 'legacy' ? 'legacy' : 'nft';
        assert.deepEqual(backendsWith(lab, 'scratch', 'MEDIAMESH_'), [expected]);
        assert.match(once, /fwmark 0x10000\/0x10000 lookup 1339/);
        assert.match(once, /local default dev lo table 1339/);
        runScript(lab, 'scratch', ['clean']);
        assert.equal(networkingSnapshot(lab, 'scratch'), before, 'clean restored the pod\'s networking');
        runScript(lab, 'scratch', ['clean']);
        assert.equal(networkingSnapshot(lab, 'scratch'), before, 'a second clean is harmless');
      });
    }

    it('converges to what new flags say: applying other ports replaces the old rules', () => {
      const before = networkingSnapshot(lab, 'scratch');
      runScript(lab, 'scratch', ['apply', '--proxy-uid', '1339', '--udp-ports', '5004']);
      const onlyUdp = networkingSnapshot(lab, 'scratch');
      runScript(lab, 'scratch', ['clean']);
      runScript(lab, 'scratch', ['apply', ...flags]);
      runScript(lab, 'scratch', ['apply', '--proxy-uid', '1339', '--udp-ports', '5004']);
      assert.equal(networkingSnapshot(lab, 'scratch'), onlyUdp);
      runScript(lab, 'scratch', ['apply', '--proxy-uid', '1339']);
      assert.equal(networkingSnapshot(lab, 'scratch'), before, 'no ports: nothing of ours left');
      runScript(lab, 'scratch', ['clean']);
      assert.equal(networkingSnapshot(lab, 'scratch'), before);
    });

    it('never hands captured traffic to an app socket that holds the port on every address', async () => {
      // No proxy listener here: an app listens on 0.0.0.0 on a declared port of each protocol.
      runScript(lab, 'scratch', ['apply', '--proxy-uid', '1339', '--udp-ports', '7000', '--rtsp-ports', '7001']);
      const udpApp = lab.spawn('scratch', 'udp echo 7000', probe(['udp-echo', '--port', '7000', '--tag', 'APP', '--max-seconds', '30']));
      const tcpApp = lab.spawn('scratch', 'tcp echo 7001', probe(['tcp-echo', '--port', '7001', '--tag', 'APP', '--max-seconds', '30']));
      try {
        await udpApp.line(/^ready /, 10_000);
        await tcpApp.line(/^ready /, 10_000);
        const udp = probeJson<UdpSendReport>(lab, 'scratch', ['udp-send', '--to', `${vip(VIPS.nowhere)}:7000`, '--count', '3', '--timeout-ms', '300']);
        const tcp = probeJson<TcpSendReport>(lab, 'scratch', ['tcp-send', '--to', `${vip(VIPS.nowhere)}:7001`]);
        // The app still serves its own address.
        const own = probeJson<UdpSendReport>(lab, 'scratch', ['udp-send', '--to', `${lab.pod('scratch').ip}:7000`, '--count', '2']);
        await udpApp.stop();
        await tcpApp.stop();
        const udpCounts = udpApp.report<{ received: number }>();
        const tcpCounts = tcpApp.report<{ connections: number }>();
        assert.equal(udp.replies, 0);
        assert.equal(udpCounts.received, 2, `the app received datagrams for another address: ${JSON.stringify(udpCounts)}`);
        // No proxy runs in this pod: nothing listens on 15101, the connection is refused there.
        assert.match(tcp.error ?? '', /refused/i, `a connection for another address was not refused: ${JSON.stringify(tcp)}`);
        assert.equal(tcpCounts.connections, 0);
        assert.deepEqual(own.tags, { APP: 2 });
      } finally {
        await udpApp.stop();
        await tcpApp.stop();
        runScript(lab, 'scratch', ['clean']);
      }
    });

    it('puts the rules the injector asks for in iptables, as documented', () => {
      runScript(lab, 'scratch', ['apply', ...flags, '--iptables-backend', 'nft']);
      try {
        const rules = normalizeSave(saveOutput(lab, 'scratch', 'nft')).split('\n').filter((l) => l.startsWith('-A ')).map((l) => l.replace(/ -m comment --comment "[^"]*"/, ''));
        assert.deepEqual(rules.filter((r) => /^-A (OUTPUT|PREROUTING|INPUT) /.test(r)).sort(), [
          '-A INPUT -j MEDIAMESH_DELIVER',
          '-A OUTPUT -j MEDIAMESH_OUTBOUND',
          '-A OUTPUT -j MEDIAMESH_OUTPUT',
          '-A PREROUTING -j MEDIAMESH_INBOUND',
        ]);
        for (const expected of [
          '-A MEDIAMESH_OUTBOUND -m owner --uid-owner 1339 -j RETURN',
          '-A MEDIAMESH_OUTBOUND -m owner --gid-owner 1339 -j RETURN',
          '-A MEDIAMESH_OUTBOUND -m addrtype --dst-type LOCAL -j RETURN',
          '-A MEDIAMESH_OUTBOUND -m conntrack --ctdir REPLY -j RETURN',
          '-A MEDIAMESH_OUTBOUND -p udp -m multiport --dports 5004:5005,6000 -j MARK --set-xmark 0x10000/0x10000',
          '-A MEDIAMESH_INBOUND -p tcp -m multiport --dports 554 -j REDIRECT --to-ports 15106',
          '-A MEDIAMESH_INBOUND -p udp -m udp --dport 25004 -j REDIRECT --to-ports 15200',
          '-A MEDIAMESH_INBOUND -p udp -m udp --dport 25006 -j REDIRECT --to-ports 15201',
          '-A MEDIAMESH_INBOUND -p udp -m udp --dport 25007 -j REDIRECT --to-ports 15202',
          '-A MEDIAMESH_OUTPUT -m owner --uid-owner 1339 -j ACCEPT',
          '-A MEDIAMESH_OUTPUT -m mark --mark 0x10000/0x10000 -j ACCEPT',
          '-A MEDIAMESH_OUTPUT -p tcp -m addrtype --dst-type LOCAL -j RETURN',
          '-A MEDIAMESH_OUTPUT -p tcp -m multiport --dports 554,8554 -j REDIRECT --to-ports 15101',
        ]) assert.ok(rules.includes(expected), `missing ${expected} in:\n${rules.join('\n')}`);
        // Nothing else in the pod is touched: only our chains hold rules.
        assert.deepEqual(rules.filter((r) => !/^-A (OUTPUT|PREROUTING|INPUT|MEDIAMESH_[A-Z]+) /.test(r)), []);
      } finally {
        runScript(lab, 'scratch', ['clean']);
      }
    });
  });

  it('clean in the client and server pods leaves their networking as it was before apply, sidecars running', () => {
    for (const pod of ['client', 'server']) {
      runScript(lab, pod, ['clean']);
      assert.equal(networkingSnapshot(lab, pod), beforeApply[pod], `${pod} after clean`);
    }
  });
});
