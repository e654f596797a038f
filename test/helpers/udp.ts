// UDP peers for tests: an echo backend that tags replies with its name, and a
// client that sends one datagram and waits for the reply.
import dgram from 'node:dgram';

export class UdpEchoBackend {
  received = 0;
  private constructor(private readonly socket: dgram.Socket, readonly name: string, readonly port: number) {
    socket.on('message', (msg, from) => {
      this.received++;
      socket.send(Buffer.concat([Buffer.from(`${name}:`), msg]), from.port, from.address);
    });
  }

  static async start(name: string, port = 0): Promise<UdpEchoBackend> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, '127.0.0.1', () => resolve());
    });
    return new UdpEchoBackend(socket, name, socket.address().port);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

export class UdpClient {
  private constructor(private readonly socket: dgram.Socket) {}

  /** A socket on an ephemeral port of `address` (any 127.0.0.0/8 address works on Linux loopback). */
  static async open(address = '127.0.0.1'): Promise<UdpClient> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, address, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return new UdpClient(socket);
  }

  /** The local address and port: what Envoy sees as the session's source. */
  get local(): { address: string; port: number } {
    const { address, port } = this.socket.address();
    return { address, port };
  }

  /** Sends a datagram and resolves with the reply text, or undefined after timeoutMs. */
  exchange(port: number, payload: string, timeoutMs = 1000): Promise<string | undefined> {
    return new Promise((resolve) => {
      const onMessage = (msg: Buffer): void => {
        clearTimeout(timer);
        this.socket.off('message', onMessage);
        resolve(msg.toString());
      };
      const timer = setTimeout(() => {
        this.socket.off('message', onMessage);
        resolve(undefined);
      }, timeoutMs);
      this.socket.on('message', onMessage);
      this.socket.send(payload, port, '127.0.0.1');
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
