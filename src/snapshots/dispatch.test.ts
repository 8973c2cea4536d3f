import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { lgetxattr } from '../sys/index.ts';
import { pack, type PackEntry } from '../util/tar/index.ts';
import { unpackTar } from './apply.ts';
import { UnpackPool } from './pool.ts';
import { SLOT } from './unpack-protocol.ts';

// One applier does a layer in order; three share it where order allows (dispatch.ts). Whatever the layer, both
// must leave the same tree, or both refuse it.
let tmp: string;
const alone = new UnpackPool({ readers: 1, appliers: 1 });
const shared = new UnpackPool({ readers: 2, appliers: 3 });
/** The reader's own applier takes a step whenever both applier threads have one waiting: it does much of the work. */
const busyReader = new UnpackPool({ readers: 1, appliers: 3 }, { localAfter: 1 });
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'berth-dispatch-'));
});
after(async () => {
  await Promise.all([alone.close(), shared.close(), busyReader.close()]);
  await rm(tmp, { recursive: true, force: true });
});

/** A small deterministic PRNG (mulberry32), so a failing case can be run again by its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A random layer: directories over a few names (a, b, c), files (f, g, h), symlinks (s), hard links (l) and
 * whiteouts in them, in random order; now and then a directory replaced by a file or a symlink, or a file by a
 * directory, so that some layers are refused (writing through a symlink, under a file).
 */
function randomLayer(seed: number): PackEntry[] {
  const r = rng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)]!;
  const dir = (): string => Array.from({ length: Math.floor(r() * 3) }, () => pick(['a', 'b', 'c'])).join('/');
  const under = (d: string, n: string): string => (d === '' ? n : `${d}/${n}`);
  const files: string[] = [];
  const out: PackEntry[] = [];
  const mtime = 1_600_000_000 + Math.floor(r() * 1000);
  for (let i = 0, n = 10 + Math.floor(r() * 40); i < n; i++) {
    const d = dir();
    const kind = r();
    const meta = { mode: pick([0o755, 0o644, 0o600, 0o4755]), uid: pick([0, 1, 1000]), mtime: mtime + i };
    const file = (p: string): void => {
      out.push({ header: { name: p, ...meta }, body: Buffer.alloc(pick([0, 1, 511, 4096, SLOT + 7, 3 * SLOT]), i) });
      files.push(p);
    };
    if (kind < 0.25) {
      if (d !== '') out.push({ header: { name: `${d}/`, type: 'directory', ...meta } });
    } else if (kind < 0.65) file(under(d, pick(['f', 'g', 'h'])));
    else if (kind < 0.72)
      out.push({ header: { name: under(d, 's'), type: 'symlink', linkname: pick(['../x', '/etc', 'f']) } });
    else if (kind < 0.82 && files.length > 0)
      out.push({ header: { name: under(d, 'l'), type: 'link', linkname: pick(files) } });
    else if (kind < 0.88) out.push({ header: { name: under(d, `.wh.${pick(['f', 'a', 's', 'zz'])}`) } });
    else if (kind < 0.92) out.push({ header: { name: under(d, '.wh..wh..opq') } });
    else if (kind < 0.96 && d !== '')
      file(d); // a directory (maybe) replaced by a file
    else if (d !== '') out.push({ header: { name: d, type: 'symlink', linkname: pick(['/tmp', 'a']) } });
  }
  return out;
}

