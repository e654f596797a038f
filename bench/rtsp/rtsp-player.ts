// A small RTSP player for the bench: OPTIONS, DESCRIBE, SETUP, PLAY over one
// TCP connection, RTP either interleaved on it (channels 0-1) or on a UDP
// client_port pair, and the time from the TCP connect to the first RTP packet.
// It starts in microseconds where ffmpeg takes a hundred milliseconds, so the
// setup time it reports is the network path's, not the client's start-up.
import dgram from 'node:dgram';
import net from 'node:net';
import { RtpSequence, rtpSequenceNumber } from './rtp-sequence.js';
import { mediaControlUrl, parseTransport, type RtspResponse, sessionId, takeMessage } from './rtsp-wire.js';

export type RtspTransport = 'tcp' | 'udp';

export interface PlayOptions {
  host: string;
  port: number;
  /** e.g. /cam1 */
  path: string;
  transport: RtspTransport;
  /** Bounds everything from the connect to the first RTP packet. */
  timeoutMs: number;
  /** Client RTP ports are even numbers drawn from this range (RTCP is +1). */
  udpPortRange?: [number, number];
}

const DEFAULT_UDP_PORTS: [number, number] = [20000, 29998];
/** Frames of a few players at once can queue in the socket: room for a second of video. */
const UDP_RECV_BUFFER = 512 * 1024;
const PORT_ATTEMPTS = 30;

export class RtspPlayer {
  readonly sequence = new RtpSequence();
  readonly requests: Record<string, number> = {};
  /** process.hrtime.bigint() at the connect and at the first RTP packet. */
  connectAt = 0n;
  firstRtpAt = 0n;
  rtcpPackets = 0;
  /** Milliseconds from the connect to each request's answer, by method (the last answer of each). */
  readonly answeredMs: Record<string, number> = {};
  /** The SETUP reply's Transport: which ports the server (or a relay in between) said it uses. */
  replyTransport = '';
  private readonly socket: net.Socket;
  private udp: dgram.Socket[] = [];
  private buffer: Buffer = Buffer.alloc(0);
  private cseq = 0;
  private session: string | undefined;
  private url = '';
  private readonly waiting: { resolve: (r: RtspResponse) => void; reject: (e: Error) => void }[] = [];
  private failure: Error | undefined;
  private onFirstRtp: (() => void) | undefined;
  private failWatchers: ((e: Error) => void)[] = [];

  private constructor(private readonly o: PlayOptions) {
    this.connectAt = process.hrtime.bigint();
    this.socket = net.connect(o.port, o.host);
    this.socket.setNoDelay(true);
    this.socket.on('data', (d: Buffer) => this.read(d));
    this.socket.on('error', (err) => this.fail(err));
    this.socket.on('close', () => this.fail(new Error('connection closed')));
  }

