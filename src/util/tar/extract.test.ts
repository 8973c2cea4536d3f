import assert from 'node:assert/strict';
import { createReadStream, lstatSync, readFileSync, readlinkSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { extract } from './extract.ts';
import {
  BINARY_XATTR,
  CAPABILITY,
  gnuTar,
  major,
  makeFixtureTree,
  minor,
  readAll,
  readXattrs,
  sha256hex,
  tempDir,
  walk,
  type FixtureOptions,
  type ReadEntry,
} from './testkit.ts';
import type { TarEntryType } from './types.ts';

const FORMATS: Array<[string, FixtureOptions]> = [
  ['pax', { devices: true, longNames: true, splitName: true, bigIds: true, xattrs: true }],
  ['gnu', { devices: true, longNames: true, splitName: true, bigIds: true, xattrs: false }],
  ['ustar', { devices: true, longNames: false, splitName: true, bigIds: false, xattrs: false }],
  ['v7', { devices: false, longNames: false, splitName: false, bigIds: false, xattrs: false }],
];

function typeOf(st: Stats): TarEntryType {
  if (st.isDirectory()) return 'directory';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFIFO()) return 'fifo';
  if (st.isCharacterDevice()) return 'character-device';
  if (st.isBlockDevice()) return 'block-device';
  return 'file';
}

/** Checks every entry GNU tar wrote for `root` against the file system it came from. */
function checkAgainstTree(entries: ReadEntry[], root: string, format: string): void {
  const paths = ['', ...walk(root)];
  const nameOf = (p: string): string => {
    const dir = lstatSync(join(root, p)).isDirectory();
    return p === '' ? './' : `./${p}${dir ? '/' : ''}`;
  };
  assert.deepEqual(entries.map((e) => e.header.name).sort(), paths.map(nameOf).sort());
  const byName = new Map(entries.map((e) => [e.header.name, e]));
  for (const p of paths) {
    const path = join(root, p);
    const st = lstatSync(path, { bigint: true });
    const { header: h, data } = byName.get(nameOf(p))!;
    const what = `${format} ${nameOf(p)}`;
    assert.equal(h.mode, Number(st.mode) & 0o7777, what);
    assert.equal(h.uid, Number(st.uid), what);
    assert.equal(h.gid, Number(st.gid), what);
    assert.equal(h.uname, format === 'v7' || st.uid !== 0n ? h.uname : 'root', what);
    if (format === 'v7') assert.equal(h.uname, '', what);
    const seconds = Number(st.mtimeNs / 1_000_000_000n);
    if (format === 'pax') assert.ok(Math.abs(h.mtime - Number(st.mtimeNs) / 1e9) < 1e-6, `${what}: mtime ${h.mtime}`);
    else assert.equal(h.mtime, seconds, what);
    const type = typeOf(lstatSync(path));
    if (h.type === 'link') {
      // a later name of a hard-linked file; its target is an earlier entry for the same inode
      assert.equal(type, 'file', what);
      assert.equal(h.size, 0, what);
      assert.ok(byName.get(h.linkname)?.header.type === 'file', `${what}: link target ${h.linkname}`);
      assert.equal(lstatSync(join(root, h.linkname)).ino, Number(st.ino), what);
      continue;
    }
    assert.equal(h.type, type, what);
    if (type === 'file') {
      assert.equal(h.size, Number(st.size), what);
      assert.equal(sha256hex(data), sha256hex(readFileSync(path)), what);
    } else {
      assert.equal(h.size, 0, what);
      assert.equal(data.length, 0, what);
    }
    assert.equal(h.linkname, type === 'symlink' ? readlinkSync(path) : '', what);
    if (type === 'character-device' || type === 'block-device') {
      assert.deepEqual([h.devmajor, h.devminor], [major(Number(st.rdev)), minor(Number(st.rdev))], what);
    } else {
      assert.deepEqual([h.devmajor, h.devminor], [0, 0], what);
    }
    if (format === 'pax') assert.deepEqual(h.xattrs, readXattrs(path), what);
    else assert.equal(h.xattrs.size, 0, what);
  }
}

for (const [format, options] of FORMATS) {
  test(`reads every kind of entry GNU tar --format=${format} writes`, async (t) => {
    const dir = tempDir(t);
    const root = join(dir, 'root');
    makeFixtureTree(root, options);
    const archive = join(dir, 'a.tar');
    gnuTar([`--format=${format}`, ...(options.xattrs ? ['--xattrs'] : []), '-C', root, '-cf', archive, '.']);

    // odd-sized chunks make headers, PAX records and bodies straddle chunk boundaries
    const entries = await readAll(createReadStream(archive, { highWaterMark: 4099 }));
    checkAgainstTree(entries, root, format);

    // the same headers when no body is read at all, from whole-file chunks
    const names: string[] = [];
    for await (const e of extract(createReadStream(archive, { highWaterMark: 1 << 20 }))) names.push(e.header.name);
    assert.deepEqual(
      names,
      entries.map((e) => e.header.name),
    );
  });
}

