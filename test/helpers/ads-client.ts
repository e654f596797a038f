// A minimal ADS client for protocol tests: sends requests on one stream and
// hands back responses in order.
import { credentials, type ClientDuplexStream, type ServiceError } from '@grpc/grpc-js';
import { AggregatedDiscoveryServiceClient } from '../../xds-server/src/gen/envoy/service/discovery/v3/ads.js';
import { DeltaDiscoveryRequest, type DeltaDiscoveryResponse, DiscoveryRequest, type DiscoveryResponse } from '../../xds-server/src/gen/envoy/service/discovery/v3/discovery.js';

class StreamQueue<Req, Res> {
  private readonly queue: Res[] = [];
  private waiters: ((r: Res | Error) => void)[] = [];
  ended?: ServiceError | 'ok';

  constructor(readonly call: ClientDuplexStream<Req, Res>) {
    call.on('data', (res: Res) => {
      const w = this.waiters.shift();
      if (w) w(res);
      else this.queue.push(res);
    });
    call.on('error', (err: ServiceError) => this.finish(err));
    call.on('end', () => this.finish('ok'));
  }

  private finish(how: ServiceError | 'ok'): void {
    this.ended ??= how;
    for (const w of this.waiters.splice(0)) w(how === 'ok' ? new Error('stream ended') : how);
  }

  send(req: Req): void {
    this.call.write(req);
  }

  /** The next response; rejects if none comes within timeoutMs or the stream ends. */
  next(timeoutMs = 3000): Promise<Res> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.ended) return Promise.reject(this.ended === 'ok' ? new Error('stream ended') : this.ended);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`no response within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (r: Res | Error): void => {
        clearTimeout(timer);
        if (r instanceof Error) reject(r);
        else resolve(r);
      };
      this.waiters.push(waiter);
    });
  }

  /** Resolves with the error status the server ended the stream with. */
  async endedWith(timeoutMs = 3000): Promise<ServiceError> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    if (!this.ended || this.ended === 'ok') throw new Error(`stream did not fail (${this.ended ?? 'still open'})`);
    return this.ended;
  }

  close(): void {
    this.call.end();
    this.call.cancel();
  }
}

export class SotwTestStream extends StreamQueue<DiscoveryRequest, DiscoveryResponse> {
  request(partial: Partial<DiscoveryRequest>): void {
    this.send(DiscoveryRequest.fromPartial(partial));
  }
}

export class DeltaTestStream extends StreamQueue<DeltaDiscoveryRequest, DeltaDiscoveryResponse> {
  request(partial: Partial<DeltaDiscoveryRequest>): void {
    this.send(DeltaDiscoveryRequest.fromPartial(partial));
  }
}

export function adsClient(port: number): AggregatedDiscoveryServiceClient {
  return new AggregatedDiscoveryServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
}

export function openSotw(client: AggregatedDiscoveryServiceClient): SotwTestStream {
  return new SotwTestStream(client.streamAggregatedResources());
}

export function openDelta(client: AggregatedDiscoveryServiceClient): DeltaTestStream {
  return new DeltaTestStream(client.deltaAggregatedResources());
}