  /** Plays `path` until the first RTP packet; the player keeps counting packets until teardown/close. */
  static async play(o: PlayOptions): Promise<RtspPlayer> {
    const player = new RtspPlayer(o);
    const timer = setTimeout(() => player.fail(new Error(`no RTP within ${o.timeoutMs} ms`)), o.timeoutMs);
    try {
      await player.start();
      return player;
    } catch (err) {
      player.close();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Milliseconds from the TCP connect to the first RTP packet. */
  get setupMs(): number {
    return Number(this.firstRtpAt - this.connectAt) / 1e6;
  }

  /** A request in the session (servers and relays take it as a keep-alive). */
  async keepAlive(): Promise<void> {
    await this.request('GET_PARAMETER', this.url, this.session ? { Session: this.session } : {});
  }

  /** TEARDOWN and wait for its answer (bounded), then close. */
  async teardown(timeoutMs = 2000): Promise<void> {
    if (!this.failure && this.session) {
      const timer = setTimeout(() => this.fail(new Error('TEARDOWN unanswered')), timeoutMs);
      try {
        await this.request('TEARDOWN', this.url, { Session: this.session });
      } catch {
        // the connection goes anyway
      } finally {
        clearTimeout(timer);
      }
    }
    this.close();
  }

  close(): void {
    this.failure ??= new Error('closed');
    this.socket.destroy();
    for (const s of this.udp) s.close();
    this.udp = [];
  }

  private async start(): Promise<void> {
    this.url = `rtsp://${this.o.host}:${this.o.port}${this.o.path}`;
    await this.request('OPTIONS', this.url);
    const describe = await this.request('DESCRIBE', this.url, { Accept: 'application/sdp' });
    const setupUrl = mediaControlUrl(describe.body, describe.headers.get('content-base') ?? `${this.url}/`);
    let transport = 'RTP/AVP/TCP;unicast;interleaved=0-1';
    if (this.o.transport === 'udp') {
      const rtp = await this.bindUdpPair();
      transport = `RTP/AVP;unicast;client_port=${rtp}-${rtp + 1}`;
    }
    const setup = await this.request('SETUP', setupUrl, { Transport: transport });
    this.replyTransport = setup.headers.get('transport') ?? '';
    this.session = sessionId(setup.headers.get('session'));
    if (!this.session) throw new Error('SETUP reply without a Session');
    if (this.o.transport === 'udp' && !parseTransport(this.replyTransport).clientPort) throw new Error(`SETUP reply is not UDP: ${this.replyTransport}`);
    const firstRtp = new Promise<void>((resolve) => (this.onFirstRtp = resolve));
    await this.request('PLAY', this.url, { Session: this.session, Range: 'npt=0-' });
    await Promise.race([firstRtp, this.failed()]);
  }

  private failed(): Promise<never> {
    return new Promise((_, reject) => (this.failure ? reject(this.failure) : this.failWatchers.push(reject)));
  }

  private async bindUdpPair(): Promise<number> {
    const [low, high] = this.o.udpPortRange ?? DEFAULT_UDP_PORTS;
    for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
      const rtp = low + 2 * Math.floor((Math.random() * (high - low)) / 2);
      const sockets = [dgram.createSocket({ type: 'udp4', recvBufferSize: UDP_RECV_BUFFER }), dgram.createSocket('udp4')];
      try {
        for (const [i, s] of sockets.entries()) {
          await new Promise<void>((resolve, reject) => {
            s.once('error', reject);
            s.bind(rtp + i, this.o.host, () => {
              s.off('error', reject);
              resolve();
            });
          });
        }
      } catch {
        for (const s of sockets) s.close();
        continue;
      }
      sockets[0]!.on('message', (msg) => this.rtp(msg));
      sockets[1]!.on('message', () => this.rtcpPackets++);
      this.udp = sockets;
      return rtp;
    }
    throw new Error(`no free UDP port pair in ${low}-${high + 1} after ${PORT_ATTEMPTS} tries`);
  }

  private request(method: string, url: string, headers: Record<string, string> = {}): Promise<RtspResponse> {
    if (this.failure) return Promise.reject(this.failure);
    this.requests[method] = (this.requests[method] ?? 0) + 1;
    const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    this.socket.write(`${method} ${url} RTSP/1.0\r\nCSeq: ${++this.cseq}\r\nUser-Agent: mediamesh-bench\r\n${extra}\r\n`);
    return new Promise<RtspResponse>((resolve, reject) => this.waiting.push({ resolve, reject })).then((r) => {
      this.answeredMs[method] = Number(process.hrtime.bigint() - this.connectAt) / 1e6;
      if (r.status !== 200) throw new Error(`${method} ${url} answered ${r.status}`);
      return r;
    });
  }

  private read(d: Buffer): void {
    this.buffer = this.buffer.length === 0 ? d : Buffer.concat([this.buffer, d]);
    try {
      for (let taken = takeMessage(this.buffer); taken; taken = takeMessage(this.buffer)) {
        this.buffer = taken.rest;
        const m = taken.message;
        if (m.kind === 'response') this.waiting.shift()?.resolve(m.response);
        else if (m.kind === 'interleaved' && m.channel === 0) this.rtp(m.payload);
        else if (m.kind === 'interleaved' && m.channel === 1) this.rtcpPackets++;
      }
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
      this.socket.destroy();
    }
  }

  private rtp(packet: Buffer): void {
    const seq = rtpSequenceNumber(packet);
    if (seq === undefined) return;
    if (this.firstRtpAt === 0n) {
      this.firstRtpAt = process.hrtime.bigint();
      this.onFirstRtp?.();
    }
    this.sequence.push(seq);
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const w of this.waiting.splice(0)) w.reject(this.failure);
    for (const w of this.failWatchers.splice(0)) w(this.failure);
  }
}
