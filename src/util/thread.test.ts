import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { pathToFileURL } from 'node:url';
import { UnavailableError } from './errors.ts';
import { IdleTimer, OwnedThread, startThread, threadModules } from './thread.ts';

/**
 * entry.ts importing lib/twice.ts (a value and a type), re-exporting lib/more.ts, which imports twice.ts too, and
 * loading lib/late.ts through createRequire, as a module loaded on first use from synchronous code is.
 */
function fixture(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-thread-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'lib'));
  writeFileSync(
    join(dir, 'entry.ts'),
    [
      "import { createRequire } from 'node:module';",
      "import { parentPort } from 'node:worker_threads';",
      "import { twice, type Pair } from './lib/twice.ts';",
      "export * from './lib/more.ts';",
      "// a comment naming import('./missing.ts') is not a module",
      'const p: Pair = [twice(21), 0];',
      "const late = createRequire(import.meta.url)('./lib/late.ts') as { three: number };",
      "const stripper = process.moduleLoadList.some((m: string) => m.includes('amaro'));",
      'parentPort!.postMessage({ value: p[0], late: late.three, stripper, url: import.meta.url });',
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'lib', 'twice.ts'),
    'export type Pair = [number, number];\nexport const twice = (n: number): number => n * 2;\n',
  );
  writeFileSync(join(dir, 'lib', 'late.ts'), 'export const three: number = 3;\n');
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
  assert.deepEqual(urls.sort(), ['/entry.ts', '/lib/late.ts', '/lib/more.ts', '/lib/twice.ts']);
  const w = startThread(entry);
  const msg = await new Promise<{ value: number; late: number; stripper: boolean; url: string }>((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  await w.terminate();
  assert.equal(msg.value, 42);
  assert.equal(msg.late, 3, 'the module required on first use loaded');
  assert.equal(msg.url, entry.href, 'import.meta.url is the module file');
  assert.equal(msg.stripper, false, 'the worker did not load the type stripper');
});

test("a thread's modules come through the process's strip cache where berthd has one (bin/strip-cache.mjs)", async (t) => {
  const dir = fixture(t);
  const key = Symbol.for('berth.strip-cache');
  const asked: string[] = [];
  // What the cache answers: the stripped file, marked so that the thread shows it ran the cache's copy.
  (globalThis as Record<symbol, unknown>)[key] = (path: string): string => {
    const js = stripTypeScriptTypes(readFileSync(path, 'utf8'), { mode: 'strip' });
    asked.push(path);
    return path.endsWith('entry.ts') ? js.replace('twice(21)', 'twice(21) + 1') : js;
  };
  t.after(() => delete (globalThis as Record<symbol, unknown>)[key]);
  const entry = pathToFileURL(join(dir, 'entry.ts'));
  threadModules(entry);
  assert.deepEqual(
    asked.map((p) => p.slice(dir.length)).sort(),
    ['/entry.ts', '/lib/late.ts', '/lib/more.ts', '/lib/twice.ts'],
    'every module of the thread was asked of the cache, by its path',
  );
  const w = startThread(entry);
  const msg = await new Promise<{ value: number }>((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  await w.terminate();
  assert.equal(msg.value, 43, "the thread ran the cache's copy of its entry");
});

test("a thread's workerData reaches its entry, which imports it as from any worker", async (t) => {
  const dir = fixture(t);
  writeFileSync(
    join(dir, 'data.ts'),
    "import { parentPort, workerData } from 'node:worker_threads';\nparentPort!.postMessage(workerData);\n",
  );
  const data = { root: '/some/root', n: 7, list: [1, 2] };
  const { thread } = owned(t, '', { entry: join(dir, 'data.ts'), workerData: data });
  const got = await new Promise((resolve, reject) => {
    thread.worker.once('message', resolve);
    thread.worker.once('error', reject);
  });
  assert.deepEqual(got, data);
});

test("a module that fails to load is the thread's 'error'", async (t) => {
  const dir = fixture(t);
  writeFileSync(join(dir, 'bad.ts'), "import './lib/twice.ts';\nthrow new Error('boom at load');\n");
  const w = startThread(pathToFileURL(join(dir, 'bad.ts')));
  const err = await new Promise<Error>((resolve) => w.once('error', resolve));
  assert.match(err.message, /boom at load/);
  await w.terminate();
});

/** An OwnedThread on a module of `code` (or on `opts.entry`), and the deaths it told. */
function owned(
  t: TestContext,
  code: string,
  opts: { entry?: string; workerData?: unknown } = {},
): { thread: OwnedThread; deaths: Error[] } {
  const dir = mkdtempSync(join(tmpdir(), 'berth-thread-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'entry.ts'), code);
  const deaths: Error[] = [];
  const thread = new OwnedThread(
    pathToFileURL(opts.entry ?? join(dir, 'entry.ts')),
    { workerData: opts.workerData },
    'the test thread',
    (err) => deaths.push(err),
  );
  t.after(() => thread.stop());
  return { thread, deaths };
}

const exited = (thread: OwnedThread) => new Promise((resolve) => thread.worker.once('exit', resolve));

test('an owned thread that throws dies once, as unavailable, naming itself and the error', async (t) => {
  const { thread, deaths } = owned(t, "setTimeout(() => { throw new Error('boom'); }, 0);\n");
  await exited(thread);
  assert.equal(deaths.length, 1, "the 'exit' after the 'error' is not a second death");
  assert.ok(deaths[0] instanceof UnavailableError);
  assert.equal(deaths[0].message, 'the test thread failed: boom');
});

test('an owned thread that exits on its own dies with its exit code', async (t) => {
  const { thread, deaths } = owned(t, 'process.exit(3);\n');
  await exited(thread);
  assert.deepEqual(
    deaths.map((e) => e.message),
    ['the test thread exited with code 3'],
  );
});

test('an owned thread stopped by its owner is not a death', async (t) => {
  const { thread, deaths } = owned(t, 'setInterval(() => {}, 1000);\n');
  await thread.stop();
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(deaths, []);
});

test('an idle timer runs once after its wait, however often it was armed meanwhile; disarming cancels it', async () => {
  let runs = 0;
  const idle = new IdleTimer(10, () => runs++);
  // A timer due later (the sleeps here) never fires before one due earlier.
  const sleep = () => new Promise((resolve) => setTimeout(resolve, 50));
  idle.arm();
  idle.arm();
  assert.equal(idle.armed, true);
  await sleep();
  assert.equal(runs, 1);
  assert.equal(idle.armed, false);
  idle.arm();
  idle.disarm();
  await sleep();
  assert.equal(runs, 1);
});
