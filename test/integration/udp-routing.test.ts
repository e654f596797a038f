// UdpRoute load balancing through a real Envoy on loopback: weighted canary
// across sessions, SourceIP affinity, per-packet balancing, endpoint churn over
// EDS with the listener untouched, and the per-session access log and stats.
// One control plane and one Envoy serve every route; each case has its own
// route, listener port and echo backends.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { bootstrapYaml } from '../../xds-server/src/bootstrap/envoy-bootstrap.js';
import { EnvoyProcess } from '../../xds-server/src/sidecar/envoy-process.js';
import { ControlPlaneProcess } from '../helpers/control-plane-process.js';
import { ConfigDir, type UdpRouteSpec, udpRouteDocuments } from '../helpers/mesh-files.js';
import { waitFor } from '../helpers/poll.js';
import { freeUdpPort } from '../helpers/ports.js';
import { UdpClient, UdpEchoBackend } from '../helpers/udp.js';

const NAMESPACE = 'media';
const names = (route: string, port: number) => ({
  listener: `udp~${NAMESPACE}~${route}~${port}`,
  cluster: `udp~${NAMESPACE}~${route}~${port}`,
  statPrefix: `udp.${NAMESPACE}.${route}.${port}`,
});

/** Which echo backend answered ("v1:ping" → "v1"), or undefined for no reply. */
function answeredBy(reply: string | undefined): string | undefined {
  return reply?.slice(0, reply.indexOf(':'));
}

/** One session: a fresh socket (new source port), one datagram, its reply, close. */
async function oneSession(listenPort: number, payload: string, sourceAddress = '127.0.0.1'): Promise<string | undefined> {
  const client = await UdpClient.open(sourceAddress);
  try {
    return await client.exchange(listenPort, payload, 1000);
  } finally {
    await client.close();
  }
}

/** Runs `count` tasks, at most `parallel` at a time, and returns their results in order. */
async function inBatches<T>(count: number, parallel: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  for (let start = 0; start < count; start += parallel) {
    const batch = Array.from({ length: Math.min(parallel, count - start) }, (_, j) => task(start + j));
    results.push(...(await Promise.all(batch)));
  }
  return results;
}

function tally(keys: readonly (string | undefined)[]): Map<string | undefined, number> {
  const out = new Map<string | undefined, number>();
  for (const k of keys) out.set(k, (out.get(k) ?? 0) + 1);
  return out;
}

