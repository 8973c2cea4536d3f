import { type BundleSpec, commandOf, loadBundle } from '../bundle.ts';
import { COMPOSE_FLAGS } from './flags.ts';

const { sep } = process.getBuiltinModule('node:path');

/**
 * The compose command line (`./main.ts` and everything of src/cli/compose and src/compose it loads) as one script
 * instead of ~35 ES modules, through the CLI's bundle loader (../bundle.ts). The modules outside those two folders
 * (the CLI's errors and flags, util/, the engine client) stay ES modules loaded from source by path, so there is
 * one copy of each and its classes. `BERTH_COMPOSE_BUNDLE=0` (or `BERTH_BUNDLE=0`) runs the source.
 */

export type ComposeMain = typeof import('./main.ts');

export interface ComposeCli {
  runCompose: ComposeMain['runCompose'];
  COMPOSE_VERSION: string;
  /** Told the command's name when it starts: the bundle's code cache for that command is written when missing. */
  started?: (command: string) => void;
}

/** The folders copied into the bundle, from the root; the loader, the flags, the plugin's entry and tests stay out. */
const BUNDLED = [`src${sep}compose${sep}`, `src${sep}cli${sep}compose${sep}`];
const LEFT_OUT = new Set(['bundle.ts', 'flags.ts', 'plugin.ts'].map((f) => `src${sep}cli${sep}compose${sep}${f}`));

export const COMPOSE_BUNDLE: BundleSpec = {
  name: 'compose-cli',
  entry: `src${sep}cli${sep}compose${sep}main.ts`,
  own: [`src${sep}cli${sep}compose${sep}bundle.ts`],
  bundled: (rel) => BUNDLED.some((d) => rel.startsWith(d)) && !LEFT_OUT.has(rel) && !/\.test\.ts$/.test(rel),
  switch: 'BERTH_COMPOSE_BUNDLE',
};

/** Whether the module at `rel` (from the root) is copied into the compose bundle. */
export const isBundled = COMPOSE_BUNDLE.bundled;

/**
 * The compose command line for the compose arguments `argv`: the bundle when it is fresh (built now when it is not
 * and can be), else the source.
 */
export async function composeCli(env: NodeJS.ProcessEnv, argv: readonly string[] = []): Promise<ComposeCli> {
  const loaded = await loadBundle<ComposeMain>(COMPOSE_BUNDLE, env, commandOf(argv, COMPOSE_FLAGS));
  if (loaded !== undefined) {
    return {
      runCompose: loaded.exports.runCompose,
      COMPOSE_VERSION: loaded.exports.COMPOSE_VERSION,
      ...(loaded.started !== undefined ? { started: loaded.started } : {}),
    };
  }
  const source = await import('./main.ts');
  return { runCompose: source.runCompose, COMPOSE_VERSION: source.COMPOSE_VERSION };
}
