import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readParsed, writeParsed } from './parse-cache.ts';

const dir = mkdtempSync(join(tmpdir(), 'berth-parse-cache-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('the parse cache is bounded, renews what it reads and drops older formats', () => {
  const limits = { maxEntries: 3, maxBytes: 1 << 20 };
  // What earlier formats left: flat files and another format's directory.
  writeFileSync(join(dir, '0123456789abcdef.json'), '{}');
  mkdirSync(join(dir, 'v1-yaml-2.0.0'));
  writeFileSync(join(dir, 'v1-yaml-2.0.0', 'aaaa.json'), '{}');
  const parse = (i: number) => ({
    documents: [{ services: { [`s${i}`]: {} } }],
    rows: [] as [string, number, number][],
  });
  const text = (i: number) => `services:\n  s${i}: {}\n`;
  for (let i = 0; i < 3; i++) writeParsed(text(i), parse(i), { dir, limits });
  const [format] = readdirSync(dir);
  assert.match(format!, /^v\d+-yaml-\d+\.\d+\.\d+/);
  assert.deepEqual(readdirSync(dir), [format]);
  // Make the three entries look old, then read the first: it becomes the most recently used.
  for (const name of readdirSync(join(dir, format!))) {
    const t = new Date(Date.now() - 60_000);
    utimesSync(join(dir, format!, name), t, t);
  }
  assert.deepEqual(readParsed(text(0), { dir })?.documents, parse(0).documents);
  writeParsed(text(3), parse(3), { dir, limits });
  assert.equal(readdirSync(join(dir, format!)).length, 3);
  assert.notEqual(readParsed(text(0), { dir }), undefined);
  assert.notEqual(readParsed(text(3), { dir }), undefined);
  const kept = [1, 2].filter((i) => readParsed(text(i), { dir }) !== undefined);
  assert.equal(kept.length, 1);
  // A text whose hash matches but whose content differs is not served.
  assert.equal(readParsed('services: {}\n', { dir }), undefined);
  assert.equal(existsSync(join(dir, '0123456789abcdef.json')), false);
});
