// Builds file-mode config directories for tests: a UDP or RTSP Service the
// proxy serves and backend Services with their EndpointSlices, on loopback
// unless an address is given.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';

export interface UdpBackendSpec {
  name: string;
  /** Endpoint ports (one endpoint per port, all on `address`). */
  ports: number[];
  weight?: number;
  /** Endpoint IP address; default 127.0.0.1. */
  address?: string;
  /** Namespaces whose routes may send to this backend (the Service's mediamesh.io/allow-routes-from). */
  allowRoutesFrom?: string;
}

export interface UdpRouteSpec {
  name: string;
  listenPort: number;
  clusterIP?: string;
  backends: UdpBackendSpec[];
  extraSpec?: Record<string, unknown>;
}

export function udpRouteDocuments(r: UdpRouteSpec, namespace = 'media'): string {
  const meta = (name: string, labels?: Record<string, string>) => ({ name, namespace, ...(labels ? { labels } : {}) });
  const docs: unknown[] = [
    { apiVersion: 'v1', kind: 'Service', metadata: meta(r.name), spec: { clusterIP: r.clusterIP ?? '127.0.0.1', ports: [{ name: 'media', port: r.listenPort, protocol: 'UDP' }] } },
  ];
  for (const b of r.backends) {
    const annotations = b.allowRoutesFrom === undefined ? {} : { annotations: { 'mediamesh.io/allow-routes-from': b.allowRoutesFrom } };
    docs.push({ apiVersion: 'v1', kind: 'Service', metadata: { ...meta(b.name), ...annotations }, spec: { ports: [{ name: 'media', port: 7000, protocol: 'UDP' }] } });
    b.ports.forEach((port, i) => docs.push({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: meta(`${b.name}-${i}`, { 'kubernetes.io/service-name': b.name }),
      addressType: 'IPv4',
      ports: [{ name: 'media', port, protocol: 'UDP' }],
      endpoints: [{ addresses: [b.address ?? '127.0.0.1'], conditions: { ready: true } }],
    }));
  }
  docs.push({
    apiVersion: 'mediamesh.io/v1alpha1',
    kind: 'UdpRoute',
    metadata: meta(r.name),
    spec: {
      parentRefs: [{ kind: 'Service', name: r.name, port: r.listenPort }],
      backendRefs: r.backends.map((b) => ({ name: b.name, port: 7000, ...(b.weight === undefined ? {} : { weight: b.weight }) })),
      ...r.extraSpec,
    },
  });
  return docs.map((d) => stringify(d)).join('---\n');
}

export interface RtspBackendSpec {
  name: string;
  /** Its endpoint's port, also its Service's port. */
  port: number;
  /** Endpoint IP address; default 127.0.0.1. */
  address?: string;
}

export interface RtspRouteSpec {
  name: string;
  listenPort: number;
  clusterIP?: string;
  backends: RtspBackendSpec[];
  /** RtspRoute rules whose backendRefs name backends (their port is filled in); default one rule to every backend. */
  rules?: (Record<string, unknown> & { backendRefs: { name: string; weight?: number }[] })[];
  extraSpec?: Record<string, unknown>;
}

/** An RtspRoute on a Service, and per backend a Service with one endpoint. */
export function rtspRouteDocuments(r: RtspRouteSpec, namespace = 'media'): string {
  const meta = (name: string, labels?: Record<string, string>) => ({ name, namespace, ...(labels ? { labels } : {}) });
  const portOf = new Map(r.backends.map((b) => [b.name, b.port]));
  const rules = r.rules ?? [{ backendRefs: r.backends.map((b) => ({ name: b.name })) }];
  const docs: unknown[] = [
    { apiVersion: 'v1', kind: 'Service', metadata: meta(r.name), spec: { clusterIP: r.clusterIP ?? '127.0.0.1', ports: [{ name: 'rtsp', port: r.listenPort, protocol: 'TCP' }] } },
  ];
  for (const b of r.backends) {
    docs.push({ apiVersion: 'v1', kind: 'Service', metadata: meta(b.name), spec: { ports: [{ name: 'rtsp', port: b.port, protocol: 'TCP' }] } });
    docs.push({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: meta(`${b.name}-a`, { 'kubernetes.io/service-name': b.name }),
      addressType: 'IPv4',
      ports: [{ name: 'rtsp', port: b.port, protocol: 'TCP' }],
      endpoints: [{ addresses: [b.address ?? '127.0.0.1'], conditions: { ready: true } }],
    });
  }
  docs.push({
    apiVersion: 'mediamesh.io/v1alpha1',
    kind: 'RtspRoute',
    metadata: meta(r.name),
    spec: {
      parentRefs: [{ kind: 'Service', name: r.name, port: r.listenPort }],
      rules: rules.map((rule) => ({ ...rule, backendRefs: rule.backendRefs.map((ref) => ({ ...ref, port: portOf.get(ref.name) })) })),
      ...r.extraSpec,
    },
  });
  return docs.map((d) => stringify(d)).join('---\n');
}

export class ConfigDir {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mediamesh-config-'));

  write(file: string, text: string): void {
    // Write then rename so the watcher never reads a half-written file.
    const tmp = path.join(this.dir, `.${file}.tmp`);
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, path.join(this.dir, file));
  }

  remove(file: string): void {
    fs.rmSync(path.join(this.dir, file), { force: true });
  }

  cleanup(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
