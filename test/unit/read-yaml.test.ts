// Reading config files never throws, hangs or runs out of memory, whatever is
// on disk: each hostile input is one clear problem naming its file, and
// `mediamesh validate` exits 1 with one line per problem.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { MAX_CONFIG_FILE_BYTES, MAX_YAML_DEPTH, MAX_YAML_ERRORS_PER_FILE, parseYamlText, readYamlTree } from '../../xds-server/src/sources/read-yaml.js';
import { projectRoot } from '../../xds-server/src/sidecar/envoy-binary.js';
import { deepBlockMapping, deepFlowSequence, hostileYaml } from '../helpers/hostile-yaml.js';
import { udpRouteDocuments } from '../helpers/mesh-files.js';

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'mediamesh-read-yaml-'));
}

describe('reading YAML config files', function () {
  this.timeout(30_000);
  let dir: string;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe('each hostile file is one problem naming it', () => {
    for (const hostile of hostileYaml) {
      it(hostile.name, () => {
        const file = path.join(dir, 'hostile.yaml');
        fs.writeFileSync(file, hostile.text);
        const read = readYamlTree(dir);
        assert.deepEqual(read.documents, []);
        assert.equal(read.problems.length, 1, JSON.stringify(read.problems).slice(0, 500));
        const problem = read.problems[0]!;
        assert.equal(problem.source, file);
        assert.equal(problem.field, '');
        assert.match(problem.reason, hostile.reason);
      });
    }
  });

  it('takes lists and maps nested exactly as deep as the limit, and no deeper', () => {
    for (const [shape, text] of [['flow', deepFlowSequence], ['block', deepBlockMapping]] as const) {
      const atLimit = parseYamlText(text(MAX_YAML_DEPTH), 'limit.yaml');
      assert.deepEqual(atLimit.problems, [], `${shape}: ${JSON.stringify(atLimit.problems)}`);
      assert.equal(atLimit.documents.length, 1);
      const over = parseYamlText(text(MAX_YAML_DEPTH + 1), 'over.yaml');
      assert.deepEqual(over.documents, []);
      assert.match(over.problems[0]!.reason, /nested deeper than 64 levels/, shape);
    }
  });

  it('keeps the good documents of a file whose other document is bad, and names the bad one', () => {
    const { documents, problems } = parseYamlText('a: 1\n---\nb: *nowhere\n---\nc: 3\n', 'mixed.yaml');
    assert.deepEqual(documents.map((d) => d.origin.index), [0, 2]);
    assert.deepEqual(problems.map((p) => [p.index, p.field]), [[1, '']]);
  });

  it(`lists at most ${MAX_YAML_ERRORS_PER_FILE} syntax errors of a file, then counts the rest`, () => {
    const { problems } = parseYamlText('[[]'.repeat(1000), 'broken.yaml');
    assert.equal(problems.length, MAX_YAML_ERRORS_PER_FILE + 1);
    assert.match(problems.at(-1)!.reason, /^\d+ more YAML syntax errors not listed$/);
  });

  it('reads a file of exactly the size limit', () => {
    fs.writeFileSync(path.join(dir, 'big.yaml'), `# ${'x'.repeat(MAX_CONFIG_FILE_BYTES - 3)}\n`);
    assert.deepEqual(readYamlTree(dir).problems, []);
  });

  it('reports a socket, a symlink loop and a FIFO with a config name, and reads the good file beside them', async () => {
    fs.writeFileSync(path.join(dir, 'good.yaml'), 'a: 1\n');
    fs.symlinkSync('loop-b.yaml', path.join(dir, 'loop-a.yaml'));
    fs.symlinkSync('loop-a.yaml', path.join(dir, 'loop-b.yaml'));
    execFileSync('mkfifo', [path.join(dir, 'fifo.yaml')]);
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(path.join(dir, 'socket.yaml'), resolve));
    try {
      const read = readYamlTree(dir);
      assert.equal(read.documents.length, 1);
      const reasons = Object.fromEntries(read.problems.map((p) => [path.basename(p.source), p.reason]));
      assert.deepEqual(Object.keys(reasons).sort(), ['fifo.yaml', 'loop-a.yaml', 'loop-b.yaml', 'socket.yaml']);
      assert.equal(reasons['fifo.yaml'], 'is a FIFO, not a regular file');
      assert.match(reasons['loop-a.yaml']!, /^cannot read: ELOOP/);
      // Opening a socket fails (ENXIO); either way it is named and said to be unreadable.
      assert.match(reasons['socket.yaml']!, /^cannot read: ENXIO|^is a socket/);
    } finally {
      server.close();
    }
  });

  it('does not follow directory symlinks (no cycles) and ignores a dangling link', () => {
    fs.mkdirSync(path.join(dir, 'sub'));
    fs.writeFileSync(path.join(dir, 'sub', 'feed.yaml'), 'a: 1\n');
    fs.symlinkSync('..', path.join(dir, 'sub', 'up.yaml'));
    fs.symlinkSync('.', path.join(dir, 'self'));
    fs.symlinkSync('missing.yaml', path.join(dir, 'dangling.yaml'));
    const read = readYamlTree(dir);
    assert.deepEqual(read.files, [path.join(dir, 'sub', 'feed.yaml')]);
    assert.deepEqual(read.problems, []);
  });
});

