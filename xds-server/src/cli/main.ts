// The `mediamesh` command: serve | bootstrap | inject | validate | status.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { durationProblem, parseDurationMs } from '../api/duration.js';
import { formatProblem, validateDocuments } from '../api/validate.js';
import { errorMessage } from '../log.js';
import { readYamlTree, rootKind } from '../sources/read-yaml.js';
import type { ProxyRole } from '../model/proxy-view.js';
import { bootstrapYaml, parseHostPort } from '../bootstrap/envoy-bootstrap.js';
import { rtpModuleFromOption } from './rtp-module-option.js';
import { isIP } from 'node:net';
import { rtspFilterFromOption } from './rtsp-filter-option.js';
import { hostname } from 'node:os';
import { serve } from './serve.js';
import { fetchNodes, formatStatus } from './status.js';
import { mediameshVersion } from '../version.js';
import { defaultInjectOptions, type InjectOptions, PROXY_SECURITY, type ProxySecurity } from '../webhook/inject.js';
import { injectManifests } from '../webhook/inject-manifests.js';

const usage = `usage: mediamesh <command> [options]

commands:
  serve [--config-dir DIR] [--kubernetes [--watch-namespace NS] [--lease-namespace NS] [--leader-id ID]
        [--lease-duration 15s]] [--relay-ports LO-HI [--relay-session-timeout 60s] [--relay-sessions-per-proxy 256]] [--xds-port 18000] [--admin-port 9090] [--listen-host 127.0.0.1] [--debounce-ms 100]
        [--strict-debounce] [--rtp-module PATH|remote[=PATH]|search-path] [--rtsp-filter PATH|remote[=PATH]]
        [--tls-cert FILE --tls-key FILE --client-ca FILE] [--debug-from-anywhere] [--forget-after 10m]
        [--webhook-cert FILE --webhook-key FILE [--webhook-port 9443] [INJECT OPTIONS]]
        run the control plane on a directory of YAML documents (watched for changes);
        a burst of changes is applied after --debounce-ms of quiet, but files replaced
        whole (renamed into place) that only add or change objects without new problems
        apply once renamed into place; --strict-debounce makes every change wait;
        --rtp-module: where Envoy loads the RTP filter .so: a local path (default: this
        checkout's build), remote (served by this admin over HTTP with its sha256; bootstrap
        the sidecar with --extensions-address), or Envoy's dynamic-module search path;
        --rtsp-filter: where Envoy loads the RTSP filter .wasm, a local path (default: this
        checkout's build) or remote (served by this admin with its sha256, like --rtp-module);
        xDS and admin listen on --listen-host only (loopback by default); --tls-cert,
        --tls-key and --client-ca (all three) serve xDS over mTLS only: a proxy needs a
        certificate from that CA whose URI SAN is its SPIFFE id, and gets the view of
        that id's namespace; /debug/* answers loopback callers only unless
        --debug-from-anywhere (/healthz, /readyz, /metrics answer everyone);
        --forget-after: how long a disconnected proxy's state is kept (at most 10,000 are);
        --relay-ports LO-HI: UDP ports for RTSP sessions' relays, which proxies ask for on
        the admin port (/relays/v1); --relay-session-timeout (default 60s) ends a session
        nothing refreshed; --relay-sessions-per-proxy (default 256) bounds the relayed
        streams one proxy may hold;
        --kubernetes reads routes, Services and EndpointSlices from the cluster (in-cluster
        config, else KUBECONFIG or ~/.kube/config), beside --config-dir if both are given;
        every replica serves xDS, the one holding the Lease mediamesh-control-plane in
        --lease-namespace (default $POD_NAMESPACE, else mediamesh-system) writes route
        status; --leader-id defaults to $POD_NAME, else the host name;
        --webhook-cert and --webhook-key serve the admission webhooks over HTTPS on
        --webhook-port (on --listen-host): POST /inject and /inject/enabled-namespace
        (sidecar injection, AdmissionReview v1), /validate (UdpRoute, RtspRoute); the
        files are read again every 30 s, so a renewed Secret is picked up
  bootstrap --node-id ID [--xds-address host:port] [--admin-port 15000] [--cluster NAME] [--delta]
        [--extensions-address host:port] [--namespace NS] [--pod-ip IP] [--role sidecar|gateway]
        [--rtsp-ports LIST] [--inbound-rtsp-ports LIST] [--inbound-udp-ports LIST]
        [--tls-cert FILE --tls-key FILE --ca FILE]
        print an Envoy bootstrap (YAML) that connects a sidecar to the control plane;
        namespace, pod IP and role go into node metadata (role defaults to sidecar with a
        namespace, gateway without); so do the port lists a sidecar's pod gives the
        interception script (manifests/interception), from which the control plane makes
        the listeners the script sends traffic to: the RTSP entry on 127.0.0.1:15101,
        inbound RTSP on 15106, the n-th inbound UDP port on 15200+n (at most 64);
        with the TLS flags (all three) Envoy presents
        --tls-cert and checks the control plane's certificate against --ca and the
        --xds-address host (IP or DNS SAN); the extensions cluster stays plain HTTP
  inject -f FILE|- [--namespace NS] [--enabled-namespace NS]... [INJECT OPTIONS]
        the sidecar injector offline, like istioctl kube-inject: Pods and the pod templates
        of Deployments, StatefulSets and DaemonSets that opt in (annotation or label
        mediamesh.io/inject: "true", or a namespace labelled mediamesh.io/inject=enabled:
        a Namespace document in the input, or --enabled-namespace) get the mediamesh-proxy
        sidecar and the mediamesh-init interception container; everything else comes out
        as it went in; --namespace (default "default") is where objects naming none go;
        the YAML goes to stdout, one line per pod or workload to stderr
  INJECT OPTIONS (serve and inject)
        [--proxy-image envoyproxy/envoy:v1.40.0] [--init-image ghcr.io/mediamesh/control-plane:VERSION]
        [--proxy-xds-address mediamesh-control-plane.mediamesh-system.svc:18000]
        [--proxy-extensions-address mediamesh-control-plane.mediamesh-system.svc:9090]
        [--proxy-admin-port 15100] [--proxy-security transparent|unprivileged]
        the injected sidecar's image, the init container's (the control plane image: it
        carries the interception script, iptables and iproute2), where the sidecar finds
        the control plane's xDS and extensions, its Envoy admin port (127.0.0.1 only;
        Istio's sidecar holds 15000 in the same pod), and how it runs: transparent (the
        default: root in group 1339 with NET_ADMIN and NET_BIND_SERVICE only, for its
        transparent listeners) or unprivileged (UID 1339, no capabilities)
  validate DIR|FILE
        check documents; exit 0, or 1 with one line per problem
  status [--admin-url http://127.0.0.1:9090]
        list connected proxies, their ACKed versions and last NACK per type, then every
        route's Accepted / ResolvedRefs / Programmed conditions per parent
`;

