import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lgetxattr } from '../sys/index.ts';
import { InvalidArgumentError } from '../util/errors.ts';
import { extract, pack } from '../util/tar/index.ts';
import type { PackEntry } from '../util/tar/index.ts';
import { normalise, unpackLayer } from './apply.ts';
import type { WhiteoutMode } from './apply.ts';

let tmp: string;
let n = 0;
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'berth-apply-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function unpack(entries: PackEntry[], whiteouts: WhiteoutMode = 'overlay', into?: string): Promise<string> {
  const root = into ?? join(tmp, `root-${++n}`);
  await mkdir(root, { recursive: true });
  await unpackLayer(root, extract(pack(entries)), { whiteouts });
  return root;
}

describe('normalise', () => {
  test('takes names relative to the root and refuses escapes', () => {
    assert.equal(normalise('./a/b/'), 'a/b');
    assert.equal(normalise('/etc/passwd'), 'etc/passwd');
    assert.equal(normalise('//a//b'), 'a/b');
    assert.equal(normalise('a/./b/../c'), 'a/c');
    assert.equal(normalise('./'), '');
    assert.equal(normalise('/'), '');
    assert.equal(normalise('..'), null);
    assert.equal(normalise('../x'), null);
    assert.equal(normalise('a/../../x'), null);
    assert.equal(normalise('/../x'), null);
    assert.equal(normalise('..foo'), '..foo');
  });
});

