// The push path's sharing and ordering: requests wait while a config fans
// out and then run in arrival order; selections of named resources are
// shared per snapshot and never confused by names a client chose.
import assert from 'node:assert/strict';
import { namesKey, selectNamed, wholeType } from '../../xds-server/src/xds/named-selection.js';
import { MAX_DEFERRED_REQUESTS, RequestDeferral } from '../../xds-server/src/xds/request-deferral.js';
import { Snapshot } from '../../xds-server/src/xds/snapshot.js';
import { TypeUrl } from '../../xds-server/src/xds/type-urls.js';
import { udpResources } from '../helpers/resources.js';

/** A fan-out that runs until `finish` is called. */
function heldFanOut(deferral: RequestDeferral, then: () => void = () => {}): { finish: () => void; done: Promise<void> } {
  let finish!: () => void;
  const done = deferral.during(() => new Promise<void>((resolve) => { finish = resolve; }).then(then));
  return { finish, done };
}

describe('xDS push path', () => {
  describe('request deferral', () => {
    it('runs requests at once when no fan-out is under way', () => {
      const deferral = new RequestDeferral();
      const ran: number[] = [];
      deferral.run(() => ran.push(1));
      assert.deepEqual(ran, [1]);
    });

    it('holds requests while a fan-out runs and then runs them in arrival order, before the fan-out settles', async () => {
      const deferral = new RequestDeferral();
      const ran: string[] = [];
      const fanOut = heldFanOut(deferral, () => { ran.push('fan-out done'); });
      deferral.run(() => ran.push('ack a'));
      deferral.run(() => ran.push('ack b'));
      assert.equal(ran.length, 0);
      assert.equal(deferral.pending(), 2);
      fanOut.finish();
      await fanOut.done;
      assert.deepEqual(ran, ['fan-out done', 'ack a', 'ack b']);
      assert.equal(deferral.pending(), 0);
      deferral.run(() => ran.push('after'));
      assert.equal(ran.at(-1), 'after');
    });

    it('releases requests when a fan-out fails too', async () => {
      const deferral = new RequestDeferral();
      const ran: string[] = [];
      const fanOut = deferral.during(async () => {
        deferral.run(() => ran.push('ack'));
        throw new Error('fan-out failed');
      });
      await assert.rejects(fanOut, /fan-out failed/);
      assert.deepEqual(ran, ['ack']);
    });

    it('holds until the last of overlapping fan-outs ends', async () => {
      const deferral = new RequestDeferral();
      const ran: string[] = [];
      const first = heldFanOut(deferral);
      const second = heldFanOut(deferral);
      deferral.run(() => ran.push('ack'));
      first.finish();
      await first.done;
      assert.deepEqual(ran, []);
      second.finish();
      await second.done;
      assert.deepEqual(ran, ['ack']);
    });

    it('holds at most MAX_DEFERRED_REQUESTS: the next request works the queue off first, keeping the order', async () => {
      const deferral = new RequestDeferral();
      const ran: number[] = [];
      const fanOut = heldFanOut(deferral);
      for (let i = 0; i < MAX_DEFERRED_REQUESTS; i++) deferral.run(() => ran.push(i));
      assert.equal(ran.length, 0);
      deferral.run(() => ran.push(MAX_DEFERRED_REQUESTS));
      assert.equal(ran.length, MAX_DEFERRED_REQUESTS + 1);
      assert.ok(ran.every((n, i) => n === i));
      assert.equal(deferral.pending(), 0);
      fanOut.finish();
      await fanOut.done;
    });
  });

  describe('named selections', () => {
    const snapshot = Snapshot.fromResources(udpResources([
      { listener: 'l1', port: 5000, cluster: 'c1', endpoints: [6000] },
      { listener: 'l2', port: 5001, cluster: 'c2', endpoints: [6001] },
    ]));
    const eds = snapshot.forType(TypeUrl.ClusterLoadAssignment);

    it('gives streams asking the same names the same selection, in the order asked, without names the snapshot lacks', () => {
      const names = ['c2', 'c1', 'gone'];
      const first = selectNamed(eds, names, namesKey(names));
      const second = selectNamed(eds, [...names], namesKey([...names]));
      assert.equal(first, second);
      assert.deepEqual(first.list.map((r) => r.name), ['c2', 'c1']);
      assert.deepEqual([...first.byName.keys()], ['c2', 'c1']);
    });

    it('keeps lists apart whatever characters a client puts in names', () => {
      const hostile = ['c1\u0000c2'];
      assert.notEqual(namesKey(hostile), namesKey(['c1', 'c2']));
      assert.notEqual(namesKey(['*']), wholeType(eds).key);
      assert.deepEqual(selectNamed(eds, hostile, namesKey(hostile)).list, []);
      assert.deepEqual(selectNamed(eds, ['c1', 'c2'], namesKey(['c1', 'c2'])).list.map((r) => r.name), ['c1', 'c2']);
    });

    it('keeps a bounded number of distinct lists per type snapshot, still answering the rest', () => {
      const fresh = Snapshot.fromResources(udpResources([{ listener: 'l9', port: 5009, cluster: 'c9', endpoints: [6009] }])).forType(TypeUrl.ClusterLoadAssignment);
      const lists = Array.from({ length: 200 }, (_, i) => ['c9', `other-${i}`]);
      for (const names of lists) assert.deepEqual(selectNamed(fresh, names, namesKey(names)).list.map((r) => r.name), ['c9']);
      const kept = lists.filter((names) => selectNamed(fresh, names, namesKey(names)) === selectNamed(fresh, names, namesKey(names)));
      assert.equal(kept.length, 64);
    });

    it('serves a whole type with the snapshot\'s own list and map', () => {
      const whole = wholeType(eds);
      assert.equal(whole.list, eds.list);
      assert.equal(whole.byName, eds.resources);
      assert.equal(wholeType(eds), whole);
    });
  });
});
