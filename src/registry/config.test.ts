import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { InvalidArgumentError } from '../util/errors.ts';
import { defaultConfig, loadConfigFile, parseAuth, parseDuration } from './config.ts';
import { parseRange } from './http/distribution.ts';

test('durations and auth modes', () => {
  assert.equal(parseDuration('1500ms'), 1500);
  assert.equal(parseDuration('2s'), 2000);
  assert.equal(parseDuration('1.5h'), 5_400_000);
  assert.equal(parseDuration('7d'), 604_800_000);
  assert.equal(parseDuration(42), 42);
  assert.throws(() => parseDuration('soon'), InvalidArgumentError);
  assert.equal(parseDuration('1h30m'), 5_400_000, "any of Go's durations");
  assert.equal(parseDuration(' 90 '), 90, 'a bare number is milliseconds');
  assert.equal(parseDuration('0.5d'), 43_200_000);
  assert.throws(() => parseDuration('-5s'), /invalid duration "-5s"/);
  assert.throws(() => parseDuration('5 s'), InvalidArgumentError);
  assert.deepEqual(parseAuth('none'), { mode: 'none' });
  assert.deepEqual(parseAuth('token'), { mode: 'token' });
  assert.deepEqual(parseAuth('htpasswd=/etc/h'), { mode: 'htpasswd', file: '/etc/h' });
  assert.throws(() => parseAuth('ldap'), /invalid auth mode "ldap"/);
});

test('the config file: known keys over the defaults; an unknown key is an error', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-regcfg-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const f = join(dir, 'c.json');
  await writeFile(
    f,
    JSON.stringify({ addr: ':6000', gc: { grace: '2h', deleteUntagged: true }, tokenTtl: 60, deleteEnabled: false }),
  );
  const c = await loadConfigFile(f, defaultConfig());
  assert.equal(c.addr, ':6000');
  assert.equal(c.gc.graceMs, 7_200_000);
  assert.equal(c.gc.deleteUntagged, true);
  assert.equal(c.tokenTtl, 60);
  assert.equal(c.deleteEnabled, false);
  await writeFile(f, JSON.stringify({ adr: ':1' }));
  await assert.rejects(loadConfigFile(f, defaultConfig()), /unknown key "adr"/);
  await writeFile(f, '{');
  await assert.rejects(loadConfigFile(f, defaultConfig()), InvalidArgumentError);
});

test('Range headers: one range within the blob, suffixes, open ends; unsatisfiable ones are null', () => {
  assert.deepEqual(parseRange('bytes=0-9', 100), { start: 0, end: 9 });
  assert.deepEqual(parseRange('bytes=90-', 100), { start: 90, end: 99 });
  assert.deepEqual(parseRange('bytes=-10', 100), { start: 90, end: 99 });
  assert.deepEqual(parseRange('bytes=-1000', 100), { start: 0, end: 99 });
  assert.deepEqual(parseRange('bytes=50-500', 100), { start: 50, end: 99 });
  assert.equal(parseRange('bytes=100-', 100), null);
  assert.equal(parseRange('bytes=5-2', 100), null);
  assert.equal(parseRange('bytes=0-1,5-6', 100), undefined);
  assert.equal(parseRange('items=0-1', 100), undefined);
});
