import { findCommand, type Command, type RootCommands } from './command.ts';

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

export const TABLES = {
  compose: async (): Promise<Table> => ({ TOP: [composeGroup] }),
  registry: async (): Promise<Table> => ({ TOP: [registryGroup] }),
  container: (): Promise<Table> => import('./container/commands.ts'),
  image: (): Promise<Table> => import('./image/commands.ts'),
  network: (): Promise<Table> => import('./network/commands.ts'),
  system: (): Promise<Table> => import('./system/commands.ts'),
  trust: (): Promise<Table> => import('./trust/commands.ts'),
  volume: (): Promise<Table> => import('./volume/commands.ts'),
};

/** Each top-level command and the table that defines it (a unit test holds every table to this list). */
export const WHERE: Readonly<Record<string, keyof typeof TABLES>> = {
  compose: 'compose',
  container: 'container',
  image: 'image',
  network: 'network',
  registry: 'registry',
  system: 'system',
  trust: 'trust',
  volume: 'volume',
  attach: 'container',
  build: 'image',
  builder: 'image',
  commit: 'container',
  cp: 'container',
  create: 'container',
  diff: 'container',
  events: 'system',
  exec: 'container',
  export: 'container',
  history: 'image',
  images: 'image',
  import: 'image',
  info: 'system',
  inspect: 'container',
  kill: 'container',
  load: 'image',
  login: 'system',
  logout: 'system',
  logs: 'container',
  pause: 'container',
  port: 'container',
  ps: 'container',
  pull: 'image',
  push: 'image',
  rename: 'container',
  restart: 'container',
  rm: 'container',
  rmi: 'image',
  run: 'container',
  save: 'image',
  sbom: 'trust',
  scan: 'trust',
  start: 'container',
  stats: 'container',
  stop: 'container',
  tag: 'image',
  top: 'container',
  unpause: 'container',
  update: 'container',
  version: 'system',
  wait: 'container',
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
