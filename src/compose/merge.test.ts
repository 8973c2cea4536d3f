import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mergeDocuments, splitVolumeShort } from './merge.ts';

const merge = (a: object, b: object) =>
  (mergeDocuments({ services: { s: a } }, { services: { s: b } }) as { services: { s: Record<string, unknown> } })
    .services.s;

test('scalars are replaced, mappings merged key by key, other sequences appended', () => {
  assert.deepEqual(merge({ image: 'a', deploy: { replicas: 1, mode: 'x' } }, { image: 'b', deploy: { replicas: 2 } }), {
    image: 'b',
    deploy: { replicas: 2, mode: 'x' },
  });
  assert.deepEqual(merge({ cap_add: ['A'] }, { cap_add: ['B', 'A'] }).cap_add, ['A', 'B']);
});

test('command, entrypoint and healthcheck.test are replaced whole', () => {
  const m = merge(
    { command: ['a', 'b'], entrypoint: 'x y', healthcheck: { test: ['CMD', 'a'], retries: 3 } },
    { command: ['c'], entrypoint: ['z'], healthcheck: { test: 'b' } },
  );
  assert.deepEqual(m.command, ['c']);
  assert.deepEqual(m.entrypoint, ['z']);
  assert.deepEqual(m.healthcheck, { test: 'b', retries: 3 });
});

test('environment and labels merge by key whatever syntax each side uses', () => {
  const m = merge(
    { environment: { A: '1', B: '1' }, labels: ['x=1'] },
    { environment: ['B=2', 'C'], labels: { x: 2 } },
  );
  assert.deepEqual(m.environment, ['A=1', 'B=2', 'C']);
  assert.deepEqual(m.labels, ['x=2']);
});

test('ports by host and target, volumes by target, expose by value: the later one wins', () => {
  const m = merge(
    { ports: ['80:80', '443:443'], volumes: ['a:/data', '/cache'], expose: [1, '2'] },
    { ports: ['80:80'], volumes: ['b:/data'], expose: ['1'] },
  );
  assert.deepEqual(m.ports, ['80:80', '443:443']);
  assert.deepEqual(m.volumes, ['b:/data', '/cache']);
  assert.deepEqual(m.expose, ['1', '2']);
});

test('build as a string is the context; depends_on and networks as lists become mappings', () => {
  assert.deepEqual(merge({ build: '.' }, { build: { dockerfile: 'D' } }).build, { context: '.', dockerfile: 'D' });
  assert.deepEqual(merge({ depends_on: ['db'] }, { depends_on: { db: { condition: 'service_healthy' } } }).depends_on, {
    db: { condition: 'service_healthy', required: true },
  });
  assert.deepEqual(merge({ networks: ['a'] }, { networks: { b: { aliases: ['x'] } } }).networks, {
    a: null,
    b: { aliases: ['x'] },
  });
});

test('logging options merge only when the driver is the same', () => {
  assert.deepEqual(
    merge({ logging: { driver: 'json-file', options: { a: '1' } } }, { logging: { options: { b: '2' } } }).logging,
    { driver: 'json-file', options: { a: '1', b: '2' } },
  );
  assert.deepEqual(
    merge({ logging: { driver: 'json-file', options: { a: '1' } } }, { logging: { driver: 'syslog' } }).logging,
    { driver: 'syslog' },
  );
});

test('top-level resources merge too', () => {
  assert.deepEqual(
    mergeDocuments({ volumes: { a: { labels: ['x=1'] } } }, { volumes: { a: { labels: { y: '2' } }, b: {} } }),
    { volumes: { a: { labels: ['x=1', 'y=2'] }, b: {} } },
  );
});

test('volume specs split on colons, but not after a drive letter', () => {
  assert.deepEqual(splitVolumeShort('./a:/b:ro'), ['./a', '/b', 'ro']);
  assert.deepEqual(splitVolumeShort('C:\\data:/data'), ['C:\\data', '/data']);
});
