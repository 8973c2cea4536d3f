/**
 * The conformance suite every Snapshotter passes (after containerd's core/snapshots/testsuite). Each check
 * looks at the *merged view*: the returned mounts are really mounted on a temporary directory and read
 * there, then unmounted.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import {
  chmod,
  chown,
  lchown,
  link,
  lstat,
  lutimes,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { MetadataDB, SnapshotRecords } from '../metadata/index.ts';
import { lgetxattr, lsetxattr, makedev, mknod, S_IFCHR, S_IFIFO } from '../sys/index.ts';
import { CanceledError, InvalidArgumentError, NotFoundError } from '../util/errors.ts';
import { extract, pack } from '../util/tar/index.ts';
import type { PackEntry } from '../util/tar/index.ts';
import type { SnapshotterDeps } from './base.ts';
import { mountAll, unmountAll } from './mount.ts';
import { recordTests } from './snapshotter-records.suite.ts';
import { TRANSIENT_LABEL } from './types.ts';
import type { Mount, Snapshotter } from './types.ts';

const run = promisify(execFile);

/** A file capability (cap_net_bind_service+ep), as setcap writes it. */
export const CAP_NET_BIND = Buffer.from('0100000200040000000000000000000000000000', 'hex');
const T = 1_600_000_000; // a fixed mtime, in seconds

export interface SuiteContext {
  /** The data root of the snapshotter under test. */
  root: string;
  snapshotter: Snapshotter;
  db: MetadataDB;
  /** Builds a layer tar with GNU tar from a staging directory that `fill` populates. */
  gnuLayer(fill: (dir: string) => Promise<void>): Promise<string>;
  /** Unpacks a tar file into a new snapshot on `parent` and commits it as `name`. */
  commitLayer(name: string, parent: string | undefined, tarPath: string): Promise<void>;
  /** Mounts `mounts` on a fresh directory and returns it; `after()` unmounts whatever is left. */
  mount(mounts: Mount[]): Promise<string>;
  unmount(target: string): Promise<void>;
}