function intOption(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--${name} must be an integer port/number, got "${value}"`);
  return n;
}

/** Flags that only make sense together: all of them, or none (undefined). */
function allOrNone<K extends string>(values: Partial<Record<string, unknown>>, names: readonly K[]): Record<K, string> | undefined {
  const given = names.filter((n) => values[n] !== undefined);
  if (given.length === 0) return undefined;
  if (given.length < names.length) {
    const missing = names.filter((n) => values[n] === undefined);
    throw new Error(`${names.map((n) => `--${n}`).join(', ')} go together: ${given.map((n) => `--${n}`).join(', ')} given without ${missing.map((n) => `--${n}`).join(', ')}`);
  }
  return Object.fromEntries(names.map((n) => [n, values[n] as string])) as Record<K, string>;
}

const INJECT_FLAGS = {
  'proxy-image': { type: 'string' },
  'init-image': { type: 'string' },
  'proxy-xds-address': { type: 'string' },
  'proxy-extensions-address': { type: 'string' },
  'proxy-admin-port': { type: 'string' },
  'proxy-security': { type: 'string' },
} as const;

/** host:port where the host is an IP address or a DNS name, as a sidecar's Envoy will dial it. */
function checkedAddress(flag: string, text: string, defaultPort: number): void {
  const { host } = parseHostPort(text, defaultPort);
  if (isIP(host) === 0 && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/i.test(host)) throw new Error(`${flag} "${text}": expected host:port with an IP address or DNS name`);
}

function injectOptionsFrom(values: Partial<Record<keyof typeof INJECT_FLAGS, string>>): InjectOptions {
  const o = defaultInjectOptions(mediameshVersion());
  const xdsAddress = values['proxy-xds-address'] ?? o.xdsAddress;
  const extensionsAddress = values['proxy-extensions-address'] ?? o.extensionsAddress;
  checkedAddress('--proxy-xds-address', xdsAddress, 18000);
  checkedAddress('--proxy-extensions-address', extensionsAddress, 9090);
  const adminPort = intOption(values['proxy-admin-port'], 'proxy-admin-port', o.proxyAdminPort);
  if (adminPort === 0) throw new Error('--proxy-admin-port must be a port (1-65535)');
  const security = values['proxy-security'] ?? o.proxySecurity;
  if (!PROXY_SECURITY.includes(security as ProxySecurity)) throw new Error(`--proxy-security must be one of ${PROXY_SECURITY.join(', ')}, got "${security}"`);
  return {
    ...o,
    proxyImage: values['proxy-image'] ?? o.proxyImage,
    initImage: values['init-image'] ?? o.initImage,
    xdsAddress,
    extensionsAddress,
    proxyAdminPort: adminPort,
    proxySecurity: security as ProxySecurity,
  };
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve': {
        const { values } = parseArgs({ args: rest, options: { 'config-dir': { type: 'string' }, 'xds-port': { type: 'string' }, 'admin-port': { type: 'string' }, 'listen-host': { type: 'string' }, 'debounce-ms': { type: 'string' }, 'strict-debounce': { type: 'boolean' }, 'rtp-module': { type: 'string' }, 'rtsp-filter': { type: 'string' }, 'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' }, 'client-ca': { type: 'string' }, 'debug-from-anywhere': { type: 'boolean' }, 'forget-after': { type: 'string' }, kubernetes: { type: 'boolean' }, 'watch-namespace': { type: 'string' }, 'lease-namespace': { type: 'string' }, 'leader-id': { type: 'string' }, 'lease-duration': { type: 'string' }, 'relay-ports': { type: 'string' }, 'relay-session-timeout': { type: 'string' }, 'relay-sessions-per-proxy': { type: 'string' }, 'webhook-port': { type: 'string' }, 'webhook-cert': { type: 'string' }, 'webhook-key': { type: 'string' }, ...INJECT_FLAGS } });
        if (!values['config-dir'] && !values.kubernetes) throw new Error('serve needs --config-dir DIR, --kubernetes, or both');
        for (const flag of ['watch-namespace', 'lease-namespace', 'leader-id', 'lease-duration'] as const) {
          if (values[flag] !== undefined && !values.kubernetes) throw new Error(`--${flag} needs --kubernetes`);
        }
        const leaseDuration = values['lease-duration'] ?? '15s';
        const leaseDurationProblem = durationProblem(leaseDuration);
        if (leaseDurationProblem) throw new Error(`--lease-duration: ${leaseDurationProblem}`);
        const leaseDurationMs = parseDurationMs(leaseDuration)!;
        if (leaseDurationMs < 3000) throw new Error('--lease-duration: at least 3s (the leader renews every fifth of it)');
        const forgetAfter = values['forget-after'] ?? '10m';
        const forgetAfterProblem = durationProblem(forgetAfter);
        if (forgetAfterProblem) throw new Error(`--forget-after: ${forgetAfterProblem}`);
        const tls = allOrNone(values, ['tls-cert', 'tls-key', 'client-ca']);
        const webhookFiles = allOrNone(values, ['webhook-cert', 'webhook-key']);
        if (!webhookFiles) {
          for (const flag of ['webhook-port', ...Object.keys(INJECT_FLAGS)]) {
            if (values[flag as keyof typeof values] !== undefined) throw new Error(`--${flag} needs --webhook-cert and --webhook-key`);
          }
        }
        return await serve({
          configDir: values['config-dir'],
          listenHost: values['listen-host'] ?? '127.0.0.1',
          xdsPort: intOption(values['xds-port'], 'xds-port', 18000),
          adminPort: intOption(values['admin-port'], 'admin-port', 9090),
          debounceMs: intOption(values['debounce-ms'], 'debounce-ms', 100),
          earlyApply: !values['strict-debounce'],
          rtpModule: rtpModuleFromOption(values['rtp-module']),
          rtspFilter: rtspFilterFromOption(values['rtsp-filter']),
          tls: tls && { cert: tls['tls-cert'], key: tls['tls-key'], clientCa: tls['client-ca'] },
          debugFromAnywhere: values['debug-from-anywhere'] ?? false,
          forgetAfterMs: parseDurationMs(forgetAfter)!,
          relayPorts: values['relay-ports'],
          relaySessionTimeoutMs: values['relay-session-timeout'] === undefined ? undefined : durationMs(values['relay-session-timeout'], '--relay-session-timeout'),
          relaySessionsPerProxy: values['relay-sessions-per-proxy'] === undefined ? undefined : countOption(values['relay-sessions-per-proxy'], '--relay-sessions-per-proxy', 1, 16_384),
          webhook: webhookFiles && {
            port: intOption(values['webhook-port'], 'webhook-port', 9443),
            certFile: webhookFiles['webhook-cert'],
            keyFile: webhookFiles['webhook-key'],
            inject: injectOptionsFrom(values),
          },
          kubernetes: values.kubernetes
            ? {
                watchNamespace: values['watch-namespace'],
                leaseNamespace: values['lease-namespace'] ?? process.env.POD_NAMESPACE ?? 'mediamesh-system',
                leaderId: values['leader-id'] ?? process.env.POD_NAME ?? hostname(),
                leaseDurationMs,
              }
            : undefined,
        });
      }
      case 'bootstrap': {
        const { values } = parseArgs({ args: rest, options: { 'node-id': { type: 'string' }, 'xds-address': { type: 'string' }, 'admin-port': { type: 'string' }, 'admin-address': { type: 'string' }, cluster: { type: 'string' }, delta: { type: 'boolean' }, 'extensions-address': { type: 'string' }, namespace: { type: 'string' }, 'pod-ip': { type: 'string' }, role: { type: 'string' }, 'rtsp-ports': { type: 'string' }, 'inbound-rtsp-ports': { type: 'string' }, 'inbound-udp-ports': { type: 'string' }, 'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' }, ca: { type: 'string' } } });
        if (!values['node-id']) throw new Error('bootstrap needs --node-id ID');
        const tls = allOrNone(values, ['tls-cert', 'tls-key', 'ca']);
        const xds = parseHostPort(values['xds-address'] ?? '127.0.0.1:18000', 18000);
        const extensions = values['extensions-address'] ? parseHostPort(values['extensions-address'], 9090) : undefined;
        process.stdout.write(bootstrapYaml({
          nodeId: values['node-id'],
          cluster: values.cluster ?? 'mediamesh-proxy',
          xdsHost: xds.host,
          xdsPort: xds.port,
          adminAddress: values['admin-address'] ?? '127.0.0.1',
          adminPort: intOption(values['admin-port'], 'admin-port', 15000),
          delta: values.delta ?? false,
          extensionsHost: extensions?.host,
          extensionsPort: extensions?.port,
          namespace: values.namespace,
          podIp: values['pod-ip'],
          role: values.role as ProxyRole | undefined, // checked by bootstrapYaml
          capturedPorts: { rtspPorts: values['rtsp-ports'], inboundRtspPorts: values['inbound-rtsp-ports'], inboundUdpPorts: values['inbound-udp-ports'] },
          tls: tls && { cert: tls['tls-cert'], key: tls['tls-key'], ca: tls.ca },
        }));
        return 0;
      }
      case 'inject': {
        const { values } = parseArgs({ args: rest, options: { file: { type: 'string', short: 'f' }, namespace: { type: 'string', short: 'n' }, 'enabled-namespace': { type: 'string', multiple: true }, ...INJECT_FLAGS } });
        const file = values.file;
        if (file === undefined) throw new Error('inject needs -f FILE (or -f - for stdin)');
        let text: string;
        try {
          text = readFileSync(file === '-' ? 0 : file, 'utf8');
        } catch (err) {
          throw new Error(`${file}: ${errorMessage(err)}`);
        }
        const result = injectManifests(text, file === '-' ? 'stdin' : file, {
          inject: injectOptionsFrom(values),
          defaultNamespace: values.namespace ?? 'default',
          enabledNamespaces: values['enabled-namespace'] ?? [],
        });
        if (!result.ok) {
          for (const e of result.errors) process.stderr.write(`${e}\n`);
          return 1;
        }
        process.stdout.write(result.text);
        for (const w of result.workloads) process.stderr.write(w.injected ? `injected ${w.object}\n` : `not injected ${w.object}: ${w.reason}\n`);
        return 0;
      }
      case 'validate': {
        const { positionals } = parseArgs({ args: rest, allowPositionals: true, options: {} });
        if (positionals.length !== 1) throw new Error('validate needs exactly one DIR or FILE');
        // A mistyped path is a usage error (exit 2); anything found there is a problem (exit 1).
        if (rootKind(positionals[0]!) === 'missing') throw new Error(`${positionals[0]}: no such file or directory`);
        const read = readYamlTree(positionals[0]!);
        const { config, problems } = validateDocuments(read.documents);
        const all = [...read.problems, ...problems];
        for (const p of all) process.stdout.write(formatProblem(p) + '\n');
        if (all.length > 0) return 1;
        process.stderr.write(`ok: ${read.files.length} files, ${config.udpRoutes.length} UdpRoutes, ${config.rtspRoutes.length} RtspRoutes, ${config.services.length} Services, ${config.endpointSlices.length} EndpointSlices\n`);
        return 0;
      }
      case 'status': {
        const { values } = parseArgs({ args: rest, options: { 'admin-url': { type: 'string' } } });
        process.stdout.write(formatStatus(await fetchNodes(values['admin-url'] ?? 'http://127.0.0.1:9090')));
        return 0;
      }
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(usage);
        return command === undefined ? 2 : 0;
      default:
        process.stderr.write(`unknown command "${command}"\n\n${usage}`);
        return 2;
    }
  } catch (err) {
    process.stderr.write(`mediamesh ${command}: ${errorMessage(err)}\n`);
    return 2;
  }
}

function durationMs(text: string, flag: string): number {
  const problem = durationProblem(text);
  if (problem) throw new Error(`${flag}: ${problem}`);
  return parseDurationMs(text)!;
}

/** An integer flag within [min, max], or an error naming the flag. */
function countOption(text: string, flag: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) throw new Error(`${flag} must be a whole number from ${min} to ${max}, got "${text}"`);
  return n;
}
