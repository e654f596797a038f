// mediamesh's interception beside Istio's, in one pod namespace: Istio's own
// rules written by Istio's own code (`pilot-agent istio-iptables`, built from
// the istio.io/istio module by scripts/istio-binaries.mjs), with the flags
// Istio's injector uses and the exclusions mediamesh's injector merges into
// traffic.sidecar.istio.io/exclude{Inbound,Outbound}Ports; then
// mediamesh-intercept.sh. No Istio Envoy runs: small TCP servers as UID 1337
// stand in on its ports 15001 (outbound) and 15006 (inbound) and say which
// original destination they were handed.
//
//   mesh pod: the app (probes, GStreamer, an RTSP-like echo on 554, a UDP
//     echo on 25004), Istio's rules, ours, mediamesh's sidecar (UID 1339) and
//     the Istio stand-ins.
//   peer pod: no interception: HTTP on 8080, an RTSP backend on 9554 (a
//     Service's targetPort that no exclusion lists), a UDP echo, an RTP
//     receiver. It also dials the mesh pod, for the inbound checks.
//   four more pods: which iptables backend both sets of rules land in, for
//     either order and with or without legacy tables already there.
//
// Must run as root; fails (never skips) otherwise, when a tool is missing or
// pilot-agent is not built (npm run setup builds it).
import assert from 'node:assert/strict';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { rtpModuleFromOption } from '../../xds-server/src/cli/rtp-module-option.js';
import { type RunningControlPlane, startControlPlane } from '../../xds-server/src/cli/serve.js';
import { projectRoot } from '../../xds-server/src/sidecar/envoy-binary.js';
import type { EnvoyProcess } from '../../xds-server/src/sidecar/envoy-process.js';
import {
  backendsWith, type Backend, checkTools, type HttpGetReport, INBOUND_UDP_PROXY_BASE, inboundRtsp, inboundUdp, networkingSnapshot, normalizeSave, outboundTcp, outboundTcpEntry, probe, probeJson, PROXY_UID, PYTHON,
  rulePackets, runScript, saveOutput, SIDECAR_ADMIN_PORT, startSidecar, type TcpSendReport, type UdpSendReport,
} from '../helpers/interception.js';
import { ConfigDir, udpRouteDocuments } from '../helpers/mesh-files.js';
import { NetnsLab, requireRoot } from '../helpers/netns.js';
import { waitFor } from '../helpers/poll.js';

const NAMESPACE = 'media';
const ISTIO_UID = 1337;
const RTP_RECEIVER = path.join(projectRoot(), 'test/e2e/tools/rtp_receiver.py');
/** What the mesh pod declares to mediamesh's injector. */
const OUR_FLAGS = ['--proxy-uid', String(PROXY_UID), '--rtsp-ports', '554', '--udp-ports', '5004', '--inbound-rtsp-ports', '554', '--inbound-udp-ports', '25004'];
/** Every media port, singly, as mediamesh's injector merges them into both of Istio's exclusion annotations. */
const MEDIA_PORTS = '554,5004,25004';

/**
 * Istio's injector's flags for its init container (REDIRECT mode), with the
 * exclusions: excludeInboundPorts goes after Istio's own -d ports,
 * excludeOutboundPorts into -o. The sidecar's admin port is excluded too,
 * only because the test reads it from outside the pod.
 */
function istioIptablesArgs(): string[] {
  return ['istio-iptables', '-p', '15001', '-z', '15006', '-u', String(ISTIO_UID), '-m', 'REDIRECT', '-i', '*', '-b', '*', '-d', `15090,15021,15020,${SIDECAR_ADMIN_PORT},${MEDIA_PORTS}`, '-o', MEDIA_PORTS];
}

async function pilotAgentPath(): Promise<string> {
  const script = path.join(projectRoot(), 'scripts/istio-binaries.mjs');
  const mod = (await import(pathToFileURL(script).href)) as { istioBinaryPaths(): { pilotAgent: string; ready: boolean }; ISTIO_VERSION: string };
  const paths = mod.istioBinaryPaths();
  if (!paths.ready) {
    throw new Error(`Istio's pilot-agent ${mod.ISTIO_VERSION} is not built (looked for ${paths.pilotAgent}): run \`npm run setup\` (or \`node scripts/istio-binaries.mjs\`), which builds it once per machine`);
  }
  return paths.pilotAgent;
}

