/**
 * The Dockerfile corpus (../shared/fixtures/dockerfile-corpus, BuildKit's parser and shell test data) is the
 * specification of the frontend: every parser case dumps to its `result` byte for byte, every negative case is
 * refused, every line of envVarTest and wordsTest expands as written. One test runs all of it and names every case
 * that fails.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { processWord, processWords } from '../util/shellwords.ts';
import { dump } from './ast.ts';
import { parseInstructions } from './instructions.ts';
import { parse } from './parser.ts';

const corpus = resolve(import.meta.dirname, '../..', '../shared/fixtures/dockerfile-corpus');

interface Outcome {
  passed: number;
  failures: string[];
}

function parserCases(o: Outcome): void {
  const dir = join(corpus, 'parser-cases');
  for (const name of readdirSync(dir).sort()) {
    const source = readFileSync(join(dir, name, 'Dockerfile'));
    const want = readFileSync(join(dir, name, 'result'), 'utf8');
    try {
      const got = dump(parse(source).nodes);
      if (got === want) o.passed++;
      else o.failures.push(`parser-cases/${name}: dump differs\n--- want\n${want}--- got\n${got}`);
    } catch (err) {
      o.failures.push(`parser-cases/${name}: ${(err as Error).message}`);
    }
  }
}

function negativeCases(o: Outcome): void {
  const dir = join(corpus, 'parser-negative');
  for (const name of readdirSync(dir).sort()) {
    const source = readFileSync(join(dir, name, 'Dockerfile'));
    try {
      // a negative case may be refused by the parser or by the instruction parser: both come before any build
      parseInstructions(parse(source));
      o.failures.push(`parser-negative/${name}: accepted`);
    } catch {
      o.passed++;
    }
  }
}

function envVarCases(o: Outcome): void {
  const env = new Map([
    ['PWD', '/home'],
    ['SHELL', 'bash'],
    ['KOREAN', '한국어'],
    ['NULL', ''],
  ]);
  const lines = readFileSync(join(corpus, 'envVarTest'), 'utf8').split('\n');
  lines.forEach((raw, i) => {
    if (raw.startsWith('#') || raw.trim() === '') return;
    const parts = raw.trim().split('|');
    assert.equal(parts.length, 3, `envVarTest line ${i + 1} is malformed`);
    const [platform, input, expected] = parts.map((p) => p.trim()) as [string, string, string];
    if (platform === 'W') return;
    const where = `envVarTest:${i + 1} ${JSON.stringify(input)}`;
    let got: string;
    try {
      got = processWord(input, env);
    } catch (err) {
      if (expected === 'error') o.passed++;
      else o.failures.push(`${where}: ${(err as Error).message}, want ${JSON.stringify(expected)}`);
      return;
    }
    if (expected !== 'error' && got === expected) o.passed++;
    else o.failures.push(`${where}: got ${JSON.stringify(got)}, want ${JSON.stringify(expected)}`);
  });
}

function wordsCases(o: Outcome): void {
  const env = new Map<string, string>();
  const lines = readFileSync(join(corpus, 'wordsTest'), 'utf8').split('\n');
  lines.forEach((line, i) => {
    if (line.startsWith('#') || line === '') return;
    if (line.startsWith('ENV ')) {
      const kv = line.slice(3).replace(/^ +/, '');
      const eq = kv.indexOf('=');
      env.set(kv.slice(0, eq), kv.slice(eq + 1));
      return;
    }
    const parts = line.split('|');
    assert.equal(parts.length, 2, `wordsTest line ${i + 1} is malformed`);
    const input = parts[0]!.trim();
    const expected = parts[1]!.replace(/^ +/, '').split(',');
    let got: string[];
    try {
      got = processWords(input, env);
    } catch {
      got = ['error'];
    }
    if (JSON.stringify(got) === JSON.stringify(expected)) o.passed++;
    else
      o.failures.push(
        `wordsTest:${i + 1} ${JSON.stringify(input)}: got ${JSON.stringify(got)}, want ${JSON.stringify(expected)}`,
      );
  });
}

test('the whole Dockerfile corpus: parser cases, negative cases, envVarTest, wordsTest', (t) => {
  const o: Outcome = { passed: 0, failures: [] };
  parserCases(o);
  negativeCases(o);
  envVarCases(o);
  wordsCases(o);
  t.diagnostic(`${o.passed} corpus cases pass, ${o.failures.length} fail`);
  assert.deepEqual(o.failures, [], `${o.failures.length} corpus case(s) fail, ${o.passed} pass`);
  assert.ok(o.passed > 250, `only ${o.passed} cases ran: is the corpus at ${corpus}?`);
});
