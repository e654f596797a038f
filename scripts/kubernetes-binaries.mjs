// kube-apiserver and kubectl for the tests that run against a real API server,
// built from Kubernetes' Go module with the machine's own Go and cached per
// machine (not per clone): a fresh clone on the same machine finds them at once.
//
//   node scripts/kubernetes-binaries.mjs     builds if needed, prints the paths
//
// How the build works: Kubernetes' main module replaces its staging modules
// (k8s.io/api, k8s.io/apiserver, ...) with directories inside its own tree, so
// it cannot be required as it is. A throwaway module requires
// k8s.io/kubernetes and points each of those replaced modules at its published
// release (v0.<minor>.<patch>), imports the two commands from a tools file, and
// `go build` makes them. The replace list is read from the downloaded
// kubernetes go.mod each time, never written down here.
//
// Safety (scripts/go-build.mjs): a lock keeps two concurrent runs from both
// building; binaries are built in a temp dir beside the cache and renamed into
// place, so a killed build never leaves half a binary.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BuildError, checkGo, goEnv, isExecutable, machineCacheDir, MINUTE, run, underBuildLock } from './go-build.mjs';

export const KUBERNETES_VERSION = '1.37.2';
const [MAJOR, MINOR, PATCH] = KUBERNETES_VERSION.split('.');
/** The version the staging modules (k8s.io/api, ...) are published under. */
const STAGING_VERSION = `v0.${MINOR}.${PATCH}`;
/** Staging modules kubernetes replaces but does not need to build the two commands (and that are not published in step). */
const NOT_NEEDED = new Set(['k8s.io/sample-cli-plugin', 'k8s.io/sample-controller']);
const MIN_GO = [1, 26];

const COMMANDS = { kubeApiServer: 'kube-apiserver', kubectl: 'kubectl' };
const DOWNLOAD_TIMEOUT_MS = 30 * MINUTE;
const BUILD_TIMEOUT_MS = 60 * MINUTE; // per binary: ~5 min on 2 free cores, much more on a busy machine
const LOCK_WAIT_MS = 2 * BUILD_TIMEOUT_MS + DOWNLOAD_TIMEOUT_MS;
const WHAT = `Kubernetes v${KUBERNETES_VERSION}`;

export function kubernetesCacheDir() {
  return machineCacheDir(`kubernetes-v${KUBERNETES_VERSION}`);
}

/** Where the binaries are (or will be); does not build. `ready` says whether both are there. */
export function kubernetesBinaryPaths() {
  const bin = path.join(kubernetesCacheDir(), 'bin');
  const paths = { kubeApiServer: path.join(bin, COMMANDS.kubeApiServer), kubectl: path.join(bin, COMMANDS.kubectl) };
  return { ...paths, ready: isExecutable(paths.kubeApiServer) && isExecutable(paths.kubectl) };
}

