// Istio's pilot-agent, for the test that runs Istio's own interception rules
// (`pilot-agent istio-iptables`) beside mediamesh's in one pod namespace. Built
// from Istio's Go module with the machine's own Go (no binary is downloaded)
// and cached per machine (not per clone), like kubernetes-binaries.mjs.
//
//   node scripts/istio-binaries.mjs     builds if needed, prints the path
//
// How the build works: Istio tags its releases without the leading `v` that Go
// modules need, so the module is required by its pseudo-version. A throwaway
// module requires istio.io/istio at that version (no replace directives are
// needed), `go get` records what pilot-agent's packages need, and `go build`
// makes it (about 45 s and 46 MB on a warm module cache). `go version -m`
// checks that the binary was built from that version.
//
// Safety (scripts/go-build.mjs): a lock keeps two concurrent runs from both
// building; the binary is built in a temp dir beside the cache and renamed into
// place, so a killed build never leaves half a binary.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BuildError, checkGo, goEnv, isExecutable, machineCacheDir, MINUTE, run, underBuildLock } from './go-build.mjs';

/** istio.io/istio at commit eed52ebb66ad (2026-08-27). */
export const ISTIO_VERSION = 'v0.0.0-20260827124520-eed52ebb66ad';
const ISTIO_MODULE = 'istio.io/istio';
const PILOT_AGENT_PACKAGE = `${ISTIO_MODULE}/pilot/cmd/pilot-agent`;
const MIN_GO = [1, 26];
const DOWNLOAD_TIMEOUT_MS = 30 * MINUTE;
const BUILD_TIMEOUT_MS = 30 * MINUTE; // ~45 s on 2 free cores, much more on a busy machine
const LOCK_WAIT_MS = BUILD_TIMEOUT_MS + DOWNLOAD_TIMEOUT_MS;
const WHAT = `Istio's pilot-agent ${ISTIO_VERSION}`;

export function istioCacheDir() {
  return machineCacheDir(`istio-${ISTIO_VERSION}`);
}

/** Where pilot-agent is (or will be); does not build. */
export function istioBinaryPaths() {
  const pilotAgent = path.join(istioCacheDir(), 'bin', 'pilot-agent');
  return { pilotAgent, ready: isExecutable(pilotAgent) };
}

function goMod() {
  return [
    '// Throwaway module written by mediamesh scripts/istio-binaries.mjs: builds pilot-agent.',
    'module mediamesh.invalid/istio-binaries',
    '',
    'go 1.26.0',
    '',
    `require ${ISTIO_MODULE} ${ISTIO_VERSION}`,
    '',
  ].join('\n');
}

/** `go version -m` names the main package's module and version: the binary must say ours. */
async function checkBuiltVersion(binary, env, cwd) {
  const out = await run('go', ['version', '-m', binary], { cwd, env, timeoutMs: MINUTE });
  const dep = out.split('\n').map((l) => l.trim().split(/\s+/)).find((f) => (f[0] === 'mod' || f[0] === 'dep') && f[1] === ISTIO_MODULE);
  if (dep?.[2] !== ISTIO_VERSION) {
    throw new BuildError(`${binary} was not built from ${ISTIO_MODULE} ${ISTIO_VERSION}; go version -m says: ${out.trim().slice(0, 600)}`);
  }
}

async function build(cache, log, session) {
  const env = goEnv();
  fs.mkdirSync(path.join(cache, 'bin'), { recursive: true });
  const work = session.makeDir(cache);
  const logFile = path.join(cache, 'last-build.log');
  fs.writeFileSync(logFile, `build of pilot-agent started ${new Date().toISOString()}\n`);
  const opts = (timeoutMs) => session.runOptions(env, timeoutMs, logFile);
  try {
    const goVersion = await checkGo(env, work, { min: MIN_GO, what: 'Istio\'s pilot-agent' });
    const started = Date.now();
    log(`building pilot-agent from ${ISTIO_MODULE} ${ISTIO_VERSION} with ${goVersion} (about a minute once the modules are downloaded; log: ${logFile})`);
    fs.writeFileSync(path.join(work, 'go.mod'), goMod());
    await run('go', ['get', `${PILOT_AGENT_PACKAGE}@${ISTIO_VERSION}`], opts(DOWNLOAD_TIMEOUT_MS));
    const out = path.join(work, 'pilot-agent');
    await run('go', ['build', '-trimpath', '-o', out, PILOT_AGENT_PACKAGE], opts(BUILD_TIMEOUT_MS));
    await checkBuiltVersion(out, env, work);
    fs.chmodSync(out, 0o755);
    fs.renameSync(out, path.join(cache, 'bin', 'pilot-agent')); // atomic: same filesystem
    log(`built pilot-agent in ${Math.round((Date.now() - started) / 1000)} s`);
  } finally {
    session.removeDir();
  }
}

/**
 * Makes sure pilot-agent is built and cached; builds it if missing.
 * `log(msg)` receives progress lines. Resolves with its path.
 */
export async function ensureIstioBinaries(log = () => {}) {
  const found = istioBinaryPaths();
  if (found.ready) return { pilotAgent: found.pilotAgent };
  const cache = istioCacheDir();
  return underBuildLock({ cache, what: WHAT, waitMs: LOCK_WAIT_MS, log }, async (session) => {
    if (!istioBinaryPaths().ready) await build(cache, log, session);
    const done = istioBinaryPaths();
    if (!done.ready) throw new BuildError(`the build finished but ${done.pilotAgent} is missing`);
    return { pilotAgent: done.pilotAgent };
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = Date.now();
  try {
    const paths = await ensureIstioBinaries((msg) => process.stderr.write(`istio-binaries: ${msg}\n`));
    process.stdout.write(`pilot-agent ${paths.pilotAgent}\n`);
    process.stderr.write(`istio-binaries: ready in ${((Date.now() - started) / 1000).toFixed(2)} s\n`);
  } catch (err) {
    process.stderr.write(`istio-binaries: FAILED: ${err instanceof BuildError ? err.message : err.stack}\n`);
    process.exit(1);
  }
}
