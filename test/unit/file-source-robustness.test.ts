// The file source never loses good config and never dies: a file that turns
// bad keeps serving its last good documents, a missing config directory keeps
// serving everything, and the watcher survives directories vanishing under it,
// inotify limits (falling back to polling on the injected Clock) and the root
// being removed and re-created.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { formatProblem } from '../../xds-server/src/api/validate.js';
import { ControlPlane } from '../../xds-server/src/control-plane.js';
import { FileSource } from '../../xds-server/src/sources/file-source.js';
import { readYamlTree } from '../../xds-server/src/sources/read-yaml.js';
import type { SourceChange } from '../../xds-server/src/sources/source.js';
import type { WatchFunction } from '../../xds-server/src/sources/tree-watcher.js';
import { TypeUrl } from '../../xds-server/src/xds/type-urls.js';
import { ControlPlaneProcess } from '../helpers/control-plane-process.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { billionLaughs } from '../helpers/hostile-yaml.js';
import { ConfigDir, udpRouteDocuments } from '../helpers/mesh-files.js';
import { waitFor } from '../helpers/poll.js';
import { RecordingLogger } from '../helpers/recording-logger.js';

const FOUR_DOCUMENTS = 'a: 1\n---\nb: 2\n---\nc: 3\n---\nd: 4\n';
const STILL_SERVING = '; still serving its 4 documents from the last good read';

/** Runs `mkdir -p d/e && rm -rf d` in a loop in another process, so directories vanish while this one's watcher callbacks run. */
function mkdirRmRace(dir: string, iterations = 300, seconds = 5): Promise<void> {
  const script = `i=0; while [ $i -lt ${iterations} ]; do mkdir -p d/e && rm -rf d; i=$((i+1)); done`;
  const child = spawn('timeout', [String(seconds), 'sh', '-c', script], { cwd: dir, stdio: 'ignore' });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    // 124: the time bound cut the loop short, which is fine.
    child.on('exit', (code) => (code === 0 || code === 124 ? resolve() : reject(new Error(`race loop exited with ${code}`))));
  });
}

