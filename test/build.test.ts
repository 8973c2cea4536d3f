/**
 * `docker build` (the docker CLI 28, classic protocol) against berthd: a multi-stage busybox build, the same build
 * again fully cached, a one-file change re-running only from its COPY, `-f sub/Dockerfile`, a context tar on stdin,
 * `--build-arg`, `--target`, `--iidfile`, `-q`; what the images hold and what their history says.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pack } from '../src/util/tar/index.ts';
import { api, type Daemon, docker, run, sh, startDaemon, waitFor } from './harness.ts';

const MULTI = `FROM busybox AS gen
ENV GREETING=hello
RUN mkdir /out && echo "$GREETING from gen" > /out/g.txt
COPY a.txt /out/
RUN true
WORKDIR /out
FROM busybox
COPY --from=gen /out /app
COPY sub /sub
LABEL x=y
CMD ["cat", "/app/g.txt"]
`;

async function ok(d: Daemon, args: string[], input?: Buffer | string): Promise<string> {
  const r = await docker(d, args, input);
  assert.equal(r.code, 0, `docker ${args.join(' ')} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** The steps that ran (not from the cache), by their `Step N/M :` text. */
function ranSteps(out: string): string[] {
  const ran: string[] = [];
  const blocks = out.split(/^Step \d+\/\d+ : /m).slice(1);
  for (const b of blocks) {
    const [first = '', ...rest] = b.split('\n');
    if (first.startsWith('FROM ')) continue;
    if (!rest.some((l) => l === ' ---> Using cache')) ran.push(first);
  }
  return ran;
}

