import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findCycle, inDependencyOrder, restartDependents, startOrder, withDependencies } from './graph.ts';
import type { Service } from './model.ts';
import { normalizeService } from './normalize.ts';

const ctx = { workingDir: '/p', home: '/h', error: (_: unknown, r: string) => new Error(r) };
function services(spec: Record<string, Record<string, unknown>>): Record<string, Service> {
  return Object.fromEntries(
    Object.entries(spec).map(([n, raw]) => [n, normalizeService(n, { image: 'x', ...raw }, ctx)]),
  );
}

const app = services({
  web: { depends_on: { api: { condition: 'service_started', restart: true } } },
  api: { depends_on: ['db', 'cache'] },
  db: {},
  cache: { network_mode: 'service:db' },
  job: { volumes_from: ['api:ro', 'container:other'] },
});

test('start order: dependencies first, through depends_on, network_mode and volumes_from', () => {
  const order = startOrder(app);
  const before = (a: string, b: string) => order.indexOf(a) < order.indexOf(b);
  assert.ok(before('db', 'cache') && before('cache', 'api') && before('api', 'web') && before('api', 'job'));
  assert.deepEqual([...withDependencies(app, ['web'])].sort(), ['api', 'cache', 'db', 'web']);
});

test('cycles are found and named', () => {
  assert.equal(findCycle(app), undefined);
  assert.deepEqual(
    findCycle(services({ a: { depends_on: ['b'] }, b: { depends_on: ['c'] }, c: { depends_on: ['a'] } })),
    ['a', 'b', 'c', 'a'],
  );
});

test('restart: true dependents, transitively', () => {
  assert.deepEqual(restartDependents(app, 'api'), ['web']);
  assert.deepEqual(restartDependents(app, 'db'), []);
});

test('inDependencyOrder runs each after its dependencies, or before them in reverse', async () => {
  const log: string[] = [];
  await inDependencyOrder(app, Object.keys(app), async (n) => {
    log.push(`start ${n}`);
    await new Promise((r) => setTimeout(r, n === 'db' ? 20 : 1));
    log.push(`end ${n}`);
  });
  assert.ok(log.indexOf('end db') < log.indexOf('start cache'));
  assert.ok(log.indexOf('end api') < log.indexOf('start web'));
  const rev: string[] = [];
  await inDependencyOrder(app, Object.keys(app), async (n) => void rev.push(n), { reverse: true });
  assert.ok(rev.indexOf('web') < rev.indexOf('api') && rev.indexOf('api') < rev.indexOf('db'));
});

test('inDependencyOrder: a failure stops what depends on it and is thrown', async () => {
  const ran: string[] = [];
  await assert.rejects(
    inDependencyOrder(app, Object.keys(app), async (n) => {
      if (n === 'db') throw new Error('db failed');
      ran.push(n);
    }),
    /db failed/,
  );
  assert.ok(!ran.includes('api') && !ran.includes('web'));
});
