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
  const loaded = FROM_SOURCE.has(command)
    ? undefined
    : freshBundle<CliMain>(CLI_BUNDLE, env, command, { root: ROOT, dir });
  if (loaded !== undefined) {
    const cli = loaded.exports;
    process.exitCode = await cli.main(argv, env, cli.processStreams(), loaded.started);
    return;
  }
  const { pathToFileURL } = process.getBuiltinModule('node:url');
  const { join } = process.getBuiltinModule('node:path');
  await import(pathToFileURL(join(ROOT, 'bin', 'resolve-hook.mjs')).href);
  const { runBerth } = (await import(
    pathToFileURL(join(ROOT, 'src', 'cli', 'berth.ts')).href
  )) as typeof import('./berth.ts');
  await runBerth(argv, env);
}

void start(process.argv.slice(2), process.env);
