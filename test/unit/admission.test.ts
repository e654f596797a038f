// Admission with history: a bad new version keeps the last accepted one
// serving; sockets are claimed by address (one address however it is spelled;
// wildcards overlap); what one route may generate is bounded; producer and
// consumer routes (GAMMA) meet only where they should; and the outcome never
// depends on the order of the input documents.
import assert from 'node:assert/strict';
import { type Admission, type AdmissionHistory, admitDocuments, EMPTY_HISTORY, formatProblem } from '../../xds-server/src/api/validate.js';
import { MAX_LISTENERS_TOTAL } from '../../xds-server/src/api/listener-claims.js';
import type { SourcedDocument } from '../../xds-server/src/api/types.js';
import { buildModel } from '../../xds-server/src/model/build-model.js';
import type { ProxyView } from '../../xds-server/src/model/proxy-view.js';
import { parseYamlText } from '../../xds-server/src/sources/read-yaml.js';
import { translateModel } from '../../xds-server/src/translate/translate.js';
import { Snapshot } from '../../xds-server/src/xds/snapshot.js';

const service = (name: string, clusterIP: string | undefined, port = 5004, namespace = 'media') => `
apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${namespace}}
spec: {${clusterIP === undefined ? '' : `clusterIP: "${clusterIP}", `}ports: [{name: rtp, port: ${port}, protocol: UDP}]}`;

const slice = (name: string, service: string, addresses: string[], namespace = 'media', type = 'IPv4') => `
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ${name}, namespace: ${namespace}, labels: {kubernetes.io/service-name: ${service}}}
addressType: ${type}
ports: [{name: rtp, port: 25004, protocol: UDP}]
endpoints: [{addresses: ${JSON.stringify(addresses)}}]`;

const route = (name: string, spec: string, namespace = 'media') => `
apiVersion: mediamesh.io/v1alpha1
kind: UdpRoute
metadata: {name: ${name}, namespace: ${namespace}}
spec:
${spec}`;

const feedRoute = (extra = '') => route('feed', `  parentRefs: [{name: feed, port: 5004}]\n  backendRefs: [{name: feed-v1, port: 5004}]\n${extra}`);
const base = [service('feed', '127.0.0.1'), service('feed-v1', undefined), slice('feed-v1-a', 'feed-v1', ['127.0.0.2'])];

function docs(...texts: string[]): SourcedDocument[] {
  const { documents, problems } = parseYamlText(texts.join('\n---\n'), 'test.yaml');
  assert.deepEqual(problems, []);
  return documents;
}

function admit(history: AdmissionHistory, ...texts: string[]): Admission {
  return admitDocuments(docs(...texts), history);
}

function listenersOf(admission: Admission, view?: ProxyView): string[] {
  const { resources } = translateModel(buildModel(admission.config), {}, view);
  return resources.listeners.map((l) => l.name).sort();
}

const problemsText = (a: Admission) => a.problems.map(formatProblem);

