// End to end, pods as network namespaces: a real GStreamer RTP sender
// (gst-launch-1.0), the sidecar Envoy (xDS from `mediamesh serve`) running the
// mediamesh RTP filter, and a receiver whose RTP stack is GStreamer's
// rtpsession (tools/rtp_receiver.py), each in its own namespace. Loss comes from an
// iptables statistic rule in the proxy pod, reordering and jitter from a small
// relay pod between sender and proxy. The filter's stats are checked against
// what the sender sent, what iptables dropped, what the relay reordered and
// what the receiver measured.
//
//   sender ─┐                    ┌─ receiver (backend endpoint)
//   relay  ─┼── br0 (node ns) ───┼─ proxy (sidecar Envoy; the Service's clusterIP)
//           └── root ns veth: the control plane, Envoy admin reads
//
// Must run as root; fails (does not skip) otherwise.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { bootstrapYaml } from '../../xds-server/src/bootstrap/envoy-bootstrap.js';
import { projectRoot } from '../../xds-server/src/sidecar/envoy-binary.js';
import { EnvoyProcess } from '../../xds-server/src/sidecar/envoy-process.js';
import { ControlPlaneProcess } from '../helpers/control-plane-process.js';
import { ConfigDir, udpRouteDocuments } from '../helpers/mesh-files.js';
import { NetnsLab, type PodProcess, requireRoot } from '../helpers/netns.js';
import { waitFor } from '../helpers/poll.js';

const PYTHON = '/usr/bin/python3'; // Debian's, which has python3-gi
const TOOLS = path.join(projectRoot(), 'test/e2e/tools');
const CLOCK_RATE = 48_000;
const PAYLOAD_TYPE = 96; // rtpL16pay's dynamic type; the UdpRoute gives its clock rate
const NAMESPACE = 'media';

interface RouteCase {
  name: string;
  listenPort: number;
  backendPort: number;
  relayPort?: number;
}

const ROUTES = {
  clean: { name: 'rtp-clean', listenPort: 5004, backendPort: 6004 },
  loss: { name: 'rtp-loss', listenPort: 5006, backendPort: 6006 },
  reorder: { name: 'rtp-reorder', listenPort: 5008, backendPort: 6008, relayPort: 7008 },
  jitter: { name: 'rtp-jitter', listenPort: 5010, backendPort: 6010, relayPort: 7010 },
} satisfies Record<string, RouteCase>;

interface ReceiverSource {
  ssrc: number;
  unique: number;
  missing: number;
  duplicates: number;
  out_of_order: number;
  a8_jitter_us: number;
  gst_jitter_us?: number;
  gst_packets_received?: number;
}
interface ReceiverReport {
  reason: string;
  datagrams: number;
  bytes: number;
  non_rtp: number;
  sources: ReceiverSource[];
}
interface RelayReport {
  reason: string;
  received: number;
  sent: number;
  out_of_order: number;
  blocks: Record<string, number>;
  max_delay_ms: number;
}

const RTP_STATS = ['packets', 'bytes', 'expected', 'lost', 'lost_pending', 'duplicates', 'out_of_order', 'rtcp', 'non_rtp', 'malformed', 'jitter_us', 'active_ssrcs'] as const;
type RtpStats = Record<(typeof RTP_STATS)[number], number>;

/** A live L16 stream, 48 kHz mono, one packet per `ptimeMs`: exactly `packets` RTP packets. */
function gstSender(host: string, port: number, packets: number, ptimeMs: number): string[] {
  return [
    'gst-launch-1.0', '-q',
    'audiotestsrc', 'is-live=true', `num-buffers=${packets}`, `samplesperbuffer=${(CLOCK_RATE / 1000) * ptimeMs}`,
    '!', `audio/x-raw,format=S16BE,rate=${CLOCK_RATE},channels=1`,
    '!', 'rtpL16pay',
    '!', 'udpsink', `host=${host}`, `port=${port}`,
  ];
}

function checkTools(): void {
  const missing: string[] = [];
  const probe = (argv: string[]): void => {
    try {
      execFileSync(argv[0]!, argv.slice(1), { stdio: 'ignore', timeout: 10_000 });
    } catch {
      missing.push(argv.join(' '));
    }
  };
  probe(['gst-launch-1.0', '--version']);
  probe(['gst-inspect-1.0', 'rtpL16pay']);
  probe(['gst-inspect-1.0', 'rtpsession']);
  probe([PYTHON, '-c', "import gi; gi.require_version('Gst', '1.0')"]);
  probe(['iptables', '--version']);
  if (missing.length) throw new Error(`rtp-netns e2e needs the Debian packages gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good python3-gi gir1.2-gstreamer-1.0 iptables; these checks failed: ${missing.join('; ')}`);
}

