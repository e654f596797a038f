// The `mediamesh` command: serve | bootstrap | validate | status.
import { parseArgs } from 'node:util';
import { durationProblem, parseDurationMs } from '../api/duration.js';
import { formatProblem, validateDocuments } from '../api/validate.js';
import { errorMessage } from '../log.js';
import { readYamlTree, rootKind } from '../sources/read-yaml.js';
import type { ProxyRole } from '../model/proxy-view.js';
import { bootstrapYaml, parseHostPort } from './bootstrap.js';
import { rtpModuleFromOption } from './rtp-module-option.js';
import { hostname } from 'node:os';
import { serve } from './serve.js';
import { fetchNodes, formatStatus } from './status.js';

const usage = `usage: mediamesh <command> [options]

commands:
  serve [--config-dir DIR] [--kubernetes [--watch-namespace NS] [--lease-namespace NS] [--leader-id ID]
        [--lease-duration 15s]] [--relay-ports LO-HI [--relay-session-timeout 60s]] [--xds-port 18000] [--admin-port 9090] [--listen-host 127.0.0.1] [--debounce-ms 100]
        [--strict-debounce] [--rtp-module PATH|remote[=PATH]|search-path]
        [--tls-cert FILE --tls-key FILE --client-ca FILE] [--debug-from-anywhere] [--forget-after 10m]
        run the control plane on a directory of YAML documents (watched for changes);
        a burst of changes is applied after --debounce-ms of quiet, but files replaced
        whole (renamed into place) that only add or change objects without new problems
        apply once renamed into place; --strict-debounce makes every change wait;
        --rtp-module: where Envoy loads the RTP filter .so: a local path (default: this
        checkout's build), remote (served by this admin over HTTP with its sha256; bootstrap
        the sidecar with --extensions-address), or Envoy's dynamic-module search path;
        xDS and admin listen on --listen-host only (loopback by default); --tls-cert,
        --tls-key and --client-ca (all three) serve xDS over mTLS only: a proxy needs a
        certificate from that CA whose URI SAN is its SPIFFE id, and gets the view of
        that id's namespace; /debug/* answers loopback callers only unless
        --debug-from-anywhere (/healthz, /readyz, /metrics answer everyone);
        --forget-after: how long a disconnected proxy's state is kept (at most 10,000 are);
        --relay-ports LO-HI: UDP ports for RTSP sessions' relays, which proxies ask for on
        the admin port (/relays/v1); --relay-session-timeout (default 60s) ends a session
        nothing refreshed;
        --kubernetes reads routes, Services and EndpointSlices from the cluster (in-cluster
        config, else KUBECONFIG or ~/.kube/config), beside --config-dir if both are given;
        every replica serves xDS, the one holding the Lease mediamesh-control-plane in
        --lease-namespace (default $POD_NAMESPACE, else mediamesh-system) writes route
        status; --leader-id defaults to $POD_NAME, else the host name
  bootstrap --node-id ID [--xds-address host:port] [--admin-port 15000] [--cluster NAME] [--delta]
        [--extensions-address host:port] [--namespace NS] [--pod-ip IP] [--role sidecar|gateway]
        [--tls-cert FILE --tls-key FILE --ca FILE]
        print an Envoy bootstrap (YAML) that connects a sidecar to the control plane;
        namespace, pod IP and role go into node metadata (role defaults to sidecar with a
        namespace, gateway without); with the TLS flags (all three) Envoy presents
        --tls-cert and checks the control plane's certificate against --ca and the
        --xds-address host (IP or DNS SAN); the extensions cluster stays plain HTTP
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

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve': {
        const { values } = parseArgs({ args: rest, options: { 'config-dir': { type: 'string' }, 'xds-port': { type: 'string' }, 'admin-port': { type: 'string' }, 'listen-host': { type: 'string' }, 'debounce-ms': { type: 'string' }, 'strict-debounce': { type: 'boolean' }, 'rtp-module': { type: 'string' }, 'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' }, 'client-ca': { type: 'string' }, 'debug-from-anywhere': { type: 'boolean' }, 'forget-after': { type: 'string' }, kubernetes: { type: 'boolean' }, 'watch-namespace': { type: 'string' }, 'lease-namespace': { type: 'string' }, 'leader-id': { type: 'string' }, 'lease-duration': { type: 'string' }, 'relay-ports': { type: 'string' }, 'relay-session-timeout': { type: 'string' } } });
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
        return await serve({
          configDir: values['config-dir'],
          listenHost: values['listen-host'] ?? '127.0.0.1',
          xdsPort: intOption(values['xds-port'], 'xds-port', 18000),
          adminPort: intOption(values['admin-port'], 'admin-port', 9090),
          debounceMs: intOption(values['debounce-ms'], 'debounce-ms', 100),
          earlyApply: !values['strict-debounce'],
          rtpModule: rtpModuleFromOption(values['rtp-module']),
          tls: tls && { cert: tls['tls-cert'], key: tls['tls-key'], clientCa: tls['client-ca'] },
          debugFromAnywhere: values['debug-from-anywhere'] ?? false,
          forgetAfterMs: parseDurationMs(forgetAfter)!,
          relayPorts: values['relay-ports'],
          relaySessionTimeoutMs: values['relay-session-timeout'] === undefined ? undefined : durationMs(values['relay-session-timeout'], '--relay-session-timeout'),
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
        const { values } = parseArgs({ args: rest, options: { 'node-id': { type: 'string' }, 'xds-address': { type: 'string' }, 'admin-port': { type: 'string' }, 'admin-address': { type: 'string' }, cluster: { type: 'string' }, delta: { type: 'boolean' }, 'extensions-address': { type: 'string' }, namespace: { type: 'string' }, 'pod-ip': { type: 'string' }, role: { type: 'string' }, 'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' }, ca: { type: 'string' } } });
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
          tls: tls && { cert: tls['tls-cert'], key: tls['tls-key'], ca: tls.ca },
        }));
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
