// RTSP relay sessions without a network: ports come in pairs from the pool and
// go back when a session ends (TEARDOWN, timeout on the injected clock, its
// proxy forgotten, a failed push); limits per proxy; bad input refused. The
// real push to a real Envoy is in test/integration/rtsp-relays.test.ts.
import assert from 'node:assert/strict';
import { PortPool } from '../../xds-server/src/relays/port-pool.js';
import { RelayError, RelaySessions, type ResourcePusher } from '../../xds-server/src/relays/relay-sessions.js';
import type { ProxyResourceRequest } from '../../xds-server/src/xds/proxy-resources.js';
import { FakeClock } from '../helpers/fake-clock.js';

/** Records what would reach the proxies; `fail` makes the next push fail as a NACK would. */
class RecordingPusher implements ResourcePusher {
  readonly held = new Map<string, ProxyResourceRequest>();
  fail?: Error;
  async apply(request: ProxyResourceRequest): Promise<void> {
    const failure = this.fail;
    this.fail = undefined;
    if (failure) throw failure;
    this.held.set(request.owner, request);
  }
  release(owner: string): void {
    this.held.delete(owner);
  }
  ports(): number[] {
    return [...this.held.values()].flatMap((r) => r.resources.listeners.map((l) => (l.address?.address?.$case === 'socketAddress' && l.address.address.value.portSpecifier?.$case === 'portValue' ? l.address.address.value.portSpecifier.value : -1))).sort();
  }
}

const client = { address: '10.0.0.9', rtp: 5000, rtcp: 5001 };

function setup(o: { low?: number; high?: number; perProxy?: number } = {}) {
  const clock = new FakeClock();
  const pusher = new RecordingPusher();
  const pool = new PortPool(o.low ?? 40000, o.high ?? 40007);
  const relays = new RelaySessions({ pool, proxies: pusher, clock, sessionTimeoutMs: 60_000, sessionsPerProxy: o.perProxy ?? 64 });
  return { clock, pusher, pool, relays };
}

describe('RTSP relay sessions', () => {
  it('gives each session two fresh port pairs, RTP even and RTCP next, never shared', async () => {
    const { relays, pusher } = setup();
    const a = await relays.open('p1', 'A', client);
    const b = await relays.open('p1', 'B', client);
    assert.deepEqual([a.toClient, a.toServer, b.toClient, b.toServer], [{ rtp: 40000, rtcp: 40001 }, { rtp: 40002, rtcp: 40003 }, { rtp: 40004, rtcp: 40005 }, { rtp: 40006, rtcp: 40007 }]);
    assert.deepEqual(pusher.ports(), [40000, 40001, 40004, 40005]);
    await assert.rejects(relays.open('p1', 'C', client), (e: unknown) => e instanceof RelayError && e.failure === 'no-ports');
  });

  it('adds the listeners toward the server once its ports are known', async () => {
    const { relays, pusher } = setup();
    await relays.open('p1', 'A', client);
    await relays.completeServer('p1', 'A', { address: '10.0.0.20', rtp: 6970, rtcp: 6971 });
    assert.deepEqual(pusher.ports(), [40000, 40001, 40002, 40003]);
  });

  it('ends a session nothing refreshed for its timeout, and not one that was refreshed', async () => {
    const { relays, pusher, clock, pool } = setup();
    await relays.open('p1', 'A', client);
    await relays.open('p1', 'B', client);
    clock.advance(50_000);
    relays.refresh('p1', 'B');
    clock.advance(10_000);
    assert.deepEqual(relays.list().map((s) => s.session), ['B']);
    assert.deepEqual(pusher.ports(), [40004, 40005]);
    assert.equal(pool.inUse, 2);
    clock.advance(60_000);
    assert.deepEqual(relays.list(), []);
    assert.equal(pool.inUse, 0);
  });

  it('takes everything back on TEARDOWN, when its proxy is gone, and when the push fails', async () => {
    const { relays, pusher, pool } = setup();
    await relays.open('p1', 'A', client);
    relays.close('p1', 'A');
    await relays.open('p2', 'B', client);
    relays.proxyGone('p2');
    pusher.fail = new Error('NACK: cannot bind');
    await assert.rejects(relays.open('p1', 'C', client), /cannot bind/);
    assert.equal(pool.inUse, 0);
    assert.equal(pusher.held.size, 0);
    assert.deepEqual(relays.list(), []);
  });

  it('bounds sessions per proxy and refuses what is not a session id or an endpoint', async () => {
    const { relays } = setup({ high: 40099, perProxy: 2 });
    await relays.open('p1', 'A', client);
    await relays.open('p1', 'B', client);
    await assert.rejects(relays.open('p1', 'C', client), (e: unknown) => e instanceof RelayError && e.failure === 'limit');
    await relays.open('p2', 'C', client);
    await assert.rejects(relays.open('p2', 'A B', client), (e: unknown) => e instanceof RelayError && e.failure === 'bad-request');
    await assert.rejects(relays.open('p2', 'x'.repeat(129), client), (e: unknown) => e instanceof RelayError && e.failure === 'bad-request');
    await assert.rejects(relays.open('p2', 'D', { address: 'evil.example', rtp: 1, rtcp: 2 }), (e: unknown) => e instanceof RelayError && e.failure === 'bad-request');
    await assert.rejects(relays.open('p2', 'D', { ...client, rtp: 70000 }), (e: unknown) => e instanceof RelayError && e.failure === 'bad-request');
    await assert.rejects(relays.open('p1', 'A', client), (e: unknown) => e instanceof RelayError);
    assert.throws(() => relays.refresh('p1', 'nope'), (e: unknown) => e instanceof RelayError && e.failure === 'unknown-session');
  });

  it('parses a port range and refuses one without a pair', () => {
    assert.equal(PortPool.parse('40000-40999').capacity, 500);
    assert.equal(PortPool.parse('40001-40004').capacity, 1);
    assert.throws(() => PortPool.parse('40000'), /LO-HI/);
    assert.throws(() => PortPool.parse('80-90'), /1024-65535/);
    assert.throws(() => PortPool.parse('40001-40002'), /no even\/odd pair/);
  });
});
