// Proxy identity from a client certificate: the SPIFFE id parser (strict,
// Istio's form), Node's subject-alt-name string, and the one-URI-SAN rule.
import assert from 'node:assert/strict';
import type { PeerCertificate } from 'node:tls';
import { identityFromCertificate, parseSpiffeId } from '../../xds-server/src/xds/peer-identity.js';
import { parseSubjectAltNames } from '../../xds-server/src/xds/subject-alt-names.js';

describe('parseSpiffeId', () => {
  it('reads trust domain, namespace and service account of Istio\'s form', () => {
    assert.deepEqual(parseSpiffeId('spiffe://cluster.local/ns/media/sa/camera-v1.x'), {
      ok: true,
      value: { uri: 'spiffe://cluster.local/ns/media/sa/camera-v1.x', trustDomain: 'cluster.local', namespace: 'media', serviceAccount: 'camera-v1.x' },
    });
    assert.equal(parseSpiffeId('spiffe://td_1-x.example/ns/a/sa/b').ok, true);
  });

  const rejected: [string, string, RegExp][] = [
    ['another scheme', 'https://cluster.local/ns/media/sa/x', /scheme is not "spiffe:\/\/"/],
    ['an uppercase scheme', 'SPIFFE://cluster.local/ns/media/sa/x', /scheme/],
    ['no path', 'spiffe://cluster.local', /no path/],
    ['an empty trust domain', 'spiffe:///ns/media/sa/x', /trust domain ""/],
    ['a port', 'spiffe://cluster.local:443/ns/media/sa/x', /trust domain "cluster.local:443"/],
    ['a user', 'spiffe://me@cluster.local/ns/media/sa/x', /trust domain "me@cluster.local"/],
    ['an uppercase trust domain', 'spiffe://Cluster.local/ns/media/sa/x', /trust domain/],
    ['a query', 'spiffe://cluster.local/ns/media/sa/x?ns=other', /query, fragment and percent-encoding/],
    ['a fragment', 'spiffe://cluster.local/ns/media/sa/x#y', /query, fragment/],
    ['percent-encoding', 'spiffe://cluster.local/ns/me%64ia/sa/x', /percent-encoding/],
    ['a trailing slash', 'spiffe://cluster.local/ns/media/sa/x/', /path is not \/ns\/<namespace>\/sa\/<service-account>/],
    ['an extra segment', 'spiffe://cluster.local/ns/media/sa/x/y', /path is not/],
    ['segments swapped', 'spiffe://cluster.local/sa/x/ns/media', /path is not/],
    ['a non-Istio path', 'spiffe://cluster.local/workload/x', /path is not/],
    ['an empty namespace', 'spiffe://cluster.local/ns//sa/x', /namespace "" is not a DNS label/],
    ['an uppercase namespace', 'spiffe://cluster.local/ns/Media/sa/x', /namespace "Media" is not a DNS label/],
    ['a dotted namespace', 'spiffe://cluster.local/ns/me.dia/sa/x', /namespace "me.dia"/],
    ['a namespace of 64 characters', `spiffe://cluster.local/ns/${'a'.repeat(64)}/sa/x`, /is not a DNS label/],
    ['a namespace ending in -', 'spiffe://cluster.local/ns/media-/sa/x', /is not a DNS label/],
    ['a bad service account', 'spiffe://cluster.local/ns/media/sa/Cam_1', /service account "Cam_1" is not a DNS subdomain/],
    ['an id over 2048 bytes', `spiffe://cluster.local/ns/media/sa/${'a.'.repeat(1100)}a`, /longer than 2048 bytes/],
  ];
  for (const [what, uri, reason] of rejected) {
    it(`rejects ${what}`, () => {
      const parsed = parseSpiffeId(uri);
      assert.equal(parsed.ok, false);
      if (parsed.ok) return;
      assert.match(parsed.error, reason);
      assert.match(parsed.error, /expected spiffe:\/\/<trust-domain>\/ns\/<namespace>\/sa\/<service-account>$/);
    });
  }
});

describe('parseSubjectAltNames', () => {
  it('splits Node\'s rendering into typed names', () => {
    assert.deepEqual(parseSubjectAltNames('DNS:a.example, URI:spiffe://td/ns/a/sa/b, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1'), {
      ok: true,
      value: [
        { type: 'DNS', value: 'a.example' },
        { type: 'URI', value: 'spiffe://td/ns/a/sa/b' },
        { type: 'IP Address', value: '127.0.0.1' },
        { type: 'IP Address', value: '0:0:0:0:0:0:0:1' },
      ],
    });
    assert.deepEqual(parseSubjectAltNames(''), { ok: true, value: [] });
  });

  it('keeps a quoted value whole, so a comma cannot smuggle in a second entry', () => {
    // What Node prints for a certificate whose only SAN is the DNS name `x, URI:spiffe://evil/ns/a/sa/b`.
    assert.deepEqual(parseSubjectAltNames('DNS:"x\\u002c URI:spiffe://evil/ns/a/sa/b", URI:spiffe://td/ns/a/sa/b'), {
      ok: true,
      value: [{ type: 'DNS', value: 'x, URI:spiffe://evil/ns/a/sa/b' }, { type: 'URI', value: 'spiffe://td/ns/a/sa/b' }],
    });
  });

  it('rejects what it cannot read', () => {
    assert.equal(parseSubjectAltNames('DNS:"unterminated').ok, false);
    assert.equal(parseSubjectAltNames('no colon here').ok, false);
    assert.equal(parseSubjectAltNames('DNS:"a"junk').ok, false);
  });
});

describe('identityFromCertificate', () => {
  const cert = (subjectaltname: string | undefined): PeerCertificate => ({ raw: Buffer.from('der'), subject: { CN: 'pod-a' }, subjectaltname } as unknown as PeerCertificate);

  it('proves the certificate\'s one SPIFFE URI SAN', () => {
    const id = identityFromCertificate(cert('DNS:pod-a.media.svc, URI:spiffe://cluster.local/ns/media/sa/cam'));
    assert.deepEqual(id, { ok: true, value: { authenticated: true, spiffe: { uri: 'spiffe://cluster.local/ns/media/sa/cam', trustDomain: 'cluster.local', namespace: 'media', serviceAccount: 'cam' } } });
  });

  const refused: [string, PeerCertificate | undefined, RegExp][] = [
    ['no certificate', undefined, /no verified client certificate/],
    ['no SAN at all', cert(undefined), /client certificate CN=pod-a has no URI SAN/],
    ['only DNS SANs (one posing as a URI)', cert('DNS:"x\\u002c URI:spiffe://cluster.local/ns/media/sa/cam"'), /has no URI SAN/],
    ['two URI SANs', cert('URI:spiffe://cluster.local/ns/media/sa/cam, URI:spiffe://cluster.local/ns/games/sa/x'), /has 2 URI SANs .*exactly one/],
    ['a URI SAN that is not SPIFFE', cert('URI:https://pod-a.example/'), /client certificate CN=pod-a: SPIFFE id "https:\/\/pod-a.example\/": scheme/],
    ['a malformed SPIFFE id', cert('URI:spiffe://cluster.local/ns/media'), /path is not/],
  ];
  for (const [what, c, reason] of refused) {
    it(`refuses ${what}`, () => {
      const id = identityFromCertificate(c);
      assert.equal(id.ok, false);
      if (!id.ok) assert.match(id.error, reason);
    });
  }
});
