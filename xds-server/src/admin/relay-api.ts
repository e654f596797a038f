// The HTTP API a proxy's RTSP filter calls (through a bootstrap cluster to
// this admin port) to get, complete, keep and end relays for its sessions.
//
//   POST   /relays/v1/sessions                      {node, session, client: {address, rtp, rtcp}}
//            → 200 {toClient: {rtp, rtcp}, toServer: {rtp, rtcp}, timeoutMs} once the proxy ACKed
//   PUT    /relays/v1/sessions/:node/:session/server {address, rtp, rtcp} → 204 once ACKed
//   POST   /relays/v1/sessions/:node/:session/refresh                     → 204
//   DELETE /relays/v1/sessions/:node/:session                             → 204
//
// Only a connected proxy may ask, and only for itself: the request must come
// from the address its xDS stream comes from. Failures are JSON {error} with
// a status the filter maps to an RTSP answer: 503 (no ports, not programmed:
// NACK or timeout) or 461 Unsupported Transport is the filter's choice; here
// 400 bad request, 403 not this proxy, 404 unknown session, 429 the proxy's
// session limit, 503 no ports or not programmed.
import express, { type NextFunction, type Request, type Response } from 'express';
import { createLogger, errorMessage } from '../log.js';
import { RelayError, type RelayFailure, type RelaySessions } from '../relays/relay-sessions.js';
import { unmappedAddress } from '../xds/peer-identity.js';
import { ProxyResourceError } from '../xds/proxy-resources.js';
import type { SnapshotCache } from '../xds/snapshot-cache.js';

const log = createLogger('relay-api');

const STATUS: Record<RelayFailure, number> = { 'bad-request': 400, 'unknown-session': 404, limit: 429, 'no-ports': 503, 'not-programmed': 503 };

export function relayApi(relays: RelaySessions, cache: SnapshotCache): express.Router {
  const router = express.Router();
  router.use(express.json({ limit: '4kb' }));

  /** The caller must be the connected proxy it names. */
  const callerIs = (req: Request, node: unknown): string => {
    if (typeof node !== 'string' || node.length === 0 || node.length > 1024) throw new RelayError('bad-request', 'node must be the proxy\'s node id');
    const status = cache.nodeStatus(node);
    const from = req.socket.remoteAddress === undefined ? undefined : unmappedAddress(req.socket.remoteAddress);
    if (!status?.connected || status.address === undefined || unmappedAddress(status.address) !== from) {
      throw Object.assign(new Error(`only proxy ${node} itself, while connected, may ask for its relays (this request came from ${from})`), { forbidden: true });
    }
    return node;
  };

  router.post('/sessions', async (req: Request, res: Response) => {
    const body = req.body as { node?: unknown; session?: unknown; client?: unknown };
    const node = callerIs(req, body.node);
    const grant = await relays.open(node, String(body.session ?? ''), body.client as never);
    res.json(grant);
  });
  router.put('/sessions/:node/:session/server', async (req: Request, res: Response) => {
    const node = callerIs(req, req.params.node);
    await relays.completeServer(node, String(req.params.session), req.body as never);
    res.status(204).end();
  });
  router.post('/sessions/:node/:session/refresh', (req: Request, res: Response) => {
    relays.refresh(callerIs(req, req.params.node), String(req.params.session));
    res.status(204).end();
  });
  router.delete('/sessions/:node/:session', (req: Request, res: Response) => {
    relays.close(callerIs(req, req.params.node), String(req.params.session), 'the proxy ended it');
    res.status(204).end();
  });

  router.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const status = err instanceof RelayError ? STATUS[err.failure]
      : err instanceof ProxyResourceError ? 503
      : (err as { forbidden?: boolean }).forbidden ? 403
      : (err as { type?: string }).type === 'entity.parse.failed' || (err as { type?: string }).type === 'entity.too.large' ? 400
      : 500;
    if (status >= 500) log.warn('relay request failed', { path: req.originalUrl, error: errorMessage(err) });
    res.status(status).json({ error: errorMessage(err) });
  });
  return router;
}
