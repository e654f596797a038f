// IP addresses as the CRs spell them, compared as addresses: `::1` and
// `0:0::1` are one address, and a wildcard (0.0.0.0, ::) overlaps every
// address of its family on the same port.
import net from 'node:net';

export interface IpAddress {
  /** Canonical text: IPv6 compressed and lower-case. */
  readonly text: string;
  readonly family: 4 | 6;
  readonly wildcard: boolean;
}

/** The canonical address, or a reason it is not one. */
export function parseIp(text: string): IpAddress | { problem: string } {
  const detected = net.isIP(text);
  if (detected === 0) return { problem: `"${text}" is not an IP address` };
  if (text.includes('%')) return { problem: `"${text}" has a zone index; use an address without one` };
  const family = detected === 6 ? 6 : 4;
  const canonical = new net.SocketAddress({ address: text, family: family === 6 ? 'ipv6' : 'ipv4' }).address;
  return { text: canonical, family, wildcard: canonical === '0.0.0.0' || canonical === '::' };
}

export function isIpAddress(value: IpAddress | { problem: string }): value is IpAddress {
  return 'text' in value;
}

/** Two listeners on these addresses and one port would fight over packets. */
export function addressesOverlap(a: IpAddress, b: IpAddress): boolean {
  if (a.family !== b.family) return false;
  return a.text === b.text || a.wildcard || b.wildcard;
}
