import { type BundleSpec, commandOf, loadBundle } from './bundle.ts';
import { GLOBAL_FLAGS } from './global-flags.ts';
import { type TableName, WHERE } from './where.ts';

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

/** Left out of the bundle besides those: this entry, the start script, the loader, what runs from source, tests. */
const LEFT_OUT =
  /^src\/(cli\/(berth|start|bundle|bundle-build)\.ts$|cli\/compose\/|compose\/|registry\/|trust\/|distribution\/|snapshots\/|images\/|content\/)|\.test\.ts$/;

/** What the start script (start.ts) copies in: itself, this entry, the loader and what they read. */
const START = [
  'cli/start.ts',
  'cli/berth.ts',
  'cli/bundle.ts',
  'cli/global-flags.ts',
  'cli/where.ts',
  'util/install.ts',
].map((f) => `src/${f}`);

export const CLI_BUNDLE: BundleSpec = {
  name: 'cli',
  entry: 'src/cli/main.ts',
  // The start script's modules: a change to one makes the bundle (and the start script with it) stale.
  own: START,
  start: { entry: 'src/cli/start.ts', bundled: (rel) => START.includes(rel) },
  bundled: (rel) => rel.startsWith('src/') && !LEFT_OUT.test(rel) && !HAND_OFF.includes(rel),
  handOff: HAND_OFF,
};

/** The tables whose commands run from source: compose, the registry server, and the trust commands (HAND_OFF). */
const SOURCE_TABLES: ReadonlySet<TableName> = new Set(['compose', 'registry', 'trust']);

/** The commands that run from source: those of SOURCE_TABLES. */
export const FROM_SOURCE: ReadonlySet<string> = new Set(
  Object.keys(WHERE).filter((command) => SOURCE_TABLES.has(WHERE[command]!)),
);

/** The CLI's modules for the command `command`: the bundle's, or the source's. */
export async function cliMain(
  env: NodeJS.ProcessEnv,
  command: string,
): Promise<{ cli: CliMain; started?: (command: string) => void }> {
  const loaded = FROM_SOURCE.has(command) ? undefined : await loadBundle<CliMain>(CLI_BUNDLE, env, command);
  if (loaded !== undefined) return { cli: loaded.exports, ...(loaded.started ? { started: loaded.started } : {}) };
  return { cli: await import('./main.ts') };
}

/** Runs `berth ARGV` and sets the exit status. */
export async function runBerth(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  const { cli, started } = await cliMain(env, commandOf(argv, GLOBAL_FLAGS));
  process.exitCode = await cli.main(argv, env, cli.processStreams(), started);
}

// Not awaited at the top level: the start script copies this module into CommonJS, which cannot hold that.
if (import.meta.main) void runBerth(process.argv.slice(2), process.env);
