import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadArchive } from '../load.ts';
import { archive, chunks, legacyArchive, makeImage, makeLayer, testEngine } from '../testkit.ts';
import { inspectDistribution, searchRegistry, splitSearchTerm } from './inspect.ts';
import { pushImage } from './push.ts';
import { registryFor } from './testkit.ts';
import { DEFAULT_REGISTRY_CONFIG, type RegistryConfig } from './types.ts';

const cfg: RegistryConfig = { ...DEFAULT_REGISTRY_CONFIG, certsDir: '/nonexistent' };

test('splitSearchTerm: a first component with a dot, a colon or localhost names the registry', () => {
  assert.deepEqual(splitSearchTerm('127.0.0.1:5000/team/app'), { registry: '127.0.0.1:5000', query: 'team/app' });
  assert.deepEqual(splitSearchTerm('localhost/app'), { registry: 'localhost', query: 'app' });
  assert.deepEqual(splitSearchTerm('team/app'), { registry: 'docker.io', query: 'team/app' });
  assert.deepEqual(splitSearchTerm('busybox'), { registry: 'docker.io', query: 'busybox' });
});

test('distribution inspect and catalog search against a registry', async (t) => {
  const reg = await registryFor(t, 'plain');
  const e = await testEngine(t);
  const img = makeImage([await makeLayer({ 'etc/': '', 'etc/hostname': 'searched' })]);
  for (const name of ['team/app', 'team/tool', 'other/thing']) {
    await loadArchive(e, chunks(await archive(legacyArchive([{ image: img, tags: [`${reg.host}/${name}:1`] }]))));
    await pushImage(e, cfg, `${reg.host}/${name}:1`);
  }
  const d = await inspectDistribution(cfg, `${reg.host}/team/app:1`);
  assert.match(d.Descriptor.digest, /^sha256:[0-9a-f]{64}$/);
  assert.ok(d.Descriptor.size > 0);
  assert.deepEqual(d.Platforms, [{ architecture: 'amd64', os: 'linux' }]);
  await assert.rejects(inspectDistribution(cfg, `${reg.host}/team/nosuch:1`), /not found|unknown/i);

  const found = await searchRegistry(cfg, `${reg.host}/team`, 25);
  assert.deepEqual(
    found.map((r) => r.name),
    [`${reg.host}/team/app`, `${reg.host}/team/tool`],
  );
  assert.deepEqual(Object.keys(found[0]!).sort(), ['description', 'is_automated', 'is_official', 'name', 'star_count']);
  assert.equal((await searchRegistry(cfg, `${reg.host}/team`, 1)).length, 1);
  await assert.rejects(searchRegistry(cfg, `${reg.host}/team`, 0), /outside the range of \[1, 100\]/);
});
