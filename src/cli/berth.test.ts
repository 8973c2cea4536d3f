import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CLI_BUNDLE, type CliMain, FROM_SOURCE } from './berth.ts';
import { buildBundle } from './bundle-build.ts';
import { commandOf, isFresh, type Manifest, ROOT, runBundle, START_SCRIPT } from './bundle.ts';
import type { OutStream, Streams } from './command.ts';
import { WHERE } from './where.ts';
import { writeCacheFile } from '../util/cache-files.ts';
import { GLOBAL_FLAGS } from './global-flags.ts';
import * as source from './main.ts';

const tmp = mkdtempSync(join(tmpdir(), 'berth-cli-bundle-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Runs `berth ARGS` through `cli` (no engine is reached) and returns its status and output. */
async function berth(cli: CliMain, args: string[]): Promise<{ status: number; out: string; err: string }> {
  const text = { out: '', err: '' };
  const stream = (k: 'out' | 'err'): OutStream => ({
    stream: process.stdout,
    isTerminal: false,
    columns: undefined,
    write: (t) => void (text[k] += t),
  });
  const streams: Streams = { in: process.stdin, out: stream('out'), err: stream('err') };
  const status = await cli.main(args, { HOME: tmp, BERTH_HOST: `unix://${join(tmp, 'none.sock')}` }, streams);
  return { status, ...text };
}

test('the CLI bundle builds from the tree and runs as the source does', async () => {
  const dir = join(tmp, 'cli');
  const manifest = await buildBundle(CLI_BUNDLE, ROOT, dir);
  assert.ok(manifest, 'the build was given up');
  const inputs = manifest.inputs.map((i) => i[0]);
  for (const rel of ['src/cli/main.ts', 'src/cli/container/run.ts', 'src/client/index.ts', 'src/cli/berth.ts']) {
    assert.ok(inputs.includes(rel), rel);
  }
  for (const rel of ['src/cli/compose/main.ts', 'src/trust/index.ts', 'src/registry/index.ts']) {
    assert.ok(!inputs.includes(rel), `${rel} is not copied in`);
  }
  const text = readFileSync(join(dir, manifest.bundle), 'latin1');
  assert.doesNotMatch(text, /function loadBundle/, 'the loader is recorded (a change makes it stale), not copied in');
  assert.match(text, /^\(function \(exports, require, module, __filename, __dirname\) \{/);
  assert.doesNotMatch(text, /[^\0-\x7f]/, 'ASCII only');
  // The client is copied in and required in place, not from source by path.
  assert.doesNotMatch(text, /require\("[^"]*\/src\/client\//);
  // What the bundle requires from source, and from which of its modules: only the ways to the commands that run
  // from source (main.ts for compose and the registry server, the trust table for its keys).
  const fromSource: string[][] = [];
  for (const m of text.matchAll(/require\("([^"]*)\/(src\/[^"]+)"\)/g)) {
    assert.equal(m[1], ROOT);
    const marker = [...text.slice(0, m.index).matchAll(/^\/\/ (src\/\S+)$/gm)].at(-1);
    fromSource.push([marker?.[1] ?? '?', m[2]!]);
  }
  assert.deepEqual(fromSource.sort(), [
    ['src/cli/main.ts', 'src/cli/compose/bundle.ts'],
    ['src/cli/main.ts', 'src/registry/index.ts'],
    ['src/cli/trust/commands.ts', 'src/cli/trust/sign.ts'],
  ]);

  const bundled = runBundle<CliMain>(join(dir, manifest.bundle), 'version').exports;
  for (const args of [
    ['--version'],
    ['--help'],
    ['--nope'],
    ['version', '--help'],
    ['ps', 'extra', '--format', '{{.ID}}', '-q', '--nope'],
    ['rm'],
    ['run', '--memory', 'lots', 'busybox'],
    ['-l', 'loud', 'ps'],
    ['no-such-command'],
  ]) {
    const [a, b] = [await berth(bundled, args), await berth(source, args)];
    assert.deepEqual(a, b, args.join(' '));
  }
  // An engine that is not there: the client's error, from the bundle's copy, is reported as the source's is.
  const down = await berth(bundled, ['version', '--format', '{{.Client.Version}}']);
  assert.deepEqual(down, await berth(source, ['version', '--format', '{{.Client.Version}}']));
  assert.equal(down.status, 1);
});

test('the commands that reach what the bundle leaves out run from source', () => {
  for (const [command, table] of Object.entries(WHERE)) {
    assert.equal(FROM_SOURCE.has(command), ['compose', 'registry', 'trust'].includes(table), command);
  }
  assert.equal(commandOf(['-H', 'unix:///x', '--tlsverify', 'ps', '-a'], GLOBAL_FLAGS), 'ps');
  assert.equal(commandOf(['-DH', 'unix:///x', 'compose', 'up'], GLOBAL_FLAGS), 'compose');
  assert.equal(commandOf(['--log-level=debug', '-l', 'info', 'registry', 'serve'], GLOBAL_FLAGS), 'registry');
  assert.equal(commandOf(['--tlscacert', 'ca.pem', 'version'], GLOBAL_FLAGS), 'version');
});

test('the start script runs a fresh bundle beside it, and hands over to the source when it is not fresh', async () => {
  const dir = join(tmp, 'start');
  const manifest = await buildBundle(CLI_BUNDLE, ROOT, dir);
  assert.ok(manifest);
  const script = join(dir, START_SCRIPT);
  const start = (args: string[], env: Record<string, string> = {}): string =>
    execFileSync(process.execPath, [script, ...args], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', HOME: tmp, ...env },
    });
  const codeCaches = () => readdirSync(dir).filter((f) => f.endsWith('.v8'));
  const help = (await berth(source, ['--help'])).out;
  assert.match(help, /^Usage: {2}berth \[OPTIONS\] COMMAND/);
  assert.equal(start(['--help']), help);
  // The bundle ran: its code cache for the command (`none`: no command) was written at exit.
  assert.deepEqual(codeCaches(), [`${manifest.bundle}.none.${process.version}.v8`]);
  assert.equal(start(['--help']), help, 'and again with the code cache');

  // An input that moved: the source runs (with BERTH_BUNDLE=0 there, so that it does not build the tree's bundle).
  const moved: Manifest = {
    ...manifest,
    inputs: manifest.inputs.map((i, j) => (j === 0 ? [i[0], i[1] + 1, i[2], i[3], i[4]] : i)),
  };
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(moved));
  assert.equal(start(['version', '--help'], { BERTH_BUNDLE: '0' }), (await berth(source, ['version', '--help'])).out);
  assert.deepEqual(codeCaches(), [`${manifest.bundle}.none.${process.version}.v8`], 'the bundle did not run');
});

test('a start script in a tree moved or copied since its build hands over to that tree, not the one it was built in', async () => {
  // An install at `moved` (its src/ and bin/ are the tree's, through links) with a bundle built for the tree.
  const moved = join(tmp, 'moved');
  const dir = join(moved, 'node_modules', '.cache', 'berth', CLI_BUNDLE.name);
  assert.ok(await buildBundle(CLI_BUNDLE, ROOT, dir));
  for (const f of ['src', 'bin']) symlinkSync(join(ROOT, f), join(moved, f));
  // Its manifest names the tree's root, not `moved`: the source at `moved` runs (it builds or runs the tree's own
  // bundle, as bin/berth there would), and the bundle beside the script does not run (no code cache of it).
  const out = execFileSync(process.execPath, [join(dir, START_SCRIPT), '--help'], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', HOME: tmp },
  });
  assert.equal(out, (await berth(source, ['--help'])).out);
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.endsWith('.v8')),
    [],
  );
});

test('a start script replaced after its build (by another build) makes the manifest stale', async () => {
  const dir = join(tmp, 'paired');
  const manifest = await buildBundle(CLI_BUNDLE, ROOT, dir);
  assert.ok(manifest);
  assert.ok(manifest.inputs.some((i) => join(ROOT, i[0]) === join(dir, START_SCRIPT)));
  assert.equal(isFresh(manifest, ROOT), true);
  writeCacheFile(join(dir, START_SCRIPT), readFileSync(join(dir, START_SCRIPT)));
  assert.equal(isFresh(manifest, ROOT), false);
});
