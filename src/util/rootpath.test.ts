import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { InvalidArgumentError } from './errors.ts';
import { resolveInRoot } from './rootpath.ts';

let tmp = '';
let root = '';
before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'berth-rootpath-'));
  root = join(tmp, 'root');
  mkdirSync(join(root, 'etc'), { recursive: true });
  mkdirSync(join(root, 'usr/lib'), { recursive: true });
  mkdirSync(join(root, 'data/sub'), { recursive: true });
  writeFileSync(join(root, 'usr/lib/os-release'), 'ID=inside\n');
  writeFileSync(join(tmp, 'secret'), 'host\n');
  symlinkSync('../usr/lib/os-release', join(root, 'etc/os-release'));
  symlinkSync('/usr/lib', join(root, 'lib'));
  symlinkSync('/etc', join(root, 'hostetc'));
  symlinkSync('../../../../secret', join(root, 'climb'));
  symlinkSync('/../../secret', join(root, 'abs-climb'));
  symlinkSync('sub/../../usr', join(root, 'data/up'));
  symlinkSync('loop-b', join(root, 'loop-a'));
  symlinkSync('loop-a', join(root, 'loop-b'));
  symlinkSync('/data/sub', join(root, 'subdir'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

test('plain paths, relative and absolute links resolve inside the root', async () => {
  assert.equal(await resolveInRoot(root, '/usr/lib/os-release'), join(root, 'usr/lib/os-release'));
  assert.equal(await resolveInRoot(root, 'usr/lib'), join(root, 'usr/lib'), 'a relative path is from the root');
  assert.equal(await resolveInRoot(root, '/etc/os-release'), join(root, 'usr/lib/os-release'));
  assert.equal(await resolveInRoot(root, '/lib/os-release'), join(root, 'usr/lib/os-release'));
  assert.equal(await resolveInRoot(root, '/data/up/lib'), join(root, 'usr/lib'), '`..` inside a target');
  assert.equal(await resolveInRoot(root, '/'), root);
  assert.equal(await resolveInRoot(root, ''), root);
});

test('escapes: absolute links, `..` in links and in the path never leave the root', async () => {
  assert.equal(
    await resolveInRoot(root, '/hostetc/passwd'),
    join(root, 'etc/passwd'),
    "an image's /etc, not the host's",
  );
  assert.equal(await resolveInRoot(root, '/climb'), join(root, 'secret'));
  assert.equal(await resolveInRoot(root, '/abs-climb'), join(root, 'secret'));
  assert.equal(await resolveInRoot(root, '/../../secret'), join(root, 'secret'));
  assert.equal(await resolveInRoot(root, '../secret'), join(root, 'secret'));
});

test('the path is cleaned before links are followed, as moby and BuildKit do', async () => {
  assert.equal(await resolveInRoot(root, '/subdir/../etc'), join(root, 'etc'), 'not /data/etc');
  assert.equal(await resolveInRoot(root, '/usr/./lib//os-release/'), join(root, 'usr/lib/os-release'));
});

test('missing components are taken as written, links before them still followed', async () => {
  assert.equal(await resolveInRoot(root, '/lib/nope/x'), join(root, 'usr/lib/nope/x'));
  assert.equal(await resolveInRoot(root, '/nope/../lib'), join(root, 'usr/lib'));
});

test('followLast: false keeps a link in the last component as itself', async () => {
  assert.equal(await resolveInRoot(root, '/etc/os-release', { followLast: false }), join(root, 'etc/os-release'));
  assert.equal(await resolveInRoot(root, '/lib/os-release', { followLast: false }), join(root, 'usr/lib/os-release'));
  assert.equal(await resolveInRoot(root, '/', { followLast: false }), root);
});

test('a cycle of links is an InvalidArgumentError naming the path', async () => {
  await assert.rejects(
    resolveInRoot(root, '/loop-a/x'),
    (e: unknown) =>
      e instanceof InvalidArgumentError && e.message === 'too many levels of symbolic links in "/loop-a/x"',
  );
  assert.equal(await resolveInRoot(root, '/loop-a', { followLast: false }), join(root, 'loop-a'));
});
