import { findCommand, type Command, type RootCommands } from './command.ts';
import { type TableName, WHERE } from './where.ts';

/**
 * The `berth` command tree's root. Each area's table (container, image, network, system, trust, volume) lives beside its
 * logic and is loaded only when one of its commands runs, so `berth version` loads neither the container flags
 * nor their parsers. A table declares docker's names, aliases, flags and help texts, and each `run` turns flags
 * into the options object of the logic it calls, which is itself imported when the command runs.
 */

type Table = { readonly TOP: readonly Command[] };

/** `berth compose …` is dispatched by main.ts (compose has its own flags before the command); this entry is for help. */
const composeGroup: Command = {
  name: 'compose',
  use: 'compose [OPTIONS] COMMAND',
  short: 'Define and run multi-container applications',
  subcommands: [],
};

/** `berth registry …` is dispatched by main.ts to the registry server's own program; this entry is for help. */
const registryGroup: Command = {
  name: 'registry',
  use: 'registry COMMAND',
  short: 'Run an OCI registry server and administer it',
  subcommands: [],
};

export const TABLES: Readonly<Record<TableName, () => Promise<Table>>> = {
  compose: async (): Promise<Table> => ({ TOP: [composeGroup] }),
  registry: async (): Promise<Table> => ({ TOP: [registryGroup] }),
  container: (): Promise<Table> => import('./container/commands.ts'),
  image: (): Promise<Table> => import('./image/commands.ts'),
  network: (): Promise<Table> => import('./network/commands.ts'),
  system: (): Promise<Table> => import('./system/commands.ts'),
  trust: (): Promise<Table> => import('./trust/commands.ts'),
  volume: (): Promise<Table> => import('./volume/commands.ts'),
};

const byName = (a: Command, b: Command): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** The top-level commands, each loaded with its table when it is used. */
export const COMMANDS: RootCommands = {
  async find(name) {
    const table = Object.hasOwn(WHERE, name) ? WHERE[name] : undefined;
    return table === undefined ? undefined : findCommand((await TABLES[table]()).TOP, name);
  },
  async all() {
    const tables = await Promise.all(Object.values(TABLES).map((load) => load()));
    return tables.flatMap((t) => t.TOP).sort(byName);
  },
};
