// Plain JSON requests to the Kubernetes API server, authenticated the way the
// kubeconfig (or in-cluster config) says. client-node's typed APIs turn
// timestamps into Date objects and back in formats the API server does not
// always accept (Lease's MicroTime), and our documents are plain JSON anyway,
// so the source, the status writer and the lease lock all speak JSON here.
import https from 'node:https';
import http from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';

/** A non-2xx answer, with the API server's own message. */
export class KubeApiError extends Error {
  constructor(readonly statusCode: number, readonly reason: string, message: string, readonly method: string, readonly path: string) {
    super(`${method} ${path}: ${statusCode} ${reason}: ${message}`);
  }
}

export type PatchType = 'merge' | 'strategic' | 'json';

const PATCH_CONTENT_TYPES: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  json: 'application/json-patch+json',
};

/** Requests that get no answer in this long fail instead of hanging the caller. */
const REQUEST_TIMEOUT_MS = 30_000;
/** Larger answers than this are refused: a LIST of one kind in a big cluster stays well under it. */
const MAX_RESPONSE_BYTES = 256 * 1024 * 1024;

export class KubeClient {
  constructor(readonly config: KubeConfig) {}

  /** In-cluster config inside a pod, else $KUBECONFIG or ~/.kube/config. */
  static fromEnvironment(): KubeClient {
    const config = new KubeConfig();
    config.loadFromDefault();
    if (!config.getCurrentCluster()) throw new Error('no Kubernetes cluster configured: not in a pod, and no KUBECONFIG or ~/.kube/config with a current context');
    return new KubeClient(config);
  }

  get server(): string {
    return this.config.getCurrentCluster()!.server;
  }

  get<T = unknown>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  create<T = unknown>(path: string, body: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  /** PUT: fails with 409 Conflict when body.metadata.resourceVersion is not the stored one. */
  replace<T = unknown>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PUT', path, body);
  }

  patch<T = unknown>(path: string, body: unknown, type: PatchType = 'merge'): Promise<T> {
    return this.request<T>('PATCH', path, body, PATCH_CONTENT_TYPES[type]);
  }

  private async request<T>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    const url = new URL(this.server + path);
    const options: https.RequestOptions = { method, headers: { accept: 'application/json' } };
    await this.config.applyToHTTPSOptions(options);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    if (payload) Object.assign(options.headers!, { 'content-type': contentType, 'content-length': payload.length });
    const send = url.protocol === 'http:' ? http.request : https.request;
    return new Promise<T>((resolve, reject) => {
      const req = send(url, options, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) req.destroy(new Error(`${method} ${path}: answer larger than ${MAX_RESPONSE_BYTES} bytes`));
          else chunks.push(chunk);
        });
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try {
            parsed = text.length > 0 ? JSON.parse(text) : undefined;
          } catch {
            parsed = undefined;
          }
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) return resolve(parsed as T);
          const s = parsed as { reason?: string; message?: string } | undefined;
          reject(new KubeApiError(status, s?.reason ?? res.statusMessage ?? 'Error', s?.message ?? text.slice(0, 300), method, path));
        });
        res.on('error', reject);
      });
      req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error(`${method} ${path}: no answer from ${this.server} in ${REQUEST_TIMEOUT_MS / 1000} s`)));
      req.on('error', reject);
      req.end(payload);
    });
  }
}

export function isNotFound(err: unknown): boolean {
  return err instanceof KubeApiError && err.statusCode === 404;
}

export function isConflict(err: unknown): boolean {
  return err instanceof KubeApiError && err.statusCode === 409;
}
