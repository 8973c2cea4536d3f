/**
 * The Dockerfile features beyond the classic builder's, and the context rules, through `docker build` and
 * `berth build` against berthd: heredocs (RUN script, `#!` script, COPY), ADD's archives (tar, gzip, bzip2, xz,
 * zstd) and URLs (a local server; an unreachable one; a wrong --checksum), COPY --chmod/--exclude/--parents/--link,
 * RUN --network, .dockerignore with exceptions and NAME.dockerignore, a symlink out of the context, an unknown
 * USER, --cache-from an image pushed to a registry and pulled back, build events on /events.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type DistributionRegistry, startRegistry } from '../src/distribution/remote/testkit.ts';
import { api, berth, type Daemon, docker, startDaemon } from './harness.ts';

let d: Daemon;
let work: string;
let server: Server;
let port = 0;
let n = 0;

before(async () => {
  d = await startDaemon({ seed: true });
  work = await mkdtemp(join(tmpdir(), 'berth-build-features-'));
  server = createServer((req, res) => {
    if (req.url === '/hello.txt') {
      res.setHeader('Last-Modified', 'Wed, 01 Jan 2020 00:00:00 GMT');
      res.end('hello over http\n');
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});
after(async () => {
  server?.close();
  await d?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

async function context(files: Record<string, string>): Promise<string> {
  const dir = join(work, `c${n++}`);
  await mkdir(dir, { recursive: true });
  for (const [k, v] of Object.entries(files)) {
    await mkdir(join(dir, k, '..'), { recursive: true });
    await writeFile(join(dir, k), v);
  }
  return dir;
}

async function build(dir: string, args: string[] = []): Promise<string> {
  const r = await docker(d, ['build', '-q', ...args, dir]);
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  return r.stdout.trim();
}

async function sh(image: string, script: string): Promise<string> {
  const r = await docker(d, ['run', '--rm', '--network', 'none', image, 'sh', '-c', script]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

describe('Dockerfile features', () => {
  it('heredocs: RUN scripts (with and without #!) and COPY <<EOF', async () => {
    const dir = await context({
      Dockerfile: [
        'FROM busybox',
        'RUN <<EOF',
        'echo one > /one',
        'echo two >> /one',
        'EOF',
        'RUN <<EOT',
        '#!/bin/sh',
        'echo "from $0" > /script',
        'EOT',
        'COPY <<EOF /etc/greeting',
        'hello heredoc',
        'EOF',
        '',
      ].join('\n'),
    });
    const id = await build(dir);
    assert.equal(await sh(id, 'cat /one /script /etc/greeting'), 'one\ntwo\nfrom /dev/pipes/EOT\nhello heredoc\n');
  });

  it('ADD unpacks local tar, gzip, bzip2, xz and zstd archives, and fetches a URL', async () => {
    const src = join(work, 'tarsrc');
    await mkdir(join(src, 't'), { recursive: true });
    await writeFile(join(src, 't', 'inside'), 'in the archive\n');
    const dir = await context({});
    execFileSync('tar', ['-C', src, '-cf', join(dir, 'a.tar'), 't']);
    for (const [ext, prog] of [
      ['gz', 'gzip'],
      ['bz2', 'bzip2'],
      ['xz', 'xz'],
      ['zst', 'zstd'],
    ]) {
      execFileSync('sh', ['-c', `${prog} -c ${join(dir, 'a.tar')} > ${join(dir, `a.tar.${ext}`)}`]);
    }
    await writeFile(
      join(dir, 'Dockerfile'),
      [
        'FROM busybox',
        'ADD a.tar /plain/',
        'ADD a.tar.gz /gz/',
        'ADD a.tar.bz2 /bz2/',
        'ADD a.tar.xz /xz/',
        'ADD a.tar.zst /zst/',
        `ADD http://127.0.0.1:${port}/hello.txt /web/`,
        '',
      ].join('\n'),
    );
    const id = await build(dir);
    const out = await sh(
      id,
      'for d in plain gz bz2 xz zst; do cat /$d/t/inside; done; cat /web/hello.txt; stat -c %a /web/hello.txt',
    );
    assert.equal(out, `${'in the archive\n'.repeat(5)}hello over http\n600\n`);
    const hist = await docker(d, ['history', '--no-trunc', '--format', '{{.CreatedBy}}', id]);
    assert.match(hist.stdout, /^\/bin\/sh -c #\(nop\) ADD file:[0-9a-f]{64} in \/web\/ $/m);
  });

  it('ADD of an unreachable URL or with a wrong --checksum fails clearly', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const unused = (closed.address() as { port: number }).port;
    await new Promise((r) => closed.close(r));
    const down = await docker(d, [
      'build',
      '-q',
      await context({ Dockerfile: `FROM busybox\nADD http://127.0.0.1:${unused}/x /x\n` }),
    ]);
    assert.notEqual(down.code, 0);
    assert.match(
      down.stderr,
      new RegExp(`ADD failed: failed to GET http://127\\.0\\.0\\.1:${unused}/x: .*ECONNREFUSED`),
    );
    const missing = await docker(d, [
      'build',
      '-q',
      await context({ Dockerfile: `FROM busybox\nADD http://127.0.0.1:${port}/nope /x\n` }),
    ]);
    assert.match(missing.stderr, /status 404/);
    const sum = await docker(d, [
      'build',
      '-q',
      await context({
        Dockerfile: `FROM busybox\nADD --checksum=sha256:${'0'.repeat(64)} http://127.0.0.1:${port}/hello.txt /x\n`,
      }),
    ]);
    assert.match(sum.stderr, /digest mismatch/);
  });

  it('COPY --chmod, --exclude, --parents and --link', async () => {
    const dir = await context({
      Dockerfile: [
        'FROM busybox',
        'COPY --chmod=640 a.txt /chmod/',
        'COPY --exclude=*.log logs/ /kept/',
        'COPY --parents p/q/r.txt /parents/',
        'COPY --link a.txt /linked/a.txt',
        '',
      ].join('\n'),
      'a.txt': 'a\n',
      'logs/keep.txt': 'k\n',
      'logs/drop.log': 'd\n',
      'p/q/r.txt': 'r\n',
    });
    const id = await build(dir);
    assert.equal(
      await sh(id, 'stat -c %a /chmod/a.txt; ls /kept; cat /parents/p/q/r.txt /linked/a.txt'),
      '640\nkeep.txt\nr\na\n',
    );
  });

  it('RUN --network=none has only loopback; the default network has an interface', async () => {
    const dir = await context({
      Dockerfile:
        'FROM busybox\nRUN --network=none grep -c : /proc/net/dev > /none\nRUN grep -c : /proc/net/dev > /default\n',
    });
    const id = await build(dir);
    assert.equal(await sh(id, 'cat /none /default'), '1\n2\n');
  });

  it('.dockerignore exceptions, and NAME.dockerignore beside a named Dockerfile (berth build)', async () => {
    const dir = await context({
      Dockerfile: 'FROM busybox\nCOPY . /ctx\n',
      'app.Dockerfile': 'FROM busybox\nCOPY . /ctx\n',
      '.dockerignore': '*.tmp\n!keep.tmp\nsecret/\n',
      'app.Dockerfile.dockerignore': 'a.txt\n',
      'a.txt': 'a\n',
      'x.tmp': 'x\n',
      'keep.tmp': 'k\n',
      'secret/s': 's\n',
    });
    const id = await build(dir);
    assert.equal(
      await sh(id, 'cd /ctx && ls -A | sort | tr "\\n" " "'),
      '.dockerignore Dockerfile a.txt app.Dockerfile app.Dockerfile.dockerignore keep.tmp ',
    );
    const r = await berth(d, ['build', '-q', '-f', join(dir, 'app.Dockerfile'), dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      await sh(r.stdout.trim(), 'cd /ctx && ls -A | sort | tr "\\n" " "'),
      '.dockerignore Dockerfile app.Dockerfile app.Dockerfile.dockerignore keep.tmp secret x.tmp ',
    );
  });

  it('a symlink cannot reach out of the context; an unknown USER fails the RUN', async () => {
    const dir = await context({ Dockerfile: 'FROM busybox\nCOPY escape /x\n' });
    await symlink('/etc/shadow', join(dir, 'escape'));
    const r = await docker(d, ['build', '-q', dir]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /file not found in build context/);
    const u = await docker(d, [
      'build',
      '-q',
      await context({ Dockerfile: 'FROM busybox\nUSER nosuchuser\nRUN true\n' }),
    ]);
    assert.notEqual(u.code, 0);
    assert.match(u.stderr, /unable to find user nosuchuser/);
  });

  it('build events on /events', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    await build(await context({ Dockerfile: 'FROM busybox\nRUN echo ev > /ev\n' }), ['-t', 'evented']);
    const until = Math.ceil(Date.now() / 1000) + 1;
    const r = await api(
      d.socket,
      'GET',
      `/events?since=${since}&until=${until}&filters=${encodeURIComponent('{"type":["builder","image"]}')}`,
    );
    const events = r.body
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { Type: string; Action: string });
    assert.ok(
      events.some((e) => e.Type === 'builder' && e.Action === 'start'),
      r.body,
    );
    assert.ok(
      events.some((e) => e.Type === 'builder' && e.Action === 'finish'),
      r.body,
    );
    assert.ok(
      events.some((e) => e.Type === 'image' && e.Action === 'tag'),
      r.body,
    );
  });
});

describe('--cache-from an image pushed to a registry and pulled back', () => {
  let reg: DistributionRegistry;
  before(async () => {
    reg = await startRegistry('plain');
  });
  after(async () => {
    await reg?.stop();
  });

  it('its cache keys travel in the manifest: the steps come from it', async () => {
    const dir = await context({
      Dockerfile: 'FROM busybox\nRUN echo one > /one\nCOPY a.txt /a\nRUN echo two > /two\n',
      'a.txt': 'a\n',
    });
    const ref = `${reg.host}/cache/app:1`;
    await build(dir, ['-t', ref]);
    const push = await berth(d, ['push', '-q', ref]);
    assert.equal(push.code, 0, push.stderr);
    assert.equal((await berth(d, ['rmi', ref])).code, 0);
    assert.equal((await berth(d, ['builder', 'prune', '-a', '-f'])).code, 0);
    assert.equal((await berth(d, ['pull', '-q', ref])).code, 0);
    const r = await berth(d, ['build', '--progress', 'plain', '--cache-from', ref, dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((r.stderr.match(/^#\d+ CACHED$/gm) ?? []).length, 3, r.stderr);
  });
});

describe('build checks: the # check= directive', () => {
  it('warns of an empty continuation line as BuildKit names it; error=true fails the build, skip= lets it pass', async () => {
    const body = 'FROM busybox\nRUN echo a \\\n\n  b > /out\n';
    const warned = await docker(d, ['build', await context({ Dockerfile: body })]);
    assert.equal(warned.code, 0, warned.stderr);
    assert.match(
      warned.stdout,
      /\[Warning\] NoEmptyContinuation: Empty continuation line found in: RUN echo a {3}b > \/out \(line 4\)/,
    );
    const failed = await docker(d, ['build', await context({ Dockerfile: `# check=error=true\n${body}` })]);
    assert.notEqual(failed.code, 0);
    assert.match(failed.stderr, /lint violation found for rules: NoEmptyContinuation/);
    const skipped = await docker(d, [
      'build',
      await context({ Dockerfile: `# check=skip=NoEmptyContinuation;error=true\n${body}` }),
    ]);
    assert.equal(skipped.code, 0, skipped.stderr);
    assert.doesNotMatch(skipped.stdout, /NoEmptyContinuation/);
  });
});
