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
// Safety: a lock file (exclusive create, heartbeat, stale detection) keeps two
// concurrent runs from both building; binaries are built in a temp dir beside
// the cache and renamed into place, so a killed build never leaves half a binary.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const KUBERNETES_VERSION = '1.37.2';
const [MAJOR, MINOR, PATCH] = KUBERNETES_VERSION.split('.');
/** The version the staging modules (k8s.io/api, ...) are published under. */
const STAGING_VERSION = `v0.${MINOR}.${PATCH}`;
/** Staging modules kubernetes replaces but does not need to build the two commands (and that are not published in step). */
const NOT_NEEDED = new Set(['k8s.io/sample-cli-plugin', 'k8s.io/sample-controller']);
const MIN_GO = [1, 26];

const COMMANDS = { kubeApiServer: 'kube-apiserver', kubectl: 'kubectl' };
const MINUTE = 60_000;
const DOWNLOAD_TIMEOUT_MS = 30 * MINUTE;
const BUILD_TIMEOUT_MS = 60 * MINUTE; // per binary: ~5 min on 2 free cores, much more on a busy machine
const LOCK_WAIT_MS = 2 * BUILD_TIMEOUT_MS + DOWNLOAD_TIMEOUT_MS;
const HEARTBEAT_MS = 15_000;
const LOCK_STALE_MS = 2 * MINUTE; // a holder that has not touched its lock this long is gone

export function kubernetesCacheDir() {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'mediamesh', `kubernetes-v${KUBERNETES_VERSION}`);
}

/** Where the binaries are (or will be); does not build. `ready` says whether both are there. */
export function kubernetesBinaryPaths() {
  const bin = path.join(kubernetesCacheDir(), 'bin');
  const paths = { kubeApiServer: path.join(bin, COMMANDS.kubeApiServer), kubectl: path.join(bin, COMMANDS.kubectl) };
  return { ...paths, ready: isExecutable(paths.kubeApiServer) && isExecutable(paths.kubectl) };
}

function isExecutable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

class BuildError extends Error {}

/** The go command running now, and the build's temp dir: killed and removed when this process is stopped. */
let runningChild;
let buildDir;

/** Runs a command; resolves with its stdout. Fails with the command, why, and the last lines of its stderr. */
function run(cmd, args, { cwd, env, timeoutMs, logFile, onChild }) {
  const shown = [cmd, ...args].join(' ');
  return new Promise((resolve, reject) => {
    let child;
    try {
      child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      reject(new BuildError(`could not run \`${shown}\`: ${err.message}`));
      return;
    }
    onChild?.(child);
    const out = [];
    let errTail = '';
    child.stdout.on('data', (b) => out.push(b));
    child.stderr.on('data', (b) => {
      if (logFile) fs.appendFileSync(logFile, b);
      errTail = (errTail + b.toString()).slice(-16_000);
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      const why = err.code === 'ENOENT' ? `${cmd} is not installed or not on PATH` : err.message;
      reject(new BuildError(`could not run \`${shown}\`: ${why}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      onChild?.(undefined);
      if (code === 0 && !timedOut) {
        resolve(Buffer.concat(out).toString());
        return;
      }
      const how = timedOut ? `was stopped after its ${Math.round(timeoutMs / MINUTE)} min time limit` : signal ? `was killed by ${signal}` : `exited with ${code}`;
      const tail = errTail.trimEnd().split('\n').slice(-25).map((l) => `    ${l}`).join('\n');
      reject(new BuildError(`\`${shown}\` (in ${cwd}) ${how}${tail ? `; last stderr lines:\n${tail}` : '; it printed nothing on stderr'}`));
    });
  });
}

// ---------------------------------------------------------------------------
// Lock: `<cache>.lock`, made with exclusive create. It holds the holder's pid,
// host and a token; the holder touches it every HEARTBEAT_MS. A lock is stale
// when its holder (on this host) is dead, or when nobody touched it for
// LOCK_STALE_MS. Breaking a stale lock happens under a second, short-lived
// lock, and only if the lock still holds the token judged stale, so two
// waiters can never both break and both take it.

function readLock(file) {
  try {
    const text = fs.readFileSync(file, 'utf8');
    const info = JSON.parse(text);
    return { ...info, text, mtimeMs: fs.statSync(file).mtimeMs };
  } catch (err) {
    if (err.code === 'ENOENT') return undefined;
    // Half written (its writer died between create and write) or garbage: judge it by its age alone.
    try {
      return { text: fs.readFileSync(file, 'utf8'), mtimeMs: fs.statSync(file).mtimeMs };
    } catch {
      return undefined;
    }
  }
}

function processAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

function lockIsStale(info) {
  if (Date.now() - info.mtimeMs > LOCK_STALE_MS) return true;
  if (info.host === os.hostname() && Number.isInteger(info.pid) && !processAlive(info.pid)) return true;
  return false;
}

function tryCreateLock(file, token) {
  try {
    const fd = fs.openSync(file, 'wx');
    fs.writeSync(fd, JSON.stringify({ pid: process.pid, host: os.hostname(), token, startedAt: new Date().toISOString() }));
    fs.closeSync(fd);
    return true;
  } catch (err) {
    if (err.code === 'EEXIST') return false;
    throw err;
  }
}

function breakStaleLock(file, stale) {
  const breaker = `${file}.break`;
  try {
    fs.closeSync(fs.openSync(breaker, 'wx'));
  } catch (err) {
    if (err.code !== 'EEXIST') throw err;
    // Someone else is breaking it; a breaker left by a killed process is cleared after a while.
    try {
      if (Date.now() - fs.statSync(breaker).mtimeMs > 30_000) fs.rmSync(breaker, { force: true });
    } catch {
      // gone already
    }
    return;
  }
  try {
    const now = readLock(file);
    if (now && now.text === stale.text) fs.rmSync(file, { force: true });
  } finally {
    fs.rmSync(breaker, { force: true });
  }
}