describe('unpackLayer', () => {
  test('a later entry replaces an earlier one of another type; a dir over a dir merges', async () => {
    const root = await unpack([
      { header: { name: 'x' }, body: Buffer.from('file') },
      { header: { name: 'x/', mode: 0o700 } },
      { header: { name: 'x/in' }, body: Buffer.from('in') },
      { header: { name: 'y/' } },
      { header: { name: 'y/deep/' } },
      { header: { name: 'y/deep/f' }, body: Buffer.from('f') },
      { header: { name: 'y', type: 'symlink', linkname: 'x' } },
      { header: { name: 'z/' } },
      { header: { name: 'z/a' }, body: Buffer.from('a') },
      { header: { name: 'z/', mode: 0o711 } },
      { header: { name: 'same' }, body: Buffer.from('one') },
      { header: { name: 'same-link', type: 'link', linkname: 'same' } },
      { header: { name: 'same' }, body: Buffer.from('two') },
    ]);
    assert.ok((await lstat(join(root, 'x'))).isDirectory());
    assert.equal((await stat(join(root, 'x'))).mode & 0o777, 0o700);
    assert.deepEqual(await readdir(join(root, 'x')), ['in']);
    assert.equal(await readlink(join(root, 'y')), 'x');
    assert.deepEqual(await readdir(join(root, 'z')), ['a']);
    assert.equal((await stat(join(root, 'z'))).mode & 0o777, 0o711);
    assert.equal(await readFile(join(root, 'same'), 'utf8'), 'two');
    assert.equal(await readFile(join(root, 'same-link'), 'utf8'), 'one', 'the old inode lives on in its other link');
  });

  test('parents missing from the archive are made 0755', async () => {
    const root = await unpack([{ header: { name: 'a/b/c', mode: 0o600 }, body: Buffer.from('c') }]);
    assert.equal((await stat(join(root, 'a/b'))).mode & 0o7777, 0o755);
    assert.equal((await stat(join(root, 'a/b/c'))).mode & 0o7777, 0o600);
  });

  test("'delete' mode: whiteouts remove, opaque dirs keep only this layer's entries, hard links may reach lower content", async () => {
    const root = join(tmp, `root-${++n}`);
    await mkdir(join(root, 'o/sub'), { recursive: true });
    await writeFile(join(root, 'o/lower'), 'l');
    await writeFile(join(root, 'o/sub/lower'), 'l');
    await writeFile(join(root, 'gone'), 'g');
    await writeFile(join(root, 'lowerfile'), 'lf');
    await unpack(
      [
        { header: { name: 'o/sub/mine' }, body: Buffer.from('m') },
        { header: { name: 'o/.wh..wh..opq' }, body: Buffer.alloc(0) },
        { header: { name: 'o/after' }, body: Buffer.from('a') },
        { header: { name: '.wh.gone' }, body: Buffer.alloc(0) },
        { header: { name: '.wh.never-there' }, body: Buffer.alloc(0) },
        { header: { name: 'to-lower', type: 'link', linkname: 'lowerfile' } },
      ],
      'delete',
      root,
    );
    assert.deepEqual((await readdir(join(root, 'o'))).sort(), ['after', 'sub']);
    assert.deepEqual(await readdir(join(root, 'o/sub')), ['mine']);
    assert.deepEqual((await readdir(root)).sort(), ['lowerfile', 'o', 'to-lower']);
    assert.equal((await stat(join(root, 'to-lower'))).ino, (await stat(join(root, 'lowerfile'))).ino);
  });

  test("'overlay' mode: a hard link must point at this layer's content", async () => {
    await assert.rejects(
      unpack([{ header: { name: 'l', type: 'link', linkname: 'etc/passwd' } }]),
      (err: Error) =>
        err instanceof InvalidArgumentError && /"l" links to "etc\/passwd", which does not exist/.test(err.message),
    );
  });

  test('a whiteout in overlay mode under a symlinked parent is refused', async () => {
    const outside = join(tmp, 'outside-wh');
    await mkdir(outside);
    await assert.rejects(
      unpack([
        { header: { name: 'link', type: 'symlink', linkname: outside } },
        { header: { name: 'link/.wh.x' }, body: Buffer.alloc(0) },
      ]),
      InvalidArgumentError,
    );
    await assert.rejects(
      unpack([
        { header: { name: 'link', type: 'symlink', linkname: outside } },
        { header: { name: 'link/.wh..wh..opq' }, body: Buffer.alloc(0) },
      ]),
      InvalidArgumentError,
    );
    assert.deepEqual(await readdir(outside), []);
    assert.equal(lgetxattr(outside, 'trusted.overlay.opaque'), undefined);
  });

  test("'delete' mode never removes through a symlinked parent", async () => {
    const outside = join(tmp, 'outside-del');
    await mkdir(outside);
    await writeFile(join(outside, 'keep'), 'k');
    const root = join(tmp, `root-${++n}`);
    await mkdir(root);
    await symlink(outside, join(root, 'link'));
    await assert.rejects(
      unpack([{ header: { name: 'link/.wh.keep' }, body: Buffer.alloc(0) }], 'delete', root),
      InvalidArgumentError,
    );
    await assert.rejects(
      unpack([{ header: { name: 'link/.wh..wh..opq' }, body: Buffer.alloc(0) }], 'delete', root),
      InvalidArgumentError,
    );
    assert.deepEqual(await readdir(outside), ['keep']);
  });

  test('many small files written in the background all land, with their metadata', async () => {
    const entries: PackEntry[] = [{ header: { name: 'many/' } }];
    for (let i = 0; i < 300; i++) {
      entries.push({
        header: { name: `many/f${i}`, mode: 0o640, uid: i, mtime: 1_000_000 + i },
        body: Buffer.from(`body ${i}`),
      });
    }
    const root = await unpack(entries);
    assert.equal((await readdir(join(root, 'many'))).length, 300);
    for (const i of [0, 150, 299]) {
      const st = await stat(join(root, `many/f${i}`));
      assert.deepEqual([st.mode & 0o777, st.uid, st.mtimeMs], [0o640, i, (1_000_000 + i) * 1000]);
      assert.equal(await readFile(join(root, `many/f${i}`), 'utf8'), `body ${i}`);
    }
  });
});

test('absolute entry names are refused (the root entry "/" alone is allowed)', async () => {
  const { isAbsoluteEntry } = await import('./apply.ts');
  assert.equal(isAbsoluteEntry('/etc/passwd'), true);
  assert.equal(isAbsoluteEntry('/'), false);
  assert.equal(isAbsoluteEntry('//'), false);
  assert.equal(isAbsoluteEntry('etc/passwd'), false);
  assert.equal(isAbsoluteEntry('./etc'), false);
});
