// What the transport proved about an xDS client: with mTLS, the SPIFFE URI SAN
// of its certificate (Istio's form spiffe://<trust-domain>/ns/<ns>/sa/<sa>).
// Without TLS (loopback development) nothing is proved.
import type { PeerCertificate } from 'node:tls';
import { type Parsed, parseSubjectAltNames } from './subject-alt-names.js';

export type { Parsed };

export interface SpiffeIdentity {
  uri: string;
  trustDomain: string;
  namespace: string;
  serviceAccount: string;
}

export type PeerIdentity =
  /** Plaintext: only the connection's source address is known (used to find the proxy's pod, if a cluster source knows it). */
  | { authenticated: false; address?: string }
  | { authenticated: true; spiffe: SpiffeIdentity; address?: string };

export const UNAUTHENTICATED: PeerIdentity = Object.freeze({ authenticated: false });

/** The IP address in gRPC's peer string ("1.2.3.4:5678", "[::1]:5678", with or without an "ipv4:" scheme). */
export function peerAddress(grpcPeer: string): string | undefined {
  const text = grpcPeer.replace(/^ipv[46]:/, '');
  const m = /^\[([^\]]+)\]:\d+$/.exec(text) ?? /^([^:]+):\d+$/.exec(text);
  return m?.[1] === undefined ? undefined : unmappedAddress(m[1]);
}

/** "::ffff:10.0.0.5" as "10.0.0.5": the same IPv4 peer, however the socket reports it. */
export function unmappedAddress(address: string): string {
  return address.replace(/^::ffff:(?=\d+\.)/, '');
}

/** A plaintext peer, known only by its address. */
export function plaintextPeer(grpcPeer: string): PeerIdentity {
  const address = peerAddress(grpcPeer);
  return address ? { authenticated: false, address } : UNAUTHENTICATED;
}


const ISTIO_FORM = 'spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>';
/** The SPIFFE ID spec's limit on a whole ID. */
const MAX_SPIFFE_ID_BYTES = 2048;
const TRUST_DOMAIN = /^[a-z0-9._-]{1,255}$/;
/** A Kubernetes namespace name (RFC 1123 label). */
export const DNS_LABEL = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;

/** A Kubernetes ServiceAccount name (RFC 1123 subdomain). */
function isDnsSubdomain(text: string): boolean {
  return text.length <= 253 && text.split('.').every((label) => DNS_LABEL.test(label));
}

/**
 * Parses Istio's SPIFFE ID form strictly: lowercase scheme and trust domain,
 * no port, user, query, fragment, percent-encoding or extra path segments, a
 * namespace that is a DNS label and a service account that is a DNS subdomain.
 * Anything looser could let one certificate read as another namespace.
 */
export function parseSpiffeId(uri: string): Parsed<SpiffeIdentity> {
  const bad = (why: string): Parsed<SpiffeIdentity> => ({ ok: false, error: `SPIFFE id ${JSON.stringify(uri.length > 300 ? uri.slice(0, 300) + '…' : uri)}: ${why}; expected ${ISTIO_FORM}` });
  if (Buffer.byteLength(uri) > MAX_SPIFFE_ID_BYTES) return bad(`longer than ${MAX_SPIFFE_ID_BYTES} bytes`);
  if (!uri.startsWith('spiffe://')) return bad('scheme is not "spiffe://"');
  const rest = uri.slice('spiffe://'.length);
  if (/[?#%]/.test(rest)) return bad('query, fragment and percent-encoding are not allowed');
  const slash = rest.indexOf('/');
  if (slash < 0) return bad('no path');
  const trustDomain = rest.slice(0, slash);
  if (!TRUST_DOMAIN.test(trustDomain)) return bad(`trust domain "${trustDomain}" must be 1-255 of a-z 0-9 . - _ (no port, no user, lowercase)`);
  const segments = rest.slice(slash + 1).split('/');
  if (segments.length !== 4 || segments[0] !== 'ns' || segments[2] !== 'sa') return bad('path is not /ns/<namespace>/sa/<service-account>');
  const [, namespace, , serviceAccount] = segments as [string, string, string, string];
  if (!DNS_LABEL.test(namespace)) return bad(`namespace "${namespace}" is not a DNS label`);
  if (!isDnsSubdomain(serviceAccount)) return bad(`service account "${serviceAccount}" is not a DNS subdomain`);
  return { ok: true, value: { uri, trustDomain, namespace, serviceAccount } };
}

/**
 * The identity a client certificate proves: its one URI SAN, a SPIFFE id.
 * An X.509 SVID carries exactly one URI SAN, so none or several is refused.
 */
export function identityFromCertificate(cert: PeerCertificate | undefined): Parsed<PeerIdentity> {
  if (!cert?.raw) return { ok: false, error: 'no verified client certificate on the connection' };
  const who = cert.subject?.CN ? `client certificate CN=${cert.subject.CN}` : 'client certificate';
  const sans = parseSubjectAltNames(cert.subjectaltname ?? '');
  if (!sans.ok) return { ok: false, error: `${who}: ${sans.error}` };
  const uris = sans.value.filter((san) => san.type === 'URI').map((san) => san.value);
  if (uris.length === 0) return { ok: false, error: `${who} has no URI SAN; a proxy's certificate must carry its SPIFFE id (${ISTIO_FORM})` };
  if (uris.length > 1) return { ok: false, error: `${who} has ${uris.length} URI SANs (${uris.join(', ')}); an X.509 SVID carries exactly one` };
  const id = parseSpiffeId(uris[0]!);
  if (!id.ok) return { ok: false, error: `${who}: ${id.error}` };
  return { ok: true, value: { authenticated: true, spiffe: id.value } };
}

/** The SPIFFE URI a peer proved, or undefined when nothing was proved. */
export function identityUri(peer: PeerIdentity): string | undefined {
  return peer.authenticated ? peer.spiffe.uri : undefined;
}

/** A stream claims a node id that another identity holds on an open stream. */
export class NodeIdClaimedError extends Error {
  constructor(readonly nodeId: string, readonly holder: string | undefined, readonly claimant: string | undefined) {
    super(`node id "${nodeId}" is held by ${holder ?? 'an unauthenticated proxy'} on an open stream; ${claimant ?? 'an unauthenticated proxy'} may not claim it`);
  }
}