/** Everything about a tree that an unpack decides, hard links as groups of paths. */
function describe(root: string): string[] {
  const out: string[] = [];
  const inodes = new Map<number, string>();
  const walk = (rel: string): void => {
    const abs = rel === '' ? root : join(root, rel);
    const st = lstatSync(abs);
    let what = `${rel || '.'} mode=${(st.mode & 0o7777).toString(8)} uid=${st.uid} gid=${st.gid}`;
    // Parents the layer does not name keep the time they were made at: not the unpack's to decide.
    if (rel !== '') what += ` mtime=${st.mtimeMs > 1_700_000_000_000 ? 'now' : st.mtimeMs}`;
    if (st.isDirectory()) {
      what += ` dir opaque=${lgetxattr(abs, 'trusted.overlay.opaque')?.toString() ?? '-'}`;
      out.push(what);
      for (const n of readdirSync(abs).sort()) walk(rel === '' ? n : `${rel}/${n}`);
      return;
    }
    if (st.isSymbolicLink()) what += ` symlink ${readlinkSync(abs)}`;
    else if (st.isCharacterDevice()) what += ` chardev ${st.rdev}`;
    else {
      const first = inodes.get(st.ino);
      if (first !== undefined) what += ` hardlink-of ${first}`;
      else inodes.set(st.ino, rel);
      what += ` file ${createHash('sha256').update(readFileSync(abs)).digest('hex').slice(0, 12)}`;
    }
    out.push(what);
  };
  walk('');
  return out;
}

async function unpackWith(pool: UnpackPool, entries: PackEntry[], dir: string) {
  mkdirSync(dir);
  try {
    const r = await unpackTar(dir, pack(entries), { whiteouts: 'overlay', pool });
    return { tree: describe(dir), diffId: r.diffId, size: r.size, fileBytes: r.fileBytes };
  } catch (err) {
    return { error: (err as Error).constructor.name };
  }
}

test('shared among three appliers, a random layer leaves the same tree as one applier does, or fails as it does', async () => {
  let failed = 0;
  const cases = 150;
  for (let seed = 1; seed <= cases; seed++) {
    const entries = randomLayer(seed);
    const one = await unpackWith(alone, entries, join(tmp, `alone-${seed}`));
    const three = await unpackWith(shared, entries, join(tmp, `shared-${seed}`));
    const mixed = await unpackWith(busyReader, entries, join(tmp, `mixed-${seed}`));
    if ('error' in one) {
      failed++;
      assert.deepEqual(three, one, `seed ${seed}: one applier failed with ${one.error}`);
      assert.deepEqual(mixed, one, `seed ${seed}, the reader busy: one applier failed with ${one.error}`);
    } else {
      assert.deepEqual(three, one, `seed ${seed}`);
      assert.deepEqual(mixed, one, `seed ${seed}, the reader busy`);
    }
    for (const d of ['alone', 'shared', 'mixed']) await rm(join(tmp, `${d}-${seed}`), { recursive: true, force: true });
  }
  // Both outcomes were exercised.
  assert.ok(failed > 5 && failed < cases - 20, `${failed} of ${cases} layers were refused`);
});

test('a directory replaced by a symlink: no applier writes through it with what it knew of the directory', async () => {
  const outside = join(tmp, 'outside');
  mkdirSync(outside);
  const entries: PackEntry[] = [
    { header: { name: 'd/', type: 'directory' } },
    { header: { name: 'd/sub/', type: 'directory' } },
  ];
  for (let i = 0; i < 40; i++) entries.push({ header: { name: `d/sub/f${i}` }, body: Buffer.alloc(100, i) });
  entries.push({ header: { name: 'd', type: 'symlink', linkname: outside } });
  entries.push({ header: { name: 'd/sub/evil' }, body: Buffer.from('x') });
  const root = join(tmp, 'replaced');
  mkdirSync(root);
  await assert.rejects(unpackTar(root, pack(entries), { whiteouts: 'overlay', pool: shared }), /symlink "d"/);
  assert.deepEqual(readdirSync(outside), []);
});

test("a layer's content bytes count file bodies and symlink targets, as dockerd's overlay2 counts a layer's size", async () => {
  const entries: PackEntry[] = [
    { header: { name: 'bin/', type: 'directory' } },
    { header: { name: 'bin/busybox' }, body: Buffer.alloc(1000, 1) },
    { header: { name: 'bin/sh', type: 'symlink', linkname: 'busybox' } },
    { header: { name: 'bin/ls', type: 'link', linkname: 'bin/busybox' } },
  ];
  const r = await unpackWith(alone, entries, join(tmp, 'content-bytes'));
  assert.ok(!('error' in r));
  assert.equal(r.fileBytes, 1000 + 'busybox'.length, 'the hard link is not counted again');
});
