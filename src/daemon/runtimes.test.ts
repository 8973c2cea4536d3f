import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, rm, rmdir, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import { UNIFIED_ROOT } from '../runtime/index.ts';
import { CRUN_NS, ensureNsHelper, RuntimeTestbed } from '../runtime/testkit.ts';
import { UnavailableError } from '../util/errors.ts';
import type { Logger } from './log.ts';
import { setUpRuntimes, SWEEP_MIN_AGE_MS, sweepUnified } from './runtimes.ts';

const HYBRID = existsSync(join(UNIFIED_ROOT, 'cgroup.controllers'));

test("sweepUnified: removes old empty cgroups of gone containers; never a fresh one (another daemon's or runc's create joining it), a known one or one in use", {
  skip: !HYBRID && 'not a hybrid cgroup host',
}, async (t) => {
  const tag = randomBytes(4).toString('hex');
  const at = (name: string) => join(UNIFIED_ROOT, name);
  const old = Date.now() / 1000 - 3600;
  const names = {
    stale: `berth/sweep-stale-${tag}`,
    fresh: `berth/sweep-fresh-${tag}`,
    known: `berth/sweep-known-${tag}`,
    busy: `berth/sweep-busy-${tag}`,
    probe: `berth-probe-sweep-${tag}`,
    other: `berthx-sweep-${tag}`,
  };
  await mkdir(at('berth'), { recursive: true });
  for (const n of Object.values(names)) await mkdir(at(n));
  const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
  t.after(async () => {
    sleeper.kill('SIGKILL');
    await new Promise((r) => sleeper.once('exit', r));
    for (const n of Object.values(names)) await rmdir(at(n)).catch(() => {});
  });
  writeFileSync(join(at(names.busy), 'cgroup.procs'), String(sleeper.pid));
  for (const n of [names.stale, names.known, names.busy, names.probe, names.other]) await utimes(at(n), old, old);
  // made (mtime) just past the age: swept
  const edge = Date.now() / 1000 - SWEEP_MIN_AGE_MS / 1000 - 1;
  await utimes(at(names.probe), edge, edge);

  const warnings: string[] = [];
  await sweepUnified(new Set([`sweep-known-${tag}`]), (m) => warnings.push(m));
  assert.deepEqual(warnings, []);
  assert.equal(existsSync(at(names.stale)), false, 'an old empty one of a gone container is removed');
  assert.equal(existsSync(at(names.probe)), false, "an old empty probe's is removed");
  assert.equal(existsSync(at(names.fresh)), true, 'a fresh one (a create joining it) is kept');
  assert.equal(existsSync(at(names.known)), true, "one of this daemon's containers is left to its delete");
  assert.equal(existsSync(at(names.busy)), true, 'one with a process in it is kept');
  assert.equal(existsSync(at(names.other)), true, 'one not made by berth is not looked at');
});

test('setUpRuntimes: a runtime that fails its probe (crun with runtime-ns gone) still serves the containers it runs, and creates none', {
  skip: !HYBRID && 'not a hybrid cgroup host',
}, async (t) => {
  ensureNsHelper();
  const bed = await RuntimeTestbed.create(CRUN_NS);
  t.after(() => bed.cleanup());
  const { id, bundle } = await bed.bundle({ args: ['sleep', '60'] });
  await bed.driver.create(id, { bundle });
  await bed.driver.start(id);
  assert.equal(existsSync(join(UNIFIED_ROOT, id)), true, 'in its unified cgroup');

  // berthd restarted on the same roots with runtime-ns missing: crun's probe fails, runc is the default
  const warnings: string[] = [];
  const log: Logger = { debug() {}, info() {}, warn: (m) => warnings.push(m), error() {} };
  const rts = await setUpRuntimes(bed.execRoot, 'crun', log, join(bed.dir, 'no-runtime-ns'));
  t.after(() => {
    for (const d of rts.drivers.values()) d.close();
  });
  assert.equal(rts.defaultRuntime, 'runc');
  assert.equal(rts.probes.find((p) => p.name === 'crun')?.ok, false);
  assert.ok(
    warnings.some((w) => /runtime crun does not work on this host: .*no-runtime-ns.*missing/.test(w)),
    warnings.join('\n'),
  );
  const crun = rts.drivers.get('crun');
  assert.ok(crun, 'a driver for the containers crun runs');
  assert.match(crun.unusable ?? '', /does not work on this host/);
  assert.deepEqual(await crun.list(), [id]);
  assert.equal((await crun.state(id)).status, 'running');
  assert.deepEqual((await crun.monitor(id)).conmonAlive, true);
  // stopped and removed, its cgroups with it
  await crun.kill(id, 'SIGKILL');
  assert.equal((await crun.waitExit(id, { signal: AbortSignal.timeout(10_000) })).exitCode, 137);
  await crun.delete(id);
  assert.deepEqual(await crun.list(), []);
  assert.equal(existsSync(join(UNIFIED_ROOT, id)), false, 'its unified cgroup removed');
  assert.equal(existsSync(join('/sys/fs/cgroup/pids', id)), false, 'its v1 cgroup removed');
  // but no new container
  const next = await bed.bundle({ args: ['true'] });
  await assert.rejects(crun.create(next.id, { bundle: next.bundle }), (e: unknown) => e instanceof UnavailableError);
});

test('setUpRuntimes: a runtime-ns older than its source (a checkout updated since setup.sh) works and is told', {
  skip: !HYBRID && 'not a hybrid cgroup host',
}, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-runtimes-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const helper = join(dir, 'runtime-ns');
  await copyFile(ensureNsHelper(), helper);
  await chmod(helper, 0o755);
  for (const [when, stale] of [
    [new Date(), false],
    [new Date(1000), true],
  ] as const) {
    await utimes(helper, when, when);
    const warnings: string[] = [];
    const log: Logger = { debug() {}, info() {}, warn: (m) => warnings.push(m), error() {} };
    const rts = await setUpRuntimes(join(dir, 'run'), 'crun', log, helper);
    for (const d of rts.drivers.values()) d.close();
    assert.equal(rts.defaultRuntime, 'crun', warnings.join('\n'));
    assert.equal(
      warnings.some((w) => w.includes(`${helper} is older than`) && w.includes('run scripts/setup.sh')),
      stale,
      warnings.join('\n'),
    );
  }
});
