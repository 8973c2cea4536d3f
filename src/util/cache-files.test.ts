import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { boundCache, dropStale } from './cache-files.ts';

const base = mkdtempSync(join(tmpdir(), 'berth-cache-files-'));
after(() => rmSync(base, { recursive: true, force: true }));

let n = 0;
function fresh(): string {
  const dir = join(base, `d${n++}`);
  mkdirSync(dir);
  return dir;
}

/** A file whose modification time is `age` seconds in the past. */
function file(dir: string, name: string, bytes: number, age: number): void {
  writeFileSync(join(dir, name), 'x'.repeat(bytes));
  const t = new Date(Date.now() - age * 1000);
  utimesSync(join(dir, name), t, t);
}

test('dropStale removes the other keys of one cache family, and nothing else', () => {
  const dir = fresh();
  file(dir, 'compose-spec-1-2-8.17.0.cjs', 10, 0);
  file(dir, 'compose-spec-1-2-8.17.0.cjs.v24.1.0.v8', 10, 0);
  file(dir, 'compose-spec-3-4-8.20.0.cjs', 10, 0);
  file(dir, 'compose-spec-3-4-8.20.0.cjs.v24.21.0.v8', 10, 0);
  file(dir, 'compose-spec-3-4-8.20.0.cjs.123.tmp', 10, 0); // a write in progress
  file(dir, 'compose-spec-9-9-8.0.0.cjs.77.tmp', 10, 7200); // left by a writer that died
  file(dir, 'other-cache', 10, 0);
  mkdirSync(join(dir, 'compose-spec-old-dir'));
  const removed = dropStale(dir, 'compose-spec-', [
    'compose-spec-3-4-8.20.0.cjs',
    'compose-spec-3-4-8.20.0.cjs.v24.21.0.v8',
  ]);
  assert.deepEqual(removed.sort(), [
    'compose-spec-1-2-8.17.0.cjs',
    'compose-spec-1-2-8.17.0.cjs.v24.1.0.v8',
    'compose-spec-9-9-8.0.0.cjs.77.tmp',
    'compose-spec-old-dir',
  ]);
  assert.deepEqual(readdirSync(dir).sort(), [
    'compose-spec-3-4-8.20.0.cjs',
    'compose-spec-3-4-8.20.0.cjs.123.tmp',
    'compose-spec-3-4-8.20.0.cjs.v24.21.0.v8',
    'other-cache',
  ]);
  assert.deepEqual(dropStale(join(dir, 'missing'), '', []), []);
});

test('boundCache keeps the most recently used files within a count and a size', () => {
  const dir = fresh();
  for (let i = 0; i < 6; i++) file(dir, `e${i}.json`, 100, 60 - i); // e0 oldest, e5 newest
  assert.deepEqual(boundCache(dir, { maxEntries: 10, maxBytes: 10_000 }), []);
  assert.deepEqual(boundCache(dir, { maxEntries: 4, maxBytes: 10_000 }), ['e0.json', 'e1.json']);
  assert.deepEqual(boundCache(dir, { maxEntries: 4, maxBytes: 250 }), ['e2.json', 'e3.json']);
  assert.deepEqual(readdirSync(dir).sort(), ['e4.json', 'e5.json']);
});