describe('docker build against berthd', () => {
  let d: Daemon;
  let work: string;
  let ctx: string;

  before(async () => {
    d = await startDaemon({ seed: true });
    work = await mkdtemp(join(tmpdir(), 'berth-build-'));
    ctx = join(work, 'ctx');
    await mkdir(join(ctx, 'sub'), { recursive: true });
    await writeFile(join(ctx, 'Dockerfile'), MULTI);
    await writeFile(join(ctx, 'a.txt'), 'hello\n');
    await writeFile(join(ctx, 'sub', 'b.txt'), 'world\n');
  });
  after(async () => {
    await d?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('builds a multi-stage Dockerfile, then the same again from the cache', async () => {
    const out = await ok(d, ['build', '-t', 'app', ctx]);
    assert.match(out, /^Step 1\/11 : FROM busybox AS gen$/m);
    assert.match(out, /^Step 3\/11 : RUN mkdir \/out/m);
    assert.match(out, /^ ---> Running in [0-9a-f]{12}$/m);
    assert.match(out, /^Successfully built [0-9a-f]{12}$/m);
    assert.match(out, /^Successfully tagged app:latest$/m);
    assert.deepEqual(ranSteps(out).length, 9);
    assert.equal((await ok(d, ['run', '--rm', 'app'])).trim(), 'hello from gen');
    const files = await ok(d, [
      'run',
      '--rm',
      'app',
      'sh',
      '-c',
      'cat /app/a.txt /sub/b.txt; stat -c "%a %u %g" /app /app/a.txt',
    ]);
    assert.equal(files, 'hello\nworld\n755 0 0\n644 0 0\n');

    const id = (await ok(d, ['image', 'inspect', '-f', '{{.Id}}', 'app'])).trim();
    const again = await ok(d, ['build', '-t', 'app', ctx]);
    assert.deepEqual(ranSteps(again), []);
    assert.equal((again.match(/^ ---> Using cache$/gm) ?? []).length, 9);
    assert.match(again, new RegExp(`^Successfully built ${id.slice(7, 19)}$`, 'm'));
  });

  it("leaves Docker's history: empty layers for metadata, for RUN true and WORKDIR of an existing directory", async () => {
    await ok(d, ['build', '-q', '--target', 'gen', '-t', 'gen', ctx]);
    const hist = await ok(d, ['history', '--no-trunc', '--format', '{{.CreatedBy}}|{{.Size}}', 'gen']);
    const lines = hist.trim().split('\n');
    assert.deepEqual(
      lines.slice(0, 5).map((l) => l.replace(/file:[0-9a-f]{64}/, 'file:H')),
      [
        '/bin/sh -c #(nop) WORKDIR /out|0B',
        '/bin/sh -c true|0B',
        '/bin/sh -c #(nop) COPY file:H in /out/ |6B',
        '/bin/sh -c mkdir /out && echo "$GREETING from gen" > /out/g.txt|15B',
        '/bin/sh -c #(nop)  ENV GREETING=hello|0B',
      ],
    );
    const layers = JSON.parse(await ok(d, ['image', 'inspect', '-f', '{{json .RootFS.Layers}}', 'gen'])) as string[];
    assert.equal(layers.length, 3);
  });

  it('after one file changes, re-runs only the steps from its COPY on', async () => {
    await writeFile(join(ctx, 'sub', 'b.txt'), 'changed\n');
    const out = await ok(d, ['build', '-t', 'app', ctx]);
    assert.deepEqual(ranSteps(out), ['COPY sub /sub', 'LABEL x=y', 'CMD ["cat", "/app/g.txt"]']);
    assert.equal(await ok(d, ['run', '--rm', 'app', 'cat', '/sub/b.txt']), 'changed\n');
  });

  it('one byte changed, the size and every header field the same, misses the cache too', async () => {
    // berthd compares each upload with the last one as it arrives (src/build/upload.ts): a body equal in all but
    // one byte must not be taken for the last upload's
    await writeFile(join(ctx, 'sub', 'b.txt'), 'chAnged\n');
    const out = await ok(d, ['build', '-t', 'app', ctx]);
    assert.deepEqual(ranSteps(out), ['COPY sub /sub', 'LABEL x=y', 'CMD ["cat", "/app/g.txt"]']);
    assert.equal(await ok(d, ['run', '--rm', 'app', 'cat', '/sub/b.txt', '/app/a.txt']), 'chAnged\nhello\n');
    // and the same upload again is all from the cache
    assert.deepEqual(ranSteps(await ok(d, ['build', '-t', 'app', ctx])), []);
  });

  it('-f sub/Dockerfile, --build-arg, --iidfile and -q', async () => {
    await writeFile(join(ctx, 'sub', 'Dockerfile'), 'FROM busybox\nARG WHO=nobody\nRUN echo "hi $WHO" > /who\n');
    const iid = join(work, 'iid');
    const q = await ok(d, [
      'build',
      '-q',
      '-f',
      join(ctx, 'sub', 'Dockerfile'),
      '--build-arg',
      'WHO=berth',
      '--iidfile',
      iid,
      ctx,
    ]);
    const id = (await readFile(iid, 'utf8')).trim();
    assert.match(id, /^sha256:[0-9a-f]{64}$/);
    assert.equal(q.trim(), id);
    assert.equal(await ok(d, ['run', '--rm', id, 'cat', '/who']), 'hi berth\n');
    const hist = await ok(d, ['history', '--no-trunc', '--format', '{{.CreatedBy}}', id]);
    assert.match(hist, /^\|1 WHO=berth \/bin\/sh -c echo "hi \$WHO" > \/who$/m);
  });

  it('builds a context tar from stdin (docker build - < ctx.tar), gzip too', async () => {
    const tar = await run('tar', ['-C', ctx, '-c', '.']);
    assert.equal(tar.code, 0);
    const raw = await run('bash', ['-c', `tar -C ${ctx} -c . | DOCKER_HOST=${d.host} docker build -t fromtar -`]);
    assert.equal(raw.code, 0, raw.stderr);
    assert.match(raw.stdout, /^Successfully tagged fromtar:latest$/m);
    const gz = await run('bash', ['-c', `tar -C ${ctx} -cz . | DOCKER_HOST=${d.host} docker build -q -`]);
    assert.equal(gz.code, 0, gz.stderr);
    assert.match(gz.stdout.trim(), /^sha256:[0-9a-f]{64}$/);
  });

  it('a Dockerfile alone on stdin', async () => {
    const out = await ok(d, ['build', '-t', 'alone', '-'], 'FROM busybox\nRUN echo alone > /a\n');
    assert.match(out, /Successfully tagged alone:latest/);
    assert.equal(await ok(d, ['run', '--rm', 'alone', 'cat', '/a']), 'alone\n');
  });
  it('the kept last upload is build cache: system df counts it, builder prune frees it and says so', async () => {
    // berthd keeps the last upload's spool to compare the next one with (src/build/upload.ts): disk use like a
    // kept context's, so `system df` and `builder prune` show it where Docker shows build cache
    await writeFile(join(ctx, 'big.bin'), Buffer.alloc(300_000, 7));
    await ok(d, ['build', '-t', 'app', ctx]);
    const spools = () => sh(`find ${join(d.dataRoot, 'build')} -name '*.spool' -printf '%s\\n'`);
    const onDisk = (await spools()).split('\n').filter(Boolean).map(Number);
    assert.ok(onDisk.length > 0 && onDisk.every((n) => n > 0), `spools: ${onDisk}`);
    type Cache = { ID: string; Type: string; Size: number; InUse: boolean; Shared: boolean };
    const df = JSON.parse((await api(d.socket, 'GET', '/system/df')).body) as { BuildCache: Cache[] | null };
    const kept = (df.BuildCache ?? []).filter((c) => c.Type === 'source.local');
    assert.equal(kept.length, 1, JSON.stringify(df.BuildCache));
    assert.equal(
      kept[0]!.Size,
      onDisk.reduce((a, b) => a + b, 0),
      "the size is the spools' bytes",
    );
    assert.ok(kept[0]!.Size >= 300_000 && !kept[0]!.InUse && !kept[0]!.Shared, JSON.stringify(kept[0]));
    const cli = await ok(d, ['system', 'df', '--format', '{{.Type}} {{.Size}}']);
    assert.doesNotMatch(cli, /^Build Cache 0B$/m, cli);
    const pruned = await ok(d, ['builder', 'prune', '-f']);
    assert.match(pruned, new RegExp(`^${kept[0]!.ID}$`, 'm'), pruned);
    assert.doesNotMatch(pruned, /Total reclaimed space: 0B/, pruned);
    await waitFor('the spools removed', async () => (await spools()).trim() === '');
    const after = JSON.parse((await api(d.socket, 'GET', '/system/df')).body) as { BuildCache: Cache[] | null };
    assert.deepEqual(
      (after.BuildCache ?? []).filter((c) => c.Type === 'source.local'),
      [],
    );
    // the next build sends everything again and is still all from the cache
    assert.deepEqual(ranSteps(await ok(d, ['build', '-t', 'app', ctx])), []);
  });
  it('a restart after a build does not load the builder; a build cut short mid-upload is still repaired', async () => {
    // the kept last upload's spool is left on disk when berthd stops: it is not a crash's leftover, so start-up
    // does not load the builder for it (daemon/engine.ts, leftovers); the builder removes it when first used
    await ok(d, ['build', '-t', 'app', ctx]);
    const uploads = join(d.dataRoot, 'build', 'uploads');
    const contexts = join(d.dataRoot, 'build', 'contexts');
    const list = (dir: string) => readdir(dir).catch(() => [] as string[]);
    const kept = await list(uploads);
    assert.ok(kept.length > 0, 'the last upload is kept');
    await d.stop();
    let from = d.log().length;
    await d.restart();
    assert.doesNotMatch(d.log().slice(from), /the builder repairs/, d.log().slice(from));
    assert.deepEqual(await list(contexts), []);
    assert.deepEqual(await list(uploads), kept, 'the builder was not loaded');
    assert.deepEqual(ranSteps(await ok(d, ['build', '-t', 'app', ctx])), []);
    const now = await list(uploads);
    assert.ok(now.length > 0 && now.every((f) => !kept.includes(f)), `${kept} then ${now}`);

    // killed while a context is arriving: repaired at the next start, the spools too
    const parts: Uint8Array[] = [];
    const big = Buffer.alloc(4 << 20, 3);
    for await (const c of pack([{ header: { name: 'big', type: 'file', mode: 0o644, size: big.length }, body: big }]))
      parts.push(c);
    const tar = Buffer.concat(parts);
    const req = request({
      socketPath: d.socket,
      method: 'POST',
      path: '/build?t=cut',
      headers: { 'Content-Type': 'application/x-tar', 'Transfer-Encoding': 'chunked' },
    });
    req.on('error', () => {});
    req.write(tar.subarray(0, 1 << 20));
    await waitFor('the upload to be spooled', async () => (await list(uploads)).length > now.length);
    assert.ok((await list(contexts)).length > 0);
    d.proc.kill('SIGKILL');
    await new Promise((r) => d.proc.once('exit', r));
    req.destroy();
    from = d.log().length;
    await d.restart();
    assert.match(d.log().slice(from), /the builder repairs what an interrupted build left/);
    assert.deepEqual(await list(contexts), []);
    await waitFor('the spools removed', async () => (await list(uploads)).length === 0);
    assert.deepEqual(ranSteps(await ok(d, ['build', '-t', 'app', ctx])), []);
  });
});