test('GNU tar --format=pax: long names and links, big ids, binary xattrs come through exactly', async (t) => {
  const dir = tempDir(t);
  const root = join(dir, 'root');
  makeFixtureTree(root, FORMATS[0]![1]);
  const archive = join(dir, 'a.tar');
  gnuTar(['--format=pax', '--xattrs', '-C', root, '-cf', archive, '.']);
  const entries = await readAll(createReadStream(archive));
  const byName = new Map(entries.map((e) => [e.header.name, e.header]));

  const deep = `./${'L'.repeat(60)}/${'M'.repeat(60)}/${'N'.repeat(60)}/${'O'.repeat(60)}/${'f'.repeat(80)}`;
  assert.ok(deep.length > 255);
  const [first, second] =
    byName.get(deep)!.type === 'file' ? [deep, './hardlink-to-long'] : ['./hardlink-to-long', deep];
  assert.deepEqual([byName.get(second)!.type, byName.get(second)!.linkname], ['link', first]);
  assert.equal(byName.get(`./${'n'.repeat(120)}`)?.type, 'file');
  assert.equal(byName.get('./longlink')?.linkname, 't'.repeat(150));
  const big = byName.get('./bigid')!;
  assert.deepEqual([big.uid, big.gid], [3000000, 3000001]);
  assert.equal(big.pax.uid, '3000000');
  // plain.txt and hard are one inode: whichever GNU tar reached first holds the data
  const plain = [byName.get('./plain.txt')!, byName.get('./hard')!].find((h) => h.type === 'file')!;
  assert.equal(plain.mtime, 1614834367.25);
  assert.deepEqual(plain.xattrs.get('user.bin'), BINARY_XATTR);
  assert.deepEqual(plain.xattrs.get('user.comment'), Buffer.from('hello world'));
  assert.deepEqual(byName.get('./setuid')?.xattrs.get('security.capability'), CAPABILITY);
  assert.equal(byName.get('./setuid')?.mode, 0o4755);
  assert.equal(byName.get('./sticky/')?.mode, 0o1777);
});

test('GNU tar --format=gnu stores big ids in base-256 and they read back', async (t) => {
  const dir = tempDir(t);
  const root = join(dir, 'root');
  makeFixtureTree(root, FORMATS[1]![1]);
  const archive = join(dir, 'a.tar');
  gnuTar(['--format=gnu', '-C', root, '-cf', archive, './bigid']);
  const raw = readFileSync(archive);
  assert.equal(raw[108]! & 0x80, 0x80, 'uid field is base-256');
  const [entry] = await readAll(createReadStream(archive));
  assert.deepEqual([entry!.header.uid, entry!.header.gid], [3000000, 3000001]);
  assert.deepEqual(entry!.header.pax, {});
});

test('PAX global headers from GNU tar apply to every later entry', async (t) => {
  const dir = tempDir(t);
  const root = join(dir, 'root');
  makeFixtureTree(root, FORMATS[3]![1]);
  const archive = join(dir, 'a.tar');
  gnuTar([
    '--format=pax',
    '--pax-option=globexthdr.name=GlobalHead,comment:=everyone',
    '--pax-option=delete=atime,delete=ctime',
    '-C',
    root,
    '-cf',
    archive,
    'empty',
    'owned',
  ]);
  const entries = await readAll(createReadStream(archive));
  assert.deepEqual(
    entries.map((e) => [e.header.name, e.header.pax.comment]),
    [
      ['empty', 'everyone'],
      ['owned', 'everyone'],
    ],
  );
});

test('a body chunk handed over whole may be freed by its reader: the archive offsets still add up', async () => {
  const { pack } = await import('./pack.ts');
  const { releaseChunk } = await import('../chunks.ts');
  const a = Buffer.alloc(64 << 10, 0x61);
  const b = Buffer.alloc(64 << 10, 0x62);
  const parts: Buffer[] = [];
  for await (const c of pack([
    { header: { name: 'a' }, body: a },
    { header: { name: 'b' }, body: b },
  ]))
    parts.push(Buffer.from(c));
  const tar = Buffer.concat(parts);
  // The source's pieces: each header on its own, each body a buffer of its own; the archive cut 100 bytes into b's
  // second half.
  const bStart = 512 + (64 << 10) + 512;
  const cut = bStart + (32 << 10) + 100;
  const pieces = [
    [0, 512],
    [512, 512 + (64 << 10)],
    [512 + (64 << 10), bStart],
    [bStart, bStart + (32 << 10)],
    [bStart + (32 << 10), cut],
  ].map(([s, e]) => Uint8Array.prototype.slice.call(tar, s!, e!)); // each a copy with its own ArrayBuffer
  async function* source(): AsyncGenerator<Uint8Array> {
    yield* pieces;
  }
  const seen: string[] = [];
  let freed = 0;
  await assert.rejects(
    (async () => {
      for await (const { header, body } of extract(source())) {
        let n = 0;
        for await (const chunk of body) {
          assert.ok(chunk.every((x) => x === header.name.charCodeAt(0)));
          n += chunk.length;
          if (releaseChunk(chunk)) freed++;
        }
        seen.push(`${header.name} ${n}`);
      }
    })(),
    (err: Error) => err.message.includes(`unexpected end of tar archive at offset ${cut}`),
  );
  assert.deepEqual(seen, ['a 65536']);
  assert.equal(freed, 2, "a's body and b's first half went whole and were freed");
  assert.equal(pieces[1]!.length, 0);
  assert.equal(pieces[4]!.length, 100, 'a piece too small to be worth a detach is kept');
});
