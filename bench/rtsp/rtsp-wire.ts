// What an RTSP client reads off its TCP connection: responses (RFC 2326 §7)
// and, once RTP is interleaved, `$`-framed packets (§10.12) between them.
// Pure functions over bytes, so the parsing is tested without a server.

export interface RtspResponse {
  status: number;
  /** Header names in lower case. */
  headers: Map<string, string>;
  body: string;
}

export type WireMessage =
  | { kind: 'response'; response: RtspResponse }
  | { kind: 'interleaved'; channel: number; payload: Buffer }
  /** A request from the server (e.g. ANNOUNCE, GET_PARAMETER): skipped, as a player may. */
  | { kind: 'request'; method: string };

/** A response head larger than this is a broken peer, not a slow one. */
export const MAX_HEAD_BYTES = 64 * 1024;

/**
 * Takes one complete message off the front of `buffer`; undefined until one
 * is all there. Throws when the bytes cannot be RTSP (the caller drops the
 * connection).
 */
export function takeMessage(buffer: Buffer): { message: WireMessage; rest: Buffer } | undefined {
  if (buffer.length === 0) return undefined;
  if (buffer[0] === 0x24) {
    if (buffer.length < 4) return undefined;
    const length = buffer.readUInt16BE(2);
    if (buffer.length < 4 + length) return undefined;
    return { message: { kind: 'interleaved', channel: buffer[1]!, payload: buffer.subarray(4, 4 + length) }, rest: buffer.subarray(4 + length) };
  }
  const end = buffer.indexOf('\r\n\r\n');
  if (end < 0) {
    if (buffer.length > MAX_HEAD_BYTES) throw new Error(`no end of an RTSP head in ${buffer.length} bytes`);
    return undefined;
  }
  const lines = buffer.subarray(0, end).toString('latin1').split('\r\n');
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  const length = Number(headers.get('content-length') ?? 0);
  if (!Number.isInteger(length) || length < 0 || length > MAX_HEAD_BYTES) throw new Error(`bad Content-Length ${JSON.stringify(headers.get('content-length'))}`);
  if (buffer.length < end + 4 + length) return undefined;
  const rest = buffer.subarray(end + 4 + length);
  const status = /^RTSP\/\d\.\d (\d{3})(?: |$)/.exec(lines[0]!);
  if (status) return { message: { kind: 'response', response: { status: Number(status[1]), headers, body: buffer.subarray(end + 4, end + 4 + length).toString('latin1') } }, rest };
  const request = /^([A-Z_]+) \S+ RTSP\/\d\.\d$/.exec(lines[0]!);
  if (request) return { message: { kind: 'request', method: request[1]! }, rest };
  throw new Error(`not an RTSP message: ${JSON.stringify(lines[0]!.slice(0, 80))}`);
}

export interface TransportParams {
  interleaved?: [number, number];
  clientPort?: [number, number];
  serverPort?: [number, number];
  source?: string;
}

/** The first transport spec of a Transport header (a reply carries one). */
export function parseTransport(header: string): TransportParams {
  const out: TransportParams = {};
  const pair = (v: string): [number, number] | undefined => {
    const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(v);
    if (!m) return undefined;
    const a = Number(m[1]);
    return [a, m[2] === undefined ? a + 1 : Number(m[2])];
  };
  for (const part of header.split(',')[0]!.split(';')) {
    const eq = part.indexOf('=');
    const [key, value] = eq < 0 ? [part.trim().toLowerCase(), ''] : [part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim()];
    if (key === 'interleaved') out.interleaved = pair(value);
    else if (key === 'client_port') out.clientPort = pair(value);
    else if (key === 'server_port') out.serverPort = pair(value);
    else if (key === 'source') out.source = value;
  }
  return out;
}

/** The SETUP URL of the SDP's first media section: its a=control, resolved against the Content-Base. */
export function mediaControlUrl(sdp: string, contentBase: string): string {
  const media = sdp.split(/\r?\n(?=m=)/).find((section) => section.startsWith('m=')) ?? sdp;
  const control = /^a=control:(.+)$/m.exec(media)?.[1]?.trim();
  if (!control || control === '*') return contentBase;
  if (/^rtsps?:\/\//i.test(control)) return control;
  return contentBase.endsWith('/') ? contentBase + control : `${contentBase}/${control}`;
}

/** The session id of a Session header, without ";timeout=". */
export function sessionId(header: string | undefined): string | undefined {
  const id = header?.split(';')[0]?.trim();
  return id ? id : undefined;
}
