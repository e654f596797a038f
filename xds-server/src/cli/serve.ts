// `mediamesh serve`: the control plane process.
import { readFileSync } from 'node:fs';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { createSecureContext } from 'node:tls';
import { AdminServer } from '../admin/admin-server.js';
import { ControlPlane } from '../control-plane.js';
import { createLogger, errorMessage } from '../log.js';
import { FileSource } from '../sources/file-source.js';
import { KubernetesMode } from '../sources/kubernetes/cluster.js';
import { KubeClient } from '../sources/kubernetes/kube-client.js';
import { PortPool } from '../relays/port-pool.js';
import { DEFAULT_ACK_TIMEOUT_MS, RelaySessions } from '../relays/relay-sessions.js';
import { EXTENSIONS_CLUSTER } from '../bootstrap/envoy-bootstrap.js';
import { AdsServer, type AdsTls } from '../xds/ads-server.js';
import type { InjectOptions } from '../webhook/inject.js';
import { WebhookServer } from '../webhook/webhook-server.js';
import type { RtpModuleSetting } from './rtp-module-option.js';
import { rtspFilterFromOption, type RtspFilterSetting } from './rtsp-filter-option.js';

const log = createLogger('serve');

/** Paths of the PEM files for xDS over mTLS. */
export interface TlsFiles {
  cert: string;
  key: string;
  clientCa: string;
}

/** `serve --kubernetes`: the cluster as a config source, and who writes route status. */
export interface KubernetesServeOptions {
  watchNamespace?: string;
  leaseNamespace: string;
  leaderId: string;
  leaseDurationMs: number;
  /** Defaults to the in-cluster config, else KUBECONFIG or ~/.kube/config. */
  client?: KubeClient;
}

export interface ServeOptions {
  configDir?: string;
  kubernetes?: KubernetesServeOptions;
  /** An IP address, or a name resolved once to its first address (xDS and admin bind the same one). */
  listenHost: string;
  xdsPort: number;
  adminPort: number;
  debounceMs: number;
  /** Apply whole-file, add-or-change-only edits before the debounce (see ControlPlane). */
  earlyApply?: boolean;
  rtpModule: RtpModuleSetting;
  /** Where Envoy gets the RTSP filter (.wasm); default: this checkout's build, by local path. */
  rtspFilter?: RtspFilterSetting;
  /** Serve xDS over mTLS only. */
  tls?: TlsFiles;
  /** Answer the admin's /debug/* for every caller, not only loopback ones. */
  debugFromAnywhere?: boolean;
  /** How long a disconnected proxy's state is kept (default 10 minutes; at most 10,000 are kept). */
  forgetAfterMs?: number;
  /** Ports for RTSP relays ("LO-HI"): enables the relay API on the admin port. */
  relayPorts?: string;
  /** How long a relayed RTSP session lives without a request (default 60 s). */
  relaySessionTimeoutMs?: number;
  /** How many relayed streams one proxy may hold (default 256). */
  relaySessionsPerProxy?: number;
  /** The admission webhooks (sidecar injection, route validation) over HTTPS on this port. */
  webhook?: WebhookServeOptions;
}

export interface WebhookServeOptions {
  port: number;
  certFile: string;
  keyFile: string;
  inject: InjectOptions;
}

export interface RunningControlPlane {
  xdsPort: number;
  adminPort: number;
  controlPlane: ControlPlane;
  kubernetes?: KubernetesMode;
  relays?: RelaySessions;
  /** Set when the admission webhooks are served. */
  webhookPort?: number;
  stop(): Promise<void>;
}

/**
 * Reads and checks the mTLS files before anything starts, so a wrong path or
 * a key that does not match its certificate fails with the file's name.
 */
export function loadTls(files: TlsFiles): AdsTls {
  const read = (flag: string, file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Error(`${flag} ${file}: cannot read: ${errorMessage(err)}`);
    }
  };
  const tls: AdsTls = { cert: read('--tls-cert', files.cert), key: read('--tls-key', files.key), clientCa: read('--client-ca', files.clientCa) };
  try {
    createSecureContext({ cert: tls.cert, key: tls.key });
  } catch (err) {
    throw new Error(`--tls-cert ${files.cert} / --tls-key ${files.key}: not a usable certificate and key: ${errorMessage(err)}`);
  }
  try {
    createSecureContext({ ca: tls.clientCa });
  } catch (err) {
    throw new Error(`--client-ca ${files.clientCa}: not a usable CA certificate: ${errorMessage(err)}`);
  }
  if (!tls.clientCa.includes('-----BEGIN CERTIFICATE-----')) throw new Error(`--client-ca ${files.clientCa}: holds no PEM certificate`);
  return tls;
}

async function listenAddress(host: string): Promise<string> {
  if (isIP(host) !== 0) return host;
  try {
    return (await lookup(host)).address;
  } catch (err) {
    throw new Error(`--listen-host ${host}: cannot resolve: ${errorMessage(err)}`);
  }
}

/** A port in use is the usual start-up failure: say which flag picks another. */
async function withPortHint(listening: Promise<number>, flag: string): Promise<number> {
  try {
    return await listening;
  } catch (err) {
    const message = errorMessage(err);
    throw new Error(/EADDRINUSE/.test(message) ? `${message} (another process holds the port: stop it or choose another with ${flag})` : message);
  }
}

