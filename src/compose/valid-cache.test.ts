import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { keepValid, knownValid, VALID_PREFIX, verdictText } from './valid-cache.ts';

const dir = mkdtempSync(join(tmpdir(), 'berth-valid-cache-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a valid verdict is kept by the whole document, under the schema key, bounded', () => {
  const doc = { services: { web: { image: 'busybox', ports: ['80:80'] } } };
  const text = verdictText(doc)!;
  assert.equal(knownValid('1-2-8.20.0', text, { dir }), false);
  keepValid('1-2-8.20.0', text, { dir });
  assert.equal(knownValid('1-2-8.20.0', text, { dir }), true);
  // Another document, another schema: not known.
  assert.equal(knownValid('1-2-8.20.0', verdictText({ services: { web: { image: 'other' } } })!, { dir }), false);
  assert.equal(knownValid('3-4-8.20.0', text, { dir }), false);
  // A file whose name matches but whose text differs (a hash collision) is not a verdict.
  const [name] = readdirSync(join(dir, `${VALID_PREFIX}1-2-8.20.0`));
  writeFileSync(join(dir, `${VALID_PREFIX}1-2-8.20.0`, name!), '{"services":{}}');
  assert.equal(knownValid('1-2-8.20.0', text, { dir }), false);
  // A new schema key's first verdict removes the other keys' directories; the count stays within the limit.
  mkdirSync(join(dir, `${VALID_PREFIX}0-0-8.0.0`));
  const limits = { maxEntries: 2, maxBytes: 1 << 20 };
  for (let i = 0; i < 4; i++) keepValid('3-4-8.20.0', verdictText({ services: { [`s${i}`]: {} } })!, { dir, limits });
  assert.deepEqual(readdirSync(dir), [`${VALID_PREFIX}3-4-8.20.0`]);
  assert.equal(readdirSync(join(dir, `${VALID_PREFIX}3-4-8.20.0`)).length, 2);
});

test('a document JSON cannot hold exactly has no verdict text', () => {
  assert.equal(verdictText({ services: { a: { cpus: Number.POSITIVE_INFINITY } } }), undefined);
  assert.equal(verdictText({ x: Number.NaN }), undefined);
  assert.equal(verdictText({ x: null }), '{"x":null}');
});
