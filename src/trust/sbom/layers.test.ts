import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, createReadStream, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { pack, type PackEntry } from '../../util/tar/index.ts';
import { extractSbom } from './extract.ts';
import { sbomFromLayers } from './layers.ts';
import { writeDebianRoot, writeNodeProject } from './testkit.ts';

const tmp = mkdtempSync(join(tmpdir(), 'berth-sbom-layers-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const put = (root: string, path: string, text: string) => {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), text);
};

async function* fromEntries(entries: PackEntry[]): AsyncGenerator<Uint8Array> {
  yield* pack(entries);
}

test('layers applied in order (whiteouts, opaque directories, links) give the SBOM of the final tree', async () => {
  const base = join(tmp, 'base');
  writeDebianRoot(base, 40);
  writeNodeProject(base);
  put(base, '/srv/requirements.txt', 'requests==2.31.0\n');
  put(base, '/srv/keep/Cargo.lock', '[[package]]\nname = "smallvec"\nversion = "1.6.0"\nsource = "registry+x"\n');
  mkdirSync(join(base, 'usr/sbin'), { recursive: true });
  copyFileSync('/usr/sbin/runc', join(base, 'usr/sbin/runc'));
  mkdirSync(join(base, 'bin'), { recursive: true });
  copyFileSync('/bin/busybox', join(base, 'bin/busybox'));
  put(base, '/usr/share/doc/big.txt', 'x'.repeat(100_000));
  const layer1 = join(tmp, 'layer1.tar.gz');
  execFileSync('tar', ['-C', base, '-czf', layer1, '.']);

  const outside = join(tmp, 'outside');
  mkdirSync(outside);
  const cargo = '[[package]]\nname = "regex"\nversion = "1.5.4"\nsource = "registry+x"\n';
  const layer2: PackEntry[] = [
    // the node project is deleted; /srv is made opaque, keeping only what this layer puts there
    { header: { name: 'app/.wh.package-lock.json', size: 0 }, body: Buffer.alloc(0) },
    { header: { name: 'srv/', type: 'directory' } },
    { header: { name: 'srv/.wh..wh..opq', size: 0 }, body: Buffer.alloc(0) },
    { header: { name: 'srv/new/Cargo.lock' }, body: Buffer.from(cargo) },
    // a link to a host directory the image does not have, and a file written through it: it stays in the tree
    { header: { name: 'evil', type: 'symlink', linkname: outside } },
    { header: { name: 'evil/go.sum' }, body: Buffer.from('golang.org/x/net v0.22.0 h1:abc=\n') },
    // names that climb out are skipped
    { header: { name: '../escaped/go.sum' }, body: Buffer.from('x') },
    // a hard link to the Go binary keeps it under a second name
    { header: { name: 'usr/bin/runc2', type: 'link', linkname: 'usr/sbin/runc' } },
  ];
  const sbom = await sbomFromLayers([() => createReadStream(layer1), () => fromEntries(layer2)], join(tmp, 'scratch'));
  assert.ok(!existsSync(join(tmp, 'scratch')), 'the scratch tree is removed');
  assert.ok(!existsSync(join(outside, 'go.sum')), 'nothing is written outside the tree');
  assert.ok(!existsSync(join(tmp, 'escaped')));

  // The same final tree, made by hand, read by the extractor directly.
  rmSync(join(base, 'app/package-lock.json'));
  rmSync(join(base, 'srv'), { recursive: true });
  put(base, '/srv/new/Cargo.lock', cargo);
  put(base, '/evil/go.sum', 'golang.org/x/net v0.22.0 h1:abc=\n');
  mkdirSync(join(base, 'usr/bin'), { recursive: true });
  copyFileSync('/usr/sbin/runc', join(base, 'usr/bin/runc2'));
  const want = await extractSbom(base);
  const key = (s: typeof sbom) => s.packages.map((p) => `${p.purl} ${[...p.locations].sort().join(',')}`).sort();
  assert.deepEqual(key(sbom), key(want));
  assert.deepEqual(sbom.distro, want.distro);
  assert.equal(sbom.packages.filter((p) => p.type === 'deb').length, 40);
  assert.ok(!sbom.packages.some((p) => p.type === 'npm'), 'the whiteout removed the lockfile');
  assert.ok(!sbom.packages.some((p) => p.type === 'pypi'), 'the opaque directory hid requirements.txt');
  assert.deepEqual(
    sbom.packages.filter((p) => p.type === 'cargo').map((p) => p.purl),
    ['pkg:cargo/regex@1.5.4'],
  );
  assert.ok(sbom.packages.some((p) => p.type === 'golang' && p.locations.includes('/usr/bin/runc2')));
  assert.ok(sbom.packages.some((p) => p.locations.includes('/evil/go.sum')));
});