describe('UDP routing through a real Envoy', function () {
  this.timeout(60_000);
  const config = new ConfigDir();
  const echoes = new Map<string, UdpEchoBackend>();
  let controlPlane: ControlPlaneProcess | undefined;
  let envoy: EnvoyProcess | undefined;
  const routes = new Map<string, UdpRouteSpec>();

  const echo = (name: string) => echoes.get(name)!;
  const port = (route: string) => routes.get(route)!.listenPort;
  const membership = (route: string) => envoy!.admin.stat(`cluster.${names(route, port(route)).cluster}.membership_total`);
  const writeRoute = (spec: UdpRouteSpec) => {
    routes.set(spec.name, spec);
    config.write(`${spec.name}.yaml`, udpRouteDocuments(spec, NAMESPACE));
  };
  /**
   * Rewrites a route's file in place. ConfigDir.write replaces the file by rename, and Node 20's
   * recursive fs.watch on Linux (which FileSource uses) reports only the first such replace of a
   * file: a second one is never seen. In-place writes are reported every time.
   */
  const rewriteRoute = (spec: UdpRouteSpec) => {
    routes.set(spec.name, spec);
    fs.writeFileSync(path.join(config.dir, `${spec.name}.yaml`), udpRouteDocuments(spec, NAMESPACE));
  };
  const listenerAndClusterChanges = async () => ({
    listenerAdded: await envoy!.admin.stat('listener_manager.listener_added'),
    listenerModified: await envoy!.admin.stat('listener_manager.listener_modified'),
    listenerRemoved: await envoy!.admin.stat('listener_manager.listener_removed'),
    clusterModified: await envoy!.admin.stat('cluster_manager.cluster_modified'),
  });

  before(async () => {
    for (const name of ['v1', 'v2', 'sticky-a', 'sticky-b', 'spray-a', 'spray-b', 'e1', 'e2', 'e3', 'logged']) {
      echoes.set(name, await UdpEchoBackend.start(name));
    }
    writeRoute({ name: 'canary', listenPort: await freeUdpPort(), backends: [
      { name: 'canary-v1', ports: [echo('v1').port], weight: 90 },
      { name: 'canary-v2', ports: [echo('v2').port], weight: 10 },
    ] });
    writeRoute({ name: 'sticky', listenPort: await freeUdpPort(), extraSpec: { sessionAffinity: 'SourceIP' }, backends: [
      { name: 'sticky-a', ports: [echo('sticky-a').port] },
      { name: 'sticky-b', ports: [echo('sticky-b').port] },
    ] });
    writeRoute({ name: 'spray', listenPort: await freeUdpPort(), extraSpec: { sessionAffinity: 'None' }, backends: [
      { name: 'spray-a', ports: [echo('spray-a').port] },
      { name: 'spray-b', ports: [echo('spray-b').port] },
    ] });
    writeRoute({ name: 'churn', listenPort: await freeUdpPort(), backends: [{ name: 'churn-pool', ports: [echo('e1').port, echo('e2').port] }] });
    writeRoute({ name: 'logged', listenPort: await freeUdpPort(), extraSpec: { idleTimeout: '1s' }, backends: [{ name: 'logged-backend', ports: [echo('logged').port] }] });

    controlPlane = await ControlPlaneProcess.start(config.dir);
    envoy = await EnvoyProcess.start({
      bootstrapYaml: bootstrapYaml({ nodeId: 'udp-routing', cluster: 'mediamesh-proxy', xdsHost: '127.0.0.1', xdsPort: controlPlane.xdsPort, adminAddress: '127.0.0.1', adminPort: 0, delta: false }),
      captureStdout: true,
      // Access logs reach stdout within 100 ms instead of Envoy's default 10 s.
      fileFlushIntervalMs: 100,
    });
    const expectedMembers: Record<string, number> = { canary: 2, sticky: 2, spray: 2, churn: 2, logged: 1 };
    await waitFor('every listener and its endpoints', async () => {
      const listeners = await envoy!.admin.listenerNames();
      for (const [route, members] of Object.entries(expectedMembers)) {
        if (!listeners.includes(names(route, port(route)).listener) || (await membership(route)) !== members) return false;
      }
      return true;
    });
    // The listener sockets are open once a datagram comes back (the "logged" route is probed in its own case).
    for (const route of ['canary', 'sticky', 'spray', 'churn']) {
      await waitFor(`echo through ${route}`, () => oneSession(port(route), 'warm-up'));
    }
  });

  after(async () => {
    await envoy?.stop();
    await controlPlane?.stop();
    await Promise.all([...echoes.values()].map((b) => b.close()));
    config.cleanup();
  });

  it('splits sessions 90/10 between a stable and a canary backend', async () => {
    const sessions = 300;
    const p = 0.1;
    const replies = await inBatches(sessions, 25, (i) => oneSession(port('canary'), `s${i}`));
    const byBackend = tally(replies.map(answeredBy));
    assert.equal(byBackend.get(undefined) ?? 0, 0, 'every session got a reply');
    const k = byBackend.get('v2') ?? 0;
    assert.equal(k + (byBackend.get('v1') ?? 0), sessions, `only v1 and v2 answer: ${JSON.stringify([...byBackend])}`);
    // Binomial(n, p): |k − np| ≤ 3.3σ holds with probability ≈ 99.9 % even if the balancer were random.
    const tolerance = 3.3 * Math.sqrt(sessions * p * (1 - p));
    assert.ok(Math.abs(k - sessions * p) <= tolerance, `canary share ${k}/${sessions} is outside ${sessions * p} ± ${tolerance.toFixed(1)}`);
    console.log(`      canary share: v2 answered ${k}/${sessions} sessions`);
  });

  it('SourceIP affinity keeps one client IP on one backend and spreads distinct IPs', async () => {
    const sameIp = await inBatches(40, 20, (i) => oneSession(port('sticky'), `same${i}`));
    const sameIpBackends = tally(sameIp.map(answeredBy));
    assert.equal(sameIpBackends.get(undefined) ?? 0, 0, 'every session got a reply');
    assert.equal(sameIpBackends.size, 1, `40 sessions from 127.0.0.1 on different ports should share one backend: ${JSON.stringify([...sameIpBackends])}`);

    // 127.0.0.0/8 is all loopback on Linux: each address is a distinct client IP to Envoy.
    const sources = Array.from({ length: 20 }, (_, i) => `127.0.0.${i + 2}`);
    const perSource = await Promise.all(sources.map(async (source) => {
      const twoSessions = [await oneSession(port('sticky'), 'x', source), await oneSession(port('sticky'), 'y', source)];
      return { source, backends: twoSessions.map(answeredBy) };
    }));
    for (const { source, backends } of perSource) {
      assert.ok(backends[0] !== undefined && backends[0] === backends[1], `two sessions from ${source} landed on ${JSON.stringify(backends)}`);
    }
    const spread = tally(perSource.map((s) => s.backends[0]));
    assert.ok((spread.get('sticky-a') ?? 0) > 0 && (spread.get('sticky-b') ?? 0) > 0, `20 client IPs should reach both backends: ${JSON.stringify([...spread])}`);
    console.log(`      SourceIP: 127.0.0.1 → ${[...sameIpBackends.keys()][0]} (40/40); 20 other IPs → ${JSON.stringify(Object.fromEntries(spread))}`);
  });

  it('sessionAffinity None balances every datagram of one socket', async () => {
    const client = await UdpClient.open();
    try {
      const datagrams = 100;
      const replies: (string | undefined)[] = [];
      for (let i = 0; i < datagrams; i++) replies.push(await client.exchange(port('spray'), `d${i}`, 1000));
      const byBackend = tally(replies.map(answeredBy));
      assert.equal(byBackend.get(undefined) ?? 0, 0, 'every datagram got a reply');
      for (const backend of ['spray-a', 'spray-b']) {
        assert.ok((byBackend.get(backend) ?? 0) >= datagrams / 4, `${backend} answered ${byBackend.get(backend) ?? 0}/${datagrams} datagrams of one socket`);
      }
      console.log(`      per-packet: ${JSON.stringify(Object.fromEntries(byBackend))} of ${datagrams} datagrams from one socket`);
    } finally {
      await client.close();
    }
  });

  it('follows endpoint changes through EDS alone while a session to a surviving endpoint keeps flowing', async () => {
    const listenPort = port('churn');
    const session = await UdpClient.open();
    const pings = { sent: 0, answers: new Map<string, number>(), bad: [] as string[] };
    let pinging = true;
    let pinger: Promise<void> | undefined;
    try {
      const first = await session.exchange(listenPort, 'hello', 1000);
      const kept = answeredBy(first);
      assert.ok(kept === 'e1' || kept === 'e2', `first reply came from ${first}`);
      const dropped = kept === 'e1' ? 'e2' : 'e1';
      const changesBefore = await listenerAndClusterChanges();

      // Keep the session busy through every change: each ping must come back from the kept endpoint.
      pinger = (async () => {
        while (pinging) {
          const payload = `ping${pings.sent++}`;
          const reply = await session.exchange(listenPort, payload, 500);
          if (reply === `${kept}:${payload}`) pings.answers.set(kept, (pings.answers.get(kept) ?? 0) + 1);
          else pings.bad.push(`${payload} → ${reply ?? 'no reply'}`);
          await new Promise((r) => setTimeout(r, 10)); // pacing: ~100 datagrams/s
        }
      })();
      const answeredSoFar = () => pings.answers.get(kept) ?? 0;
      const keepsFlowing = async (what: string) => {
        const mark = answeredSoFar();
        await waitFor(what, () => answeredSoFar() >= mark + 10);
      };

      // Remove the endpoint the session does not use.
      rewriteRoute({ name: 'churn', listenPort, backends: [{ name: 'churn-pool', ports: [echo(kept).port] }] });
      await waitFor('cluster membership drops to 1', async () => (await membership('churn')) === 1);
      await keepsFlowing('session replies after the removal');
      const afterRemoval = await inBatches(6, 6, (i) => oneSession(listenPort, `after-removal${i}`));
      assert.deepEqual(afterRemoval.map(answeredBy), Array(6).fill(kept), `new sessions avoid the removed ${dropped}`);
      assert.deepEqual(await listenerAndClusterChanges(), changesBefore, 'removal went through EDS: no listener or cluster change');

      // Add a new endpoint.
      rewriteRoute({ name: 'churn', listenPort, backends: [{ name: 'churn-pool', ports: [echo(kept).port, echo('e3').port] }] });
      await waitFor('cluster membership back to 2', async () => (await membership('churn')) === 2);
      await waitFor('a new session reaches the added endpoint e3', async () => answeredBy(await oneSession(listenPort, 'new')) === 'e3');
      await keepsFlowing('session replies after the addition');
      assert.deepEqual(await listenerAndClusterChanges(), changesBefore, 'addition went through EDS: no listener or cluster change');

      pinging = false;
      await pinger;
      assert.deepEqual(pings.bad, [], `the session lost or misrouted ${pings.bad.length}/${pings.sent} pings`);
      console.log(`      churn: session stayed on ${kept}, ${answeredSoFar()}/${pings.sent} pings answered across removal of ${dropped} and addition of e3`);
    } finally {
      pinging = false;
      await pinger;
      await session.close();
    }
  });

  it('names stats and the cluster after the route and logs each session as JSON on stdout', async () => {
    const listenPort = port('logged');
    const { listener, cluster, statPrefix } = names('logged', listenPort);
    const stat = (name: string) => envoy!.admin.stat(`${statPrefix}.${name}`);
    const client = await UdpClient.open();
    try {
      // The first datagram may race the new listener's socket: retry it until answered (retries show in the stats).
      const replies = [await waitFor('echo through logged', () => client.exchange(listenPort, 'first', 300))];
      for (const payload of ['second', 'third']) replies.push((await client.exchange(listenPort, payload, 1000))!);
      assert.deepEqual(replies, ['logged:first', 'logged:second', 'logged:third']);
      // udp_proxy counts from the downstream's side: rx = from the client, tx = back to it.
      const counters = {
        sessions: await stat('downstream_sess_total'),
        rxDatagrams: await stat('downstream_sess_rx_datagrams'),
        rxBytes: await stat('downstream_sess_rx_bytes'),
        txDatagrams: await stat('downstream_sess_tx_datagrams'),
        txBytes: await stat('downstream_sess_tx_bytes'),
      };
      assert.equal(counters.sessions, 1, 'one session on this route');
      assert.ok(counters.rxDatagrams >= 3, `downstream_sess_rx_datagrams = ${counters.rxDatagrams}`);
      assert.equal(counters.txDatagrams, 3);
      assert.equal(counters.txBytes, replies.join('').length);
      assert.equal(await stat('downstream_sess_active'), 1);
      assert.equal(await envoy!.admin.stat(`cluster.${cluster}.membership_total`), 1);

      // idleTimeout 1s ends the session; its access log line follows.
      await waitFor('session ends on idle timeout', async () => (await stat('downstream_sess_active')) === 0, 5000);
      const downstream = `127.0.0.1:${client.local.port}`;
      const line = await waitFor('udp_session access log line on stdout', () => envoy!.stdout().split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((entry) => entry.kind === 'udp_session' && entry.downstream === downstream), 5000);
      assert.equal(line.route, `${NAMESPACE}/logged`);
      assert.equal(line.listener, listener);
      assert.equal(line.cluster, cluster);
      assert.equal(line.upstream, `127.0.0.1:${echo('logged').port}`);
      assert.deepEqual(
        { datagrams_sent: line.datagrams_sent, datagrams_received: line.datagrams_received, bytes_sent: line.bytes_sent, bytes_received: line.bytes_received },
        { datagrams_sent: counters.txDatagrams, datagrams_received: counters.rxDatagrams, bytes_sent: counters.txBytes, bytes_received: counters.rxBytes },
        `session totals in the log match the route's counters: ${JSON.stringify(line)}`,
      );
      console.log(`      access log: ${JSON.stringify(line)}`);
    } finally {
      await client.close();
    }
  });
});
