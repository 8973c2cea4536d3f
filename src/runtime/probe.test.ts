import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeRuntimes, type ProbeResult } from './probe.ts';
import { ensureNsHelper, NS_HELPER } from './testkit.ts';

/**
 * The probes' containers left no cgroup in any hierarchy (the unified one too): by their ids, not by the prefix
 * they share with the probes of every berthd starting meanwhile on this host.
 */
async function noCgroupsOf(results: readonly (ProbeResult | undefined)[]): Promise<void> {
  const ids = new Set(results.flatMap((r) => r?.containers ?? []));
  assert.ok(ids.size > 0, 'no probe container ran');
  for (const ctrl of await readdir('/sys/fs/cgroup')) {
    const left = (await readdir(join('/sys/fs/cgroup', ctrl)).catch(() => [])).filter((n) => ids.has(n));
    assert.deepEqual(left, [], `cgroup ${ctrl}`);
  }
}

test('probeRuntimes: runc works here; crun 1.8 on a hybrid-cgroup host is reported, not fixed', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'berth-probe-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const [runc, crun, missing] = await probeRuntimes(
    [
      { name: 'runc', path: '/usr/sbin/runc' },
      { name: 'crun', path: '/usr/bin/crun' },
      { name: 'ghost', path: join(root, 'no-such-runtime') },
    ],
    { execRoot: root },
  );
  assert.equal(runc?.wrapper, undefined);
  assert.equal(runc?.ok, true, runc?.error);
  assert.match(runc?.version ?? '', /^runc version/);
  assert.ok(crun);
  if (existsSync('/sys/fs/cgroup/unified') && /crun version 1\.8/.test(crun.version ?? '')) {
    assert.equal(crun.ok, false);
    assert.match(crun.error ?? '', /hybrid/);
  } else {
    assert.ok(crun.ok || (crun.error ?? '') !== '');
  }
  assert.equal(missing?.ok, false);
  assert.match(missing?.error ?? '', /ENOENT|no such/i);
  // nothing left behind: no containers, no probe bundles, no cgroups
  assert.deepEqual(await readdir(join(root, 'conmon')), []);
  assert.deepEqual(await readdir(join(root, 'probe')), []);
  await noCgroupsOf([runc, crun, missing]);
  // berthd probes before anything else: the probe loads no FFI library (koffi) for its one container, neither to
  // start conmon nor to wait for it.
  assert.ok(!readFileSync('/proc/self/maps', 'utf8').includes('koffi'), 'koffi loaded by the probe');
});

const HYBRID = existsSync('/sys/fs/cgroup/unified/cgroup.controllers');

test('probeRuntimes: crun refusing hybrid cgroups works through runtime-ns; a missing runtime-ns is named', {
  skip: !HYBRID && 'not a hybrid cgroup host',
}, async (t) => {
  ensureNsHelper();
  const root = await mkdtemp(join(tmpdir(), 'berth-probe-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const crun = { name: 'crun', path: '/usr/bin/crun' };
  const [plain] = await probeRuntimes([crun], { execRoot: root });
  if (plain?.ok) return t.skip('crun accepts this host as it is');
  assert.match(plain?.error ?? '', /hybrid/);
  const [wrapped, runc] = await probeRuntimes([crun, { name: 'runc', path: '/usr/sbin/runc' }], {
    execRoot: root,
    nsHelper: NS_HELPER,
  });
  assert.equal(wrapped?.ok, true, wrapped?.error);
  assert.equal(wrapped?.wrapper, NS_HELPER);
  assert.match(wrapped?.version ?? '', /^crun version/);
  // runc works as it is: never through runtime-ns
  assert.equal(runc?.ok, true, runc?.error);
  assert.equal(runc?.wrapper, undefined);
  const [noHelper] = await probeRuntimes([crun], { execRoot: root, nsHelper: join(root, 'no-runtime-ns') });
  assert.equal(noHelper?.ok, false);
  assert.match(noHelper?.error ?? '', /hybrid.*no-runtime-ns.*is missing: run scripts\/setup\.sh/);
  // the probe container's cgroups are gone, the unified one (runtime-ns made it) too
  await noCgroupsOf([plain, wrapped, runc, noHelper]);
});
