// The contract between the interception script
// (manifests/interception/mediamesh-intercept.sh), the injector that runs it
// and the control plane that gives the sidecar its listeners: which proxy
// ports the script redirects to, and which of a pod's ports it captures.
// The injector passes the same port lists to the script and, through the
// sidecar's bootstrap node metadata, to the control plane; both read them
// here, so the two never disagree about which port lands where.
import { parsePortList, portCount, type PortRange, singlePorts } from './port-list.js';

/** Outbound RTSP is REDIRECTed to 127.0.0.1:15101 (Istio's outbound port is 15001). */
export const OUTBOUND_RTSP_PROXY_PORT = 15101;
/** Inbound RTSP is REDIRECTed to 15106 (Istio's inbound port is 15006). */
export const INBOUND_RTSP_PROXY_PORT = 15106;
/** The n-th inbound UDP port (ascending) is REDIRECTed to 15200 + n. */
export const INBOUND_UDP_PROXY_BASE = 15200;
/**
 * A UDP listener cannot learn a datagram's original port, so each inbound
 * UDP port needs a proxy port of its own: at most this many (15200-15263).
 */
export const MAX_INBOUND_UDP_PORTS = 64;
/** A port list longer than this is no port list (the script's LIST is a few entries). */
const MAX_LIST_CHARS = 2048;

/** What the script captures in a pod, as the sidecar's listeners need it. */
export interface CapturedPorts {
  /** Outbound RTSP goes to the proxy's entry listener (127.0.0.1:15101). */
  outboundRtsp: boolean;
  /** Inbound RTSP goes to the proxy's 15106. */
  inboundRtsp: boolean;
  /** Inbound UDP app ports, ascending, each once: the n-th arrives on 15200 + n. */
  inboundUdp: readonly number[];
}

/** The lists as the injector passes them to the script (`554,8554`, `25004-25005`). */
export interface CapturedPortLists {
  rtspPorts?: unknown;
  inboundRtspPorts?: unknown;
  inboundUdpPorts?: unknown;
}

export type CapturedPortsResult = { ok: true; value: CapturedPorts | undefined } | { ok: false; errors: string[] };

/**
 * Parses and bounds the lists the way the script does (it refuses the same
 * ones). No list at all means nothing is captured: undefined. `name` says
 * how the caller calls each list in its messages (a flag, a metadata key).
 */
export function checkCapturedPorts(lists: CapturedPortLists, name: (key: keyof CapturedPortLists) => string): CapturedPortsResult {
  const errors: string[] = [];
  const ranges = (key: keyof CapturedPortLists): readonly PortRange[] => {
    const value = lists[key];
    if (value === undefined) return [];
    if (typeof value !== 'string') {
      errors.push(`${name(key)} must be a string such as "554,8554", got ${JSON.stringify(value).slice(0, 64)}`);
      return [];
    }
    if (value.length > MAX_LIST_CHARS) {
      errors.push(`${name(key)} is ${value.length} characters long; at most ${MAX_LIST_CHARS}`);
      return [];
    }
    const parsed = parsePortList(value);
    if (!parsed.ok) errors.push(`${name(key)}: ${parsed.error}`);
    return parsed.ok ? parsed.ranges : [];
  };
  const outbound = ranges('rtspPorts');
  const inboundRtsp = ranges('inboundRtspPorts');
  const inboundUdp = ranges('inboundUdpPorts');
  const udpCount = portCount(inboundUdp);
  if (udpCount > MAX_INBOUND_UDP_PORTS) {
    errors.push(`${name('inboundUdpPorts')}: ${udpCount} ports; at most ${MAX_INBOUND_UDP_PORTS} (each needs a proxy port of its own from ${INBOUND_UDP_PROXY_BASE})`);
  }
  const lastUdpProxyPort = INBOUND_UDP_PROXY_BASE + MAX_INBOUND_UDP_PORTS - 1;
  if (inboundUdp.some((r) => r.from <= lastUdpProxyPort && r.to >= INBOUND_UDP_PROXY_BASE)) {
    errors.push(`${name('inboundUdpPorts')}: ${INBOUND_UDP_PROXY_BASE}-${lastUdpProxyPort} are the proxy's own inbound UDP ports`);
  }
  if (inboundRtsp.some((r) => r.from <= INBOUND_RTSP_PROXY_PORT && r.to >= INBOUND_RTSP_PROXY_PORT)) {
    errors.push(`${name('inboundRtspPorts')}: ${INBOUND_RTSP_PROXY_PORT} is the proxy's own inbound RTSP port`);
  }
  if (errors.length > 0) return { ok: false, errors };
  if (outbound.length === 0 && inboundRtsp.length === 0 && inboundUdp.length === 0) return { ok: true, value: undefined };
  return { ok: true, value: { outboundRtsp: outbound.length > 0, inboundRtsp: inboundRtsp.length > 0, inboundUdp: singlePorts(inboundUdp) } };
}

/** A short stable text of what is captured, for view keys: "out+in+udp:25004,25006". */
export function capturedPortsKey(captured: CapturedPorts): string {
  return [captured.outboundRtsp ? 'out' : '', captured.inboundRtsp ? 'in' : '', captured.inboundUdp.length > 0 ? `udp:${captured.inboundUdp.join(',')}` : ''].filter((p) => p !== '').join('+');
}