describe('interception beside Istio\'s own rules (pilot-agent istio-iptables) in one pod', function () {
  this.timeout(180_000);
  const config = new ConfigDir();
  let lab: NetnsLab;
  let cp: RunningControlPlane | undefined;
  let sidecar: EnvoyProcess | undefined;
  let pilotAgent: string;
  let istioOnly: string;
  const figures: string[] = [];
  const vip = (n: number) => `${lab.subnet}.${n}`;
  const VIPS = { feed: 240, cam: 242, rtsp: 243 };
  // pilot-agent logs to stdout: sent to stderr, where a failure's message is taken from.
  const runIstio = (pod: string) => lab.exec(pod, ['sh', '-c', 'exec "$0" "$@" 1>&2', pilotAgent, ...istioIptablesArgs()]);

  before(async function () {
    this.timeout(90_000);
    requireRoot('test/e2e/istio-coexistence');
    checkTools([['gst-launch-1.0', '--version'], ['gst-inspect-1.0', 'vp8enc'], [PYTHON, '-c', "import gi; gi.require_version('Gst', '1.0')"]]);
    pilotAgent = await pilotAgentPath();
    lab = NetnsLab.create(['mesh', 'peer', 'mmfirst', 'legacyistio', 'legacymm', 'scratch']);
    lab.onDestroy(() => {
      void cp?.stop();
      config.cleanup();
    });
    const peer = lab.pod('peer');
    const started = Date.now();

    config.write('feed.yaml', udpRouteDocuments({ name: 'feed', listenPort: 5004, clusterIP: vip(VIPS.feed), backends: [{ name: 'feed-v1', ports: [25004], address: peer.ip }] }, NAMESPACE));
    config.write('cam.yaml', udpRouteDocuments({
      name: 'cam', listenPort: 5004, clusterIP: vip(VIPS.cam), backends: [{ name: 'cam-v1', ports: [25008], address: peer.ip }],
      extraSpec: { protocol: 'RTP', rtp: { clockRate: { '96': 90_000 } } },
    }, NAMESPACE));

    // The mesh pod as Kubernetes starts it: Istio's init container, then mediamesh's (last).
    runIstio('mesh');
    istioOnly = networkingSnapshot(lab, 'mesh');
    runScript(lab, 'mesh', ['apply', ...OUR_FLAGS]);

    cp = await startControlPlane({ configDir: config.dir, listenHost: lab.hostIp, xdsPort: 0, adminPort: 0, debounceMs: 50, rtpModule: rtpModuleFromOption(undefined) });

    const asIstio = ['setpriv', '--reuid', String(ISTIO_UID), '--regid', String(ISTIO_UID), '--clear-groups'];
    await lab.spawn('mesh', 'Istio outbound stand-in', [...asIstio, ...probe(['stand-in', '--port', '15001', '--tag', 'istio-outbound'])]).line(/^ready /, 10_000);
    await lab.spawn('mesh', 'Istio inbound stand-in', [...asIstio, ...probe(['stand-in', '--port', '15006', '--tag', 'istio-inbound'])]).line(/^ready /, 10_000);
    await lab.spawn('mesh', 'app RTSP 554', probe(['tcp-echo', '--port', '554', '--tag', 'APP'])).line(/^ready /, 10_000);
    await lab.spawn('mesh', 'app UDP 25004', probe(['udp-echo', '--port', '25004', '--tag', 'APP'])).line(/^ready /, 10_000);
    await lab.spawn('peer', 'peer RTSP 9554', probe(['tcp-echo', '--port', '9554', '--tag', 'PEER'])).line(/^ready /, 10_000);
    await lab.spawn('peer', 'peer UDP 25004', probe(['udp-echo', '--port', '25004', '--tag', 'PEER'])).line(/^ready /, 10_000);
    await lab.spawn('peer', 'peer HTTP 8080', [PYTHON, '-u', '-m', 'http.server', '8080', '--bind', '0.0.0.0', '--directory', path.join(projectRoot(), 'manifests/interception')]).line(/Serving HTTP/, 10_000);

    // Its xDS connection (TCP to the control plane) is the first thing Istio's REDIRECT would take from it.
    sidecar = await startSidecar(lab.pod('mesh'), {
      xdsHost: lab.hostIp, xdsPort: cp.xdsPort, namespace: NAMESPACE,
      extra: [outboundTcpEntry(), outboundTcp('rtsp-cams', vip(VIPS.rtsp), 554, { address: peer.ip, port: 9554 }), inboundRtsp(), inboundUdp(25004, INBOUND_UDP_PROXY_BASE)],
    });
    await waitFor('the sidecar\'s listeners, from the control plane through Istio\'s rules', async () => {
      const names = await sidecar!.admin.listenerNames();
      return [`udp~${NAMESPACE}~feed~5004`, `udp~${NAMESPACE}~cam~5004`, 'outbound-tcp', 'rtsp-cams', 'inbound-rtsp', 'inbound-udp-25004'].every((n) => names.includes(n)) && names;
    }, 20_000);
    figures.push(`set-up (Istio's rules, ours, control plane, sidecar, stand-ins): ${Date.now() - started} ms`);
  });

  after(async function () {
    this.timeout(30_000);
    if (figures.length) console.log(`      measured:\n${figures.map((f) => `        ${f}`).join('\n')}`);
    const failed = this.test?.parent?.tests.some((t) => t.state === 'failed') ?? false;
    const errors: string[] = [];
    await sidecar?.stop({ keepWorkDir: failed }).catch((e: unknown) => errors.push(String(e)));
    if (sidecar && failed) console.log(`      the sidecar's log and bootstrap: ${sidecar.workDir}`);
    await cp?.stop().catch((e: unknown) => errors.push(String(e)));
    if (lab) {
      await lab.close();
      const left = lab.leftovers();
      if (left.length) errors.push(`left behind: ${left.join(', ')}`);
    }
    config.cleanup();
    if (errors.length) throw new Error(`cleanup: ${errors.join('; ')}`);
  });

  const stat = (name: string) => sidecar!.admin.stat(name);
  /** Connections Istio's rules redirected to its ports: outbound (15001) and inbound (15006). */
  const istioRedirects = () => ({
    outbound: rulePackets(lab, 'mesh', 'nft', /-A ISTIO_REDIRECT .*--to-ports 15001/),
    inbound: rulePackets(lab, 'mesh', 'nft', /-A ISTIO_IN_REDIRECT .*--to-ports 15006/),
  });

  it('puts Istio\'s rules and ours in the same backend (nft here), ours first in each chain both use', () => {
    assert.deepEqual(backendsWith(lab, 'mesh', 'ISTIO_'), ['nft']);
    assert.deepEqual(backendsWith(lab, 'mesh', 'MEDIAMESH_'), ['nft']);
    // Istio's backend probe left an empty legacy nat table behind; it did not fool our choice.
    assert.match(saveOutput(lab, 'mesh', 'legacy'), /^\*nat$/m);
    const rules = saveOutput(lab, 'mesh', 'nft').split('\n');
    const first = (table: string, chain: string) => {
      const at = rules.indexOf(`*${table}`);
      return rules.slice(at).find((l) => l.startsWith(`-A ${chain} `));
    };
    assert.equal(first('nat', 'OUTPUT'), '-A OUTPUT -j MEDIAMESH_OUTPUT');
    assert.equal(first('nat', 'PREROUTING'), '-A PREROUTING -j MEDIAMESH_INBOUND');
  });

  it('HTTP out of the app reaches Istio\'s outbound port (15001), with its original destination', () => {
    const before = istioRedirects();
    const http = probeJson<HttpGetReport>(lab, 'mesh', ['http-get', '--url', `http://${lab.pod('peer').ip}:8080/`]);
    figures.push(`HTTP out: ${JSON.stringify(http)}`);
    assert.equal(http.status, 200);
    assert.equal(http.body, `istio-outbound orig=${lab.pod('peer').ip}:8080`);
    assert.equal(istioRedirects().outbound, before.outbound + 1);
  });

  it('HTTP into the pod reaches Istio\'s inbound port (15006)', () => {
    const http = probeJson<HttpGetReport>(lab, 'peer', ['http-get', '--url', `http://${lab.pod('mesh').ip}:8080/`]);
    figures.push(`HTTP in: ${JSON.stringify(http)}`);
    assert.equal(http.status, 200);
    assert.equal(http.body, `istio-inbound orig=${lab.pod('mesh').ip}:8080`);
  });

  it('RTSP out of the app reaches mediamesh\'s sidecar, and its connection to a backend port Istio does not exclude is not taken by Istio', async () => {
    const before = istioRedirects();
    const rtsp = probeJson<TcpSendReport>(lab, 'mesh', ['tcp-send', '--to', `${vip(VIPS.rtsp)}:554`, '--message', 'OPTIONS']);
    figures.push(`RTSP out: ${JSON.stringify(rtsp)}`);
    assert.deepEqual(rtsp, { reply: 'PEER:OPTIONS' });
    assert.equal(await stat('tcp.rtsp-cams.downstream_cx_total'), 1);
    assert.deepEqual(istioRedirects(), before, 'Istio redirected neither the app\'s connection nor the sidecar\'s to 9554');
  });

  it('RTSP into the pod reaches the app through mediamesh\'s sidecar, not Istio', async () => {
    const before = istioRedirects();
    const rtsp = probeJson<TcpSendReport>(lab, 'peer', ['tcp-send', '--to', `${lab.pod('mesh').ip}:554`, '--message', 'DESCRIBE']);
    figures.push(`RTSP in: ${JSON.stringify(rtsp)}`);
    assert.deepEqual(rtsp, { reply: 'APP:DESCRIBE' });
    assert.equal(await stat('tcp.inbound_rtsp.downstream_cx_total'), 1);
    assert.deepEqual(istioRedirects(), before);
  });

  it('UDP both ways goes through mediamesh\'s sidecar', async () => {
    const out = probeJson<UdpSendReport>(lab, 'mesh', ['udp-send', '--to', `${vip(VIPS.feed)}:5004`, '--count', '8']);
    const into = probeJson<UdpSendReport>(lab, 'peer', ['udp-send', '--to', `${lab.pod('mesh').ip}:25004`, '--count', '8']);
    figures.push(`UDP out ${JSON.stringify(out.tags)}, in ${JSON.stringify(into.tags)}`);
    assert.deepEqual(out.tags, { PEER: 8 });
    assert.deepEqual(into.tags, { APP: 8 });
    assert.equal(await stat(`udp.${NAMESPACE}.feed.5004.downstream_sess_rx_datagrams`), 8);
    assert.equal(await stat('udp.inbound_25004.downstream_sess_rx_datagrams'), 8);
  });

  it('RTP (GStreamer VP8) out of the app reaches mediamesh\'s sidecar and its RTP filter, every packet', async () => {
    const receiver = lab.spawn('peer', 'rtp_receiver.py', [PYTHON, RTP_RECEIVER, '--port', '25008', '--clock-rate', '90000', '--payload', '96', '--encoding', 'VP8', '--idle-ms', '1500', '--max-seconds', '60']);
    await receiver.line(/^ready /, 10_000);
    const sender = lab.spawn('mesh', 'gst-launch-1.0', [
      'gst-launch-1.0', '-q', 'videotestsrc', 'is-live=true', 'num-buffers=60',
      '!', 'video/x-raw,width=320,height=240,framerate=30/1', '!', 'vp8enc', 'deadline=1', '!', 'rtpvp8pay', 'pt=96', 'mtu=1200',
      '!', 'udpsink', `host=${vip(VIPS.cam)}`, 'port=5004',
    ]);
    await sender.finished(30_000);
    await receiver.finished(20_000);
    const got = receiver.report<{ datagrams: number; sources: { missing: number }[] }>();
    const filtered = await stat(`mediamesh.rtp.${NAMESPACE}.cam.packets`);
    figures.push(`RTP out: receiver ${got.datagrams} datagrams (${got.sources[0]?.missing} missing), RTP filter ${filtered} packets`);
    assert.ok(got.datagrams >= 60);
    assert.equal(got.sources[0]!.missing, 0);
    assert.equal(filtered, got.datagrams);
  });

  describe('which backend, whichever init container runs first', () => {
    const flushLegacy = (pod: string) => lab.exec(pod, ['iptables-legacy', '-w', '5', '-t', 'nat', '-F']);
    const cases: { pod: string; what: string; prepare: (pod: string) => void; order: 'istio-first' | 'ours-first'; expected: Backend }[] = [
      { pod: 'mmfirst', what: 'ours first, in a fresh namespace', prepare: () => {}, order: 'ours-first', expected: 'nft' },
      { pod: 'legacyistio', what: 'Istio first, after a legacy flush', prepare: flushLegacy, order: 'istio-first', expected: 'legacy' },
      { pod: 'legacymm', what: 'ours first, after a legacy flush', prepare: flushLegacy, order: 'ours-first', expected: 'legacy' },
    ];
    for (const c of cases) {
      it(`${c.what}: both in ${c.expected}`, () => {
        c.prepare(c.pod);
        if (c.order === 'istio-first') runIstio(c.pod);
        runScript(lab, c.pod, ['apply', ...OUR_FLAGS]);
        if (c.order === 'ours-first') runIstio(c.pod);
        assert.deepEqual(backendsWith(lab, c.pod, 'ISTIO_'), [c.expected], 'Istio\'s rules');
        assert.deepEqual(backendsWith(lab, c.pod, 'MEDIAMESH_'), [c.expected], 'ours');
      });
    }
  });

  it('istio-iptables refuses a namespace with only lo (the known snag the lab\'s veths avoid)', () => {
    lab.exec('scratch', ['ip', 'link', 'set', 'eth0', 'down']);
    lab.exec('scratch', ['ip', 'addr', 'flush', 'dev', 'eth0']);
    assert.throws(() => runIstio('scratch'), /no valid local IP address/);
  });

  it('clean removes ours and leaves Istio\'s rules exactly as Istio wrote them', () => {
    runScript(lab, 'mesh', ['clean']);
    assert.equal(networkingSnapshot(lab, 'mesh'), istioOnly);
    assert.deepEqual(backendsWith(lab, 'mesh', 'MEDIAMESH_'), []);
    assert.match(normalizeSave(saveOutput(lab, 'mesh', 'nft')), /-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001/);
  });
});
