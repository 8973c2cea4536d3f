import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { pack } from '../../util/tar/index.ts';
import { cvss3Score, ratingOf } from './cvss.ts';
import { VulnDb } from './db.ts';
import { inRange, matchPackage } from './match.ts';
import { filesFromDir, filesFromTar, filesFromZip, isZip } from './sources.ts';
import { type RecordSpec, writeOsvDir } from './testkit.ts';
import { compareDpkg } from '../versions/index.ts';

const SPECS: RecordSpec[] = [
  // Debian advisories name source packages; openssl's binary libssl3 comes from source openssl.
  {
    id: 'DSA-0001-1',
    ecosystem: 'Debian:12',
    name: 'openssl',
    events: [{ introduced: '0' }, { fixed: '3.0.11-1~deb12u2' }],
    urgency: 'high',
  },
  {
    id: 'DEBIAN-CVE-2024-0002',
    ecosystem: 'Debian:11',
    name: 'openssl',
    events: [{ introduced: '0' }, { fixed: '1.1.1w-0+deb11u1' }],
  },
  {
    id: 'DSA-0003-1',
    ecosystem: 'Debian:12',
    name: 'zlib',
    events: [{ introduced: '0' }, { fixed: '1:1.2.13.dfsg-1' }],
    cvss: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H',
  },
  {
    id: 'GHSA-aaaa-bbbb-cccc',
    ecosystem: 'npm',
    name: 'lodash',
    rangeType: 'SEMVER',
    events: [{ introduced: '0' }, { fixed: '4.17.21' }],
    severityWord: 'HIGH',
    aliases: ['CVE-2021-23337'],
  },
  {
    id: 'GHSA-dddd-eeee-ffff',
    ecosystem: 'npm',
    name: 'minimist',
    events: [{ introduced: '1.0.0' }, { last_affected: '1.2.5' }],
    severityWord: 'MODERATE',
  },
  { id: 'PYSEC-2024-1', ecosystem: 'PyPI', name: 'Jinja2', events: [{ introduced: '0' }, { fixed: '3.1.3' }] },
  {
    id: 'ALPINE-CVE-2024-5',
    ecosystem: 'Alpine:v3.19',
    name: 'busybox',
    events: [{ introduced: '0' }, { fixed: '1.36.1-r16' }],
  },
  {
    id: 'GO-2024-0001',
    ecosystem: 'Go',
    name: 'golang.org/x/net',
    rangeType: 'SEMVER',
    events: [{ introduced: '0' }, { fixed: '0.23.0' }],
  },
  { id: 'RUSTSEC-2024-0001', ecosystem: 'crates.io', name: 'smallvec', versions: ['1.6.0'] },
];