export async function startControlPlane(o: ServeOptions): Promise<RunningControlPlane> {
  const tls = o.tls ? loadTls(o.tls) : undefined;
  // Read (and checked) before anything starts, like the xDS TLS files.
  const webhook = o.webhook ? new WebhookServer({ certFile: o.webhook.certFile, keyFile: o.webhook.keyFile, inject: o.webhook.inject }) : undefined;
  const relayPool = o.relayPorts ? relayPortPool(o.relayPorts) : undefined;
  const host = await listenAddress(o.listenHost);
  const kubernetes = o.kubernetes ? kubernetesMode(o.kubernetes) : undefined;
  const sources = [...(o.configDir ? [new FileSource(o.configDir)] : []), ...(kubernetes ? [kubernetes.source] : [])];
  const locatePod = kubernetes ? (address: string) => kubernetes.source.locatePod(address) : undefined;
  const rtspFilter = o.rtspFilter ?? rtspFilterFromOption(undefined);
  const controlPlane = new ControlPlane({ sources, locatePod, debounceMs: o.debounceMs, earlyApply: o.earlyApply, translate: { rtpModule: o.rtpModule.source, rtspFilter: rtspFilter.source, rtspRelays: o.relayPorts ? RTSP_RELAYS : undefined }, forgetAfterMs: o.forgetAfterMs });
  if (kubernetes) log.info('waiting for the first list of every watched kind', { source: kubernetes.source.describe() });
  await controlPlane.start();
  kubernetes?.attach(controlPlane);
  const relays = relayPool ? relaySessions(controlPlane, relayPool, o) : undefined;
  const ads = new AdsServer(controlPlane.cache, { tls });
  const served = [o.rtpModule.served, rtspFilter.served].flatMap((f) => (f ? [f] : []));
  const admin = new AdminServer(controlPlane, { files: served, debugFromAnywhere: o.debugFromAnywhere, relays });
  const stop = async (): Promise<void> => {
    await kubernetes?.stop();
    controlPlane.stop();
    await Promise.all([ads.stop(), admin.stop(), webhook?.stop()]);
  };
  try {
    const xdsPort = await withPortHint(ads.listen(host, o.xdsPort), '--xds-port');
    const adminPort = await withPortHint(admin.listen(host, o.adminPort), '--admin-port');
    const webhookPort = webhook ? await withPortHint(webhook.listen(host, o.webhook!.port), '--webhook-port') : undefined;
    return { xdsPort, adminPort, controlPlane, kubernetes, relays, webhookPort, stop };
  } catch (err) {
    // Without both ports the process is no control plane: release everything so it can exit.
    await stop();
    throw err;
  }
}

/**
 * The filter asks the relay API on the admin port through the bootstrap's
 * extensions cluster (the same plain HTTP to the admin port); a SETUP waits
 * at most the relays' ACK timeout and a second for the answer.
 */
const RTSP_RELAYS = { cluster: EXTENSIONS_CLUSTER, timeoutMs: DEFAULT_ACK_TIMEOUT_MS + 1000 };

/** Checked before anything starts, so a bad range leaves nothing running. */
function relayPortPool(text: string): PortPool {
  try {
    return PortPool.parse(text);
  } catch (err) {
    throw new Error(`--relay-ports: ${errorMessage(err)}`);
  }
}

function relaySessions(controlPlane: ControlPlane, pool: PortPool, o: ServeOptions): RelaySessions {
  const relays = new RelaySessions({ pool, proxies: controlPlane.proxyResources, translate: { rtpModule: o.rtpModule.source }, sessionTimeoutMs: o.relaySessionTimeoutMs, sessionsPerProxy: o.relaySessionsPerProxy });
  controlPlane.cache.addEvents({ nodeForgotten: (node) => relays.proxyGone(node) });
  return relays;
}

function kubernetesMode(k: KubernetesServeOptions): KubernetesMode {
  return new KubernetesMode({
    client: k.client ?? KubeClient.fromEnvironment(),
    namespace: k.watchNamespace,
    leaderElection: { namespace: k.leaseNamespace, identity: k.leaderId, leaseDurationMs: k.leaseDurationMs, renewDeadlineMs: k.leaseDurationMs * 2 / 3, retryPeriodMs: k.leaseDurationMs / 5 },
  });
}

/** Runs until SIGTERM/SIGINT, then closes streams and servers cleanly. */
export async function serve(o: ServeOptions): Promise<number> {
  const running = await startControlPlane(o);
  log.info('control plane ready', { configDir: o.configDir, kubernetes: running.kubernetes?.source.describe(), xdsPort: running.xdsPort, adminPort: running.adminPort, webhookPort: running.webhookPort, mtls: o.tls !== undefined });
  process.on('unhandledRejection', (reason) => log.error('unhandled rejection', { error: errorMessage(reason) }));
  return new Promise((resolve) => {
    let stopping = false;
    const shutdown = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      log.info('shutting down', { signal });
      running.stop().then(
        () => resolve(0),
        (err: unknown) => {
          log.error('shutdown failed', { error: errorMessage(err) });
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });
}
