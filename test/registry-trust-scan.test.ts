/**
 * The registry server's vulnerability policies, against a real `berth registry serve`: scan on push (in the
 * background, the report stored as a referrer that `berth trust inspect` lists), the registry's own OSV database
 * (`berth registry scan db import`), pulls of images with vulnerabilities at or above a severity refused with the
 * count, unscanned images scanned on their first pull, and the results in the admin API and CLI. Images are
 * pushed through berthd and copied between projects by skopeo.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, symlinkSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { skopeo } from '../src/distribution/remote/testkit.ts';
import { call, registryCli, type ServedRegistry, serveRegistry } from '../src/registry/testkit.ts';
import { ADVISORY, writeOsvDir } from '../src/trust/osv/testkit.ts';
import { writeDebianRoot, writeNodeProject } from '../src/trust/sbom/testkit.ts';
import { BERTH, type Daemon, run, startDaemon, waitFor } from './harness.ts';

interface Scan {
  repository: string;
  digest: string;
  status: string;
  counts: Record<string, number> | null;
  packages: number | null;
  report: string | null;
  error: string | null;
}

describe('registry trust: scans', { timeout: 600_000 }, () => {
  let scratch = '';
  let reg: ServedRegistry;
  let d: Daemon;
  const b = (args: string[]) =>
    run(BERTH, ['-H', d.host, ...args], {}, undefined, { cwd: scratch, timeoutMs: 180_000 });
  const ok = async (args: string[]) => {
    const r = await b(args);
    assert.equal(r.code, 0, `berth ${args.join(' ')}: ${r.stderr}${r.stdout}`);
    return r;
  };
  const admin = (args: string[]) => registryCli([...args, '--url', reg.url]);
  const adminOk = async (args: string[]) => {
    const r = await admin(args);
    assert.equal(r.code, 0, `berth registry ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const ref = (image: string) => `${reg.host}/${image}`;

  /** The scans of a repository, once none is queued or running. */
  async function settled(repository: string): Promise<Scan[]> {
    return waitFor(
      `the scans of ${repository}`,
      async () => {
        const res = await call(reg, 'GET', `/admin/v1/scans?repository=${encodeURIComponent(repository)}`);
        const rows = (await res.json()) as Scan[];
        return rows.length > 0 && rows.every((s) => s.status === 'done' || s.status === 'error') ? rows : undefined;
      },
      120_000,
    );
  }

  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'berth-regscan-'));
    reg = await serveRegistry(undefined, { args: ['--auth', 'none'] });
    d = await startDaemon();
    const root = join(scratch, 'rootfs');
    writeDebianRoot(root, 100);
    writeNodeProject(root);
    mkdirSync(join(root, 'bin'), { recursive: true });
    copyFileSync('/bin/busybox', join(root, 'bin/busybox'));
    symlinkSync('busybox', join(root, 'bin/sh'));
    execFileSync('tar', ['-C', root, '-cf', join(scratch, 'rootfs.tar'), '.']);
    await ok(['import', join(scratch, 'rootfs.tar'), ref('scanned/app:1')]);
    for (const p of ['scanned', 'plain', 'lazy']) await adminOk(['project', 'create', p]);
    await adminOk(['project', 'policy', 'scanned', '--scan-on-push', '--prevent-severity', 'critical']);
    await adminOk(['project', 'policy', 'plain', '--scan-on-push']);
    await adminOk(['project', 'policy', 'lazy', '--prevent-severity', 'HIGH']);
  });

  after(async () => {
    await d?.cleanup();
    await reg?.stop();
    if (reg) await rm(reg.root, { recursive: true, force: true });
    await rm(scratch, { recursive: true, force: true });
  });

  it('scans on push in the background; without a database the scan fails and the pull is refused saying so', async () => {
    await ok(['push', ref('scanned/app:1')]);
    const [s] = await settled('scanned/app');
    assert.equal(s!.status, 'error');
    assert.match(s!.error!, /the vulnerability database is empty: import one with "berth registry scan db import/);
    const r = await b(['pull', ref('scanned/app:1')]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /could not be scanned for vulnerabilities: the vulnerability database is empty/);
  });

  it('imports the OSV database with berth registry scan db import (bad records skipped and counted)', async () => {
    const osv = join(scratch, 'osv');
    writeOsvDir(osv, [
      ADVISORY.debianOpenssl,
      ADVISORY.npmLodash,
      { id: 'GHSA-unrelated', ecosystem: 'npm', name: 'left-pad', events: [{ introduced: '0' }] },
    ]);
    await writeFile(join(osv, 'broken.json'), '{');
    const missing = await admin(['scan', 'db', 'import', join(scratch, 'nowhere')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no such file or directory/);
    const out = await adminOk(['scan', 'db', 'import', osv]);
    assert.match(out, /Imported 3 advisories \(1 skipped\); the database has 3/);
    assert.match(await adminOk(['scan', 'db', 'info']), /Advisories: 3\nImported: {3}\d{4}-/);
  });

  let report: Scan;

  it('a pull of an image with a CRITICAL vulnerability is refused with the count; the report is a referrer', async () => {
    const queued = await adminOk(['scan', 'run', 'scanned/app:1']);
    assert.match(queued, /scanned\/app\s+sha256:\S+\s+queued/);
    [report] = (await settled('scanned/app')) as [Scan];
    assert.equal(report.status, 'done', report.error ?? '');
    assert.equal(report.counts!.CRITICAL, 1);
    assert.ok((report.counts!.HIGH ?? 0) >= 1, JSON.stringify(report.counts));
    assert.ok(report.packages! >= 100);
    const r = await b(['pull', ref('scanned/app:1')]);
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      /scanned\/app@sha256:[0-9a-f]{64} has 1 vulnerability at or above CRITICAL \(1 CRITICAL\); project "scanned" prevents pulls of images with vulnerabilities at or above CRITICAL/,
    );
    const inspect = await ok(['trust', 'inspect', ref('scanned/app:1')]);
    assert.match(inspect.stdout, new RegExp(`application/vnd\\.berth\\.scan\\.report\\.v1\\+json\\s+${report.report}`));
  });

  it('scan on push in a project without the pull policy: the same image is pullable', async () => {
    await ok(['tag', ref('scanned/app:1'), ref('plain/app:1')]);
    await ok(['push', ref('plain/app:1')]);
    const [s] = await settled('plain/app');
    assert.equal(s!.status, 'done');
    assert.deepEqual(s!.counts, report.counts);
    await ok(['rmi', ref('plain/app:1')]);
    await ok(['pull', ref('plain/app:1')]);
  });

  it('an image never scanned is scanned at its first pull under the policy, then refused with its counts', async () => {
    const cp = await skopeo([
      'copy',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      `docker://${ref('plain/app:1')}`,
      `docker://${ref('lazy/app:1')}`,
    ]);
    assert.equal(cp.code, 0, cp.stderr);
    const first = await b(['pull', ref('lazy/app:1')]);
    assert.notEqual(first.code, 0);
    assert.match(
      first.stderr,
      /has not been scanned for vulnerabilities yet; a scan is queued, pull again when it is done/,
    );
    const [s] = await settled('lazy/app');
    assert.equal(s!.status, 'done');
    const high = s!.counts!.HIGH ?? 0;
    const r = await b(['pull', ref('lazy/app:1')]);
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      new RegExp(`has ${1 + high} vulnerabilities at or above HIGH \\(1 CRITICAL, ${high} HIGH\\)`),
    );
  });

  it('the admin API and the CLI show the settings and the results', async () => {
    const policy = (await (await call(reg, 'GET', '/admin/v1/projects/lazy/policy')).json()) as Record<string, unknown>;
    assert.deepEqual(
      { r: policy.requireSignatures, s: policy.scanOnPush, p: policy.preventSeverity },
      { r: 'off', s: false, p: 'HIGH' },
    );
    const scans = (await (await call(reg, 'GET', '/admin/v1/scans?project=scanned')).json()) as Scan[];
    assert.deepEqual(
      scans.map((x) => [x.repository, x.status, x.counts?.CRITICAL]),
      [['scanned/app', 'done', 1]],
    );
    const text = await adminOk(['scan', 'ls', '--project', 'lazy']);
    assert.match(text, /lazy\/app\s+sha256:\S+\s+done\s+1 CRITICAL, \d+ HIGH\s+\d+/);
    const rep = await adminOk(['scan', 'report', 'scanned/app:1']);
    assert.match(rep, /lodash\s+4\.17\.20\s+GHSA-lodash-test\s+CRITICAL\s+4\.17\.21/);
    assert.match(rep, /DSA-9001-1\s+HIGH\s+99\.0-1/);
    const arts = await adminOk(['project', 'artifacts', 'lazy']);
    assert.match(arts, /lazy\/app\s+1\s+sha256:\S+\s+no\s+1 CRITICAL, \d+ HIGH\s+no/);
    const json = (await (await call(reg, 'GET', '/admin/v1/projects/lazy/artifacts')).json()) as {
      pullable: boolean;
      reason: string;
    }[];
    assert.equal(json[0]!.pullable, false);
    assert.match(json[0]!.reason, /vulnerabilities at or above HIGH/);
    const bad = await call(reg, 'POST', '/admin/v1/scans', {
      body: JSON.stringify({ reference: 'lazy/app:nosuchtag' }),
      headers: { 'Content-Type': 'application/json' },
    });
    assert.equal(bad.status, 404);
  });

  it('lifting the policy lets the image be pulled', async () => {
    await adminOk(['project', 'policy', 'lazy', '--prevent-severity', 'none']);
    await ok(['pull', ref('lazy/app:1')]);
  });
});
