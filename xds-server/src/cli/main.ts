// The `mediamesh` command: serve | bootstrap | validate | status.
import { parseArgs } from 'node:util';
import { formatProblem, validateDocuments } from '../api/validate.js';
import { errorMessage } from '../log.js';
import { readYamlTree, rootKind } from '../sources/read-yaml.js';
import { bootstrapYaml, parseHostPort } from './bootstrap.js';
import { rtpModuleFromOption } from './rtp-module-option.js';
import { serve } from './serve.js';
import { fetchNodes, formatStatus } from './status.js';

const usage = `usage: mediamesh <command> [options]

commands:
  serve --config-dir DIR [--xds-port 18000] [--admin-port 9090] [--listen-host 0.0.0.0] [--debounce-ms 100]
        [--strict-debounce] [--rtp-module PATH|remote[=PATH]|search-path]
        run the control plane on a directory of YAML documents (watched for changes);
        a burst of changes is applied after --debounce-ms of quiet, but files replaced
        whole (renamed into place) that only add or change objects without new problems
        apply after a 10 ms settle; --strict-debounce makes every change wait;
        --rtp-module: where Envoy loads the RTP filter .so: a local path (default: this
        checkout's build), remote (served by this admin over HTTP with its sha256; bootstrap
        the sidecar with --extensions-address), or Envoy's dynamic-module search path
  bootstrap --node-id ID [--xds-address host:port] [--admin-port 15000] [--cluster NAME] [--delta]
        [--extensions-address host:port]
        print an Envoy bootstrap (YAML) that connects a sidecar to the control plane
  validate DIR|FILE
        check documents; exit 0, or 1 with one line per problem
  status [--admin-url http://127.0.0.1:9090]
        list connected proxies, their ACKed versions and last NACK per type
`;

function intOption(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--${name} must be an integer port/number, got "${value}"`);
  return n;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve': {
        const { values } = parseArgs({ args: rest, options: { 'config-dir': { type: 'string' }, 'xds-port': { type: 'string' }, 'admin-port': { type: 'string' }, 'listen-host': { type: 'string' }, 'debounce-ms': { type: 'string' }, 'strict-debounce': { type: 'boolean' }, 'rtp-module': { type: 'string' } } });
        if (!values['config-dir']) throw new Error('serve needs --config-dir DIR');
        return await serve({
          configDir: values['config-dir'],
          listenHost: values['listen-host'] ?? '0.0.0.0',
          xdsPort: intOption(values['xds-port'], 'xds-port', 18000),
          adminPort: intOption(values['admin-port'], 'admin-port', 9090),
          debounceMs: intOption(values['debounce-ms'], 'debounce-ms', 100),
          earlyApply: !values['strict-debounce'],
          rtpModule: rtpModuleFromOption(values['rtp-module']),
        });
      }
      case 'bootstrap': {
        const { values } = parseArgs({ args: rest, options: { 'node-id': { type: 'string' }, 'xds-address': { type: 'string' }, 'admin-port': { type: 'string' }, 'admin-address': { type: 'string' }, cluster: { type: 'string' }, delta: { type: 'boolean' }, 'extensions-address': { type: 'string' } } });
        if (!values['node-id']) throw new Error('bootstrap needs --node-id ID');
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
