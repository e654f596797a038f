// Who may read /debug/*: the proxies, identities and full config it shows are
// for operators. By default only loopback callers (a shell on the host, or
// `kubectl port-forward`, which arrives on loopback) get an answer;
// /healthz, /readyz and /metrics stay open for probes and scrapes.
import { isIPv4, isIPv6 } from 'node:net';

/** 127.0.0.0/8, ::1, and 127/8 mapped into IPv6 (how a dual-stack socket sees an IPv4 loopback caller). */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  if (isIPv4(address)) return address.startsWith('127.');
  if (!isIPv6(address)) return false;
  let canonical: string;
  try {
    // The URL parser writes IPv6 in its canonical form: compressed, lowercase, mapped IPv4 in hex.
    canonical = new URL(`http://[${address}]/`).hostname;
  } catch {
    return false; // e.g. a zone id (fe80::1%eth0): link-local, not loopback
  }
  return canonical === '[::1]' || /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(canonical);
}

export function debugAccessAllowed(remoteAddress: string | undefined, debugFromAnywhere: boolean): boolean {
  return debugFromAnywhere || isLoopbackAddress(remoteAddress);
}

export const DEBUG_REFUSED_MESSAGE = '/debug/* answers only loopback callers (use kubectl port-forward or a shell on the host); serve --debug-from-anywhere opens it to every caller';