let dir = '';
let db: VulnDb;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'berth-osv-'));
  writeOsvDir(join(dir, 'osv'), SPECS);
  writeFileSync(join(dir, 'osv', 'broken.json'), '{ not json');
  writeFileSync(join(dir, 'osv', 'noid.json'), JSON.stringify({ modified: '2024-01-01T00:00:00Z' }));
  writeFileSync(
    join(dir, 'osv', 'badrange.json'),
    JSON.stringify({
      id: 'X-1',
      modified: '2024-01-01T00:00:00Z',
      affected: [
        { package: { ecosystem: 'npm', name: 'x' }, ranges: [{ type: 'ECOSYSTEM', events: [{ fixed: '1' }] }] },
      ],
    }),
  );
  writeFileSync(join(dir, 'osv', 'README.txt'), 'not a record');
  db = new VulnDb(join(dir, 'db', 'osv.db'));
});
after(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

test('import from a directory: good records in, broken ones skipped and counted with reasons', async () => {
  const res = await db.import(filesFromDir(join(dir, 'osv')));
  assert.equal(res.imported, SPECS.length);
  assert.equal(res.skipped, 3);
  assert.ok(res.errors.some((e) => /^broken.json: not JSON/.test(e)));
  assert.ok(res.errors.some((e) => /^noid.json: "id" is missing/.test(e)));
  assert.ok(res.errors.some((e) => /^badrange.json: X-1: affected\[0\].ranges\[0\]: no "introduced" event/.test(e)));
  const info = db.info();
  assert.equal(info.advisories, SPECS.length);
  assert.ok(info.importedAt! > Date.now() - 60_000);
});

test('matching uses the source package, the release, and each ecosystem’s ordering', () => {
  const libssl = (version: string) =>
    matchPackage(db, { ecosystem: 'Debian:12', name: 'libssl3', version, sourceName: 'openssl' }).map(
      (f) => `${f.id}:${f.fixedVersion}`,
    );
  assert.deepEqual(libssl('3.0.11-1~deb12u1'), ['DSA-0001-1:3.0.11-1~deb12u2']);
  assert.deepEqual(libssl('3.0.11-1~deb12u2'), []);
  assert.deepEqual(libssl('3.0.11-1'), [], '3.0.11-1 sorts after 3.0.11-1~deb12u2');
  // Epochs: 1:1.2.11 is after every version without an epoch.
  assert.equal(
    matchPackage(db, { ecosystem: 'Debian:12', name: 'zlib1g', version: '1:1.2.11.dfsg-4', sourceName: 'zlib' }).length,
    1,
  );
  assert.equal(
    matchPackage(db, { ecosystem: 'Debian:12', name: 'zlib1g', version: '1:1.2.13.dfsg-1', sourceName: 'zlib' }).length,
    0,
  );
  const lodash = matchPackage(db, { ecosystem: 'npm', name: 'lodash', version: '4.17.20' });
  assert.deepEqual(
    lodash.map((f) => [f.id, f.severity, f.fixedVersion, f.aliases[0]]),
    [['GHSA-aaaa-bbbb-cccc', 'HIGH', '4.17.21', 'CVE-2021-23337']],
  );
  assert.equal(matchPackage(db, { ecosystem: 'npm', name: 'lodash', version: '4.17.21' }).length, 0);
  assert.equal(matchPackage(db, { ecosystem: 'npm', name: 'minimist', version: '1.2.5' })[0]?.severity, 'MEDIUM');
  assert.equal(matchPackage(db, { ecosystem: 'npm', name: 'minimist', version: '1.2.6' }).length, 0);
  assert.equal(matchPackage(db, { ecosystem: 'npm', name: 'minimist', version: '0.9.0' }).length, 0);
  // PEP 503 names, PEP 440 versions.
  assert.equal(matchPackage(db, { ecosystem: 'PyPI', name: 'jinja2', version: '3.1.2' }).length, 1);
  assert.equal(matchPackage(db, { ecosystem: 'PyPI', name: 'jinja2', version: '3.1.3' }).length, 0);
  assert.equal(matchPackage(db, { ecosystem: 'Alpine:v3.19', name: 'busybox', version: '1.36.1-r15' }).length, 1);
  assert.equal(
    matchPackage(db, { ecosystem: 'Alpine:v3.20', name: 'busybox', version: '1.36.1-r15' }).length,
    0,
    'another release',
  );
  assert.equal(matchPackage(db, { ecosystem: 'Go', name: 'golang.org/x/net', version: 'v0.22.0' }).length, 1);
  assert.equal(matchPackage(db, { ecosystem: 'crates.io', name: 'smallvec', version: '1.6.0' }).length, 1);
  assert.equal(matchPackage(db, { ecosystem: 'crates.io', name: 'smallvec', version: '1.6.1' }).length, 0);
  // Severities: Debian urgency, CVSS vector, database word.
  assert.equal(matchPackage(db, { ecosystem: 'Debian:12', name: 'openssl', version: '3.0.0-1' })[0]?.severity, 'HIGH');
  assert.equal(matchPackage(db, { ecosystem: 'Debian:12', name: 'zlib', version: '1:1.2.11.dfsg-4' })[0]?.score, 9.8);
});

test('a newer record replaces an older one; an older one does not replace a newer', async () => {
  const d2 = join(dir, 'update');
  writeOsvDir(d2, [
    { ...SPECS[3]!, events: [{ introduced: '0' }, { fixed: '4.17.10' }], modified: '2025-01-01T00:00:00Z' },
  ]);
  await db.import(filesFromDir(d2));
  assert.equal(matchPackage(db, { ecosystem: 'npm', name: 'lodash', version: '4.17.20' }).length, 0);
  const d3 = join(dir, 'stale');
  writeOsvDir(d3, [{ ...SPECS[3]!, modified: '2020-01-01T00:00:00Z' }]);
  await db.import(filesFromDir(d3));
  assert.equal(matchPackage(db, { ecosystem: 'npm', name: 'lodash', version: '4.17.20' }).length, 0);
});

test('ZIP and tar sources yield the same records', async () => {
  execFileSync('zip', ['-q', '-r', join(dir, 'all.zip'), '.'], { cwd: join(dir, 'osv') });
  assert.equal(await isZip(join(dir, 'all.zip')), true);
  assert.equal(await isZip(join(dir, 'osv', 'README.txt')), false);
  const fromZip: string[] = [];
  for await (const f of filesFromZip(join(dir, 'all.zip'))) fromZip.push(f.name);
  const fromDir: string[] = [];
  for await (const f of filesFromDir(join(dir, 'osv'))) fromDir.push(f.name);
  assert.deepEqual(fromZip.sort(), fromDir.sort());
  const entries = fromDir.map((name) => ({ header: { name: `./${name}` }, body: Buffer.from('{}') }));
  const fromTar: string[] = [];
  for await (const f of filesFromTar(Readable.from(pack(entries)))) fromTar.push(f.name);
  assert.deepEqual(fromTar.sort(), fromDir.sort());
  writeFileSync(join(dir, 'bad.zip'), 'PK\x03\x04 truncated');
  await assert.rejects(async () => {
    for await (const _ of filesFromZip(join(dir, 'bad.zip'))) {
    }
  }, /not a readable ZIP file/);
});

test('OSV range evaluation: introduced/fixed pairs, last_affected, and "0"', () => {
  const r = (events: Record<string, string>[]) => ({ type: 'ECOSYSTEM' as const, events });
  assert.deepEqual(inRange('1.5-1', r([{ introduced: '1.0-1' }, { fixed: '2.0-1' }]), compareDpkg), {
    affected: true,
    fixed: '2.0-1',
  });
  assert.deepEqual(inRange('0.9-1', r([{ introduced: '1.0-1' }, { fixed: '2.0-1' }]), compareDpkg), {
    affected: false,
  });
  const two = r([{ introduced: '0' }, { fixed: '1.0-1' }, { introduced: '2.0-1' }, { fixed: '2.5-1' }]);
  assert.equal(inRange('0.5-1', two, compareDpkg).affected, true);
  assert.equal(inRange('1.5-1', two, compareDpkg).affected, false);
  assert.deepEqual(inRange('2.1-1', two, compareDpkg), { affected: true, fixed: '2.5-1' });
  assert.equal(inRange('3.0-1', two, compareDpkg).affected, false);
  assert.equal(inRange('9.9-1', r([{ introduced: '0' }]), compareDpkg).affected, true);
});

test('CVSS v3 base scores, as FIRST’s calculator gives them', () => {
  assert.equal(cvss3Score('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H'), 9.8);
  assert.equal(cvss3Score('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H'), 10);
  assert.equal(cvss3Score('CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N'), 6.1);
  assert.equal(cvss3Score('CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N'), 5.5);
  assert.equal(cvss3Score('CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N'), 5.9);
  assert.equal(cvss3Score('CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:N/I:N/A:N'), 0);
  assert.equal(cvss3Score('CVSS:2.0/AV:N'), undefined);
  assert.equal(cvss3Score('CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H'), undefined);
  assert.equal(ratingOf(9.8), 'CRITICAL');
  assert.equal(ratingOf(7), 'HIGH');
  assert.equal(ratingOf(6.1), 'MEDIUM');
  assert.equal(ratingOf(0.1), 'LOW');
});
