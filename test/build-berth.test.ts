/**
 * `berth build` against berthd: its flags (tags, labels, build args, target, no-cache, iidfile, -q, network,
 * add-host, shm-size, secrets, outputs, plain progress), the kept context (a one-file change sends one file), RUN
 * mounts (cache, secret, bind, tmpfs), `--cache-from` after the cache is pruned, `builder prune` and `system df`.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tarOf } from './fixtures.ts';
import { api, BERTH, berth, type Daemon, docker, run, startDaemon } from './harness.ts';

let d: Daemon;
let work: string;
let n = 0;

before(async () => {
  d = await startDaemon({ seed: true });
  work = await mkdtemp(join(tmpdir(), 'berth-build-cli-'));
});
after(async () => {
  await d?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

async function context(dockerfile: string, files: Record<string, string> = {}): Promise<string> {
  const dir = join(work, `c${n++}`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'Dockerfile'), dockerfile);
  for (const [k, v] of Object.entries(files)) {
    await mkdir(join(dir, k, '..'), { recursive: true });
    await writeFile(join(dir, k), v);
  }
  return dir;
}

async function ok(args: string[], input?: string): Promise<{ stdout: string; stderr: string }> {
  const r = await berth(d, args, input);
  assert.equal(r.code, 0, `berth ${args.join(' ')} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

async function sh(image: string, script: string): Promise<string> {
  const r = await docker(d, ['run', '--rm', '--network', 'none', image, 'sh', '-c', script]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

describe('berth build', () => {
  it('tags, labels, build args, --iidfile and plain progress', async () => {
    const dir = await context('FROM busybox AS one\nARG WHO\nRUN echo "hi $WHO" > /hi\nFROM one\nRUN cat /hi\n');
    const iid = join(work, 'iid');
    const r = await ok([
      'build',
      '-t',
      'multi:1',
      '-t',
      'multi:2',
      '--label',
      'team=build',
      '--build-arg',
      'WHO=you',
      '--iidfile',
      iid,
      '--progress',
      'plain',
      dir,
    ]);
    assert.match(r.stderr, /^#1 \[one 1\/3\] FROM busybox AS one$/m);
    assert.match(r.stderr, /^#3 \[one 3\/3\] RUN echo "hi \$WHO" > \/hi\n#3 DONE \d+\.\ds$/m);
    assert.match(r.stderr, /^#5 \d+\.\d{3} hi you$/m);
    assert.match(r.stderr, /^#0 transferring context: .* \(1 of 1 files\) done$/m);
    const id = (await readFile(iid, 'utf8')).trim();
    const tags = await docker(d, [
      'image',
      'inspect',
      '-f',
      '{{.Id}} {{json .RepoTags}} {{.Config.Labels.team}}',
      'multi:2',
    ]);
    assert.equal(tags.stdout.trim(), `${id} ["multi:1","multi:2"] build`);
    const q = await ok(['build', '-q', '--target', 'one', '--build-arg', 'WHO=you', dir]);
    assert.match(q.stdout.trim(), /^sha256:[0-9a-f]{64}$/);
    assert.equal(q.stderr, '');
    const nc = await ok(['build', '--no-cache', '--progress', 'plain', '--build-arg', 'WHO=you', dir]);
    assert.doesNotMatch(nc.stderr, /CACHED/);
  });

  it('a kept context: a one-file change sends one file, a removed file is gone', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 200; i++) files[`tree/d${i % 10}/f${i}.txt`] = `${'x'.repeat(10_000)}${i}\n`;
    const dir = await context('FROM busybox\nCOPY tree /tree\nRUN cat /tree/d3/f3.txt | tail -c 3\n', files);
    const first = await ok(['build', '-t', 'kept', '--progress', 'plain', dir]);
    assert.match(first.stderr, /transferring context: 2\.\dMB \(201 of 201 files\)/);
    await writeFile(join(dir, 'tree/d3/f3.txt'), 'changed\n');
    await rm(join(dir, 'tree/d5/f5.txt'));
    const second = await ok(['build', '-t', 'kept', '--progress', 'plain', dir]);
    const m = /transferring context: (\d+(?:\.\d)?)(B|kB|MB) \((\d+) of (\d+) files\)/.exec(second.stderr)!;
    assert.equal(m[3], '1', second.stderr);
    assert.ok(m[2] !== 'MB', second.stderr);
    assert.equal(m[4], '200');
    assert.equal(await sh('kept', 'cat /tree/d3/f3.txt; test ! -e /tree/d5/f5.txt && echo gone'), 'changed\ngone\n');
    assert.match(second.stderr, /#3 \d+\.\d{3} ed$/m);
  });

  it('a kept context body names the manifest its plan kept instead of sending it again; a token serves once', async () => {
    const id = 'ab'.repeat(16);
    const dockerfile = 'FROM busybox\nCOPY a /a\n';
    const manifest = [
      { path: 'Dockerfile', type: 'file', mode: 0o644, size: dockerfile.length, mtime: 1_000_000 },
      { path: 'a', type: 'file', mode: 0o644, size: 3, mtime: 1_000_000 },
    ];
    const json = { 'Content-Type': 'application/json' };
    const plan = await api(d.socket, 'POST', `/build/context?id=${id}`, JSON.stringify(manifest), json);
    assert.equal(plan.status, 200, plan.body);
    const { Need, Planned } = JSON.parse(plan.body) as { Need: string[]; Planned: string };
    assert.deepEqual(Need.sort(), ['Dockerfile', 'a']);
    assert.match(Planned, /^[0-9a-f]{32}$/);
    const body = (first: unknown): Promise<Buffer> =>
      tarOf([
        { header: { name: '.berth-context-manifest.json' }, body: Buffer.from(JSON.stringify(first)) },
        { header: { name: 'Dockerfile', mtime: 1000 }, body: Buffer.from(dockerfile) },
        { header: { name: 'a', mtime: 1000 }, body: Buffer.from('abc') },
      ]);
    const build = async (first: unknown) =>
      api(d.socket, 'POST', `/build?t=planned&q=1&berthcontext=${id}`, await body(first), {
        'Content-Type': 'application/x-tar',
      });
    const unknown = await build({ planned: '00'.repeat(16) });
    assert.match(unknown.body, /no planned manifest \\?"0{32}/);
    const good = await build({ planned: Planned });
    assert.equal(good.status, 200, good.body);
    assert.doesNotMatch(good.body, /error/i);
    assert.equal(await sh('planned', 'cat /a'), 'abc');
    assert.match((await build({ planned: Planned })).body, /no planned manifest/);
    // the manifest itself still serves
    assert.doesNotMatch((await build(manifest)).body, /error/i);
  });

  it('--network none, --add-host and --shm-size reach RUN', async () => {
    const dir = await context(
      'FROM busybox\nRUN echo $(grep -c : /proc/net/dev) > /ifaces; grep myhost /etc/hosts > /hosts; df -k /dev/shm | tail -1 > /shm\n',
    );
    await ok([
      'build',
      '-t',
      'netopts',
      '--network',
      'none',
      '--add-host',
      'myhost:10.1.2.3',
      '--shm-size',
      '128m',
      dir,
    ]);
    const out = await sh('netopts', 'cat /ifaces /hosts /shm');
    const [ifaces, hosts, shm] = out.split('\n');
    assert.equal(ifaces, '1');
    assert.match(hosts!, /^10\.1\.2\.3\s+myhost$/);
    assert.match(shm!, /\s131072\s/);
  });

  it('RUN --mount: secrets (file and env) that stay out of the image, cache, bind and tmpfs', async () => {
    const secretFile = join(work, 'secret.txt');
    await writeFile(secretFile, 'sekrit');
    const dir = await context(
      [
        'FROM busybox',
        'RUN --mount=type=secret,id=s test "$(cat /run/secrets/s)" = sekrit && echo ok > /secret-seen',
        'RUN --mount=type=secret,id=t,env=TOKEN test "$TOKEN" = abc && echo ok > /env-seen',
        'RUN --mount=type=bind,source=data,target=/data cp /data/x /x',
        'RUN --mount=type=tmpfs,target=/scratch echo tmp > /scratch/t && ! test -e /etc/never',
        'RUN --mount=type=cache,target=/cache,sharing=locked echo run >> /cache/log && wc -l < /cache/log > /count',
        '',
      ].join('\n'),
      { 'data/x': 'bound\n' },
    );
    const args = ['build', '-t', 'mounts', '--secret', `id=s,src=${secretFile}`, '--secret', 'id=t,env=TOKEN', dir];
    const r = await run(BERTH, ['-H', d.host, ...args], { TOKEN: 'abc' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      await sh(
        'mounts',
        'cat /secret-seen /env-seen /x /count; for p in /run/secrets /run /scratch /cache /data; do test -e $p && echo $p; done; true',
      ),
      'ok\nok\nbound\n1\n',
    );
    const again = await run(BERTH, ['-H', d.host, ...args.slice(0, 1), '--no-cache', ...args.slice(1)], {
      TOKEN: 'abc',
    });
    assert.equal(again.code, 0, again.stderr);
    assert.equal(await sh('mounts', 'cat /count'), '2\n');
    const missing = await berth(d, ['build', '--no-cache', dir]);
    assert.notEqual(missing.code, 0);
  });

  it('-o type=local and type=tar write the image files', async () => {
    const dir = await context('FROM busybox\nRUN mkdir /out && echo exported > /out/file\n');
    const dest = join(work, 'outdir');
    const tar = join(work, 'out.tar');
    await ok(['build', '-q', '-o', `type=local,dest=${dest}`, '-o', `type=tar,dest=${tar}`, dir]);
    assert.equal(await readFile(join(dest, 'out', 'file'), 'utf8'), 'exported\n');
    const list = await run('tar', ['-tf', tar]);
    assert.match(list.stdout, /^out\/file$/m);
  });

  it('builder prune empties the cache (system df shows it before); --cache-from brings it back from an image', async () => {
    const dir = await context('FROM busybox\nRUN echo one > /one\nRUN echo two > /two\n');
    await ok(['build', '-t', 'cached-app', dir]);
    const df = await docker(d, ['system', 'df', '--format', '{{.Type}} {{.TotalCount}}']);
    const cacheLine = df.stdout.split('\n').find((l) => l.startsWith('Build Cache'));
    assert.ok(cacheLine && Number(cacheLine.split(' ').pop()) > 0, df.stdout);
    const pruned = await ok(['builder', 'prune', '-a', '-f']);
    assert.match(pruned.stdout, /^Deleted build cache objects:$/m);
    assert.match(pruned.stdout, /^Total reclaimed space: /m);
    const fromCache = await ok(['build', '--progress', 'plain', '--cache-from', 'cached-app', dir]);
    assert.equal((fromCache.stderr.match(/CACHED/g) ?? []).length, 2, fromCache.stderr);
    const noCache = await ok(['builder', 'prune', '-a', '-f']);
    assert.ok(noCache.stdout.length > 0);
    const cold = await ok(['build', '--progress', 'plain', dir]);
    assert.doesNotMatch(cold.stderr, /CACHED/);
  });
});
