// The control plane's own HTTP admin: health, readiness, Prometheus metrics
// and debug views of proxies and the config each one is given.
import { createServer, type Server } from 'node:http';
import { isIP } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { ControlPlane } from '../control-plane.js';
import { createLogger } from '../log.js';
import { DEBUG_REFUSED_MESSAGE, debugAccessAllowed } from './debug-access.js';
import type { RelaySessions } from '../relays/relay-sessions.js';
import { relayApi } from './relay-api.js';
import { nodeStatusToJson } from '../xds/node-status.js';
import { pushOrder, shortTypeName } from '../xds/type-urls.js';
import { createMetrics } from './metrics.js';

const log = createLogger('admin');

export class AdminServer {
  private server?: Server;

  constructor(
    private readonly controlPlane: ControlPlane,
    private readonly options: {
      files?: readonly { urlPath: string; file: string }[];
      /** Answer /debug/* for every caller, not only loopback ones. */
      debugFromAnywhere?: boolean;
      /** RTSP relays proxies may ask for (serve --relay-ports). */
      relays?: RelaySessions;
    } = {},
  ) {}

  /**
   * Binds host:port (port 0 picks one) and resolves to the bound port, or
   * rejects naming the address and the reason (a port in use is fatal, not
   * logged and forgotten: Express 5's app.listen hands such errors to its
   * callback, so the server is created here).
   */
  listen(host: string, port: number): Promise<number> {
    const address = isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
    const server = createServer(this.routes());
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(new Error(`cannot listen for admin on ${address}: ${err.message}`));
      server.once('error', onError);
      server.listen(port, host, () => {
        server.off('error', onError);
        server.on('error', (err) => log.error('admin server error', { error: err.message }));
        this.server = server;
        const bound = (server.address() as { port: number }).port;
        log.info('admin listening', { address: isIP(host) === 6 ? `[${host}]:${bound}` : `${host}:${bound}`, debugFromAnywhere: this.options.debugFromAnywhere ?? false });
        resolve(bound);
      });
    });
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private routes(): express.Express {
    const app = express();
    const registry = createMetrics(this.controlPlane);
    const cache = this.controlPlane.cache;
    const debugFromAnywhere = this.options.debugFromAnywhere ?? false;

    // Registered first, so it guards every /debug endpoint, whoever adds it.
    app.use('/debug', (req: Request, res: Response, next: NextFunction) => {
      if (debugAccessAllowed(req.socket.remoteAddress, debugFromAnywhere)) return next();
      log.debug('refused a debug request from a non-loopback caller', { path: req.originalUrl, from: req.socket.remoteAddress });
      res.status(403).json({ error: DEBUG_REFUSED_MESSAGE });
    });

    // Extensions Envoy fetches as remote data sources (checked there against their sha256).
    for (const { urlPath, file } of this.options.files ?? []) {
      app.get(urlPath, (_req: Request, res: Response) => {
        log.info('serving extension', { path: urlPath });
        res.type('application/octet-stream').sendFile(file);
      });
    }
    if (this.options.relays) {
      app.use('/relays/v1', relayApi(this.options.relays, cache));
      const relays = this.options.relays;
      app.get('/debug/relays', (_req: Request, res: Response) => {
        res.json({ sessions: relays.list() });
      });
    }
    app.get('/healthz', (_req: Request, res: Response) => {
      res.type('text/plain').send('ok\n');
    });
    app.get('/readyz', (_req: Request, res: Response) => {
      const ready = this.controlPlane.configStatus().ready;
      res.status(ready ? 200 : 503).type('text/plain').send(ready ? 'ready\n' : 'config source not synced yet\n');
    });
    app.get('/metrics', async (_req: Request, res: Response) => {
      res.type(registry.contentType).send(await registry.metrics());
    });
    app.get('/debug/nodes', (_req: Request, res: Response) => {
      res.json({ nodes: cache.allNodeStatuses().map(nodeStatusToJson), config: this.configSummary() });
    });
    app.get('/debug/routes', (_req: Request, res: Response) => {
      res.json({ routes: this.controlPlane.routeStatuses() });
    });
    app.get('/debug/config', (_req: Request, res: Response) => {
      res.json(this.controlPlane.configStatus());
    });
    app.get('/debug/config_dump', (req: Request, res: Response) => {
      const nodeId = typeof req.query.node === 'string' ? req.query.node : undefined;
      const snapshot = nodeId ? cache.getSnapshot(nodeId) : this.controlPlane.currentSnapshot();
      if (!snapshot) {
        res.status(404).json({ error: `no snapshot for node "${nodeId}"; known nodes: ${cache.knownNodes().join(', ') || 'none'}` });
        return;
      }
      const status = nodeId ? cache.nodeStatus(nodeId) : undefined;
      res.json({
        node: nodeId ?? null,
        snapshotVersion: snapshot.version,
        resources: pushOrder.map((typeUrl) => {
          const t = snapshot.forType(typeUrl);
          return {
            type: shortTypeName(typeUrl),
            typeUrl,
            version: t.version,
            status: status?.types.get(typeUrl) ?? null,
            resources: [...t.resources.values()].map((r) => ({ name: r.name, version: r.version, resource: r.json() })),
          };
        }),
      });
    });
    return app;
  }

  private configSummary(): unknown {
    const s = this.controlPlane.configStatus();
    return { source: s.source, ready: s.ready, generation: s.generation, snapshotVersion: s.snapshotVersion, accepted: s.accepted, rejected: s.problems.map((p) => p.message) };
  }
}