describe('admission', () => {
  describe('last good per object', () => {
    it('keeps the accepted version of a route whose new version is rejected, and says which generation serves', () => {
      const first = admit(EMPTY_HISTORY, ...base, feedRoute('  idleTimeout: 30s'));
      assert.deepEqual(first.problems, []);
      const second = admit(first.history, ...base, feedRoute('  idleTimeout: "30 s"'));
      assert.deepEqual(listenersOf(second), ['udp~media~feed~5004'], 'the listener stays');
      assert.equal(second.config.udpRoutes[0]!.spec.idleTimeout, '30s', 'generation 1 serves');
      const p = second.problems.find((x) => x.field === 'spec.idleTimeout');
      assert.ok(p, problemsText(second).join(' | '));
      assert.equal(p.stillServing, 1);
      assert.match(formatProblem(p), /still serving generation 1$/);
      const r = second.routes.find((x) => x.identity.name === 'feed')!;
      assert.equal(r.generation, 2);
      assert.equal(r.servedGeneration, 1);
    });

    it('serves the newest version once it is fixed, and forgets a deleted object', () => {
      const first = admit(EMPTY_HISTORY, ...base, feedRoute('  idleTimeout: 30s'));
      const bad = admit(first.history, ...base, feedRoute('  idleTimeout: soon'));
      const fixed = admit(bad.history, ...base, feedRoute('  idleTimeout: 45s'));
      assert.deepEqual(fixed.problems, []);
      assert.equal(fixed.config.udpRoutes[0]!.spec.idleTimeout, '45s');
      assert.equal(fixed.routes[0]!.generation, 3);
      const deleted = admit(fixed.history, ...base);
      assert.deepEqual(listenersOf(deleted), []);
      assert.equal(deleted.history.accepted.has('UdpRoute media/feed'), false);
    });

    it('keeps a Service whose new version is rejected, so its routes keep serving', () => {
      const first = admit(EMPTY_HISTORY, ...base, feedRoute());
      const second = admit(first.history, service('feed', 'not-an-ip'), ...base.slice(1), feedRoute());
      assert.deepEqual(listenersOf(second), ['udp~media~feed~5004']);
      assert.ok(second.problems.some((p) => p.kind === 'Service' && p.field === 'spec.clusterIP' && p.stillServing === 1), problemsText(second).join(' | '));
    });

    it('drops a route whose last good version no longer resolves (its backend was deleted)', () => {
      const first = admit(EMPTY_HISTORY, ...base, feedRoute());
      const second = admit(first.history, base[0]!, base[2]!, feedRoute());
      assert.deepEqual(listenersOf(second), []);
      assert.match(problemsText(second).join(' | '), /backend Service media\/feed-v1 not found/);
    });

    it('lets a route that already serves keep its socket against a new route named earlier', () => {
      const live = route('zz-live', '  parentRefs: [{name: feed, port: 5004}]\n  backendRefs: [{name: feed-v1, port: 5004}]');
      const newcomer = route('aa-new', '  parentRefs: [{name: feed, port: 5004}]\n  backendRefs: [{name: feed-v1, port: 5004}]');
      const first = admit(EMPTY_HISTORY, ...base, live);
      const second = admit(first.history, ...base, live, newcomer);
      assert.deepEqual(listenersOf(second), ['udp~media~zz-live~5004']);
      assert.match(problemsText(second).join(' | '), /aa-new.*already served by UdpRoute media\/zz-live/);
    });
  });

  describe('addresses', () => {
    it('compares addresses, not spellings: ::1 and 0:0::1 clash', () => {
      const a = admit(EMPTY_HISTORY, service('one', '::1'), service('two', '0:0::1'), ...base.slice(1),
        route('one', '  parentRefs: [{name: one, port: 5004}]\n  backendRefs: [{name: feed-v1, port: 5004}]'),
        route('two', '  parentRefs: [{name: two, port: 5004}]\n  backendRefs: [{name: feed-v1, port: 5004}]'));
      assert.deepEqual(listenersOf(a), ['udp~media~one~5004']);
      assert.match(problemsText(a).join(' | '), /UdpRoute media\/two\): spec\.parentRefs\[0\]\.port: UDP \[::1\]:5004 is already served by UdpRoute media\/one/);
    });

    it('a wildcard clashes with a specific address on the same port, not with another family', () => {
      const a = admit(EMPTY_HISTORY, service('any', '0.0.0.0'), service('lo', '127.0.0.1'), service('lo6', '::1'), ...base.slice(1),
        route('any', '  parentRefs: [{name: any, port: 5004}]\n  backendRefs: [{name: feed-v1, port: 5004}]'),
        route('lo', '  parentRefs: [{name: lo, port: 5004}]\n  backendRefs: [{name: feed-v1, port: 5004}]'),
        route('lo6', '  parentRefs: [{name: lo6, port: 5004}]\n  backendRefs: [{name: feed-v1, port: 5004}]'));
      assert.deepEqual(listenersOf(a), ['udp~media~any~5004', 'udp~media~lo6~5004']);
      assert.match(problemsText(a).join(' | '), /UdpRoute media\/lo\).*already served by UdpRoute media\/any/);
    });

    it('rejects a clusterIP or endpoint address that is not an IP', () => {
      const a = admit(EMPTY_HISTORY, service('feed', '10.0.0.300'), service('feed-v1', undefined), slice('feed-v1-a', 'feed-v1', ['127.0.0.1', 'host.example']), slice('feed-v1-b', 'feed-v1', ['::1']));
      const text = problemsText(a).join(' | ');
      assert.match(text, /Service media\/feed\): spec\.clusterIP: "10\.0\.0\.300" is not an IP address/);
      assert.match(text, /feed-v1-a\): endpoints\[0\]\.addresses\[1\]: "host\.example" is not an IP address/);
      assert.match(text, /feed-v1-b\): endpoints\[0\]\.addresses\[0\]: "::1" is not an IPv4 address/);
    });
  });

  describe('durations', () => {
    for (const [value, reason] of [['0s', /at least 1ns/], ['400000000000s', /longer than Envoy accepts/], ['0.0000000001s', /at least 1ns/]] as const) {
      it(`rejects idleTimeout ${value}`, () => {
        const a = admit(EMPTY_HISTORY, ...base, feedRoute(`  idleTimeout: "${value}"`));
        const p = a.problems.find((x) => x.field === 'spec.idleTimeout');
        assert.ok(p);
        assert.match(p.reason, reason);
      });
    }
  });

  describe('two parents on one port', () => {
    it('rejects a route whose two Services share a port (one listener name per route and port)', () => {
      const a = admit(EMPTY_HISTORY, ...base, service('feed-b', '127.0.0.9'),
        route('feed', '  parentRefs: [{name: feed, port: 5004}, {name: feed-b, port: 5004}]\n  backendRefs: [{name: feed-v1, port: 5004}]'));
      assert.deepEqual(listenersOf(a), []);
      const p = a.problems.find((x) => x.field === 'spec.parentRefs[1].port');
      assert.ok(p, problemsText(a).join(' | '));
      assert.match(p.reason, /port 5004 is already served by this route through spec\.parentRefs\[0\]/);
    });

    it('rejects overlapping port ranges of one route', () => {
      const a = admit(EMPTY_HISTORY, service('feed', '127.0.0.1', 5000), ...base.slice(1),
        route('feed', '  parentRefs: [{name: feed, port: 5000, endPort: 5010}, {name: feed, port: 5010, endPort: 5020}]\n  backendRefs: [{name: feed-v1, port: 5004}]'));
      assert.deepEqual(listenersOf(a), []);
      assert.match(problemsText(a).join(' | '), /spec\.parentRefs\[1\]\.port: port 5010 is already served by this route/);
    });
  });

  describe('bounds', () => {
    it('rejects a small route that would make thousands of listeners', () => {
      const parents = Array.from({ length: 16 }, (_, i) => `{name: feed, port: ${1024 + i * 1000}, endPort: ${1024 + i * 1000 + 999}}`).join(', ');
      const doc = route('huge', `  parentRefs: [${parents}]\n  backendRefs: [{name: feed-v1, port: 5004}]`);
      assert.ok(doc.length < 1200, 'the document is small');
      const a = admit(EMPTY_HISTORY, service('feed', '127.0.0.1', 1024), ...base.slice(1), doc);
      assert.deepEqual(listenersOf(a), []);
      const p = a.problems.find((x) => x.code === 'ResourceLimit');
      assert.ok(p, problemsText(a).join(' | '));
      assert.match(p.reason, /more than 1000 ports/);
    });

    it(`stops accepting routes past ${MAX_LISTENERS_TOTAL} listeners in all`, () => {
      const routes = Array.from({ length: 6 }, (_, i) => route(`r${i}`, `  parentRefs: [{name: s${i}, port: 10000, endPort: 10999}]\n  backendRefs: [{name: feed-v1, port: 5004}]`));
      const services = Array.from({ length: 6 }, (_, i) => service(`s${i}`, `127.0.1.${i + 1}`, 10000));
      const a = admit(EMPTY_HISTORY, ...services, ...base.slice(1), ...routes);
      assert.equal(a.config.udpRoutes.length, 5);
      assert.match(problemsText(a).join(' | '), /UdpRoute media\/r5\).*limit across all routes is 5000/);
    });
  });

  describe('producer and consumer routes', () => {
    const consumer = (ns: string, name = 'feed-override') => route(name, `  parentRefs: [{name: feed, namespace: media, port: 5004}]\n  backendRefs: [{name: mine, port: 5004}]`, ns);
    const mine = (ns: string) => [service('mine', undefined, 5004, ns), slice('mine-a', 'mine', ['127.0.0.3'], ns)];

    it('gives a consumer route to its namespace only, where it replaces the producer route', () => {
      const a = admit(EMPTY_HISTORY, ...base, feedRoute(), ...mine('team-a'), consumer('team-a'));
      assert.deepEqual(a.problems, []);
      assert.deepEqual(listenersOf(a), ['udp~media~feed~5004'], 'a gateway gets the producer route');
      assert.deepEqual(listenersOf(a, { role: 'sidecar', namespace: 'team-b' }), ['udp~media~feed~5004']);
      assert.deepEqual(listenersOf(a, { role: 'sidecar', namespace: 'team-a' }), ['udp~team-a~feed-override~5004']);
    });

    it('rejects a second consumer route for the same parent in one namespace, not in another', () => {
      const a = admit(EMPTY_HISTORY, ...base, feedRoute(), ...mine('team-a'), ...mine('team-b'), consumer('team-a'), consumer('team-a', 'zz-second'), consumer('team-b'));
      assert.match(problemsText(a).join(' | '), /UdpRoute team-a\/zz-second\).*already served by UdpRoute team-a\/feed-override for proxies in namespace team-a/);
      assert.equal(a.problems.length, 1);
    });

    it("rejects a consumer route that would share a socket with another parent's producer route", () => {
      const other = [service('other', '127.0.0.1', 5004), route('other', '  parentRefs: [{name: other, port: 5004}]\n  backendRefs: [{name: feed-v1, port: 5004}]')];
      const a = admit(EMPTY_HISTORY, service('feed', '127.0.0.1'), ...base.slice(1), ...other, ...mine('team-a'), consumer('team-a'));
      assert.match(problemsText(a).join(' | '), /UdpRoute team-a\/feed-override\).*already served by UdpRoute media\/other for proxies in namespace team-a/);
      assert.deepEqual(listenersOf(a, { role: 'sidecar', namespace: 'team-a' }), ['udp~media~other~5004']);
    });
  });

  it('does not depend on the order of its input documents', () => {
    const texts = [...base, feedRoute(), service('lo', '127.0.0.1', 6000), route('lo', '  parentRefs: [{name: lo, port: 6000}]\n  backendRefs: [{name: feed-v1, port: 5004}]'),
      route('clash', '  parentRefs: [{name: lo, port: 6000}]\n  backendRefs: [{name: feed-v1, port: 5004}]'),
      service('mine', undefined, 5004, 'team-a'), slice('mine-a', 'mine', ['127.0.0.3'], 'team-a'),
      route('over', '  parentRefs: [{name: feed, namespace: media, port: 5004}]\n  backendRefs: [{name: mine, port: 5004}]', 'team-a')];
    const versions = (order: string[]) => {
      const a = admit(EMPTY_HISTORY, ...order);
      const model = buildModel(a.config);
      return [undefined, { role: 'sidecar' as const, namespace: 'team-a' }].map((view) => Snapshot.fromResources(translateModel(model, {}, view).resources).version).join(',') + '|' + problemsText(a).map((t) => t.replace(/document \d+/, 'document N')).join(',');
    };
    const expected = versions(texts);
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 20; i++) {
      const shuffled = [...texts].sort(() => random() - 0.5);
      assert.equal(versions(shuffled), expected, `order ${i}`);
    }
    assert.match(expected, /media\/lo\).*already served by UdpRoute media\/clash/, 'the clash is reported the same way every time');
  });

  it('counts a route whose backend has no ready endpoints as accepted, with an empty share', () => {
    const a = admit(EMPTY_HISTORY, service('feed', '127.0.0.1'), service('feed-v1', undefined), feedRoute());
    assert.deepEqual(a.problems, []);
    const { resources } = translateModel(buildModel(a.config));
    assert.equal(resources.listeners.length, 1);
    assert.deepEqual(resources.endpoints[0]!.endpoints, []);
  });

  describe('backends in another namespace', () => {
    const other = (annotations: string) => `
apiVersion: v1
kind: Service
metadata: {name: shared, namespace: studio${annotations}}
spec: {ports: [{name: rtp, port: 5004, protocol: UDP}]}`;
    const sharedSlice = slice('shared-a', 'shared', ['127.0.0.9'], 'studio');
    const toShared = route('feed', '  parentRefs: [{name: feed, port: 5004}]\n  backendRefs: [{name: shared, namespace: studio, port: 5004}]');

    it('refuses a backend whose Service does not allow routes from the route\'s namespace', () => {
      const a = admit(EMPTY_HISTORY, ...base, other(''), sharedSlice, toShared);
      const p = a.problems.find((x) => x.code === 'RefNotPermitted');
      assert.ok(p, problemsText(a).join('\n'));
      assert.equal(p.field, 'spec.backendRefs[0].namespace');
      assert.match(p.reason, /studio\/shared does not allow routes from namespace media: its annotation mediamesh.io\/allow-routes-from must list it/);
      assert.deepEqual(listenersOf(a), []);
    });

    it('accepts it when the annotation lists the namespace or says "*"', () => {
      for (const allowed of ['media', 'team-a, media', '*']) {
        const a = admit(EMPTY_HISTORY, ...base, other(`, annotations: {mediamesh.io/allow-routes-from: "${allowed}"}`), sharedSlice, toShared);
        assert.deepEqual(problemsText(a), [], allowed);
        assert.equal(listenersOf(a).length, 1, allowed);
      }
      const elsewhere = admit(EMPTY_HISTORY, ...base, other(', annotations: {mediamesh.io/allow-routes-from: team-a}'), sharedSlice, toShared);
      assert.equal(elsewhere.problems[0]?.code, 'RefNotPermitted');
    });
  });

  describe('conflicting new routes', () => {
    const created = (name: string, at: string) => `
apiVersion: mediamesh.io/v1alpha1
kind: UdpRoute
metadata: {name: ${name}, namespace: media, creationTimestamp: "${at}"}
spec:
  parentRefs: [{name: feed, port: 5004}]
  backendRefs: [{name: feed-v1, port: 5004}]`;

    it('gives the port to the oldest route (creationTimestamp), whatever the names, and tells the other why', () => {
      const a = admit(EMPTY_HISTORY, ...base, created('aaa-newer', '2026-11-30T10:00:01Z'), created('zzz-older', '2026-11-30T10:00:00Z'));
      assert.deepEqual(listenersOf(a), ['udp~media~zzz-older~5004']);
      const lost = a.problems.filter((p) => p.name === 'aaa-newer');
      assert.equal(lost.length, 1, problemsText(a).join('\n'));
      assert.equal(lost[0]!.code, 'Conflicted');
      assert.match(lost[0]!.reason, /zzz-older/);
    });
  });
});
