import assert from 'node:assert/strict';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { Context } from '../command.ts';
import { buildBundle, isBundled } from './bundle-build.ts';
import { BUNDLE_FORMAT, commandOf, isFresh, type Manifest, readManifest, ROOT, runBundle } from './bundle.ts';
import { runCompose } from './main.ts';

const tmp = mkdtempSync(join(tmpdir(), 'berth-compose-bundle-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('the bundle holds src/compose and src/cli/compose, without the loader, the plugin entry and tests', () => {
  assert.equal(isBundled('src/compose/load.ts'), true);
  assert.equal(isBundled('src/cli/compose/main.ts'), true);
  assert.equal(isBundled('src/cli/compose/table.ts'), true);
  assert.equal(isBundled('src/cli/compose/bundle.ts'), false);
  assert.equal(isBundled('src/cli/compose/bundle-build.ts'), false);
  assert.equal(isBundled('src/cli/compose/plugin.ts'), false);
  assert.equal(isBundled('src/compose/load.test.ts'), false);
  assert.equal(isBundled('src/cli/errors.ts'), false);
  assert.equal(isBundled('src/util/units.ts'), false);
});

/** Runs `compose … config` through `run` and returns what it printed. */
async function config(run: typeof runCompose, dir: string): Promise<string> {
  let out = '';
  const stream = {
    stream: process.stdout,
    isTerminal: false,
    columns: undefined,
    write: (t: string) => void (out += t),
  };
  const ctx = {
    streams: { in: process.stdin, out: stream, err: stream },
    globals: { host: '', logLevel: 'info', debug: false },
    signal: new AbortController().signal,
    version: 'test',
    client: () => {
      throw new Error('config needs no engine');
    },
    releaseSignals: () => {},
  } as unknown as Context;
  await run(ctx, ['--project-directory', dir, 'config'], 'berth compose', { cwd: dir, env: { HOME: dir } });
  return out;
}

test('a bundle built from the tree runs compose as the source does, and goes stale when an input changes', async () => {
  const dir = join(tmp, 'bundle');
  const manifest = await buildBundle(ROOT, dir);
  assert.ok(manifest, 'the build was given up');
  assert.equal(manifest.format, BUNDLE_FORMAT);
  assert.deepEqual(readManifest(dir), manifest);
  const inputs = manifest.inputs.map((i) => i[0]);
  for (const rel of ['src/cli/compose/main.ts', 'src/compose/load.ts', 'src/cli/compose/bundle-build.ts']) {
    assert.ok(inputs.includes(rel), rel);
  }
  assert.ok(!inputs.includes('src/cli/errors.ts'), 'modules outside the two folders are not copied in');
  assert.equal(isFresh(manifest, ROOT), true);
  // A script run by node:vm cannot import(): every import() of a module outside the bundle became require().
  const text = readFileSync(join(dir, manifest.bundle), 'utf8');
  assert.doesNotMatch(text, /\bimport\(/);
  assert.match(text, /require\("[^"]*\/src\/cli\/container\/exec\.ts"\)/);

  // Each way of going stale: another root, format, a size or time or inode that moved, an input gone.
  const changed = (i: number, field: number): Manifest => ({
    ...manifest,
    inputs: manifest.inputs.map((entry, j) =>
      j === i ? (entry.map((v, k) => (k === field ? `${v}1` : v)) as typeof entry) : entry,
    ),
  });
  assert.equal(isFresh({ ...manifest, root: '/elsewhere' }, ROOT), false);
  assert.equal(isFresh({ ...manifest, format: BUNDLE_FORMAT + 1 }, ROOT), false);
  for (let field = 1; field < 5; field++) assert.equal(isFresh(changed(3, field), ROOT), false);
  const gone = manifest.inputs.map((e, j) =>
    j === 2 ? (['src/compose/no-such-file.ts', ...e.slice(1)] as typeof e) : e,
  );
  assert.equal(isFresh({ ...manifest, inputs: gone }, ROOT), false);
  assert.equal(isFresh({ ...manifest, inputs: [] }, ROOT), false);

  const app = join(tmp, 'app');
  mkdirSync(app);
  writeFileSync(
    join(app, 'compose.yaml'),
    'services:\n  web:\n    image: busybox\n    ports: ["8080:80"]\n    depends_on: [db]\n  db:\n    image: busybox\n',
  );
  const bundled = runBundle(join(dir, manifest.bundle), 'config');
  assert.match(bundled.COMPOSE_VERSION, /^2\./);
  const fromBundle = await config(bundled.runCompose, app);
  assert.match(fromBundle, /^name: app\nservices:\n {2}db:/);
  assert.equal(fromBundle, await config(runCompose, app));
});

test('a build is given up when an input changed just before it, and a later one replaces older bundles', async () => {
  // A copy of the compose sources (what the bundle copies in; the rest is only required at run time).
  const root = join(tmp, 'tree');
  for (const d of ['src/compose', 'src/cli/compose']) cpSync(join(ROOT, d), join(root, d), { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(root, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'));
  const dir = join(root, 'cache');
  // The copy was just written: every input changed less than a second ago.
  assert.equal(await buildBundle(root, dir), undefined);
  assert.equal(readManifest(dir), undefined);

  // Age the tree past the racy second (the change time cannot be set back: wait it out).
  await new Promise((r) => setTimeout(r, 1100));
  const first = await buildBundle(root, dir);
  assert.ok(first);
  assert.equal(isFresh(first, root), true);
  writeFileSync(join(root, 'src/compose/labels.ts'), 'globalThis.berthTouched = 1;\n', { flag: 'a' });
  assert.equal(isFresh(first, root), false, 'an edit makes the bundle stale');
  writeFileSync(join(dir, `${first.bundle}.v24.0.0.v8`), 'old code cache');
  await new Promise((r) => setTimeout(r, 1100));
  const second = await buildBundle(root, dir);
  assert.ok(second);
  assert.notEqual(second.bundle, first.bundle);
  assert.deepEqual(readdirSync(dir).sort(), [second.bundle, 'manifest.json'].sort());
  assert.equal(existsSync(join(dir, first.bundle)), false);
});

test('the command is found after compose flags and their values, to name its code cache', () => {
  assert.equal(commandOf(['-f', 'a.yaml', '--project-directory', '/x', 'config', '--services']), 'config');
  assert.equal(commandOf(['--file=a.yaml', '-p', 'up', 'up', '-d']), 'up');
  assert.equal(commandOf(['--profile', 'debug', '--dry-run', 'ps']), 'ps');
  assert.equal(commandOf(['-f', 'a.yaml']), 'none');
  assert.equal(commandOf(['-f', 'a.yaml', 'Weird/Name']), 'other');
});
