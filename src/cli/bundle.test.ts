import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, test } from 'node:test';
import { buildBundle } from './bundle-build.ts';
import {
  BUILD_LOCK,
  BUNDLE_FORMAT,
  type BundleSpec,
  commandOf,
  GIVE_UP,
  givenUp,
  isFresh,
  loadBundle,
  type Manifest,
  readManifest,
  ROOT,
  runBundle,
} from './bundle.ts';
import type { FlagSpec } from './flags.ts';

const tmp = mkdtempSync(join(tmpdir(), 'berth-bundle-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A small program in a tree of its own: `src/app/entry.ts` imports `./dep.ts` (copied in) and `../keep/kept.ts`
 * (left out, handed off). The bundle records the loader and the builder as inputs, so the tree has copies of them.
 */
function smallTree(name: string): { root: string; dir: string; spec: BundleSpec } {
  const root = join(tmp, name);
  mkdirSync(join(root, 'src', 'app'), { recursive: true });
  mkdirSync(join(root, 'src', 'keep'), { recursive: true });
  mkdirSync(join(root, 'src', 'cli'), { recursive: true });
  for (const f of ['bundle.ts', 'bundle-build.ts'])
    writeFileSync(join(root, 'src', 'cli', f), readFileSync(join(ROOT, 'src', 'cli', f)));
  writeFileSync(join(root, 'package.json'), '{"type":"module"}\n');
  symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'));
  writeFileSync(
    join(root, 'src', 'app', 'entry.ts'),
    "import { kept } from '../keep/kept.ts';\nimport { value } from './dep.ts';\n" +
      'export const answer = (): string => `${value}/${kept}`;\n' +
      'export const where = (): string => import.meta.filename;\n',
  );
  writeFileSync(join(root, 'src', 'app', 'dep.ts'), "export const value: string = 'one';\n");
  writeFileSync(join(root, 'src', 'keep', 'kept.ts'), "export const kept = 'kept';\n");
  const spec: BundleSpec = {
    name: 'small',
    entry: 'src/app/entry.ts',
    own: [],
    bundled: (rel) => rel.startsWith('src/app/'),
    handOff: ['src/keep/kept.ts'],
  };
  return { root, dir: join(root, 'cache', 'small'), spec };
}

type Small = { answer(): string; where(): string };

test('a changed source file is picked up by the next run: the source until the bundle is rebuilt', async () => {
  const { root, dir, spec } = smallTree('stale');
  const where = { root, dir };
  // Every input changed less than a second ago: the build is given up and the caller runs the source.
  assert.equal(await loadBundle<Small>(spec, {}, 'x', where), undefined);
  assert.equal(readManifest(dir), undefined);
  await sleep(1100);
  const first = await loadBundle<Small>(spec, {}, 'x', where);
  assert.ok(first, 'a bundle once the inputs are a second old');
  assert.equal(first.exports.answer(), 'one/kept');
  // import.meta of a copied module is its own file's, as from source.
  assert.equal(first.exports.where(), join(root, 'src', 'app', 'entry.ts'));
  const manifest = readManifest(dir)!;
  assert.deepEqual(manifest.inputs.map((i) => i[0]).sort(), [
    // esbuild's (through the tree's link to node_modules, as Node resolves it: its real path).
    relative(root, join(ROOT, 'node_modules', 'esbuild', 'package.json')),
    'src/app/dep.ts',
    'src/app/entry.ts',
    'src/cli/bundle-build.ts',
    'src/cli/bundle.ts',
  ]);
  assert.equal(isFresh(manifest, root), true);

  // The same size, a new text: the times give it away, and the run that sees it runs the source.
  writeFileSync(join(root, 'src', 'app', 'dep.ts'), "export const value: string = 'two';\n");
  assert.equal(isFresh(manifest, root), false);
  assert.equal(await loadBundle<Small>(spec, {}, 'x', where), undefined, 'too recent to build: the source runs');
  await sleep(1100);
  const second = await loadBundle<Small>(spec, {}, 'x', where);
  assert.ok(second);
  assert.equal(second.exports.answer(), 'two/kept');
  const files = readdirSync(dir);
  assert.equal(files.filter((f) => f.endsWith('.js')).length, 1, 'the older bundle is gone');
  assert.ok(!files.includes(manifest.bundle));

  // A module left out is not copied: a change to it is seen without a rebuild (it is loaded from source).
  assert.doesNotMatch(readFileSync(join(dir, readManifest(dir)!.bundle), 'utf8'), /kept = "kept"/);
  // The switches run the source.
  assert.equal(await loadBundle<Small>(spec, { BERTH_BUNDLE: '0' }, 'x', where), undefined);
  assert.equal(await loadBundle<Small>({ ...spec, switch: 'SMALL' }, { SMALL: '0' }, 'x', where), undefined);
});

test('each way a manifest goes stale, and a bundle that reaches a module it may not is not built', async () => {
  const { root, dir, spec } = smallTree('ways');
  await sleep(1100);
  const manifest = await buildBundle(spec, root, dir);
  assert.ok(manifest);
  assert.equal(manifest.format, BUNDLE_FORMAT);
  const changed = (i: number, field: number): Manifest => ({
    ...manifest,
    inputs: manifest.inputs.map((entry, j) =>
      j === i ? (entry.map((v, k) => (k === field ? (v as number) + 1 : v)) as typeof entry) : entry,
    ),
  });
  assert.equal(isFresh({ ...manifest, root: '/elsewhere' }, root), false);
  assert.equal(isFresh({ ...manifest, format: BUNDLE_FORMAT + 1 }, root), false);
  for (let field = 1; field < 5; field++) assert.equal(isFresh(changed(1, field), root), false);
  const gone = manifest.inputs.map((e, j) => (j === 0 ? (['src/app/no-such.ts', ...e.slice(1)] as typeof e) : e));
  assert.equal(isFresh({ ...manifest, inputs: gone }, root), false);
  assert.equal(isFresh({ ...manifest, inputs: [] }, root), false);

  // kept.ts is neither copied in nor handed off: the build is given up, nothing is written.
  const other = join(tmp, 'ways-cache');
  assert.equal(await buildBundle({ ...spec, handOff: [] }, root, other), undefined);
  assert.equal(existsSync(join(other, 'manifest.json')), false);
});

test("a command's code cache is written by its first run, at exit, and used by the next", async () => {
  const { root, dir, spec } = smallTree('code');
  await sleep(1100);
  const manifest = await buildBundle(spec, root, dir);
  assert.ok(manifest);
  const path = join(dir, manifest.bundle);
  // A process that runs the bundle for `x` and says `x` started; one that says another command started.
  const script = (command: string, started: string) =>
    `const { runBundle } = await import(${JSON.stringify(join(ROOT, 'src', 'cli', 'bundle.ts'))});\n` +
    `const b = runBundle(${JSON.stringify(path)}, '${command}'); b.started('${started}'); b.exports.answer();`;
  const node = (code: string) =>
    execFileSync(process.execPath, ['--input-type=module', '-e', code], { cwd: root, encoding: 'utf8' });
  node(script('y', 'x'));
  assert.equal(readdirSync(dir).filter((f) => f.endsWith('.v8')).length, 0, 'a wrong guess writes nothing');
  node(script('x', 'x'));
  const cache = `${manifest.bundle}.x.${process.version}.v8`;
  assert.ok(readdirSync(dir).includes(cache));
  const loaded = runBundle<Small>(path, 'x');
  assert.equal(loaded.exports.answer(), 'one/kept');
});

test('the command is found after the program flags and their values, as the parser reads them', () => {
  const flags: FlagSpec[] = [
    { name: 'file', short: 'f', kind: 'list', usage: '' },
    { name: 'debug', short: 'D', kind: 'bool', usage: '' },
    { name: 'host', short: 'H', kind: 'string', usage: '' },
  ];
  assert.equal(commandOf(['-f', 'a.yaml', 'config', '--services'], flags), 'config');
  assert.equal(commandOf(['--file=a.yaml', '--host', 'up', 'ps'], flags), 'ps');
  assert.equal(commandOf(['-fa.yaml', '-f=b.yaml', 'up'], flags), 'up');
  assert.equal(commandOf(['-DH', 'unix:///x', 'version'], flags), 'version');
  assert.equal(commandOf(['-DHunix:///x', 'images'], flags), 'images');
  assert.equal(commandOf(['--debug', '--', 'ps'], flags), 'none');
  assert.equal(commandOf(['-f', 'a.yaml'], flags), 'none');
  assert.equal(commandOf(['-f', 'a.yaml', 'Weird/Name'], flags), 'other');
});

test('one run builds a stale bundle at a time: the others run the source meanwhile; a lock a dead run left is taken over', async () => {
  const { root, dir, spec } = smallTree('lock');
  const where = { root, dir };
  await sleep(1100);
  mkdirSync(dir, { recursive: true });
  const lock = join(dir, BUILD_LOCK);
  writeFileSync(lock, '');
  assert.equal(await loadBundle<Small>(spec, {}, 'x', where), undefined, 'another run is building');
  assert.equal(readManifest(dir), undefined);
  assert.ok(existsSync(lock), "the other run's lock stays");
  // Two minutes old: its build died.
  const old = new Date(Date.now() - 120_000);
  utimesSync(lock, old, old);
  const loaded = await loadBundle<Small>(spec, {}, 'x', where);
  assert.ok(loaded);
  assert.equal(loaded.exports.answer(), 'one/kept');
  assert.ok(!existsSync(lock), 'the lock goes with the build');
});

test('a build given up for what its inputs are is not tried again until one of them changes, or a missing import appears', async () => {
  const { root, dir, spec } = smallTree('giveup');
  const where = { root, dir };
  const entry = join(root, 'src', 'app', 'entry.ts');
  // Top-level await: esbuild cannot make a CommonJS script of it.
  writeFileSync(entry, "export const answer = (): string => 'late';\nawait 0;\n");
  await sleep(1100);
  assert.equal(await loadBundle<Small>(spec, {}, 'x', where), undefined);
  const record = join(dir, GIVE_UP);
  assert.ok(existsSync(record), 'the give-up is recorded');
  assert.equal(givenUp(dir, root), true);
  const first = statSync(record).ino;
  assert.equal(await loadBundle<Small>(spec, {}, 'x', where), undefined);
  assert.equal(statSync(record).ino, first, 'no build was tried: the record was not written again');

  // The input changes: built again, and the record goes.
  writeFileSync(entry, "export const answer = (): string => 'now';\n");
  assert.equal(givenUp(dir, root), false);
  await sleep(1100);
  const built = await loadBundle<Small>(spec, {}, 'x', where);
  assert.equal(built?.exports.answer(), 'now');
  assert.equal(existsSync(record), false);

  // A module to copy in that is missing: given up until it is there, though no input changed.
  writeFileSync(entry, "import { late } from './late.ts';\nexport const answer = (): string => late;\n");
  await sleep(1100);
  assert.equal(await loadBundle<Small>(spec, {}, 'x', where), undefined);
  assert.equal(givenUp(dir, root), true);
  writeFileSync(join(root, 'src', 'app', 'late.ts'), "export const late = 'here';\n");
  assert.equal(givenUp(dir, root), false);
});
