import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readFile, rm, stat, symlink, writeFile, lstat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  lgetxattr,
  llistxattr,
  lremovexattr,
  lsetxattr,
  makedev,
  mknod,
  mount,
  MNT_DETACH,
  MS_BIND,
  MS_RDONLY,
  MS_REMOUNT,
  S_IFCHR,
  S_IFIFO,
  setns,
  umount2,
  XATTR_CREATE,
} from './index.ts';

let dir: string;
const mounted: string[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-sys-'));
});

after(async () => {
  for (const m of mounted.reverse()) {
    try {
      umount2(m, MNT_DETACH);
    } catch {
      // already unmounted by the test
    }
  }
  await rm(dir, { recursive: true, force: true });
});

function isMounted(path: string): Promise<boolean> {
  return readFile('/proc/self/mountinfo', 'utf8').then((s) => s.split('\n').some((l) => l.split(' ')[4] === path));
}

describe('makedev', () => {
  test('encodes like glibc', () => {
    assert.equal(makedev(0, 0), 0n);
    assert.equal(makedev(1, 3), 0x103n);
    assert.equal(makedev(8, 17), 0x811n);
    assert.equal(makedev(259, 65536), 0x10010300n);
    // major 4096 and minor 256 take the high bits
    assert.equal(makedev(0x1000, 0x100), (0x1000n << 32n) | (0x100n << 12n));
  });
});

describe('mknod', () => {
  test('creates a character device with the given numbers', async () => {
    const p = join(dir, 'null2');
    mknod(p, S_IFCHR | 0o666, makedev(1, 3));
    const st = await stat(p);
    assert.ok(st.isCharacterDevice());
    assert.equal(st.rdev, 0x103);
    await writeFile(p, 'discarded'); // it really is /dev/null
  });

  test('creates a fifo and a 0/0 whiteout device', async () => {
    mknod(join(dir, 'fifo'), S_IFIFO | 0o600);
    assert.ok((await lstat(join(dir, 'fifo'))).isFIFO());
    mknod(join(dir, 'wh'), S_IFCHR, 0);
    const st = await lstat(join(dir, 'wh'));
    assert.ok(st.isCharacterDevice());
    assert.equal(st.rdev, 0);
  });

  test('throws node:fs-style errors', () => {
    const p = join(dir, 'missing', 'x');
    assert.throws(
      () => mknod(p, S_IFIFO | 0o600),
      (err: NodeJS.ErrnoException) => {
        assert.equal(err.code, 'ENOENT');
        assert.equal(err.errno, -2);
        assert.equal(err.syscall, 'mknod');
        assert.equal(err.path, p);
        assert.match(err.message, /^ENOENT: no such file or directory, mknod '.*missing\/x'$/);
        return true;
      },
    );
    assert.throws(() => mknod(join(dir, 'fifo'), S_IFIFO | 0o600), { code: 'EEXIST' });
  });
});

