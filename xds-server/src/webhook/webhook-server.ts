// The admission webhooks over HTTPS, in the control plane process
// (`serve --webhook-port 9443 --webhook-cert FILE --webhook-key FILE`):
//   POST /inject                    pods whose own annotation opts them in
//   POST /inject/enabled-namespace  pods of namespaces labelled mediamesh.io/inject=enabled
//   POST /validate                  UdpRoutes and RtspRoutes
// The two injection paths differ only in what the calling webhook's
// namespaceSelector has already established about the pod's namespace (an
// AdmissionReview does not carry the namespace's labels).
//
// The certificate and key are read again every reloadIntervalMs: a Secret
// mounted as a volume is updated in place when it is renewed.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { isIP } from 'node:net';
import { createSecureContext } from 'node:tls';
import express, { type NextFunction, type Request, type Response } from 'express';
import { createLogger, errorMessage } from '../log.js';
import { admissionRequestOf, BadAdmissionReview, reviewInjection, reviewValidation } from './admission.js';
import { type InjectOptions, NAMESPACE_LABEL, NAMESPACE_LABEL_VALUE } from './inject.js';

const log = createLogger('webhook');

export const WEBHOOK_PATHS = {
  inject: '/inject',
  injectEnabledNamespace: '/inject/enabled-namespace',
  validate: '/validate',
} as const;

export interface WebhookServerOptions {
  /** PEM files: the serving certificate (chain) and its key. */
  certFile: string;
  keyFile: string;
  inject: InjectOptions;
  /** How often the files are read again for a renewed certificate (default 30 s; 0: never). */
  reloadIntervalMs?: number;
}

interface KeyPair {
  cert: Buffer;
  key: Buffer;
}

/** Reads and checks the pair, naming the flag and file that is wrong. */
export function loadKeyPair(certFile: string, keyFile: string): KeyPair {
  const read = (flag: string, file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Error(`${flag} ${file}: cannot read: ${errorMessage(err)}`);
    }
  };
  const pair = { cert: read('--webhook-cert', certFile), key: read('--webhook-key', keyFile) };
  try {
    createSecureContext(pair);
  } catch (err) {
    throw new Error(`--webhook-cert ${certFile} / --webhook-key ${keyFile}: not a usable certificate and key: ${errorMessage(err)}`);
  }
  return pair;
}

// An AdmissionReview carries the whole object; a pod with large env values can be a few MB.
const BODY_LIMIT = '8mb';

export class WebhookServer {
  private server?: Server;
  private reloadTimer?: NodeJS.Timeout;
  private current: KeyPair;

  constructor(private readonly options: WebhookServerOptions) {
    this.current = loadKeyPair(options.certFile, options.keyFile);
  }

  listen(host: string, port: number): Promise<number> {
    const address = isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
    const server = createServer({ ...this.current, minVersion: 'TLSv1.2' }, this.routes());
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(new Error(`cannot listen for the admission webhooks on ${address}: ${err.message}`));
      server.once('error', onError);
      server.listen(port, host, () => {
        server.off('error', onError);
        server.on('error', (err) => log.error('webhook server error', { error: err.message }));
        server.on('tlsClientError', (err) => log.debug('TLS handshake failed', { error: err.message }));
        this.server = server;
        const interval = this.options.reloadIntervalMs ?? 30_000;
        if (interval > 0) {
          this.reloadTimer = setInterval(() => this.reload(), interval);
          this.reloadTimer.unref();
        }
        const bound = (server.address() as { port: number }).port;
        log.info('admission webhooks listening', { address: isIP(host) === 6 ? `[${host}]:${bound}` : `${host}:${bound}` });
        resolve(bound);
      });
    });
  }

  /** Picks up a renewed certificate; a broken pair is logged and the old one kept. */
  reload(): void {
    let next: KeyPair;
    try {
      next = loadKeyPair(this.options.certFile, this.options.keyFile);
    } catch (err) {
      log.warn('webhook certificate not reloaded; serving the previous one', { error: errorMessage(err) });
      return;
    }
    if (next.cert.equals(this.current.cert) && next.key.equals(this.current.key)) return;
    this.current = next;
    this.server?.setSecureContext({ ...next, minVersion: 'TLSv1.2' });
    log.info('webhook certificate reloaded', { cert: this.options.certFile });
  }

  stop(): Promise<void> {
    clearInterval(this.reloadTimer);
    return new Promise((resolve) => {
      if (!this.server) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private routes(): express.Express {
    const app = express();
    app.use(express.json({ limit: BODY_LIMIT, type: () => true }));
    const inject = (namespaceLabels: Record<string, string>) => (req: Request, res: Response) => {
      const request = admissionRequestOf(req.body);
      const { review, outcome, reason } = reviewInjection(request, namespaceLabels, this.options.inject);
      const pod = podName(request);
      if (outcome === 'skipped') log.debug('pod not injected', { pod, reason });
      else if (outcome === 'refused') log.warn('pod refused', { pod, reason });
      else log.info('pod injected', { pod, dryRun: request.dryRun ?? false });
      res.json(review);
    };
    app.post(WEBHOOK_PATHS.inject, inject({}));
    app.post(WEBHOOK_PATHS.injectEnabledNamespace, inject({ [NAMESPACE_LABEL]: NAMESPACE_LABEL_VALUE }));
    app.post(WEBHOOK_PATHS.validate, (req: Request, res: Response) => {
      const request = admissionRequestOf(req.body);
      const { review, problems } = reviewValidation(request);
      if (problems.length > 0) log.info('route refused', { kind: request.kind?.kind, route: `${request.namespace ?? ''}/${request.name ?? ''}`, problems });
      res.json(review);
    });
    app.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
      if (res.headersSent) return next(err);
      const status = err instanceof BadAdmissionReview ? 400 : typeof (err as { status?: unknown }).status === 'number' ? (err as { status: number }).status : 500;
      if (status >= 500) log.error('webhook request failed', { error: errorMessage(err) });
      res.status(status).type('text/plain').send(`${errorMessage(err)}\n`);
    });
    return app;
  }
}

function podName(request: { namespace?: string; name?: string; object?: unknown }): string {
  const meta = (request.object as { metadata?: { name?: string; generateName?: string } } | undefined)?.metadata;
  return `${request.namespace ?? ''}/${request.name || meta?.name || `${meta?.generateName ?? ''}*`}`;
}
