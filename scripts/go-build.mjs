// What the scripts that build Go binaries for the tests share
// (kubernetes-binaries.mjs, istio-binaries.mjs): running a command with a time
// limit and a useful error, a lock so that two runs on one machine never both
// build, the Go environment and version check, and the per-machine cache.
//
// Safety: the lock file (exclusive create, heartbeat, stale detection) keeps
// two concurrent runs from both building; a build happens in a temp dir beside
// the cache and its binaries are renamed into place, so a killed build never
// leaves half a binary; a killed run kills its go command and removes its temp
// dir on the way out.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const MINUTE = 60_000;
const HEARTBEAT_MS = 15_000;
const LOCK_STALE_MS = 2 * MINUTE; // a holder that has not touched its lock this long is gone

/** A failure whose message says it all (no stack needed). */
export class BuildError extends Error {}

/** `${XDG_CACHE_HOME:-~/.cache}/mediamesh/<name>`: per machine, not per clone. */
export function machineCacheDir(name) {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'mediamesh', name);
}

export function isExecutable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** Runs a command; resolves with its stdout. Fails with the command, why, and the last lines of its stderr. */
export function run(cmd, args, { cwd, env, timeoutMs, logFile, onChild }) {
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

async function acquireLock(file, { what, waitMs, log }) {
  const token = randomBytes(12).toString('hex');
  const deadline = Date.now() + waitMs;
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
      throw new BuildError(`gave up after ${Math.round(waitMs / MINUTE)} min waiting for another build of ${what} (lock ${file}, held by pid ${holder?.pid ?? '?'} on ${holder?.host ?? '?'}); remove the lock file if that process is gone`);
    }
    if (!told && holder) {
      log(`another run (pid ${holder.pid ?? '?'}) is building ${what}; waiting for it`);
      told = true;
    }
    await new Promise((r) => setTimeout(r, 2_000));
  }
}

// ---------------------------------------------------------------------------
// Go.

export function goEnv() {
  // GOTOOLCHAIN=local: build with the Go that is installed, never fetch another toolchain.
  // GOWORK=off: a go.work somewhere above the temp dir must not pull it into a workspace.
  // GOFLAGS: the user's (e.g. -mod=vendor) must not change how this module builds.
  // PATH: Go's own tarball installs in /usr/local/go; a `go` earlier on PATH still wins.
  const PATH = [process.env.PATH, '/usr/local/go/bin'].filter(Boolean).join(path.delimiter);
  return { ...process.env, PATH, GOTOOLCHAIN: 'local', GOWORK: 'off', GOFLAGS: '-buildvcs=false' };
}

export async function checkGo(env, cwd, { min, what }) {
  const out = await run('go', ['env', 'GOVERSION'], { cwd, env, timeoutMs: MINUTE }).catch((err) => {
    throw new BuildError(`${err.message}\n  Go ${min.join('.')} or newer is needed to build ${what} (install Go's release tarball into /usr/local/go, or put one on PATH; Debian bookworm's golang-go is too old)`);
  });
  const m = /^go(\d+)\.(\d+)/.exec(out.trim());
  if (!m) throw new BuildError(`cannot read the Go version from \`go env GOVERSION\`: ${JSON.stringify(out.trim())}`);
  const [maj, minor] = [Number(m[1]), Number(m[2])];
  if (maj < min[0] || (maj === min[0] && minor < min[1])) {
    throw new BuildError(`${what} needs Go ${min.join('.')} or newer; \`go\` on PATH is ${out.trim()}`);
  }
  return out.trim();
}

// ---------------------------------------------------------------------------
// One build under the lock.

/**
 * What a build is doing now, so that a stopped process can undo it: the go
 * command running (killed) and the temp dir (removed).
 */
export class BuildSession {
  child = undefined;
  dir = undefined;

  /** A temp dir beside the cache for this build; leftovers of killed builds go first (the caller holds the lock). */
  makeDir(cache) {
    for (const entry of fs.readdirSync(cache)) {
      if (entry.startsWith('build-')) fs.rmSync(path.join(cache, entry), { recursive: true, force: true });
    }
    this.dir = fs.mkdtempSync(path.join(cache, 'build-'));
    return this.dir;
  }

  removeDir() {
    if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }

  /** Options for run(): in the build dir, the command tracked. */
  runOptions(env, timeoutMs, logFile) {
    return { cwd: this.dir, env, timeoutMs, logFile, onChild: (c) => { this.child = c; } };
  }
}

/**
 * Runs `build(session)` holding `<cache>.lock` (waiting up to `waitMs` for
 * another holder); SIGINT, SIGTERM or exit meanwhile kill the go command,
 * remove the temp dir and release the lock.
 */
export async function underBuildLock({ cache, what, waitMs, log }, build) {
  fs.mkdirSync(path.dirname(cache), { recursive: true });
  const release = await acquireLock(`${cache}.lock`, { what, waitMs, log });
  const session = new BuildSession();
  // A killed run leaves no lock behind if it can help it; a SIGKILLed one is judged stale by the next.
  const onExit = () => {
    session.child?.kill('SIGKILL');
    session.removeDir();
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
    return await build(session);
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    process.removeListener('exit', onExit);
    release();
  }
}