/** The staging modules kubernetes' go.mod replaces with directories of its own tree. */
export function stagingReplacements(goModText) {
  const names = [];
  const addIf = (line) => {
    const m = /^\s*(\S+)\s*(?:v\S+\s*)?=>\s*(\.\/staging\/\S+)\s*$/.exec(line.replace(/\/\/.*$/, ''));
    if (m && !NOT_NEEDED.has(m[1])) names.push(m[1]);
  };
  let inBlock = false;
  for (const line of goModText.split('\n')) {
    const t = line.trim();
    if (inBlock) {
      if (t === ')') inBlock = false;
      else addIf(t);
    } else if (/^replace\s*\($/.test(t)) {
      inBlock = true;
    } else if (t.startsWith('replace ')) {
      addIf(t.slice('replace '.length));
    }
  }
  return names;
}

function moduleFiles(replacements) {
  const goMod = [
    '// Throwaway module written by mediamesh scripts/kubernetes-binaries.mjs: builds kube-apiserver and kubectl.',
    'module mediamesh.invalid/kubernetes-binaries',
    '',
    'go 1.26.0',
    '',
    'godebug default=go1.26',
    '',
    `require k8s.io/kubernetes v${KUBERNETES_VERSION}`,
    '',
    'replace (',
    ...replacements.map((name) => `\t${name} => ${name} ${STAGING_VERSION}`),
    ')',
    '',
  ].join('\n');
  const tools = [
    '//go:build tools',
    '',
    '// Keeps the two commands in the module graph for `go mod tidy`.',
    'package tools',
    '',
    'import (',
    '\t_ "k8s.io/kubernetes/cmd/kube-apiserver"',
    '\t_ "k8s.io/kubernetes/cmd/kubectl"',
    ')',
    '',
  ].join('\n');
  return { goMod, tools };
}

function versionFlags() {
  const pkg = 'k8s.io/component-base/version';
  return `-X ${pkg}.gitVersion=v${KUBERNETES_VERSION} -X ${pkg}.gitMajor=${MAJOR} -X ${pkg}.gitMinor=${MINOR}`;
}

async function checkBuiltVersion(binary, args, env, cwd) {
  const out = await run(binary, args, { cwd, env, timeoutMs: MINUTE });
  if (!out.includes(`v${KUBERNETES_VERSION}`)) {
    throw new BuildError(`${binary} ${args.join(' ')} does not report v${KUBERNETES_VERSION}: ${out.trim().slice(0, 400)}`);
  }
}

async function build(cache, missing, log, session) {
  const env = goEnv();
  fs.mkdirSync(path.join(cache, 'bin'), { recursive: true });
  const work = session.makeDir(cache);
  const logFile = path.join(cache, 'last-build.log');
  fs.writeFileSync(logFile, `build of ${missing.join(', ')} started ${new Date().toISOString()}\n`);
  const opts = (timeoutMs) => session.runOptions(env, timeoutMs, logFile);
  try {
    const goVersion = await checkGo(env, work, { min: MIN_GO, what: 'kube-apiserver and kubectl' });
    log(`building ${missing.map((k) => COMMANDS[k]).join(' and ')} v${KUBERNETES_VERSION} with ${goVersion} (a few minutes per binary; log: ${logFile})`);

    const info = JSON.parse(await run('go', ['mod', 'download', '-json', `k8s.io/kubernetes@v${KUBERNETES_VERSION}`], opts(DOWNLOAD_TIMEOUT_MS)));
    if (info.Error) throw new BuildError(`go mod download k8s.io/kubernetes@v${KUBERNETES_VERSION}: ${info.Error}`);
    const replacements = stagingReplacements(fs.readFileSync(info.GoMod, 'utf8'));
    if (replacements.length === 0) throw new BuildError(`found no staging replace directives in ${info.GoMod}: the recipe no longer fits this Kubernetes version`);
    const { goMod, tools } = moduleFiles(replacements);
    fs.writeFileSync(path.join(work, 'go.mod'), goMod);
    fs.writeFileSync(path.join(work, 'tools.go'), tools);
    log(`module with ${replacements.length} staging modules at ${STAGING_VERSION}; resolving dependencies (go mod tidy)`);
    await run('go', ['mod', 'tidy'], opts(DOWNLOAD_TIMEOUT_MS));

    for (const key of missing) {
      const name = COMMANDS[key];
      const started = Date.now();
      log(`go build ${name}`);
      const out = path.join(work, name);
      await run('go', ['build', '-trimpath', '-ldflags', versionFlags(), '-o', out, `k8s.io/kubernetes/cmd/${name}`], opts(BUILD_TIMEOUT_MS));
      await checkBuiltVersion(out, key === 'kubectl' ? ['version', '--client'] : ['--version'], env, work);
      fs.chmodSync(out, 0o755);
      fs.renameSync(out, path.join(cache, 'bin', name)); // atomic: same filesystem
      log(`built ${name} in ${Math.round((Date.now() - started) / 1000)} s`);
    }
  } finally {
    session.removeDir();
  }
}

/**
 * Makes sure kube-apiserver and kubectl v1.37.2 are built and cached; builds
 * what is missing. `log(msg)` receives progress lines. Resolves with their paths.
 */
export async function ensureKubernetesBinaries(log = () => {}) {
  const found = kubernetesBinaryPaths();
  if (found.ready) return { kubeApiServer: found.kubeApiServer, kubectl: found.kubectl };
  const cache = kubernetesCacheDir();
  return underBuildLock({ cache, what: WHAT, waitMs: LOCK_WAIT_MS, log }, async (session) => {
    const paths = kubernetesBinaryPaths();
    const missing = Object.keys(COMMANDS).filter((key) => !isExecutable(paths[key]));
    if (missing.length > 0) await build(cache, missing, log, session);
    const done = kubernetesBinaryPaths();
    if (!done.ready) throw new BuildError(`the build finished but ${done.kubeApiServer} or ${done.kubectl} is missing`);
    return { kubeApiServer: done.kubeApiServer, kubectl: done.kubectl };
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = Date.now();
  try {
    const paths = await ensureKubernetesBinaries((msg) => process.stderr.write(`kubernetes-binaries: ${msg}\n`));
    process.stdout.write(`kube-apiserver ${paths.kubeApiServer}\nkubectl ${paths.kubectl}\n`);
    process.stderr.write(`kubernetes-binaries: ready in ${((Date.now() - started) / 1000).toFixed(2)} s\n`);
  } catch (err) {
    process.stderr.write(`kubernetes-binaries: FAILED: ${err instanceof BuildError ? err.message : err.stack}\n`);
    process.exit(1);
  }
}
