// Our CRDs on a real kube-apiserver: every bad example in
// test/fixtures/crd-rejects/ is refused by `kubectl apply` with the words its
// first line gives (test/unit/crd-rejects.test.ts checks mediamesh's own
// validation refuses it too), the edge cases in test/fixtures/crd-accepts/ are
// accepted, and `kubectl get` shows the printer columns, conditions included.
import assert from 'node:assert/strict';
import { ACCEPTS_FILE, acceptFixtures, CRD_DIR, rejectFixtures } from '../helpers/crd-fixtures.js';
import { startKubeApiServer } from '../helpers/kube-apiserver.js';

type KubeApiServer = Awaited<ReturnType<typeof startKubeApiServer>>;

/** kubectl's failure as text (the helper throws with its stderr). */
async function failureOf(run: Promise<string>): Promise<string> {
  try {
    const out = await run;
    return assert.fail(`kubectl succeeded: ${out}`);
  } catch (err) {
    if (err instanceof assert.AssertionError) throw err;
    const e = err as { message?: string; stderr?: string };
    return `${e.message ?? String(err)}\n${e.stderr ?? ''}`;
  }
}

describe('CRDs on a real kube-apiserver', function () {
  this.timeout(120_000);
  let api: KubeApiServer;

  before(async function () {
    this.timeout(900_000); // a cold machine builds kube-apiserver first
    api = await startKubeApiServer();
    await api.kubectl(['apply', '--server-side', '-f', CRD_DIR]);
    await api.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/udproutes.mediamesh.io', 'crd/rtsproutes.mediamesh.io']);
  });

  after(async () => {
    await api?.stop();
  });

  describe('refuse the bad examples', () => {
    for (const f of rejectFixtures()) {
      it(`${f.file}: ${f.apiServerSays}`, async () => {
        const message = await failureOf(api.kubectl(['apply', '--validate=strict', '-f', f.path]));
        assert.ok(message.includes(f.apiServerSays), `expected "${f.apiServerSays}" in:\n${message}`);
        const missing = await failureOf(api.kubectl(['get', `${f.kind.toLowerCase()}.mediamesh.io/${f.name}`]));
        assert.match(missing, /NotFound|not found/);
      });
    }
  });

  describe('accept the edge cases and show their columns', () => {
    const names = acceptFixtures().map(({ document }) => (document as { kind: string; metadata: { name: string } }));

    before(async () => {
      await api.kubectl(['apply', '--validate=strict', '-f', ACCEPTS_FILE]);
    });

    it('creates every edge case', async () => {
      for (const kind of ['udproutes', 'rtsproutes']) {
        const listed = (await api.kubectl(['get', `${kind}.mediamesh.io`, '-o', 'name'])).split('\n').filter(Boolean).map((line: string) => line.split('/').at(-1));
        const want = names.filter((d) => `${d.kind.toLowerCase()}s` === kind).map((d) => d.metadata.name);
        assert.deepEqual(listed.sort(), want.sort());
      }
    });

    it('prints parent, port and conditions, Accepted and Programmed from status.parents[0]', async () => {
      const header = (await api.kubectl(['get', 'udproutes.mediamesh.io'])).split('\n')[0]!.trim().split(/\s+/);
      assert.deepEqual(header, ['NAME', 'PROTOCOL', 'PARENT', 'PORT', 'ACCEPTED', 'PROGRAMMED', 'AGE']);
      const wide = (await api.kubectl(['get', 'rtsproutes.mediamesh.io', '-o', 'wide'])).split('\n')[0]!.trim().split(/\s+/);
      assert.deepEqual(wide, ['NAME', 'PARENT', 'PORT', 'ACCEPTED', 'PROGRAMMED', 'TRANSPORT', 'HOSTNAMES', 'AGE']);

      const condition = (type: string, status: string) => ({ type, status, reason: status === 'True' ? type : 'Pending', message: '', lastTransitionTime: '2026-01-01T00:00:00Z', observedGeneration: 1 });
      const status = { status: { parents: [{ parentRef: { name: 'feed', port: 5000 }, controllerName: 'mediamesh.io/control-plane', conditions: [condition('Accepted', 'True'), condition('Programmed', 'False')] }] } };
      await api.kubectl(['patch', 'udproute.mediamesh.io/edge-adjacent-ranges', '--subresource=status', '--type=merge', '-p', JSON.stringify(status)]);
      const row = (await api.kubectl(['get', 'udproute.mediamesh.io/edge-adjacent-ranges', '--no-headers'])).trim().split(/\s+/);
      assert.deepEqual(row.slice(0, 6), ['edge-adjacent-ranges', 'RTP', 'feed', '5000', 'True', 'False']);
    });
  });
});