describe('file source', function () {
  this.timeout(60_000);
  let config: ConfigDir;
  let source: FileSource | undefined;
  beforeEach(() => {
    config = new ConfigDir();
  });
  afterEach(() => {
    source?.close();
    source = undefined;
    config.cleanup();
  });
  const file = (name: string) => path.join(config.dir, name);

  describe('a file that fails to read or parse keeps serving its last good documents', () => {
    const badWrites: { name: string; write: () => void; message: RegExp }[] = [
      { name: 'a YAML syntax error', write: () => config.write('live.yaml', 'a: 1\nb: 2\n\tc: 3\n'), message: /live\.yaml: document 1: YAML syntax error at line 3, column 1: Tabs are not allowed as indentation/ },
      { name: 'a syntax error in its last document', write: () => config.write('live.yaml', `${FOUR_DOCUMENTS}]\n`), message: /live\.yaml: document 4: YAML syntax error at line 8, column 1: / },
      { name: 'too big', write: () => config.write('live.yaml', `# ${'x'.repeat(2 * 1024 * 1024)}\n`), message: /live\.yaml: is \d+ bytes, over the limit of 1048576 bytes for a config file/ },
      { name: 'too deep', write: () => config.write('live.yaml', '['.repeat(34 * 1024)), message: /live\.yaml: nested deeper than 64 levels at line 1, column \d+/ },
      { name: 'an alias bomb', write: () => config.write('live.yaml', billionLaughs()), message: /live\.yaml: document 1: YAML aliases expand too far/ },
      { name: 'binary', write: () => config.write('live.yaml', Buffer.from([0, 1, 2, 3, 0xff]).toString('latin1')), message: /live\.yaml: contains NUL bytes: not a text file/ },
      {
        name: 'replaced by a FIFO',
        write: () => {
          execFileSync('mkfifo', [file('.fifo')]);
          fs.renameSync(file('.fifo'), file('live.yaml'));
        },
        message: /live\.yaml: is a FIFO, not a regular file/,
      },
    ];
    for (const bad of badWrites) {
      it(bad.name, () => {
        config.write('live.yaml', FOUR_DOCUMENTS);
        source = new FileSource(config.dir);
        const good = source.load();
        assert.equal(good.documents.length, 4);
        bad.write();
        for (let reload = 0; reload < 2; reload++) {
          const update = source.load();
          assert.deepEqual(update.documents, good.documents, 'the last good documents still serve');
          assert.ok(update.problems.length >= 1);
          for (const problem of update.problems) {
            assert.equal(problem.source, file('live.yaml'));
            assert.equal(problem.field, '');
            assert.ok(problem.reason.endsWith(STILL_SERVING), problem.reason);
          }
          assert.match(formatProblem(update.problems[0]!), bad.message);
        }
        // `mediamesh validate` has no last good read: it reports the problem alone.
        const stateless = readYamlTree(config.dir);
        assert.ok(stateless.problems.length >= 1 && stateless.problems.every((p) => !p.reason.includes('still serving')));
        assert.match(formatProblem(stateless.problems[0]!), bad.message);

        config.write('live.yaml', 'a: 1\n---\nb: 2\n');
        assert.deepEqual(source.load(), { documents: [{ origin: { source: file('live.yaml'), index: 0 }, document: { a: 1 } }, { origin: { source: file('live.yaml'), index: 1 }, document: { b: 2 } }], problems: [] });
        bad.write();
        assert.equal(source.load().documents.length, 2, 'the newer good read is the one kept');
        config.remove('live.yaml');
        assert.deepEqual(source.load(), { documents: [], problems: [] }, 'deleting the file removes its documents');
      });
    }

    it('reads a file rewritten in place at once, even when its size and times may match the last read', () => {
      // Same inode, same size: only the change time tells, or, where file times are coarse, the racy-read rule (file-stamp.test).
      fs.writeFileSync(file('live.yaml'), 'a: 1\n');
      source = new FileSource(config.dir);
      assert.deepEqual(source.load().documents.map((d) => d.document), [{ a: 1 }]);
      for (let i = 2; i <= 9; i++) {
        fs.writeFileSync(file('live.yaml'), `a: ${i}\n`);
        assert.deepEqual(source.load().documents.map((d) => d.document), [{ a: i }]);
      }
    });

    it('serves the documents that parsed when there was no good read before', () => {
      config.write('new.yaml', 'a: 1\n---\nb: [\n');
      source = new FileSource(config.dir);
      const update = source.load();
      assert.deepEqual(update.documents.map((d) => d.document), [{ a: 1 }]);
      assert.equal(update.problems.length, 1);
      assert.match(update.problems[0]!.reason, /^YAML syntax error at line \d+, column \d+: [^;]*$/);
    });
  });

  describe('a missing config directory', () => {
    it('is a problem that keeps serving the last documents, until the directory is back', () => {
      config.write('a.yaml', FOUR_DOCUMENTS);
      fs.mkdirSync(file('sub'));
      fs.writeFileSync(file('sub/b.yaml'), 'e: 5\n');
      source = new FileSource(config.dir);
      const before = source.load();
      assert.equal(before.documents.length, 5);
      fs.rmSync(config.dir, { recursive: true });
      const during = source.load();
      assert.deepEqual(during.documents, before.documents);
      assert.deepEqual(during.problems.map(formatProblem), [`${config.dir}: config directory is missing; still serving its last documents (5 documents)`]);
      fs.mkdirSync(config.dir);
      config.write('c.yaml', 'f: 6\n');
      assert.deepEqual(source.load(), { documents: [{ origin: { source: file('c.yaml'), index: 0 }, document: { f: 6 } }], problems: [] });
    });

    it('does not drain the control plane while an operator replaces the directory', async () => {
      const clock = new FakeClock();
      config.write('feed.yaml', udpRouteDocuments({ name: 'feed', listenPort: 5004, backends: [{ name: 'v1', ports: [30000] }] }));
      const controlPlane = new ControlPlane({ source: new FileSource(config.dir, { clock, pollIntervalMs: 1000 }), debounceMs: 20 });
      await controlPlane.start();
      try {
        const listeners = () => [...controlPlane.currentSnapshot().forType(TypeUrl.Listener).resources.keys()];
        const version = controlPlane.currentSnapshot().version;
        fs.rmSync(config.dir, { recursive: true });
        await waitFor('the missing directory reported', () => controlPlane.configStatus().problems.some((p) => /config directory is missing; still serving/.test(p.message)), 5000);
        assert.equal(controlPlane.currentSnapshot().version, version, 'nothing removed');
        assert.deepEqual(listeners(), ['udp~media~feed~5004']);
        fs.mkdirSync(config.dir);
        config.write('feed.yaml', udpRouteDocuments({ name: 'feed', listenPort: 5004, backends: [{ name: 'v1', ports: [30001] }] }));
        config.write('more.yaml', udpRouteDocuments({ name: 'more', listenPort: 5006, backends: [{ name: 'v2', ports: [30002] }] }));
        clock.advance(1000);
        await waitFor('the re-created directory applied', () => listeners().length === 2 && controlPlane.configStatus().problems.length === 0, 5000);
      } finally {
        controlPlane.stop();
      }
    });
  });

  describe('watching', () => {
    const changesOf = (s: FileSource) => {
      const changes: SourceChange[] = [];
      s.watch((change) => changes.push(change));
      return changes;
    };

    it('survives directories created and removed under it by another process', async () => {
      source = new FileSource(config.dir);
      const changes = changesOf(source);
      await mkdirRmRace(config.dir);
      assert.ok(changes.length > 0, 'the race was seen');
      assert.equal(source.watchMode(), 'watching');
      const seen = changes.length;
      config.write('after.yaml', 'a: 1\n');
      await waitFor('the write after the race', () => changes.length > seen, 5000);
      assert.deepEqual(source.load().documents.map((d) => d.document), [{ a: 1 }]);
    });

    for (const code of ['ENOSPC', 'EMFILE']) {
      // The kernel's inotify limits cannot be lowered safely on a shared machine, so fs.watch is replaced by one that fails as it would.
      it(`falls back to polling on the clock when a watcher cannot be created (${code}), logged once`, () => {
        const clock = new FakeClock();
        const log = new RecordingLogger();
        fs.mkdirSync(file('sub'));
        let attempts = 0;
        const watchFailingBelowRoot: WatchFunction = (dir, listener) => {
          attempts++;
          if (dir === config.dir) return fs.watch(dir, listener);
          throw Object.assign(new Error(`${code}: System limit for number of file watchers reached, watch '${dir}'`), { code });
        };
        source = new FileSource(config.dir, { clock, pollIntervalMs: 1000, watch: watchFailingBelowRoot, log });
        const changes = changesOf(source);
        assert.equal(source.watchMode(), 'polling (cannot watch)');
        assert.equal(log.at('warn').length, 1);
        assert.equal(log.at('warn')[0]!.fields?.dir, file('sub'));
        clock.advance(10_000);
        assert.deepEqual(changes, [], 'an unchanged tree reports nothing');
        config.write('a.yaml', 'a: 1\n');
        clock.advance(999);
        assert.deepEqual(changes, []);
        clock.advance(1);
        assert.deepEqual(changes, [{ wholeFiles: false }]);
        clock.advance(10_000);
        assert.equal(changes.length, 1);
        fs.mkdirSync(file('sub/deeper'));
        fs.writeFileSync(file('sub/deeper/b.yaml'), 'b: 2\n');
        clock.advance(1000);
        assert.equal(changes.length, 2);
        fs.writeFileSync(file('sub/deeper/b.yaml'), 'b: 3\n');
        clock.advance(1000);
        assert.equal(changes.length, 3, 'an in-place edit changes the fingerprint');
        assert.deepEqual(source.load().documents.map((d) => d.document), [{ a: 1 }, { b: 3 }]);
        assert.equal(attempts, 2, 'no more watchers once polling');
        assert.equal(log.at('warn').length, 1, 'logged once');
        source.close();
        assert.equal(clock.pending(), 0, 'closing stops the polling');
      });
    }

    it('watches the directory again after it is removed and re-created', async () => {
      const clock = new FakeClock();
      config.write('a.yaml', 'a: 1\n');
      source = new FileSource(config.dir, { clock, pollIntervalMs: 1000, log: new RecordingLogger() });
      const changes = changesOf(source);
      fs.rmSync(config.dir, { recursive: true });
      await waitFor('the removal noticed', () => source!.watchMode() === 'polling (root missing)', 5000);
      clock.advance(5000);
      const whileMissing = changes.length;
      fs.mkdirSync(config.dir);
      config.write('b.yaml', 'b: 2\n');
      clock.advance(1000);
      assert.equal(source.watchMode(), 'watching');
      assert.ok(changes.length > whileMissing, 'the poll reported the directory back');
      assert.deepEqual(source.load().documents.map((d) => d.document), [{ b: 2 }]);
      const seen = changes.length;
      config.write('c.yaml', 'c: 3\n');
      await waitFor('a write seen by the new watcher', () => changes.length > seen, 5000);
      assert.equal(clock.pending(), 0, 'no polling while watching');
    });

    it('follows a directory removed and re-created faster than its events arrive', async () => {
      config.write('a.yaml', 'a: 1\n');
      source = new FileSource(config.dir, { clock: new FakeClock(), log: new RecordingLogger() });
      const changes = changesOf(source);
      fs.rmSync(config.dir, { recursive: true });
      fs.mkdirSync(config.dir);
      config.write('b.yaml', 'b: 2\n');
      // Handling the first event re-reads the tree, which finds the new directory.
      await waitFor('the events of the replace', () => changes.length > 0, 5000);
      const seen = changes.length;
      config.write('c.yaml', 'c: 3\n');
      await waitFor('a write into the new directory', () => changes.length > seen, 5000);
      assert.deepEqual(source.load().documents.map((d) => d.document), [{ b: 2 }, { c: 3 }]);
    });
  });
});