describe('xattrs', () => {
  test('set, get, list and remove, on a symlink itself', async () => {
    const f = join(dir, 'xf');
    await writeFile(f, '');
    const cap = Buffer.from('0100000200200000000000000000000000000000', 'hex');
    lsetxattr(f, 'security.capability', cap);
    lsetxattr(f, 'trusted.berth', Buffer.from('v'));
    lsetxattr(f, 'user.empty', Buffer.alloc(0));
    assert.deepEqual(lgetxattr(f, 'security.capability'), cap);
    assert.deepEqual(lgetxattr(f, 'user.empty'), Buffer.alloc(0));
    assert.equal(lgetxattr(f, 'user.absent'), undefined);
    assert.deepEqual(llistxattr(f).sort(), ['security.capability', 'trusted.berth', 'user.empty']);
    assert.throws(() => lsetxattr(f, 'trusted.berth', Buffer.from('w'), XATTR_CREATE), { code: 'EEXIST' });
    lremovexattr(f, 'trusted.berth');
    assert.equal(lgetxattr(f, 'trusted.berth'), undefined);
    assert.throws(() => lremovexattr(f, 'trusted.berth'), { code: 'ENODATA', syscall: 'lremovexattr' });

    const l = join(dir, 'xl');
    await symlink('xf', l);
    lsetxattr(l, 'trusted.link', Buffer.from('on-link'));
    assert.deepEqual(lgetxattr(l, 'trusted.link'), Buffer.from('on-link'));
    assert.equal(lgetxattr(f, 'trusted.link'), undefined);
    assert.deepEqual(llistxattr(join(dir, 'fifo')), []);
  });

  test('a large value round-trips', async () => {
    const f = join(dir, 'xbig');
    await writeFile(f, '');
    const big = Buffer.alloc(3000, 7);
    lsetxattr(f, 'trusted.big', big);
    assert.deepEqual(lgetxattr(f, 'trusted.big'), big);
  });

  test('errors name the path', () => {
    assert.throws(() => lgetxattr(join(dir, 'nope'), 'user.x'), { code: 'ENOENT', syscall: 'lgetxattr' });
    assert.throws(() => llistxattr(join(dir, 'nope')), { code: 'ENOENT', syscall: 'llistxattr' });
  });
});

describe('mount', () => {
  test('bind mount, read-only remount, umount2', async () => {
    const src = join(dir, 'bsrc');
    const dst = join(dir, 'bdst');
    await mkdir(src);
    await mkdir(dst);
    await writeFile(join(src, 'f'), 'hello');
    mount(src, dst, null, MS_BIND);
    mounted.push(dst);
    assert.ok(await isMounted(dst));
    assert.equal(await readFile(join(dst, 'f'), 'utf8'), 'hello');
    mount('', dst, null, MS_REMOUNT | MS_BIND | MS_RDONLY);
    await assert.rejects(writeFile(join(dst, 'g'), 'x'), { code: 'EROFS' });
    umount2(dst);
    assert.equal(await isMounted(dst), false);
    assert.throws(() => umount2(dst), { code: 'EINVAL', syscall: 'umount2', path: dst });
  });

  test('overlay mount merges lower and upper, and umount with MNT_DETACH', async () => {
    const [lower, upper, work, merged] = ['lower', 'upper', 'work', 'merged'].map((n) => join(dir, n)) as [
      string,
      string,
      string,
      string,
    ];
    for (const d of [lower, upper, work, merged]) await mkdir(d);
    await writeFile(join(lower, 'a'), 'lower-a');
    await writeFile(join(lower, 'b'), 'lower-b');
    mknod(join(upper, 'b'), S_IFCHR, 0); // whiteout
    await writeFile(join(upper, 'c'), 'upper-c');
    mount('overlay', merged, 'overlay', 0, `lowerdir=${lower},upperdir=${upper},workdir=${work}`);
    mounted.push(merged);
    assert.equal(await readFile(join(merged, 'a'), 'utf8'), 'lower-a');
    await assert.rejects(stat(join(merged, 'b')), { code: 'ENOENT' });
    assert.equal(await readFile(join(merged, 'c'), 'utf8'), 'upper-c');
    umount2(merged, MNT_DETACH);
    assert.equal(await isMounted(merged), false);
  });

  test('errors are node:fs-style and too-long data is refused before the call', async () => {
    const missing = join(dir, 'no-such-dir');
    assert.throws(
      () => mount('overlay', missing, 'overlay', 0, 'lowerdir=/x'),
      (err: NodeJS.ErrnoException) => {
        assert.equal(err.code, 'ENOENT');
        assert.equal(err.syscall, 'mount');
        assert.equal((err as { dest?: string }).dest, missing);
        return true;
      },
    );
    assert.throws(() => mount('overlay', dir, 'overlay', 0, 'x'.repeat(4096)), RangeError);
  });
});

describe('setns', () => {
  test('rejects a descriptor that is not a namespace', () => {
    assert.throws(() => setns(-1, 0), { code: 'EBADF', syscall: 'setns' });
  });
});
