import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { lgetxattr } from '../sys/index.ts';
import { FailedPreconditionError } from '../util/errors.ts';
import { extract, pack } from '../util/tar/index.ts';
import { OverlaySnapshotter } from './overlay.ts';
import { runSnapshotterSuite } from './snapshotter.suite.ts';

runSnapshotterSuite(
  'overlay',
  (deps) => new OverlaySnapshotter(deps),
  (ctx) => {
    test('overlay: the snapshots directory is marked as the top of directory hierarchies where ext4 keeps the mark', async () => {
      const { snapshotter: s, root } = ctx();
      await s.prepare('ov-top-active');
      const dir = join(root, 'snapshots');
      let attrs: string;
      try {
        attrs = execFileSync('lsattr', ['-d', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      } catch {
        return; // a file system without ext2/3/4 attributes: nothing to mark (util/topdir.test.ts covers that)
      }
      const flags = attrs.split(' ')[0]!;
      if (flags.includes('e')) assert.ok(flags.includes('T'), `lsattr -d ${dir}: ${attrs}`);
      await s.remove('ov-top-active');
    });

    test('overlay: a committed layer holds exactly the layer, whiteouts in overlayfs form', async () => {
      const { snapshotter: s, root } = ctx();
      await s.prepare('ov-1-active');
      await s.applyLayer(
        'ov-1-active',
        extract(
          pack([
            { header: { name: 'd/' } },
            { header: { name: 'd/x' }, body: Buffer.from('x') },
            { header: { name: 'gone' }, body: Buffer.from('g') },
          ]),
        ),
      );
      await s.commit('ov-1', 'ov-1-active');
      await s.prepare('ov-2-active', 'ov-1');
      const forged = new Map([
        ['trusted.overlay.redirect', Buffer.from('/etc')],
        ['user.ok', Buffer.from('1')],
      ]);
      await s.applyLayer(
        'ov-2-active',
        extract(
          pack([
            { header: { name: 'd/' } },
            { header: { name: 'd/.wh..wh..opq' }, body: Buffer.alloc(0) },
            { header: { name: '.wh.gone' }, body: Buffer.alloc(0) },
            { header: { name: 'trusted-forged', xattrs: forged }, body: Buffer.from('f') },
          ]),
        ),
      );
      const mounts = await s.mounts('ov-2-active');
      assert.equal(mounts.length, 1);
      assert.equal(mounts[0]!.type, 'overlay');
      const [lower, upper, work] = mounts[0]!.options;
      assert.match(lower!, /^lowerdir=.*\/snapshots\/\d+\/fs$/);
      assert.match(upper!, /^upperdir=.*\/snapshots\/\d+\/fs$/);
      assert.match(work!, /^workdir=.*\/snapshots\/\d+\/work$/);
      const fs = upper!.slice('upperdir='.length);
      assert.deepEqual((await readdir(fs)).sort(), ['d', 'gone', 'trusted-forged']);
      const wh = await lstat(join(fs, 'gone'));
      assert.ok(wh.isCharacterDevice());
      assert.equal(wh.rdev, 0);
      assert.deepEqual(await readdir(join(fs, 'd')), []);
      assert.deepEqual(lgetxattr(join(fs, 'd'), 'trusted.overlay.opaque'), Buffer.from('y'));
      assert.equal(
        lgetxattr(join(fs, 'trusted-forged'), 'trusted.overlay.redirect'),
        undefined,
        'overlay xattrs from a layer are dropped',
      );
      assert.deepEqual(lgetxattr(join(fs, 'trusted-forged'), 'user.ok'), Buffer.from('1'));
      assert.ok(fs.startsWith(join(root, 'snapshots')));
      await s.remove('ov-2-active');
      await s.remove('ov-1');
    });

    test('overlay: a view of one layer is a read-only bind of it; of several, an overlay without upper', async () => {
      const { snapshotter: s } = ctx();
      await s.prepare('ovv-1-active');
      await s.commit('ovv-1', 'ovv-1-active');
      await s.prepare('ovv-2-active', 'ovv-1');
      await s.commit('ovv-2', 'ovv-2-active');
      const one = await s.view('ovv-view-1', 'ovv-1');
      assert.equal(one.length, 1);
      assert.equal(one[0]!.type, 'bind');
      assert.deepEqual(one[0]!.options, ['rbind', 'ro']);
      assert.match(one[0]!.source, /\/snapshots\/\d+\/fs$/);
      const two = await s.view('ovv-view-2', 'ovv-2');
      assert.equal(two[0]!.type, 'overlay');
      assert.equal(two[0]!.options.length, 1);
      assert.match(two[0]!.options[0]!, /^lowerdir=[^:]+:[^:]+$/);
      const base = await s.prepare('ovv-base');
      assert.deepEqual(base, [{ type: 'bind', source: base[0]!.source, options: ['rbind', 'rw'] }]);
      for (const k of ['ovv-view-1', 'ovv-view-2', 'ovv-base', 'ovv-2', 'ovv-1']) await s.remove(k);
    });

    test('overlay: a chain too long for one page of mount options is refused, leaving no record', async () => {
      const { snapshotter: s } = ctx();
      let parent: string | undefined;
      let refused: unknown;
      const made: string[] = [];
      for (let i = 0; i < 200 && refused === undefined; i++) {
        try {
          await s.prepare(`long-${i}-active`, parent);
        } catch (err) {
          refused = err;
          break;
        }
        await s.commit(`long-${i}`, `long-${i}-active`);
        made.push(`long-${i}`);
        parent = `long-${i}`;
      }
      assert.ok(refused instanceof FailedPreconditionError, String(refused));
      assert.match(refused.message, /over the kernel's 4095/);
      assert.ok(made.length > 40, `${made.length} layers fit`);
      await assert.rejects(s.stat(`long-${made.length}-active`), /not found/);
      for (const k of made.reverse()) await s.remove(k);
    });
    test('overlay: layers unpacked without a parent get it at commit, and the merged view stacks them', async () => {
      const { snapshotter: s } = ctx();
      assert.equal(s.layersIndependent, true);
      await s.prepare('par-1-active');
      await s.prepare('par-2-active');
      await s.applyLayer(
        'par-2-active',
        extract(
          pack([
            { header: { name: 'top' }, body: Buffer.from('2') },
            { header: { name: '.wh.base' }, body: Buffer.alloc(0) },
          ]),
        ),
      );
      await s.applyLayer(
        'par-1-active',
        extract(
          pack([
            { header: { name: 'base' }, body: Buffer.from('1') },
            { header: { name: 'keep' }, body: Buffer.from('k') },
          ]),
        ),
      );
      await assert.rejects(s.commit('par-2', 'par-2-active', { parent: 'par-1' }), /not found/);
      await s.commit('par-1', 'par-1-active');
      await s.commit('par-2', 'par-2-active', { parent: 'par-1' });
      assert.equal((await s.stat('par-2')).parent, 'par-1');
      const view = await s.view('par-view', 'par-2');
      assert.equal(view[0]!.type, 'overlay');
      const lowers = view[0]!.options[0]!.slice('lowerdir='.length).split(':');
      assert.equal(lowers.length, 2);
      assert.deepEqual((await readdir(lowers[1]!)).sort(), ['base', 'keep']);
      await s.prepare('par-3-active', 'par-2');
      await assert.rejects(s.commit('par-3', 'par-3-active', { parent: 'par-1' }), /already has the parent/);
      for (const k of ['par-3-active', 'par-view', 'par-2', 'par-1']) await s.remove(k);
    });
  },
);