describe('RTP through the mesh between pods (network namespaces, real Envoy, GStreamer peers)', function () {
  this.timeout(120_000);
  const config = new ConfigDir();
  let lab: NetnsLab | undefined;
  let controlPlane: ControlPlaneProcess | undefined;
  let envoy: EnvoyProcess | undefined;
  const figures: string[] = [];

  before(async function () {
    this.timeout(60_000);
    requireRoot('test/e2e/rtp-netns');
    checkTools();
    lab = NetnsLab.create(['sender', 'relay', 'proxy', 'receiver']);
    // If the run is cut short (signal, crash), the exit safety net also ends
    // the control plane, which runs in the root namespace, and removes its files.
    lab.onDestroy(() => {
      void controlPlane?.stop('SIGKILL');
      config.cleanup();
    });
    const proxy = lab.pod('proxy');
    const receiver = lab.pod('receiver');
    for (const r of Object.values(ROUTES)) {
      config.write(`${r.name}.yaml`, udpRouteDocuments({
        name: r.name,
        listenPort: r.listenPort,
        // The proxy pod is the Service's address: it binds the listener there.
        clusterIP: proxy.ip,
        backends: [{ name: `${r.name}-rx`, ports: [r.backendPort], address: receiver.ip }],
        extraSpec: { protocol: 'RTP', rtp: { clockRate: { [String(PAYLOAD_TYPE)]: CLOCK_RATE } } },
      }, NAMESPACE));
    }
    // The control plane listens only on the root end of the lab's veth.
    controlPlane = await ControlPlaneProcess.start(config.dir, 0, ['--listen-host', lab.hostIp]);
    envoy = await EnvoyProcess.start({
      bootstrapYaml: bootstrapYaml({ nodeId: `${lab.id}-proxy`, cluster: 'mediamesh-proxy', xdsHost: lab.hostIp, xdsPort: controlPlane.xdsPort, adminAddress: proxy.ip, adminPort: 0, delta: false }),
      prefix: proxy.prefix,
      concurrency: 1,
    });
    const wanted = Object.values(ROUTES).map((r) => `udp~${NAMESPACE}~${r.name}~${r.listenPort}`).sort();
    await waitFor('the four RTP listeners in Envoy', async () => {
      const names = (await envoy!.admin.listenerNames()).sort();
      return wanted.every((n) => names.includes(n)) && names;
    }, 20_000);
  });

  after(async function () {
    this.timeout(30_000);
    if (figures.length) console.log(`      measured:\n${figures.map((f) => `        ${f}`).join('\n')}`);
    const errors: string[] = [];
    // Keep Envoy's log only when something failed.
    const failed = this.test?.parent?.tests.some((t) => t.state === 'failed') ?? false;
    await envoy?.stop({ keepWorkDir: failed }).catch((e: unknown) => errors.push(String(e)));
    if (envoy && failed) console.log(`      Envoy's log and bootstrap: ${envoy.workDir}`);
    await controlPlane?.stop().catch((e: unknown) => errors.push(String(e)));
    if (lab) {
      await lab.close();
      const left = lab.leftovers();
      if (left.length) errors.push(`left behind: ${left.join(', ')}`);
    }
    config.cleanup();
    if (errors.length) throw new Error(`cleanup: ${errors.join('; ')}`);
  });

  async function rtpStats(route: string): Promise<RtpStats> {
    const prefix = `mediamesh.rtp.${NAMESPACE}.${route}.`;
    const all = await envoy!.admin.stats(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`);
    const out = {} as RtpStats;
    for (const name of RTP_STATS) {
      const value = all.get(prefix + name);
      assert.ok(value !== undefined, `Envoy has no stat ${prefix}${name}; it has: ${[...all.keys()].join(', ')}`);
      out[name] = value;
    }
    return out;
  }

  /**
   * One stream: receiver (and relay) up first, the sender runs to completion,
   * then the relay and the receiver end when the stream has gone quiet.
   */
  async function stream(r: RouteCase, o: { packets: number; ptimeMs: number; relayArgs?: string[]; expectAtReceiver?: number }): Promise<{ receiver: ReceiverReport; relay?: RelayReport; stats: RtpStats }> {
    const proxy = lab!.pod('proxy');
    const receiverProc = lab!.spawn('receiver', 'rtp_receiver.py', [
      PYTHON, path.join(TOOLS, 'rtp_receiver.py'), '--port', String(r.backendPort), '--clock-rate', String(CLOCK_RATE), '--payload', String(PAYLOAD_TYPE),
      '--idle-ms', '800', '--max-seconds', '60', ...(o.expectAtReceiver ? ['--expect', String(o.expectAtReceiver)] : []),
    ]);
    await receiverProc.line(/^ready /, 10_000);
    let relayProc: PodProcess | undefined;
    let target = { host: proxy.ip, port: r.listenPort };
    if (o.relayArgs) {
      assert.ok(r.relayPort, `route ${r.name} has no relay port`);
      relayProc = lab!.spawn('relay', 'rtp_relay.py', [
        PYTHON, path.join(TOOLS, 'rtp_relay.py'), '--listen-port', String(r.relayPort), '--to', `${proxy.ip}:${r.listenPort}`,
        '--idle-ms', '500', '--max-seconds', '60', ...o.relayArgs,
      ]);
      await relayProc.line(/^ready /, 10_000);
      target = { host: lab!.pod('relay').ip, port: r.relayPort };
    }
    const sender = lab!.spawn('sender', 'gst-launch-1.0', gstSender(target.host, target.port, o.packets, o.ptimeMs));
    await sender.finished(o.packets * o.ptimeMs + 15_000);
    const relay = relayProc ? (await relayProc.finished(10_000), relayProc.report<RelayReport>()) : undefined;
    await receiverProc.finished(10_000);
    const receiver = receiverProc.report<ReceiverReport>();
    // The receiver has been idle for its idle time: every datagram Envoy forwarded has passed the filter.
    return { receiver, relay, stats: await rtpStats(r.name) };
  }

  it('(a) carries an RTP stream intact and counts every packet, with no loss', async () => {
    const sent = 2000;
    const { receiver, stats } = await stream(ROUTES.clean, { packets: sent, ptimeMs: 1, expectAtReceiver: sent });
    figures.push(`(a) clean: sent ${sent}; filter packets ${stats.packets}, expected ${stats.expected}, lost ${stats.lost} + pending ${stats.lost_pending}; receiver ${receiver.datagrams} datagrams, ${receiver.sources[0]?.missing} missing`);
    assert.equal(receiver.datagrams, sent, 'the receiver got every packet');
    assert.equal(receiver.sources.length, 1, 'one SSRC');
    assert.equal(receiver.sources[0]!.gst_packets_received, sent, 'GStreamer\'s RTP session received every packet');
    assert.deepEqual({ unique: receiver.sources[0]!.unique, missing: receiver.sources[0]!.missing, duplicates: receiver.sources[0]!.duplicates, ooo: receiver.sources[0]!.out_of_order }, { unique: sent, missing: 0, duplicates: 0, ooo: 0 });
    assert.equal(stats.packets, sent, 'filter packets == packets sent');
    assert.equal(stats.bytes, receiver.bytes, 'filter bytes == bytes the receiver got');
    assert.equal(stats.lost + stats.lost_pending, 0, 'no loss');
    // RFC 3550 A.1: the first (probation) packet is not in `expected`.
    assert.equal(stats.expected, sent - 1);
    assert.deepEqual({ dup: stats.duplicates, ooo: stats.out_of_order, rtcp: stats.rtcp, nonRtp: stats.non_rtp, malformed: stats.malformed, ssrcs: stats.active_ssrcs }, { dup: 0, ooo: 0, rtcp: 0, nonRtp: 0, malformed: 0, ssrcs: 1 });
  });

  it('(b) counts the packets iptables drops (5% random) as lost, within 0.5 percentage points', async () => {
    const r = ROUTES.loss;
    const sent = 3000;
    const match = ['-p', 'udp', '--dport', String(r.listenPort)];
    const rules = [
      [...match, '-m', 'comment', '--comment', 'mm-rtp-arrived'],
      [...match, '-m', 'statistic', '--mode', 'random', '--probability', '0.05', '-m', 'comment', '--comment', 'mm-rtp-drop', '-j', 'DROP'],
    ];
    for (const rule of rules) lab!.exec('proxy', ['iptables', '-w', '5', '-A', 'INPUT', ...rule]);
    try {
      const { receiver, stats } = await stream(r, { packets: sent, ptimeMs: 1 });
      const counters = iptablesCounters(lab!.exec('proxy', ['iptables', '-w', '5', '-L', 'INPUT', '-v', '-x', '-n']));
      const arrived = counters.get('mm-rtp-arrived');
      const dropped = counters.get('mm-rtp-drop');
      assert.ok(arrived !== undefined && dropped !== undefined, `iptables rules not found in the proxy pod: ${[...counters.keys()].join(', ')}`);
      const filterLoss = stats.lost + stats.lost_pending;
      figures.push(`(b) loss: sent ${sent}; iptables saw ${arrived}, dropped ${dropped} (${((100 * dropped) / sent).toFixed(2)}%); filter packets ${stats.packets}, expected ${stats.expected}, lost ${stats.lost} + pending ${stats.lost_pending} = ${filterLoss} (${((100 * Math.abs(filterLoss - dropped)) / sent).toFixed(2)} pp off); receiver ${receiver.datagrams}, ${receiver.sources[0]?.missing} missing`);
      assert.equal(arrived, sent, 'every packet the sender sent reached the proxy pod');
      assert.ok(dropped > 0.02 * sent && dropped < 0.09 * sent, `iptables dropped ${dropped} of ${sent}, far from 5%`);
      assert.equal(stats.packets, sent - dropped, 'the filter saw every packet iptables let through');
      assert.equal(receiver.datagrams, sent - dropped, 'the receiver got every packet iptables let through');
      assert.ok(Math.abs(filterLoss - dropped) <= 0.005 * sent, `filter loss ${filterLoss} (lost ${stats.lost} + pending ${stats.lost_pending}) vs ${dropped} dropped: more than 0.5 pp of ${sent}`);
      assert.equal(stats.duplicates, 0);
      assert.equal(stats.out_of_order, 0);
    } finally {
      for (const rule of rules) {
        try {
          lab!.exec('proxy', ['iptables', '-w', '5', '-D', 'INPUT', ...rule]);
        } catch {
          // the namespace, and its rules, go away in after() anyway
        }
      }
    }
  });

  it('(c) counts as out_of_order exactly the packets a relay reordered', async () => {
    const sent = 2000;
    const { receiver, relay, stats } = await stream(ROUTES.reorder, { packets: sent, ptimeMs: 1, relayArgs: ['--reorder', '--skip', '20', '--every', '40'], expectAtReceiver: sent });
    figures.push(`(c) reorder: sent ${sent}; relay reordered ${relay!.out_of_order} (blocks ${JSON.stringify(relay!.blocks)}); filter out_of_order ${stats.out_of_order}, lost ${stats.lost} + pending ${stats.lost_pending}, duplicates ${stats.duplicates}; receiver out_of_order ${receiver.sources[0]?.out_of_order}`);
    assert.equal(relay!.received, sent);
    assert.equal(relay!.sent, sent);
    assert.ok(relay!.out_of_order >= 40, `the relay reordered only ${relay!.out_of_order} packets`);
    assert.equal(stats.packets, sent);
    assert.equal(stats.out_of_order, relay!.out_of_order, 'filter out_of_order == packets the relay sent below the highest sequence number');
    assert.equal(stats.lost + stats.lost_pending, 0, 'every gap was filled');
    assert.equal(stats.duplicates, 0);
    assert.equal(receiver.datagrams, sent);
    assert.equal(receiver.sources[0]!.out_of_order, relay!.out_of_order, 'the receiver saw the same reordering (nothing reordered after the relay)');
    assert.equal(receiver.sources[0]!.missing, 0);
  });

  it('(d) reports jitter within 10% of the GStreamer receiver\'s RFC 3550 estimate', async () => {
    const sent = 1500;
    // The relay delays each packet by 0..4 ms (seeded, order kept), so the
    // jitter is dominated by a known source rather than by scheduling noise.
    // Both figures are the running A.8 estimate after the last packet: the
    // filter's from arrival at Envoy in the proxy pod, GStreamer rtpsession's
    // from the kernel's arrival stamp in the receiver pod, one hop later
    // (rtp_receiver.py says why not udpsrc's user-space stamp).
    const { receiver, relay, stats } = await stream(ROUTES.jitter, { packets: sent, ptimeMs: 2, relayArgs: ['--jitter-ms', '4', '--seed', '7'], expectAtReceiver: sent });
    const source = receiver.sources[0]!;
    const gst = source.gst_jitter_us;
    figures.push(`(d) jitter: sent ${sent}; relay max delay ${relay!.max_delay_ms.toFixed(2)} ms; filter jitter_us ${stats.jitter_us}; GStreamer rtpsession jitter ${gst?.toFixed(1)} µs; receiver float A.8 ${source.a8_jitter_us.toFixed(1)} µs; filter vs GStreamer ${gst ? ((100 * (stats.jitter_us - gst)) / gst).toFixed(1) : '?'}%`);
    assert.equal(receiver.datagrams, sent);
    assert.equal(stats.packets, sent);
    assert.equal(stats.out_of_order, 0, 'the jitter relay keeps the order');
    assert.ok(gst !== undefined, `GStreamer reported no jitter: ${JSON.stringify(receiver)}`);
    assert.ok(gst > 300, `receiver jitter ${gst} µs: too small for a 10% comparison to mean anything`);
    assert.ok(Math.abs(stats.jitter_us - gst) <= 0.1 * gst, `filter jitter ${stats.jitter_us} µs vs receiver ${gst.toFixed(1)} µs: more than 10% apart`);
  });
});

/** Packet counters of `iptables -L -v -x -n` rows, keyed by their comment. */
function iptablesCounters(listing: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of listing.split('\n')) {
    const comment = /\/\* (.+?) \*\//.exec(line);
    const pkts = /^\s*(\d+)\s+\d+\s/.exec(line);
    if (comment && pkts) out.set(comment[1]!, Number(pkts[1]));
  }
  return out;
}