export function runSnapshotterSuite(
  name: string,
  factory: (deps: SnapshotterDeps) => Snapshotter,
  extra?: (ctx: () => SuiteContext) => void,
): void {
  describe(`${name} snapshotter conformance`, () => {
    let tmp: string;
    let ctx: SuiteContext;
    const mounted = new Set<string>();
    let n = 0;

    before(async () => {
      tmp = await mkdtemp(join(tmpdir(), `berth-snap-${name}-`));
      const root = join(tmp, 'root');
      await mkdir(root);
      const db = new MetadataDB(join(root, 'berth.db'));
      const snapshotter = factory({ root, records: new SnapshotRecords(db) });
      ctx = {
        root,
        snapshotter,
        db,
        async gnuLayer(fill) {
          const dir = join(tmp, `stage-${++n}`);
          await mkdir(dir);
          await fill(dir);
          const out = join(tmp, `layer-${n}.tar`);
          await run('tar', [
            '--xattrs',
            '--xattrs-include=*',
            '--format=pax',
            '--numeric-owner',
            '-C',
            dir,
            '-cf',
            out,
            '.',
          ]);
          return out;
        },
        async commitLayer(name, parent, tarPath) {
          const key = `extract-${++n} ${name}`;
          await snapshotter.prepare(key, parent, { labels: { [TRANSIENT_LABEL]: 'true' } });
          await snapshotter.applyLayer(key, extract(createReadStream(tarPath)));
          await snapshotter.commit(name, key);
        },
        async mount(mounts) {
          const target = join(tmp, `mnt-${++n}`);
          await mkdir(target);
          mountAll(mounts, target);
          mounted.add(target);
          return target;
        },
        async unmount(target) {
          await unmountAll(target);
          mounted.delete(target);
        },
      };
    });

    after(async () => {
      for (const target of mounted) await unmountAll(target, { detach: true });
      await ctx.snapshotter.close();
      ctx.db.close();
      await rm(tmp, { recursive: true, force: true });
    });

    /** Unpacks crafted entries (written with util/tar's pack) into a new active snapshot. */
    async function applyEntries(
      key: string,
      parent: string | undefined,
      entries: PackEntry[],
    ): Promise<{ size: number }> {
      await ctx.snapshotter.prepare(key, parent);
      return ctx.snapshotter.applyLayer(key, extract(pack(entries)));
    }

    /** Mounts a read-only view of `parent` and runs `check` on it. */
    async function withView(parent: string, check: (dir: string) => Promise<void>): Promise<void> {
      const key = `view-${++n}`;
      const dir = await ctx.mount(await ctx.snapshotter.view(key, parent));
      try {
        await check(dir);
      } finally {
        await ctx.unmount(dir);
        await ctx.snapshotter.remove(key);
      }
    }

    test('a base layer keeps files, dirs, symlinks, hard links, modes, owners, xattrs, long names, devices, times', async () => {
      const longDir = 'd'.repeat(150);
      const longFile = 'f'.repeat(200);
      const tarPath = await ctx.gnuLayer(async (d) => {
        await mkdir(join(d, 'etc'));
        await writeFile(join(d, 'etc/hello'), 'hello\n');
        await mkdir(join(d, 'bin'), 0o755);
        await writeFile(join(d, 'bin/tool'), 'tool');
        await chmod(join(d, 'bin/tool'), 0o4755);
        await writeFile(join(d, 'bin/sg'), 'sg');
        await chown(join(d, 'bin/sg'), 0, 42);
        await chmod(join(d, 'bin/sg'), 0o2711); // after chown, which clears setgid
        await mkdir(join(d, 'home'));
        await mkdir(join(d, 'home/user'));
        await chown(join(d, 'home/user'), 1000, 1001);
        await chmod(join(d, 'home/user'), 0o700);
        await writeFile(join(d, 'home/user/.profile'), 'x');
        await chown(join(d, 'home/user/.profile'), 1000, 1001);
        await mkdir(join(d, 'tmp'));
        await chmod(join(d, 'tmp'), 0o1777);
        await symlink('../etc/hello', join(d, 'bin/rel-link'));
        await symlink('/etc/hello', join(d, 'bin/abs-link'));
        await lchown(join(d, 'bin/abs-link'), 7, 8);
        await link(join(d, 'bin/tool'), join(d, 'bin/tool-hardlink'));
        await writeFile(join(d, 'bin/ping'), 'ping');
        lsetxattr(join(d, 'bin/ping'), 'security.capability', CAP_NET_BIND);
        lsetxattr(join(d, 'etc/hello'), 'user.note', Buffer.from('kept'));
        await mkdir(join(d, longDir));
        await writeFile(join(d, longDir, longFile), 'long');
        await symlink(`${longDir}/${longFile}`, join(d, 'long-symlink'));
        await link(join(d, longDir, longFile), join(d, 'long-hardlink'));
        await mkdir(join(d, 'dev'));
        mknod(join(d, 'dev/null'), S_IFCHR | 0o666, makedev(1, 3));
        mknod(join(d, 'dev/fifo'), S_IFIFO | 0o620);
        await chmod(join(d, 'dev/null'), 0o666); // mknod's mode passed through the umask
        await chmod(join(d, 'dev/fifo'), 0o620);
        await writeFile(join(d, 'big'), Buffer.alloc(3 << 20, 'b')); // over the in-memory threshold
        await utimes(join(d, 'etc/hello'), T, T);
        await lutimes(join(d, 'bin/rel-link'), T + 1, T + 1);
        await utimes(join(d, 'etc'), T + 2, T + 2); // after its contents are in place
      });
      await ctx.commitLayer('base', undefined, tarPath);

      await withView('base', async (m) => {
        assert.equal(await readFile(join(m, 'etc/hello'), 'utf8'), 'hello\n');
        const tool = await stat(join(m, 'bin/tool'));
        assert.equal(tool.mode & 0o7777, 0o4755, 'setuid kept');
        const sg = await stat(join(m, 'bin/sg'));
        assert.equal(sg.mode & 0o7777, 0o2711, 'setgid kept');
        assert.equal(sg.gid, 42);
        const user = await stat(join(m, 'home/user'));
        assert.ok(user.isDirectory());
        assert.deepEqual([user.uid, user.gid, user.mode & 0o7777], [1000, 1001, 0o700]);
        assert.equal((await stat(join(m, 'home/user/.profile'))).uid, 1000);
        assert.equal((await stat(join(m, 'tmp'))).mode & 0o7777, 0o1777, 'sticky kept');
        assert.equal(await readlink(join(m, 'bin/rel-link')), '../etc/hello');
        assert.equal(await readFile(join(m, 'bin/rel-link'), 'utf8'), 'hello\n');
        assert.equal(await readlink(join(m, 'bin/abs-link')), '/etc/hello');
        const abs = await lstat(join(m, 'bin/abs-link'));
        assert.deepEqual([abs.uid, abs.gid], [7, 8]);
        const hl = await stat(join(m, 'bin/tool-hardlink'));
        assert.equal(hl.ino, tool.ino, 'hard link shares the inode');
        assert.equal(hl.nlink, 2);
        assert.deepEqual(lgetxattr(join(m, 'bin/ping'), 'security.capability'), CAP_NET_BIND);
        assert.deepEqual(lgetxattr(join(m, 'etc/hello'), 'user.note'), Buffer.from('kept'));
        assert.equal(await readFile(join(m, longDir, longFile), 'utf8'), 'long');
        assert.equal(await readlink(join(m, 'long-symlink')), `${longDir}/${longFile}`);
        assert.equal((await stat(join(m, 'long-hardlink'))).ino, (await stat(join(m, longDir, longFile))).ino);
        const dev = await stat(join(m, 'dev/null'));
        assert.ok(dev.isCharacterDevice());
        assert.equal(dev.rdev, Number(makedev(1, 3)));
        assert.equal(dev.mode & 0o7777, 0o666);
        const fifo = await lstat(join(m, 'dev/fifo'));
        assert.ok(fifo.isFIFO());
        assert.equal(fifo.mode & 0o7777, 0o620);
        assert.equal((await stat(join(m, 'big'))).size, 3 << 20);
        assert.equal((await stat(join(m, 'etc/hello'))).mtimeMs, T * 1000);
        assert.equal((await lstat(join(m, 'bin/rel-link'))).mtimeMs, (T + 1) * 1000);
        assert.equal((await stat(join(m, 'etc'))).mtimeMs, (T + 2) * 1000, 'directory mtime set after its contents');
      });
    });

    test('whiteouts remove a lower file and a lower directory; an opaque directory hides lower content', async () => {
      const l1 = await ctx.gnuLayer(async (d) => {
        await mkdir(join(d, 'a'));
        await writeFile(join(d, 'a/gone'), 'x');
        await writeFile(join(d, 'a/keep'), 'k');
        await mkdir(join(d, 'dir/sub'), { recursive: true });
        await writeFile(join(d, 'dir/sub/x'), 'x');
        await mkdir(join(d, 'opq/olddir'), { recursive: true });
        await writeFile(join(d, 'opq/old'), 'old');
        await writeFile(join(d, 'opq/olddir/y'), 'y');
      });
      await ctx.commitLayer('wh-1', undefined, l1);
      const l2 = await ctx.gnuLayer(async (d) => {
        await mkdir(join(d, 'a'));
        await writeFile(join(d, 'a/.wh.gone'), '');
        await writeFile(join(d, '.wh.dir'), '');
        await mkdir(join(d, 'opq'));
        await writeFile(join(d, 'opq/.wh..wh..opq'), '');
        await writeFile(join(d, 'opq/new'), 'new');
      });
      await ctx.commitLayer('wh-2', 'wh-1', l2);
      await withView('wh-2', async (m) => {
        assert.deepEqual((await readdir(m)).sort(), ['a', 'opq']);
        assert.deepEqual(await readdir(join(m, 'a')), ['keep']);
        assert.deepEqual(await readdir(join(m, 'opq')), ['new']);
        assert.equal(await readFile(join(m, 'opq/new'), 'utf8'), 'new');
      });
      await withView('wh-1', async (m) => {
        assert.deepEqual((await readdir(m)).sort(), ['a', 'dir', 'opq'], 'the lower layer is untouched');
        assert.deepEqual((await readdir(join(m, 'opq'))).sort(), ['old', 'olddir']);
      });
    });

    test('a three-layer chain: changes, type replacements, and a directory entry merging with a lower one', async () => {
      await applyEntries('c1-active', undefined, [
        { header: { name: 'f', mtime: T }, body: Buffer.from('v1') },
        { header: { name: 'was-file', mtime: T }, body: Buffer.from('file') },
        { header: { name: 'was-dir/', mode: 0o755 } },
        { header: { name: 'was-dir/inner' }, body: Buffer.from('i') },
        { header: { name: 'merge/', mode: 0o755 } },
        { header: { name: 'merge/lower' }, body: Buffer.from('l') },
      ]);
      await ctx.snapshotter.commit('c1', 'c1-active');
      await applyEntries('c2-active', 'c1', [
        { header: { name: 'f' }, body: Buffer.from('v2') },
        { header: { name: 'was-file/', mode: 0o750 } },
        { header: { name: 'was-file/now-dir' }, body: Buffer.from('d') },
        { header: { name: 'was-dir', type: 'symlink', linkname: 'f' } },
        { header: { name: 'merge/', mode: 0o711, uid: 5 } },
        { header: { name: 'merge/upper' }, body: Buffer.from('u') },
      ]);
      await ctx.snapshotter.commit('c2', 'c2-active');
      await applyEntries('c3-active', 'c2', [
        { header: { name: 'f', mode: 0o600 }, body: Buffer.from('v3') },
        { header: { name: 'new' }, body: Buffer.from('n') },
      ]);
      await ctx.snapshotter.commit('c3', 'c3-active');
      await withView('c3', async (m) => {
        assert.equal(await readFile(join(m, 'f'), 'utf8'), 'v3');
        assert.equal((await stat(join(m, 'f'))).mode & 0o777, 0o600);
        assert.equal(await readFile(join(m, 'new'), 'utf8'), 'n');
        assert.ok((await lstat(join(m, 'was-file'))).isDirectory());
        assert.equal((await stat(join(m, 'was-file'))).mode & 0o777, 0o750);
        assert.deepEqual(await readdir(join(m, 'was-file')), ['now-dir']);
        assert.equal(await readlink(join(m, 'was-dir')), 'f');
        assert.deepEqual((await readdir(join(m, 'merge'))).sort(), ['lower', 'upper']);
        const merge = await stat(join(m, 'merge'));
        assert.deepEqual([merge.mode & 0o777, merge.uid], [0o711, 5]);
      });
      await withView('c1', async (m) => {
        assert.equal(await readFile(join(m, 'f'), 'utf8'), 'v1');
      });
    });

    test('two images share a committed layer: the second finds it with stat and reuses it', async () => {
      const unpacked: string[] = [];
      async function unpackImage(layers: { id: string; entries: PackEntry[] }[]): Promise<string> {
        let parent: string | undefined;
        for (const layer of layers) {
          const chain: string = parent === undefined ? `sha256:${layer.id}` : `${parent}+${layer.id}`;
          try {
            await ctx.snapshotter.stat(chain);
          } catch (err) {
            if (!(err instanceof NotFoundError)) throw err;
            await applyEntries(`extract ${chain}`, parent, layer.entries);
            await ctx.snapshotter.commit(chain, `extract ${chain}`);
            unpacked.push(layer.id);
          }
          parent = chain;
        }
        return parent!;
      }
      const shared = { id: 'shared', entries: [{ header: { name: 'common' }, body: Buffer.from('c') }] };
      const a = await unpackImage([
        shared,
        { id: 'a', entries: [{ header: { name: 'only-a' }, body: Buffer.from('a') }] },
      ]);
      const b = await unpackImage([
        shared,
        { id: 'b', entries: [{ header: { name: 'only-b' }, body: Buffer.from('b') }] },
      ]);
      assert.deepEqual(unpacked, ['shared', 'a', 'b']);
      assert.equal((await ctx.snapshotter.stat(a)).parent, (await ctx.snapshotter.stat(b)).parent);
      await withView(a, async (m) => assert.deepEqual((await readdir(m)).sort(), ['common', 'only-a']));
      await withView(b, async (m) => assert.deepEqual((await readdir(m)).sort(), ['common', 'only-b']));
    });

    test('an active snapshot is writable through its mounts, and commit keeps what was written', async () => {
      await applyEntries('rw-base-active', undefined, [{ header: { name: 'base' }, body: Buffer.from('b') }]);
      await ctx.snapshotter.commit('rw-base', 'rw-base-active');
      const mounts = await ctx.snapshotter.prepare('rw-container', 'rw-base');
      assert.deepEqual(await ctx.snapshotter.mounts('rw-container'), mounts);
      const m = await ctx.mount(mounts);
      await writeFile(join(m, 'written'), Buffer.alloc(1 << 20, 1));
      await rm(join(m, 'base'));
      await ctx.unmount(m);
      const usage = await ctx.snapshotter.usage('rw-container');
      assert.ok(usage.size >= 1 << 20, `usage ${usage.size} counts the 1 MiB written`);
      assert.ok(usage.inodes >= 2);
      await ctx.snapshotter.commit('rw-committed', 'rw-container');
      await withView('rw-committed', async (v) => {
        assert.deepEqual(await readdir(v), ['written']);
        await assert.rejects(writeFile(join(v, 'x'), 'x'), { code: 'EROFS' });
      });
      await withView('rw-base', async (v) => assert.deepEqual(await readdir(v), ['base']));
    });

    test('an empty snapshot without parent mounts as an empty writable directory; an empty view is read-only', async () => {
      const m = await ctx.mount(await ctx.snapshotter.prepare('empty-active'));
      assert.deepEqual(await readdir(m), []);
      await writeFile(join(m, 'x'), 'x');
      await ctx.unmount(m);
      const v = await ctx.mount(await ctx.snapshotter.view('empty-view'));
      await assert.rejects(writeFile(join(v, 'x'), 'x'), { code: 'EROFS' });
      await ctx.unmount(v);
      await ctx.snapshotter.remove('empty-active');
      await ctx.snapshotter.remove('empty-view');
    });

    recordTests(() => ctx);

    test('layer paths that escape the root are rejected and nothing is written outside', async () => {
      const outside = join(tmp, 'outside');
      await mkdir(outside, { recursive: true });
      await writeFile(join(outside, 'secret'), 'secret');
      const cases: { what: string; entries: PackEntry[]; bad: string }[] = [
        { what: 'dot-dot', entries: [{ header: { name: '../x' }, body: Buffer.from('x') }], bad: '../x' },
        {
          what: 'inner dot-dot',
          entries: [{ header: { name: 'a/../../x' }, body: Buffer.from('x') }],
          bad: 'a/../../x',
        },
        {
          what: 'symlink parent',
          entries: [
            { header: { name: 'evil', type: 'symlink', linkname: outside } },
            { header: { name: 'evil/planted' }, body: Buffer.from('x') },
          ],
          bad: 'evil/planted',
        },
        {
          what: 'hard link to outside',
          entries: [{ header: { name: 'hl', type: 'link', linkname: `../../..${outside}/secret` } }],
          bad: 'hl',
        },
        {
          what: 'hard link through a symlink parent',
          entries: [
            { header: { name: 'evil2', type: 'symlink', linkname: outside } },
            { header: { name: 'hl2', type: 'link', linkname: 'evil2/secret' } },
          ],
          bad: 'hl2',
        },
        {
          what: 'hard link to nothing',
          entries: [{ header: { name: 'hl3', type: 'link', linkname: 'missing' } }],
          bad: 'hl3',
        },
      ];
      for (const c of cases) {
        const key = `escape-${++n}`;
        await assert.rejects(
          applyEntries(key, undefined, c.entries),
          (err: Error) => err instanceof InvalidArgumentError && err.message.includes(`"${c.bad}"`),
          c.what,
        );
        await ctx.snapshotter.remove(key);
      }
      assert.deepEqual(await readdir(outside), ['secret']);
      assert.equal((await stat(join(outside, 'secret'))).nlink, 1);
      await assert.rejects(stat(join(tmp, 'x')), { code: 'ENOENT' });
      await assert.rejects(stat(join(ctx.root, 'x')), { code: 'ENOENT' });

      // An absolute name is refused (Docker would strip the '/'); symlinks themselves may point anywhere.
      await ctx.snapshotter.prepare('absname-active');
      await assert.rejects(
        ctx.snapshotter.applyLayer(
          'absname-active',
          extract(pack([{ header: { name: '/abs/file' }, body: Buffer.from('in') }])),
        ),
        /layer entry "\/abs\/file" has an absolute path/,
      );
      await assert.rejects(stat('/abs/file'), { code: 'ENOENT' });
      await ctx.snapshotter.remove('absname-active');
      await applyEntries('abs-active', undefined, [
        { header: { name: 'out', type: 'symlink', linkname: '../../../../etc/passwd' } },
      ]);
      await ctx.snapshotter.commit('abs', 'abs-active');
      await withView('abs', async (m) => {
        assert.equal(await readlink(join(m, 'out')), '../../../../etc/passwd');
      });
    });

    test('applyLayer stops with CanceledError when its signal aborts', async () => {
      await ctx.snapshotter.prepare('abort-active');
      const ac = new AbortController();
      async function* entries() {
        yield { header: { name: 'first' }, body: Buffer.from('1') } as PackEntry;
        ac.abort();
        yield { header: { name: 'second' }, body: Buffer.from('2') } as PackEntry;
      }
      await assert.rejects(
        ctx.snapshotter.applyLayer('abort-active', extract(pack(entries())), { signal: ac.signal }),
        CanceledError,
      );
      await ctx.snapshotter.remove('abort-active');
    });

    test('applyLayer returns the tar size', async () => {
      const { size } = await applyEntries('size-active', undefined, [
        { header: { name: 'a' }, body: Buffer.alloc(1000) },
        { header: { name: 'b/' } },
      ]);
      assert.equal(size, 512 + 1024 + 512 + 1024);
      await ctx.snapshotter.remove('size-active');
    });

    test('remove takes the directory from its id and unlinks every file of it at once', async () => {
      const dir = join(ctx.root, 'snapshots');
      const before = new Set(await readdir(dir));
      await applyEntries('gone-active', undefined, [
        { header: { name: 'f' }, body: Buffer.from('x') },
        { header: { name: 'd/' } },
        { header: { name: 'd/g' }, body: Buffer.from('y') },
      ]);
      const [id] = (await readdir(dir)).filter((x) => !before.has(x));
      assert.ok(id !== undefined);
      await ctx.snapshotter.remove('gone-active');
      await assert.rejects(stat(join(dir, id)), { code: 'ENOENT' });
      // On ext4 the directories stay a while under another name (removed.ts), empty of files.
      for (const name of (await readdir(dir)).filter((x) => !before.has(x))) {
        assert.ok(name.startsWith('.removed-'), name);
        const kept = await readdir(join(dir, name), { withFileTypes: true, recursive: true });
        assert.deepEqual(
          kept.filter((e) => !e.isDirectory()).map((e) => e.name),
          [],
        );
      }
    });

    test('repair removes orphan directories and interrupted unpacks, keeping everything else', async () => {
      const orphan = join(ctx.root, 'snapshots', '9999');
      await mkdir(join(orphan, 'fs'), { recursive: true });
      await writeFile(join(orphan, 'fs', 'junk'), 'x');
      // A directory being made when the daemon died, before it took its id's name.
      const unnamed = join(ctx.root, 'snapshots', '.new-0123456789abcdef');
      await mkdir(join(unnamed, 'fs'), { recursive: true });
      await ctx.snapshotter.prepare('crashed-unpack', undefined, { labels: { [TRANSIENT_LABEL]: 'true' } });
      await ctx.snapshotter.prepare('container-rootfs');
      // A restart: a new snapshotter over the same data root and DB.
      const again = factory({ root: ctx.root, records: new SnapshotRecords(ctx.db) });
      const { removed } = await again.repair();
      assert.ok(removed.includes('crashed-unpack'), `removed: ${removed.join(', ')}`);
      assert.ok(removed.includes(orphan), `removed: ${removed.join(', ')}`);
      assert.ok(removed.includes(unnamed), `removed: ${removed.join(', ')}`);
      await assert.rejects(again.stat('crashed-unpack'), NotFoundError);
      await assert.rejects(stat(orphan), { code: 'ENOENT' });
      assert.equal((await again.stat('container-rootfs')).kind, 'active');
      assert.equal((await again.stat('base')).kind, 'committed');
      assert.deepEqual((await again.repair()).removed, []);
      await again.remove('container-rootfs');
      await again.close();
      await assert.rejects(again.stat('base'), /closed/);
    });

    extra?.(() => ctx);
  });
}
