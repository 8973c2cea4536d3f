import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { pathToFileURL } from 'node:url';
import { startThread, threadModules } from './thread.ts';

/** entry.ts importing lib/twice.ts (a value and a type) and re-exporting lib/more.ts, which imports twice.ts too. */
function fixture(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-thread-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'lib'));
  writeFileSync(
    join(dir, 'entry.ts'),
    [
      "import { parentPort } from 'node:worker_threads';",
      "import { twice, type Pair } from './lib/twice.ts';",
      "export * from './lib/more.ts';",
      "// a comment naming import('./missing.ts') is not a module",
      'const p: Pair = [twice(21), 0];',
      "const stripper = process.moduleLoadList.some((m: string) => m.includes('amaro'));",
      'parentPort!.postMessage({ value: p[0], stripper, url: import.meta.url });',
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'lib', 'twice.ts'),
    'export type Pair = [number, number];\nexport const twice = (n: number): number => n * 2;\n',
  );
  writeFileSync(
    join(dir, 'lib', 'more.ts'),
    "import { twice } from './twice.ts';\nexport const four: number = twice(2);\n",
  );
  return dir;
}

test('a thread runs TypeScript modules, stripped on this thread, without loading the stripper itself', async (t) => {
  const dir = fixture(t);
  const entry = pathToFileURL(join(dir, 'entry.ts'));
  const base = pathToFileURL(dir).href;
  const urls = threadModules(entry).map(([u]) => u.slice(base.length));
  assert.deepEqual(urls.sort(), ['/entry.ts', '/lib/more.ts', '/lib/twice.ts']);
  const w = startThread(entry);
  const msg = await new Promise<{ value: number; stripper: boolean; url: string }>((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  await w.terminate();
  assert.equal(msg.value, 42);
  assert.equal(msg.url, entry.href, 'import.meta.url is the module file');
  assert.equal(msg.stripper, false, 'the worker did not load the type stripper');
});

test("a module that fails to load is the thread's 'error'", async (t) => {
  const dir = fixture(t);
  writeFileSync(join(dir, 'bad.ts'), "import './lib/twice.ts';\nthrow new Error('boom at load');\n");
  const w = startThread(pathToFileURL(join(dir, 'bad.ts')));
  const err = await new Promise<Error>((resolve) => w.once('error', resolve));
  assert.match(err.message, /boom at load/);
  await w.terminate();
});