describe('mediamesh validate on hostile input', function () {
  this.timeout(120_000);
  const cli = path.join(projectRoot(), 'bin/mediamesh.js');
  // A hang (a FIFO opened for reading) or a crash shows as a timeout or a signal, not a pass.
  const validate = (target: string) => spawnSync(process.execPath, [cli, 'validate', target], { encoding: 'utf8', timeout: 30_000 });
  let dir: string;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('exits 1 with one line per hostile file, and reads the good file beside them', () => {
    fs.writeFileSync(path.join(dir, 'good.yaml'), udpRouteDocuments({ name: 'feed', listenPort: 5004, backends: [{ name: 'v1', ports: [25004] }] }));
    hostileYaml.forEach((hostile, i) => fs.writeFileSync(path.join(dir, `hostile-${String(i).padStart(2, '0')}.yaml`), hostile.text));
    execFileSync('mkfifo', [path.join(dir, 'fifo.yaml')]);
    fs.symlinkSync('.', path.join(dir, 'loop'));
    const run = validate(dir);
    assert.equal(run.signal, null, `killed by ${run.signal}: ${run.stderr.slice(-2000)}`);
    assert.equal(run.status, 1, run.stderr.slice(-2000));
    const lines = run.stdout.trim().split('\n');
    assert.equal(lines.length, hostileYaml.length + 1, run.stdout);
    assert.equal(lines[0], `${path.join(dir, 'fifo.yaml')}: is a FIFO, not a regular file`);
    hostileYaml.forEach((hostile, i) => {
      const line = lines[i + 1]!;
      const prefix = new RegExp(`^${path.join(dir, `hostile-${String(i).padStart(2, '0')}.yaml`)}: (document \\d+: )?`);
      assert.match(line, prefix, hostile.name);
      assert.match(line.replace(prefix, ''), hostile.reason, hostile.name);
    });
  });

  it('names a FIFO given as the file to check instead of waiting for a writer', () => {
    const fifo = path.join(dir, 'x.yaml');
    execFileSync('mkfifo', [fifo]);
    const run = validate(fifo);
    assert.equal(run.signal, null, 'validate hung on the FIFO');
    assert.equal(run.status, 1);
    assert.equal(run.stdout, `${fifo}: is a FIFO, not a regular file\n`);
  });

  it('exits 1, not 2, for a file that is a symlink loop', () => {
    const file = path.join(dir, 'x.yaml');
    fs.symlinkSync('x.yaml', file);
    const run = validate(file);
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stdout, /x\.yaml: cannot read: ELOOP/);
  });
});
