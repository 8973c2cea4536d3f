import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { VulnDb } from './osv/db.ts';
import { filesFromDir } from './osv/sources.ts';
import { writeOsvDir } from './osv/testkit.ts';
import { filterBySeverity, scanSbom } from './scan.ts';
import { extractSbom } from './sbom/extract.ts';
import { writeAlpineRoot, writeNodeProject } from './sbom/testkit.ts';

const tmp = mkdtempSync(join(tmpdir(), 'berth-scan-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('a scan of an Alpine tree with a node project finds what the database says, most severe first', async () => {
  const root = join(tmp, 'root');
  writeAlpineRoot(root);
  writeNodeProject(root);
  writeOsvDir(join(tmp, 'osv'), [
    {
      id: 'ALPINE-1',
      ecosystem: 'Alpine:v3.19',
      name: 'openssl',
      events: [{ introduced: '0' }, { fixed: '3.1.4-r6' }],
      cvss: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H',
    },
    {
      id: 'ALPINE-2',
      ecosystem: 'Alpine:v3.19',
      name: 'busybox',
      events: [{ introduced: '0' }, { fixed: '1.36.1-r10' }],
    },
    {
      id: 'GHSA-1',
      ecosystem: 'npm',
      name: 'lodash',
      events: [{ introduced: '0' }, { fixed: '4.17.21' }],
      severityWord: 'HIGH',
    },
    {
      id: 'GHSA-2',
      ecosystem: 'npm',
      name: 'minimist',
      events: [{ introduced: '0' }, { fixed: '1.2.6' }],
      severityWord: 'LOW',
    },
  ]);
  const db = new VulnDb(join(tmp, 'osv.db'));
  try {
    await db.import(filesFromDir(join(tmp, 'osv')));
    const report = scanSbom(db, await extractSbom(root), { image: { name: 'x', digest: 'sha256:1' } });
    assert.deepEqual(
      report.vulnerabilities.map((v) => [v.id, v.package.name, v.severity, v.fixedVersion]),
      [
        ['ALPINE-1', 'libcrypto3', 'CRITICAL', '3.1.4-r6'],
        ['GHSA-1', 'lodash', 'HIGH', '4.17.21'],
        ['GHSA-2', 'minimist', 'LOW', '1.2.6'],
      ],
    );
    assert.equal(report.counts.CRITICAL, 1);
    assert.equal(report.packages, 6);
    assert.equal(report.database.stale, false);
    assert.equal(report.database.advisories, 4);
    const high = filterBySeverity(report, ['CRITICAL', 'HIGH']);
    assert.equal(high.vulnerabilities.length, 2);
    assert.equal(high.counts.LOW, 0);
    const later = scanSbom(db, await extractSbom(root), { now: Date.now() + 10 * 86_400_000, maxAgeDays: 7 });
    assert.equal(later.database.stale, true);
    assert.equal(later.database.ageDays, 10);
  } finally {
    db.close();
  }
});
