/**
 * A COPY rebuilt after a change links the files it holds unchanged from the previous layer of the same step
 * (src/build/linked.ts) and defers the layer's blob (content/store.ts `Deferrer`): the files share inodes, the blob
 * is absent until something reads it; a later RUN step and a container writing those files leave the earlier
 * layer's copies as they were; `save` and `push` after a daemon restart make the blob, whose digest is checked.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type DistributionRegistry, startRegistry } from '../src/distribution/remote/testkit.ts';
import { BERTH, berth, type Daemon, docker, run, startDaemon } from './harness.ts';

let d: Daemon;
let work: string;
let reg: DistributionRegistry;

before(async () => {
  d = await startDaemon({ seed: true });
  work = await mkdtemp(join(tmpdir(), 'berth-build-linked-'));
  reg = await startRegistry('plain');
});
after(async () => {
  await reg?.stop();
  await d?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

async function ok(p: Promise<{ code: number | null; stdout: string; stderr: string }>, what: string) {
  const r = await p;
  assert.equal(r.code, 0, `${what} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

async function sh(image: string, script: string): Promise<string> {
  return (await ok(docker(d, ['run', '--rm', '--network', 'none', image, 'sh', '-c', script]), script)).stdout;
}

/** The files under the data root at `rel` inside a snapshot's own directory, with their inode numbers. */
async function inLayers(rel: string): Promise<{ path: string; ino: number }[]> {
  const r = await ok(run('find', [join(d.dataRoot), '-path', `*/fs/${rel}`]), 'find');
  const out = [];
  for (const path of r.stdout.split('\n').filter(Boolean)) out.push({ path, ino: (await stat(path)).ino });
  return out;
}

/** The image's layer digests. */
async function layers(image: string): Promise<string[]> {
  const r = await ok(docker(d, ['image', 'inspect', '-f', '{{json .RootFS.Layers}}', image]), 'inspect');
  return JSON.parse(r.stdout) as string[];
}

const blobFile = (digest: string) => join(d.dataRoot, 'blobs', 'sha256', digest.replace('sha256:', ''));
const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );

