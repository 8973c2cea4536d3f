import { type BundleSpec, commandOf, loadBundle } from './bundle.ts';
import { GLOBAL_FLAGS } from './global-flags.ts';

/**
 * The `berth` program (bin/berth runs this file): the CLI (main.ts and every module of src/ it reaches) from its
 * bundle when it is fresh, built now when it is not and can be, else from source (bundle.ts). Two commands always
 * run from source: `compose` (its own bundle, compose/bundle.ts, requires the CLI's core from source, which must
 * then be the one copy in the process) and `registry` (a long-lived server, started with its own Node options by
 * bin/berth). The command is read from the arguments as main.ts's parser reads them (commandOf).
 */

export type CliMain = typeof import('./main.ts');

/**
 * The ways from the bundle to what runs from source:
 * compose, the registry server, and the trust commands' keys and signatures (src/trust and the image store code it
 * reaches, ~190 KB of the bundle's ~800 that no other command needs).
 */
const HAND_OFF = ['cli/compose/bundle.ts', 'registry/index.ts', 'cli/trust/sign.ts'].map((f) => `src/${f}`);

/** Left out of the bundle besides those: this entry and the loader, what runs from source, and tests. */
const LEFT_OUT =
  /^src\/(cli\/(berth|bundle|bundle-build)\.ts$|cli\/compose\/|compose\/|registry\/|trust\/|distribution\/|snapshots\/|images\/|content\/)|\.test\.ts$/;

export const CLI_BUNDLE: BundleSpec = {
  name: 'cli',
  entry: 'src/cli/main.ts',
  own: ['src/cli/berth.ts'],
  bundled: (rel) => rel.startsWith('src/') && !LEFT_OUT.test(rel) && !HAND_OFF.includes(rel),
  handOff: HAND_OFF,
};

/** The commands that run from source: compose, the registry server, and the trust table's (commands.ts). */
export const FROM_SOURCE = new Set(['compose', 'registry', 'trust', 'sbom', 'scan']);

/** The CLI's modules for the command `command`: the bundle's, or the source's. */
export async function cliMain(
  env: NodeJS.ProcessEnv,
  command: string,
): Promise<{ cli: CliMain; started?: (command: string) => void }> {
  const loaded = FROM_SOURCE.has(command) ? undefined : await loadBundle<CliMain>(CLI_BUNDLE, env, command);
  if (loaded !== undefined) return { cli: loaded.exports, ...(loaded.started ? { started: loaded.started } : {}) };
  return { cli: await import('./main.ts') };
}

if (import.meta.main) {
  const argv = process.argv.slice(2);
  const { cli, started } = await cliMain(process.env, commandOf(argv, GLOBAL_FLAGS));
  process.exitCode = await cli.main(argv, process.env, cli.processStreams(), started);
}
