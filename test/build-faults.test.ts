/**
 * Bad input and faults of `docker build` against berthd: errors that name the file, line and instruction before
 * anything runs, a missing COPY source, a failing RUN (its exit code and output, nothing tagged, the cache of the
 * steps before it kept), a build cancelled by closing the connection, and berthd killed mid-build: nothing is left
 * behind (runtime containers, mounts, step snapshots, network endpoints).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { request } from 'node:http';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import { type Daemon, docker, run, startDaemon, waitFor } from './harness.ts';

let d: Daemon;
let work: string;

before(async () => {
  d = await startDaemon({ seed: true });
  work = await mkdtemp(join(tmpdir(), 'berth-build-faults-'));
});
after(async () => {
  await d?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

let n = 0;
async function context(dockerfile: string, files: Record<string, string> = {}): Promise<string> {
  const dir = join(work, `c${n++}`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'Dockerfile'), dockerfile);
  for (const [k, v] of Object.entries(files)) await writeFile(join(dir, k), v);
  return dir;
}

async function build(args: string[], dockerfile: string, files: Record<string, string> = {}) {
  return docker(d, ['build', ...args, await context(dockerfile, files)]);
}

/** What a build may leave: runtime containers, mounts under the daemon's dirs, step snapshots, run states. */
async function leftovers(): Promise<{ containers: string[]; mounts: string[]; snapshots: string[]; runs: string[] }> {
  const list = await run('runc', ['--root', join(d.execRoot, 'build', 'runtime', 'runc'), 'list', '-q']);
  const mounts = (await readFile('/proc/self/mountinfo', 'utf8'))
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((p) => p.startsWith(d.dir));
  const db = new DatabaseSync(join(d.dataRoot, 'berth.db'), { readOnly: true });
  let snapshots: string[];
  try {
    snapshots = (db.prepare("SELECT key FROM snapshots WHERE key LIKE 'build-%'").all() as { key: string }[]).map(
      (r) => r.key,
    );
  } finally {
    db.close();
  }
  const runs = await readdir(join(d.execRoot, 'build', 'runs')).catch(() => [] as string[]);
  return { containers: list.stdout.split('\n').filter(Boolean), mounts, snapshots, runs };
}

const NOTHING = { containers: [], mounts: [], snapshots: [], runs: [] };

describe('bad Dockerfiles are refused before anything runs, naming file, line and instruction', () => {
  const cases: [string, string, RegExp][] = [
    [
      'an unknown instruction',
      'FROM busybox\nFOO bar\n',
      /dockerfile parse error on line 2 \(Dockerfile, FOO\): unknown instruction: FOO/,
    ],
    ['an empty Dockerfile', '', /the Dockerfile \(Dockerfile\) cannot be empty/],
    ['only comments', '# nothing\n\n', /file with no instructions/],
    [
      'a form that must be JSON',
      'FROM busybox\nSHELL sh -c\n',
      /line 2 \(Dockerfile, SHELL\): SHELL requires the arguments to be in JSON form/,
    ],
    ['an unknown flag', 'FROM busybox\nCOPY --foo=bar a b\n', /line 2 \(Dockerfile, COPY\): Unknown flag: foo/],
  ];
  for (const [what, text, re] of cases) {
    it(what, async () => {
      const r = await build([], text);
      assert.equal(r.code, 1, r.stdout);
      assert.match(r.stderr, re);
      assert.doesNotMatch(r.stdout, /Step \d/);
    });
  }
});

describe('failures while building', () => {
  it('COPY of a missing file says it is not found, naming it', async () => {
    const r = await build(['-t', 'missing'], 'FROM busybox\nCOPY nosuch.txt /x\n');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /COPY failed: file not found in build context .*: stat nosuch\.txt: file does not exist/);
    assert.notEqual((await docker(d, ['image', 'inspect', 'missing'])).code, 0);
  });

  it('a failing RUN stops the build with its exit code and output; nothing is tagged; earlier steps stay cached', async () => {
    const text = 'FROM busybox\nRUN echo first > /first\nRUN echo out; echo err >&2; exit 3\n';
    const r = await build(['-t', 'failing'], text);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stdout, /out\n/);
    assert.match(r.stdout, /err/);
    assert.match(r.stderr, /The command '\/bin\/sh -c echo out; echo err >&2; exit 3' returned a non-zero code: 3/);
    assert.notEqual((await docker(d, ['image', 'inspect', 'failing'])).code, 0);
    const again = await build(['-t', 'failing'], text);
    assert.equal(again.code, 3);
    assert.match(again.stdout, /Step 2\/3 : RUN echo first > \/first\n ---> Using cache/);
    assert.deepEqual(await leftovers(), NOTHING);
  });

  it('with -q, a failure still shows the output before the error', async () => {
    const r = await build(['-q'], 'FROM busybox\nRUN echo quiet-out; exit 5\n');
    assert.equal(r.code, 5);
    assert.match(r.stderr, /quiet-out/);
  });

  it('closing the connection cancels the build: its container, mounts and snapshots are gone', async () => {
    const dir = await context('FROM busybox\nRUN echo started; sleep 60\n');
    const tar = execFileSync('tar', ['-C', dir, '-c', '.']);
    const req = request({
      socketPath: d.socket,
      method: 'POST',
      path: '/v1.41/build?nocache=1',
      headers: { 'Content-Type': 'application/x-tar' },
    });
    const seen = new Promise<void>((resolve, reject) => {
      req.on('response', (res) => {
        res.on('data', (c: Buffer) => {
          if (c.toString().includes('"stream":"started\\n"')) resolve();
        });
      });
      req.on('error', () => {});
      setTimeout(() => reject(new Error('the RUN did not start')), 60_000).unref();
    });
    req.end(tar);
    await seen;
    assert.equal((await leftovers()).containers.length, 1);
    req.destroy();
    await waitFor('the cancelled build to clean up', async () => {
      const l = await leftovers();
      return l.containers.length + l.mounts.length + l.snapshots.length + l.runs.length === 0;
    });
  });
});

describe('berthd killed mid-build', () => {
  it('leaves no orphan after a restart', async () => {
    const dir = await context('FROM busybox\nRUN echo started; sleep 60\n');
    const cli = run('docker', ['build', '--no-cache', dir], { DOCKER_HOST: d.host });
    await waitFor('the RUN to start', async () => (await leftovers()).containers.length === 1, 60_000);
    d.proc.kill('SIGKILL');
    await new Promise((r) => d.proc.once('exit', r));
    await cli;
    await d.restart();
    assert.deepEqual(await leftovers(), NOTHING);
    assert.match(d.log(), /startup repair: released 1 interrupted build step/);
    const r = await docker(d, ['build', '-q', await context('FROM busybox\nRUN echo ok\n')]);
    assert.equal(r.code, 0, r.stderr);
  });
});