describe('COPY linked from the previous layer of the same step', () => {
  let ctx: string;
  before(async () => {
    ctx = join(work, 'ctx');
    for (let i = 0; i < 4; i++) {
      await mkdir(join(ctx, 'tree', `d${i}`), { recursive: true });
      for (let j = 0; j < 5; j++) await writeFile(join(ctx, 'tree', `d${i}`, `f${j}`), `file ${i}/${j}\n`.repeat(50));
    }
    // names a walk sorts apart from a plain sort of paths, a symbolic link, an empty directory and other modes
    for (const n of ['d1-x', 'd1.x', 'D1', 'd10']) await writeFile(join(ctx, 'tree', n), n);
    await mkdir(join(ctx, 'tree', 'd1', 'empty'));
    await symlink('f0', join(ctx, 'tree', 'd2', 'link'));
    await chmod(join(ctx, 'tree', 'd3', 'f4'), 0o751);
    // first in the walk and over the 2 MiB between two of the hash's kept states: the next layer's hash resumes
    // after it (tarmarks.ts), which save's check of the digest covers
    await writeFile(join(ctx, 'tree', 'A.bin'), Buffer.alloc(3 << 20, 'resume '));
    await writeFile(join(ctx, 'Dockerfile'), 'FROM busybox\nCOPY tree /ctx\nRUN echo run >> /ctx/d0/f1\n');
  });

  it('shares the unchanged files, writes the changed one, and defers the blob', async () => {
    await ok(berth(d, ['build', '-q', '-t', 'lk:1', ctx]), 'berth build (cold)');
    await writeFile(join(ctx, 'tree', 'd0', 'f0'), 'changed\n');
    await ok(berth(d, ['build', '-q', '-t', 'lk:2', ctx]), 'berth build (one file changed)');
    const [, copy1] = await layers('lk:1');
    const [, copy2] = await layers('lk:2');
    assert.ok(copy1 && copy2 && copy1 !== copy2, 'the COPY layers differ');
    // the cold layer's blob was written; the linked one's is deferred
    assert.ok(await exists(blobFile(copy1!)));
    assert.equal(await exists(blobFile(copy2!)), false, 'the linked layer blob is not written at build time');
    assert.ok(await exists(join(d.dataRoot, 'deferred', 'sha256', copy2!.replace('sha256:', ''))));
    const same = await inLayers('ctx/d1/f1');
    assert.equal(same.length, 2, JSON.stringify(same));
    assert.equal(same[0]!.ino, same[1]!.ino, 'an unchanged file is one inode in both layers');
    const changed = await inLayers('ctx/d0/f0');
    assert.equal(changed.length, 2);
    assert.notEqual(changed[0]!.ino, changed[1]!.ino);
    assert.equal(await sh('lk:2', 'cat /ctx/d0/f0'), 'changed\n');
    assert.equal(await sh('lk:2', 'cat /ctx/d3/f4'), 'file 3/4\n'.repeat(50));
    // the other files and the directories have the same modes, owners, sizes and times as in the cold build
    const listing = "find /ctx | sort | xargs stat -c '%n %a %u %g %s %Y' | grep -v -e '^/ctx ' -e '^/ctx/d0/f[01] '";
    const cold = await sh('lk:1', listing);
    assert.equal(cold.split('\n').length, 4 * 5 + 5 - 2 + 1 + 6, cold);
    assert.equal(await sh('lk:2', listing), cold);
    // /ctx, which the COPY creates, keeps the time the first build gave it (Docker gives the build's time)
    const top = "stat -c '%a %u %g %Y' /ctx";
    assert.equal(await sh('lk:2', top), await sh('lk:1', top));
  });

  it('a later RUN step and a container writing a linked file leave the earlier layer as it was', async () => {
    const original = 'file 0/1\n'.repeat(50);
    // the RUN step after the COPY appended to /ctx/d0/f1 in both builds
    assert.equal(await sh('lk:2', 'cat /ctx/d0/f1'), `${original}run\n`);
    await sh('lk:2', 'echo container >> /ctx/d1/f1; echo more >> /ctx/d0/f1; chmod 600 /ctx/d2/f2');
    assert.equal(await sh('lk:1', 'cat /ctx/d1/f1'), 'file 1/1\n'.repeat(50));
    assert.equal(await sh('lk:2', 'cat /ctx/d1/f1; stat -c %a /ctx/d2/f2'), `${'file 1/1\n'.repeat(50)}644\n`);
    for (const f of await inLayers('ctx/d0/f1')) {
      const text = await readFile(f.path, 'utf8');
      assert.ok(text === original || text === `${original}run\n`, `${f.path}: ${text.slice(-20)}`);
    }
    for (const f of await inLayers('ctx/d1/f1')) assert.equal(await readFile(f.path, 'utf8'), 'file 1/1\n'.repeat(50));
    for (const f of await inLayers('ctx/d2/f2')) assert.equal((await stat(f.path)).mode & 0o777, 0o644);
  });

  it('save and push make the deferred blob after a restart, its digest checked', async () => {
    await writeFile(join(ctx, 'tree', 'd3', 'f3'), 'changed again\n');
    await ok(berth(d, ['build', '-q', '-t', `${reg.host}/lk/app:3`, ctx]), 'berth build (another change)');
    const [, copy2] = await layers('lk:2');
    const [, copy3] = await layers(`${reg.host}/lk/app:3`);
    assert.equal(await exists(blobFile(copy3!)), false);
    await d.stop();
    await d.restart();
    // save: the archive holds the blob under its digest, and its bytes hash to it
    const out = join(work, 'saved');
    await mkdir(out);
    await ok(run('sh', ['-c', `"${BERTH}" -H ${d.host} save lk:2 | tar -x -C ${out}`]), 'save');
    const hex = copy2!.replace('sha256:', '');
    const bytes = await readFile(join(out, 'blobs', 'sha256', hex));
    assert.equal(createHash('sha256').update(bytes).digest('hex'), hex);
    assert.ok(await exists(blobFile(copy2!)), 'the blob is stored once made');
    // push, then pull it back into a fresh name and read a file
    await ok(berth(d, ['push', '-q', `${reg.host}/lk/app:3`]), 'push');
    assert.ok(await exists(blobFile(copy3!)));
    const head = await ok(run('curl', ['-sfI', `http://${reg.host}/v2/lk/app/blobs/${copy3}`]), 'HEAD the blob');
    assert.match(head.stdout, new RegExp(`^content-length: ${(await stat(blobFile(copy3!))).size}\\r?$`, 'im'));
    await ok(berth(d, ['rmi', `${reg.host}/lk/app:3`]), 'rmi');
    await ok(berth(d, ['pull', '-q', `${reg.host}/lk/app:3`]), 'pull');
    assert.equal(await sh(`${reg.host}/lk/app:3`, 'cat /ctx/d3/f3'), 'changed again\n');
  });

  it('docker build links too (the context from its spool), and save makes that blob', async () => {
    await writeFile(join(ctx, 'tree', 'd1', 'f2'), 'changed through docker\n');
    await ok(docker(d, ['build', '-q', '-t', 'lk:docker', ctx]), 'docker build');
    const [, copy] = await layers('lk:docker');
    assert.equal(await exists(blobFile(copy!)), false, 'deferred');
    const out = join(work, 'saved-docker');
    await mkdir(out);
    await ok(run('sh', ['-c', `"${BERTH}" -H ${d.host} save lk:docker | tar -x -C ${out}`]), 'save');
    const hex = copy!.replace('sha256:', '');
    const bytes = await readFile(join(out, 'blobs', 'sha256', hex));
    assert.equal(createHash('sha256').update(bytes).digest('hex'), hex);
    assert.equal(
      await sh('lk:docker', 'cat /ctx/d1/f2 /ctx/d2/f3'),
      `changed through docker\n${'file 2/3\n'.repeat(50)}`,
    );
  });

  it('a COPY with --chown and --chmod into a directory the image has links too, and save makes that blob', async () => {
    const file = join(work, 'Dockerfile.owned');
    await writeFile(file, 'FROM busybox\nCOPY --chown=7:8 --chmod=640 tree /etc/tree/\n');
    await ok(berth(d, ['build', '-q', '-f', file, '-t', 'lk:owned1', ctx]), 'berth build (cold)');
    await writeFile(join(ctx, 'tree', 'd2', 'f4'), 'changed with an owner\n');
    await ok(berth(d, ['build', '-q', '-f', file, '-t', 'lk:owned2', ctx]), 'berth build (one file changed)');
    const [, copy] = await layers('lk:owned2');
    assert.equal(await exists(blobFile(copy!)), false, 'deferred');
    const same = await inLayers('etc/tree/d1/f1');
    assert.equal(same.length, 2, JSON.stringify(same));
    assert.equal(same[0]!.ino, same[1]!.ino, 'linked');
    const out = join(work, 'saved-owned');
    await mkdir(out);
    await ok(run('sh', ['-c', `"${BERTH}" -H ${d.host} save lk:owned2 | tar -x -C ${out}`]), 'save');
    const hex = copy!.replace('sha256:', '');
    const bytes = await readFile(join(out, 'blobs', 'sha256', hex));
    assert.equal(createHash('sha256').update(bytes).digest('hex'), hex);
    assert.equal(await sh('lk:owned2', "stat -c '%a %u %g' /etc/tree/d1/f1"), '640 7 8\n');
  });

  it('a deferred blob that nothing keeps goes with a collection', async () => {
    await writeFile(join(ctx, 'tree', 'd2', 'f0'), 'third change\n');
    await ok(berth(d, ['build', '-q', '-t', 'lk:4', ctx]), 'berth build');
    const [, copy4] = await layers('lk:4');
    const record = join(d.dataRoot, 'deferred', 'sha256', copy4!.replace('sha256:', ''));
    assert.ok(await exists(record));
    await ok(berth(d, ['rmi', 'lk:4']), 'rmi');
    await ok(berth(d, ['builder', 'prune', '-a', '-f']), 'builder prune');
    assert.equal(await exists(record), false, 'the deferred record is collected');
    // the images still here are whole
    assert.equal(await sh('lk:2', 'cat /ctx/d0/f0'), 'changed\n');
  });
});