async function acquireLock(file, log) {
  const token = randomBytes(12).toString('hex');
  const deadline = Date.now() + LOCK_WAIT_MS;
  let told = false;
  for (;;) {
    if (tryCreateLock(file, token)) {
      const heartbeat = setInterval(() => {
        const t = new Date();
        try {
          fs.utimesSync(file, t, t);
        } catch {
          // removed under us: the release below copes
        }
      }, HEARTBEAT_MS);
      heartbeat.unref();
      return () => {
        clearInterval(heartbeat);
        const now = readLock(file);
        if (now?.token === token) fs.rmSync(file, { force: true });
      };
    }
    const holder = readLock(file);
    if (holder && lockIsStale(holder)) {
      log(`removing a stale build lock (pid ${holder.pid ?? '?'} on ${holder.host ?? '?'}, last alive ${new Date(holder.mtimeMs).toISOString()})`);
      breakStaleLock(file, holder);
      continue;
    }
    if (Date.now() > deadline) {
      throw new BuildError(`gave up after ${Math.round(LOCK_WAIT_MS / MINUTE)} min waiting for another build of Kubernetes v${KUBERNETES_VERSION} (lock ${file}, held by pid ${holder?.pid ?? '?'} on ${holder?.host ?? '?'}); remove the lock file if that process is gone`);
    }
    if (!told && holder) {
      log(`another run (pid ${holder.pid ?? '?'}) is building Kubernetes v${KUBERNETES_VERSION}; waiting for it`);
      told = true;
    }
    await new Promise((r) => setTimeout(r, 2_000));
  }
}

// ---------------------------------------------------------------------------
// The build itself.

function goEnv() {
  // GOTOOLCHAIN=local: build with the Go that is installed, never fetch another toolchain.
  // GOWORK=off: a go.work somewhere above the temp dir must not pull it into a workspace.
  // GOFLAGS: the user's (e.g. -mod=vendor) must not change how this module builds.
  // PATH: Go's own tarball installs in /usr/local/go; a `go` earlier on PATH still wins.
  const PATH = [process.env.PATH, '/usr/local/go/bin'].filter(Boolean).join(path.delimiter);
  return { ...process.env, PATH, GOTOOLCHAIN: 'local', GOWORK: 'off', GOFLAGS: '-buildvcs=false' };
}

async function checkGo(env, cwd) {
  const out = await run('go', ['env', 'GOVERSION'], { cwd, env, timeoutMs: MINUTE }).catch((err) => {
    throw new BuildError(`${err.message}\n  Go ${MIN_GO.join('.')} or newer is needed to build kube-apiserver and kubectl (install Go's release tarball into /usr/local/go, or put one on PATH; Debian bookworm's golang-go is too old)`);
  });
  const m = /^go(\d+)\.(\d+)/.exec(out.trim());
  if (!m) throw new BuildError(`cannot read the Go version from \`go env GOVERSION\`: ${JSON.stringify(out.trim())}`);
  const [maj, min] = [Number(m[1]), Number(m[2])];
  if (maj < MIN_GO[0] || (maj === MIN_GO[0] && min < MIN_GO[1])) {
    throw new BuildError(`Kubernetes v${KUBERNETES_VERSION} needs Go ${MIN_GO.join('.')} or newer; \`go\` on PATH is ${out.trim()}`);
  }
  return out.trim();
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

async function build(cache, missing, log) {
  const env = goEnv();
  fs.mkdirSync(path.join(cache, 'bin'), { recursive: true });
  // Leftovers of builds that were killed (we hold the lock: nobody else is building).
  for (const entry of fs.readdirSync(cache)) {
    if (entry.startsWith('build-')) fs.rmSync(path.join(cache, entry), { recursive: true, force: true });
  }
  const work = fs.mkdtempSync(path.join(cache, 'build-'));
  buildDir = work;
  const logFile = path.join(cache, 'last-build.log');
  fs.writeFileSync(logFile, `build of ${missing.join(', ')} started ${new Date().toISOString()}\n`);
  const opts = (timeoutMs) => ({ cwd: work, env, timeoutMs, logFile, onChild: (c) => { runningChild = c; } });
  try {
    const goVersion = await checkGo(env, work);
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
    buildDir = undefined;
    fs.rmSync(work, { recursive: true, force: true });
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
  fs.mkdirSync(path.dirname(cache), { recursive: true });
  const release = await acquireLock(`${cache}.lock`, log);
  // A killed run leaves no lock behind if it can help it; a SIGKILLed one is judged stale by the next.
  const onExit = () => {
    runningChild?.kill('SIGKILL');
    if (buildDir) fs.rmSync(buildDir, { recursive: true, force: true });
    release();
  };
  const onSignal = (signal) => {
    onExit();
    process.kill(process.pid, signal); // our handler is gone: the default action ends the process
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', onExit);
  try {
    const paths = kubernetesBinaryPaths();
    const missing = Object.keys(COMMANDS).filter((key) => !isExecutable(paths[key]));
    if (missing.length > 0) await build(cache, missing, log);
    const done = kubernetesBinaryPaths();
    if (!done.ready) throw new BuildError(`the build finished but ${done.kubeApiServer} or ${done.kubectl} is missing`);
    return { kubeApiServer: done.kubeApiServer, kubectl: done.kubectl };
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    process.removeListener('exit', onExit);
    release();
  }
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
