import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { extractSbom } from './extract.ts';
import { toCycloneDx, toSpdx } from './formats.ts';
import { goModules, parseBuildInfo } from './gobinary.ts';
import {
  cargoLockPackages,
  goSumPackages,
  npmLockPackages,
  pythonMetadataPackage,
  requirementsPackages,
} from './lang.ts';
import { npmPurl, purl } from './purl.ts';
import { writeAlpineRoot, writeDebianRoot, writeNodeProject, writeRpmDb } from './testkit.ts';

const tmp = mkdtempSync(join(tmpdir(), 'berth-sbom-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const put = (root: string, path: string, text: string) => {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), text);
};

test('a Debian tree: every installed dpkg package with source, arch and purl; a Go binary; language manifests', async () => {
  const root = join(tmp, 'debian');
  const { packages, names } = writeDebianRoot(root, 100);
  writeNodeProject(root);
  put(
    root,
    '/usr/lib/python3/dist-packages/Jinja2-3.1.2.dist-info/METADATA',
    'Metadata-Version: 2.1\nName: Jinja2\nVersion: 3.1.2\nLicense: BSD-3-Clause\n\nbody\n',
  );
  put(
    root,
    '/srv/requirements.txt',
    'requests==2.31.0\nflask>=2 # not pinned\nurllib3[socks]==1.26.5 ; python_version > "3"\n',
  );
  put(
    root,
    '/src/go.sum',
    'golang.org/x/net v0.22.0 h1:abc=\ngolang.org/x/net v0.22.0/go.mod h1:def=\ngolang.org/x/text v0.3.0/go.mod h1:x=\n',
  );
  put(
    root,
    '/src/Cargo.lock',
    '[[package]]\nname = "mine"\nversion = "0.1.0"\n\n[[package]]\nname = "smallvec"\nversion = "1.6.0"\nsource = "registry+https://github.com/rust-lang/crates.io-index"\n',
  );
  mkdirSync(join(root, 'usr/sbin'), { recursive: true });
  copyFileSync('/usr/sbin/runc', join(root, 'usr/sbin/runc'));
  const sbom = await extractSbom(root);
  assert.deepEqual(sbom.distro, { id: 'debian', versionId: '12', prettyName: 'Debian GNU/Linux 12 (bookworm)' });
  const debs = sbom.packages.filter((p) => p.type === 'deb');
  assert.equal(debs.length, packages);
  assert.deepEqual(new Set(debs.map((p) => p.name)), new Set(names));
  const libssl = debs.find((p) => p.name === 'libssl3')!;
  assert.equal(libssl.sourceName, 'openssl');
  assert.equal(libssl.ecosystem, 'Debian:12');
  assert.match(libssl.purl, /^pkg:deb\/debian\/libssl3@[^?]+\?arch=amd64&distro=debian-12&upstream=openssl$/);
  const zlib = debs.find((p) => p.name === 'zlib1g')!;
  assert.match(zlib.purl, /^pkg:deb\/debian\/zlib1g@1%3A/, 'the epoch colon is percent-encoded');
  const npm = sbom.packages.filter((p) => p.type === 'npm').map((p) => p.purl);
  assert.deepEqual(npm.sort(), [
    'pkg:npm/%40babel/code-frame@7.0.0',
    'pkg:npm/lodash@4.17.20',
    'pkg:npm/minimist@1.2.5',
  ]);
  const py = sbom.packages.filter((p) => p.type === 'pypi').map((p) => p.purl);
  assert.deepEqual(py.sort(), ['pkg:pypi/jinja2@3.1.2', 'pkg:pypi/requests@2.31.0', 'pkg:pypi/urllib3@1.26.5']);
  const golang = sbom.packages.filter((p) => p.type === 'golang');
  assert.ok(golang.some((p) => p.purl === 'pkg:golang/golang.org/x/net@v0.22.0' && p.locations[0] === '/src/go.sum'));
  assert.ok(!golang.some((p) => p.name === 'golang.org/x/text'), 'go.mod-only lines are not built code');
  const fromRunc = golang.filter((p) => p.locations.includes('/usr/sbin/runc'));
  // Debian builds runc without module information: its Go version (the standard library) is what it carries.
  assert.ok(
    fromRunc.some((p) => p.name === 'stdlib' && /^1\.\d+\.\d+$/.test(p.version)),
    JSON.stringify(fromRunc),
  );
  assert.deepEqual(
    sbom.packages.filter((p) => p.type === 'cargo').map((p) => p.purl),
    ['pkg:cargo/smallvec@1.6.0'],
  );
});

test('an Alpine tree: apk packages with origin, license and the v3.19 ecosystem', async () => {
  const root = join(tmp, 'alpine');
  writeAlpineRoot(root);
  const sbom = await extractSbom(root);
  assert.equal(sbom.distro?.id, 'alpine');
  assert.deepEqual(
    sbom.packages.map((p) => [p.name, p.version, p.sourceName, p.ecosystem, p.license]),
    [
      ['busybox', '1.36.1-r15', 'busybox', 'Alpine:v3.19', 'GPL-2.0-only'],
      ['libcrypto3', '3.1.4-r5', 'openssl', 'Alpine:v3.19', 'Apache-2.0'],
      ['musl', '1.2.4_git20230717-r4', 'musl', 'Alpine:v3.19', 'MIT'],
    ],
  );
  assert.equal(sbom.packages[0]!.purl, 'pkg:apk/alpine/busybox@1.36.1-r15?arch=x86_64&distro=alpine-3.19.1');
});

test('an rpm database written by rpm itself (sqlite backend)', async () => {
  const root = join(tmp, 'rocky');
  writeRpmDb(root, join(tmp, 'rpmbuild'));
  const sbom = await extractSbom(root);
  const p = sbom.packages.find((x) => x.type === 'rpm')!;
  assert.equal(p.name, 'openssl-libs');
  assert.equal(p.version, '1:3.0.7-24.el9');
  assert.equal(p.sourceName, 'openssl-libs');
  assert.equal(p.ecosystem, 'Rocky Linux:9');
  assert.equal(p.license, 'Apache-2.0');
  assert.equal(p.purl, 'pkg:rpm/rocky/openssl-libs@3.0.7-24.el9?arch=noarch&distro=rocky-9.3&epoch=1');
});

test('absolute symlinks in the image resolve inside it, never on the host', async () => {
  const root = join(tmp, 'links');
  put(root, '/real/status', 'Package: inside\nStatus: install ok installed\nVersion: 1.0\n');
  mkdirSync(join(root, 'var/lib'), { recursive: true });
  symlinkSync('/real', join(root, 'var/lib/dpkg'));
  symlinkSync('/etc', join(root, 'etc'));
  const sbom = await extractSbom(root);
  assert.deepEqual(
    sbom.packages.map((p) => p.name),
    ['inside'],
  );
  assert.equal(sbom.distro, undefined);
});

test('manifest parsers on their own', () => {
  const v1 = npmLockPackages(
    JSON.stringify({
      lockfileVersion: 1,
      dependencies: { a: { version: '1.0.0', dependencies: { b: { version: '2.0.0' } } }, c: { version: 'file:../c' } },
    }),
    '/x',
  );
  assert.deepEqual(
    v1.map((p) => p.purl),
    ['pkg:npm/a@1.0.0', 'pkg:npm/b@2.0.0'],
  );
  assert.deepEqual(npmLockPackages('not json', '/x'), []);
  assert.equal(pythonMetadataPackage('Name: x\n', '/m'), undefined);
  assert.deepEqual(
    requirementsPackages('-r other.txt\n--index-url x\nA_B.c===1.0\n', '/r').map((p) => p.purl),
    ['pkg:pypi/a-b-c@1.0'],
  );
  assert.equal(goSumPackages('', '/g').length, 0);
  assert.equal(cargoLockPackages('version = 3\n', '/c').length, 0);
  assert.equal(npmPurl('@scope/pkg', '1.0.0'), 'pkg:npm/%40scope/pkg@1.0.0');
  assert.equal(
    purl('deb', 'debian', 'a', '1:2.0', { arch: 'amd64', x: undefined }),
    'pkg:deb/debian/a@1%3A2.0?arch=amd64',
  );
  const info = parseBuildInfo(
    Buffer.concat([
      Buffer.from('\xff Go buildinf:', 'latin1'),
      Buffer.from([8, 2]),
      Buffer.alloc(16),
      Buffer.from([8]),
      Buffer.from('go1.21.3'),
      Buffer.from([0]),
    ]),
  );
  assert.deepEqual(info, { goVersion: 'go1.21.3', modinfo: '' });
  const mods = goModules(
    {
      goVersion: 'go1.22',
      modinfo:
        'path\tx\nmod\texample.com/app\t(devel)\t\ndep\ta.io/b\tv1.0.0\th1:x\n=>\ta.io/c\tv1.1.0\th1:y\ndep\td.io/e\tv2.0.0\n',
    },
    '/bin/x',
  );
  assert.deepEqual(
    mods.map((m) => `${m.name}@${m.version}`),
    ['stdlib@1.22.0', 'a.io/c@v1.1.0', 'd.io/e@v2.0.0'],
  );
});

test('SPDX 2.3 and CycloneDX 1.5 documents describe the image and each package by purl', async () => {
  const root = join(tmp, 'alpine2');
  writeAlpineRoot(root);
  const sbom = await extractSbom(root);
  const subject = { name: 'localhost:5000/app:1', digest: `sha256:${'c'.repeat(64)}` };
  const opts = {
    tool: 'berth-0.1.0',
    created: new Date('2026-01-02T03:04:05.678Z'),
    uuid: '00000000-0000-4000-8000-000000000000',
  };
  const spdx = toSpdx(sbom, subject, opts) as {
    spdxVersion: string;
    packages: { SPDXID: string; externalRefs: { referenceLocator: string }[] }[];
    relationships: unknown[];
    creationInfo: { created: string };
  };
  assert.equal(spdx.spdxVersion, 'SPDX-2.3');
  assert.equal(spdx.creationInfo.created, '2026-01-02T03:04:05Z');
  assert.equal(spdx.packages.length, 4);
  assert.equal(
    spdx.packages[0]!.externalRefs[0]!.referenceLocator,
    `pkg:oci/app@sha256%3A${'c'.repeat(64)}?repository_url=localhost%3A5000%2Fapp`,
  );
  assert.equal(spdx.relationships.length, 4);
  const cdx = toCycloneDx(sbom, subject, opts) as {
    bomFormat: string;
    specVersion: string;
    serialNumber: string;
    components: { type: string; purl?: string }[];
  };
  assert.equal(cdx.bomFormat, 'CycloneDX');
  assert.equal(cdx.specVersion, '1.5');
  assert.equal(cdx.serialNumber, 'urn:uuid:00000000-0000-4000-8000-000000000000');
  assert.deepEqual(
    cdx.components.map((c) => c.type),
    ['operating-system', 'library', 'library', 'library'],
  );
  assert.equal(cdx.components[1]!.purl, 'pkg:apk/alpine/busybox@1.36.1-r15?arch=x86_64&distro=alpine-3.19.1');
});
