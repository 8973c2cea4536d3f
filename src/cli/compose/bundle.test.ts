import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { buildBundle } from '../bundle-build.ts';
import { commandOf, isFresh, readManifest, ROOT, runBundle } from '../bundle.ts';
import type { Context } from '../command.ts';
import { COMPOSE_BUNDLE, type ComposeMain, isBundled } from './bundle.ts';
import { COMPOSE_FLAGS } from './flags.ts';
import { runCompose } from './main.ts';

const tmp = mkdtempSync(join(tmpdir(), 'berth-compose-bundle-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('the bundle holds src/compose and src/cli/compose, without the loader, its flags, the plugin entry and tests', () => {
  assert.equal(isBundled('src/compose/load.ts'), true);
  assert.equal(isBundled('src/cli/compose/main.ts'), true);
  assert.equal(isBundled('src/cli/compose/table.ts'), true);
  assert.equal(isBundled('src/cli/compose/bundle.ts'), false);
  assert.equal(isBundled('src/cli/compose/flags.ts'), false);
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

test('a bundle built from the tree runs compose as the source does', async () => {
  const dir = join(tmp, 'bundle');
  const manifest = await buildBundle(COMPOSE_BUNDLE, ROOT, dir);
  assert.ok(manifest, 'the build was given up');
  assert.deepEqual(readManifest(dir), manifest);
  const inputs = manifest.inputs.map((i) => i[0]);
  for (const rel of [
    'src/cli/compose/main.ts',
    'src/compose/load.ts',
    'src/cli/bundle-build.ts',
    'src/cli/compose/bundle.ts',
  ]) {
    assert.ok(inputs.includes(rel), rel);
  }
  assert.ok(!inputs.includes('src/cli/errors.ts'), 'modules outside the two folders are not copied in');
  assert.ok(!inputs.includes('src/cli/compose/flags.ts'), 'the flags the loader reads are required from source');
  assert.equal(isFresh(manifest, ROOT), true);
  // A script run by node:vm cannot import(): every import() of a module outside the bundle became require().
  const text = readFileSync(join(dir, manifest.bundle), 'utf8');
  assert.doesNotMatch(text, /\bimport\(/);
  assert.match(text, /require\("[^"]*\/src\/cli\/container\/exec\.ts"\)/);

  const app = join(tmp, 'app');
  mkdirSync(app);
  writeFileSync(
    join(app, 'compose.yaml'),
    'services:\n  web:\n    image: busybox\n    ports: ["8080:80"]\n    depends_on: [db]\n  db:\n    image: busybox\n',
  );
  const bundled = runBundle<ComposeMain>(join(dir, manifest.bundle), 'config').exports;
  assert.match(bundled.COMPOSE_VERSION, /^2\./);
  const fromBundle = await config(bundled.runCompose, app);
  assert.match(fromBundle, /^name: app\nservices:\n {2}db:/);
  assert.equal(fromBundle, await config(runCompose, app));
});

test('the command is found after compose flags and their values, to name its code cache', () => {
  assert.equal(
    commandOf(['-f', 'a.yaml', '--project-directory', '/x', 'config', '--services'], COMPOSE_FLAGS),
    'config',
  );
  assert.equal(commandOf(['--file=a.yaml', '-p', 'up', 'up', '-d'], COMPOSE_FLAGS), 'up');
  assert.equal(commandOf(['--profile', 'debug', '--dry-run', '--parallel', '2', 'ps'], COMPOSE_FLAGS), 'ps');
  assert.equal(commandOf(['-f', 'a.yaml'], COMPOSE_FLAGS), 'none');
});