describe('mediamesh serve under directory churn', function () {
  this.timeout(60_000);
  const config = new ConfigDir();
  let cp: ControlPlaneProcess | undefined;
  after(async () => {
    await cp?.stop('SIGKILL');
    config.cleanup();
  });

  it('stays up while directories come and go, then picks up a new route', async () => {
    config.write('feed.yaml', udpRouteDocuments({ name: 'feed', listenPort: 5004, backends: [{ name: 'v1', ports: [25004] }] }));
    cp = await ControlPlaneProcess.start(config.dir);
    const accepted = async () => ((await (await fetch(`${cp!.adminUrl}/debug/config`)).json()) as { accepted: { udpRoutes: number } }).accepted.udpRoutes;
    assert.equal(await accepted(), 1);
    await mkdirRmRace(config.dir);
    assert.equal((await fetch(`${cp.adminUrl}/healthz`)).status, 200, cp.logLines().slice(-20).join('\n'));
    config.write('more.yaml', udpRouteDocuments({ name: 'more', listenPort: 5006, backends: [{ name: 'v2', ports: [25006] }] }));
    await waitFor('the new route', async () => (await accepted()) === 2, 10_000);
    assert.ok(!cp.logLines().some((l) => /uncaught|ENOENT/i.test(l)), cp.logLines().filter((l) => /uncaught|ENOENT/i.test(l)).join('\n'));
  });

  it('keeps serving while its directory is removed, and follows the re-created one', async () => {
    const accepted = async () => ((await (await fetch(`${cp!.adminUrl}/debug/config`)).json()) as { accepted: { udpRoutes: number }; problems: { message: string }[] });
    fs.rmSync(config.dir, { recursive: true });
    await waitFor('the missing directory reported', async () => (await accepted()).problems.some((p) => /config directory is missing/.test(p.message)), 10_000);
    assert.equal((await accepted()).accepted.udpRoutes, 2);
    fs.mkdirSync(config.dir);
    config.write('feed.yaml', udpRouteDocuments({ name: 'feed', listenPort: 5004, backends: [{ name: 'v1', ports: [25004] }] }));
    await waitFor('the re-created directory', async () => {
      const status = await accepted();
      return status.accepted.udpRoutes === 1 && status.problems.length === 0;
    }, 10_000).catch(async (err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(await accepted())}\n${cp!.logLines().slice(-15).join('\n')}`);
    });
    const more = () => config.write('third.yaml', udpRouteDocuments({ name: 'third', listenPort: 5008, backends: [{ name: 'v3', ports: [25008] }] }));
    more();
    await waitFor('a route written after the re-creation', async () => (await accepted()).accepted.udpRoutes === 2, 10_000);
  });
});
