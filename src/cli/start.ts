import { CLI_BUNDLE, type CliMain, FROM_SOURCE } from './berth.ts';
import { bundleDir, commandOf, freshBundle, ROOT } from './bundle.ts';
import { GLOBAL_FLAGS } from './global-flags.ts';

/**
 * The start script of the CLI's bundle: built beside it (`node_modules/.cache/berth/cli/start.cjs`, CommonJS, this
 * module and the loader's copied in) and run by bin/berth instead of berth.ts when it is there. A fresh bundle then
 * runs with no ES module loaded at all: Node's ES module loader, the resolve hook and the entry's modules cost
 * ~3 ms of CPU each run (bench/README.md, Start path). When the bundle is not fresh (a source changed, the
 * manifest is gone), the command runs from source (`compose`, `registry`, the trust commands), or `BERTH_BUNDLE=0`,
 * it hands over to berth.ts, as bin/berth would have started it (with the resolve hook), which rebuilds what is
 * stale. Never run from source itself: its top level starts the program.
 */
async function start(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  const command = commandOf(argv, GLOBAL_FLAGS);
  // The bundle beside this script (the CommonJS wrapper's __dirname).
  const dir = typeof __dirname === 'string' ? __dirname : bundleDir(CLI_BUNDLE);
  const root = installOf(dir);
  const loaded = FROM_SOURCE.has(command) ? undefined : freshBundle<CliMain>(CLI_BUNDLE, env, command, { root, dir });
  if (loaded !== undefined) {
    const cli = loaded.exports;
    process.exitCode = await cli.main(argv, env, cli.processStreams(), loaded.started);
    return;
  }
  const { pathToFileURL } = process.getBuiltinModule('node:url');
  const { join } = process.getBuiltinModule('node:path');
  await import(pathToFileURL(join(root, 'bin', 'resolve-hook.mjs')).href);
  const { runBerth } = (await import(
    pathToFileURL(join(root, 'src', 'cli', 'berth.ts')).href
  )) as typeof import('./berth.ts');
  await runBerth(argv, env);
}

/**
 * The install whose start script is in `dir`: ROOT, the one it was built in (fixed in the script then), unless the
 * tree has been moved or copied since, with its `node_modules/.cache` (the old tree's files may be gone, or be another
 * install's). Then it is the tree around `dir`, whose source runs (the manifest names the old root) and rebuilds.
 */
function installOf(dir: string): string {
  const built = bundleDir(CLI_BUNDLE);
  if (dir === built) return ROOT;
  const tail = built.slice(ROOT.length); // `/node_modules/.cache/berth/cli`
  if (!dir.endsWith(tail)) return ROOT; // not an install's layout (a bundle built elsewhere, in tests)
  try {
    // The same directory through a symbolic link (Node runs the script from its real path).
    if (process.getBuiltinModule('node:fs').realpathSync(built) === dir) return ROOT;
  } catch {
    // Gone with the old tree.
  }
  return dir.slice(0, -tail.length);
}

void start(process.argv.slice(2), process.env);
