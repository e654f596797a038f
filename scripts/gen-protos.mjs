// Generates TypeScript types for the Envoy v3 API subset the control plane uses
// (plus our own protos under proto/) with Debian's protoc and ts-proto.
//
// Envoy's protos come from the @grpc/grpc-js-xds package at build time; nothing
// generated or copied is committed. That package ships a protoc-gen-validate
// `validate.proto` older than its Envoy protos (StringRules lacks
// `ignore_empty`, which envoy/config/core/v3/protocol.proto sets), so strict
// protoc refuses them. Validation annotations mean nothing to ts-proto, so the
// build-time copy of the tree (build/proto-src) drops that one rule field; the
// installed originals are never touched.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const deps = path.join(root, 'node_modules/@grpc/grpc-js-xds/deps');
const protoRoots = [
  path.join(deps, 'envoy-api'),
  path.join(deps, 'xds'),
  path.join(deps, 'googleapis'),
  path.join(deps, 'protoc-gen-validate'),
];
const ownProtos = path.join(root, 'proto');
const workDir = path.join(root, 'build/proto-src');
const outDir = path.join(root, 'xds-server/src/gen');

// Entry points: what the translator, the server and the tests encode or decode.
// protoc follows their imports.
const entryProtos = [
  'envoy/service/discovery/v3/ads.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/extensions/transport_sockets/tls/v3/secret.proto',
  'envoy/extensions/filters/udp/udp_proxy/v3/udp_proxy.proto',
  'envoy/extensions/filters/udp/udp_proxy/v3/route.proto',
  'envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto',
  'envoy/extensions/filters/network/echo/v3/echo.proto',
  'envoy/extensions/filters/listener/original_dst/v3/original_dst.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/access_loggers/stream/v3/stream.proto',
  'envoy/extensions/access_loggers/file/v3/file.proto',
  'google/protobuf/wrappers.proto',
];

const tsProtoOptions = [
  'esModuleInterop=true',
  'importSuffix=.js',
  'outputServices=grpc-js',
  'env=node',
  'forceLong=number',
  'useOptionals=messages',
  'oneof=unions-value',
  'outputTypeRegistry=false',
].join(',');

function listProtos(dir, rel = '') {
  const out = [];
  for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const child = path.join(rel, entry.name);
    if (entry.isDirectory()) out.push(...listProtos(dir, child));
    else if (entry.name.endsWith('.proto')) out.push(child);
  }
  return out;
}

// The one validate rule field newer than the shipped validate.proto. Dropping
// it from the copy changes nothing ts-proto emits (it only reads types).
function dropUnknownValidateFields(text) {
  return text.replace(/\s+ignore_empty:\s*true/g, '');
}

function hashInputs() {
  const h = createHash('sha256');
  h.update(fs.readFileSync(fileURLToPath(import.meta.url)));
  h.update(fs.readFileSync(path.join(root, 'node_modules/ts-proto/package.json')));
  h.update(fs.readFileSync(path.join(root, 'node_modules/@grpc/grpc-js-xds/package.json')));
  if (fs.existsSync(ownProtos)) for (const f of listProtos(ownProtos).sort()) h.update(f + fs.readFileSync(path.join(ownProtos, f)));
  return h.digest('hex');
}

const stampFile = path.join(outDir, '.stamp');
const stamp = hashInputs();
if (fs.existsSync(stampFile) && fs.readFileSync(stampFile, 'utf8') === stamp) process.exit(0);

fs.rmSync(workDir, { recursive: true, force: true });
fs.rmSync(outDir, { recursive: true, force: true });
fs.mkdirSync(workDir, { recursive: true });
fs.mkdirSync(outDir, { recursive: true });
for (const dir of protoRoots) {
  for (const rel of listProtos(dir)) {
    if (rel.includes('/tests/') || rel.startsWith('java/')) continue;
    const dest = path.join(workDir, rel);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.writeFileSync(dest, dropUnknownValidateFields(fs.readFileSync(path.join(dir, rel), 'utf8')));
  }
}
const own = fs.existsSync(ownProtos) ? listProtos(ownProtos) : [];
const plugin = path.join(root, 'node_modules/.bin/protoc-gen-ts_proto');
const args = [
  `--plugin=protoc-gen-ts_proto=${plugin}`,
  `--ts_proto_out=${outDir}`,
  `--ts_proto_opt=${tsProtoOptions}`,
  `-I${workDir}`,
  ...(own.length ? [`-I${ownProtos}`] : []),
  '-I/usr/include',
  ...entryProtos,
  ...own,
];
try {
  execFileSync('protoc', args, { stdio: 'inherit' });
} catch (err) {
  console.error(`protoc failed (is Debian's protobuf-compiler installed? run npm run setup): ${err.message}`);
  process.exit(1);
}
fs.writeFileSync(stampFile, stamp);
