import type { Command } from '../command.ts';
import type { FlagSpec } from '../flags.ts';
import { FORMAT_HELP, INSPECT_FORMAT_HELP } from '../formathelp.ts';

/**
 * The system commands (`berth system …`, `version`, `info`, `events`, `login`, `logout`): docker's names, flags
 * and help texts; the logic is imported when the command runs.
 */

const listFormat: FlagSpec = { name: 'format', kind: 'string', usage: FORMAT_HELP };

const inspectFormat: FlagSpec = { name: 'format', short: 'f', kind: 'string', usage: INSPECT_FORMAT_HELP };

const login: Command = {
  name: 'login',
  use: 'login [OPTIONS] [SERVER]',
  short: 'Authenticate to a registry.\nDefaults to Docker Hub if no server is specified.',
  args: { min: 0, max: 1 },
  flags: [
    { name: 'password', short: 'p', kind: 'string', usage: 'Password or Personal Access Token (PAT)' },
    { name: 'password-stdin', kind: 'bool', usage: 'Take the Password or Personal Access Token (PAT) from stdin' },
    { name: 'username', short: 'u', kind: 'string', usage: 'Username' },
  ],
  run: async (ctx, inv) =>
    (await import('./login.ts')).login(
      ctx.client(),
      ctx.streams.in,
      ctx.streams.out,
      ctx.streams.err,
      {
        server: inv.args[0],
        username: inv.flags.string('username'),
        password: inv.flags.string('password'),
        passwordStdin: inv.flags.bool('password-stdin'),
      },
      ctx.signal,
    ),
};

const logout: Command = {
  name: 'logout',
  use: 'logout [SERVER]',
  short: 'Log out from a registry.\nIf no server is specified, the default is defined by the daemon.',
  args: { min: 0, max: 1 },
  flags: [],
  run: async (ctx, inv) => (await import('./login.ts')).logout(ctx.streams.out, inv.args[0]),
};

const version: Command = {
  name: 'version',
  use: 'version [OPTIONS]',
  short: 'Show the Berth version information',
  args: { none: true },
  flags: [inspectFormat],
  run: async (ctx, inv) =>
    (await import('./version.ts')).showVersion(
      ctx.client(),
      ctx.streams.out,
      ctx.version,
      { format: inv.flags.string('format') },
      ctx.signal,
    ),
};

const info: Omit<Command, 'name' | 'use'> = {
  short: 'Display system-wide information',
  aliasesHelp: 'berth system info, berth info',
  args: { none: true },
  flags: [inspectFormat],
  run: async (ctx, inv) =>
    (await import('./info.ts')).showInfo(
      ctx.client(),
      ctx.streams.out,
      ctx.streams.err,
      { version: ctx.version, debug: ctx.globals.debug },
      { format: inv.flags.string('format') },
      ctx.signal,
    ),
};

const events: Omit<Command, 'name' | 'use'> = {
  short: 'Get real time events from the server',
  aliasesHelp: 'berth system events, berth events',
  args: { none: true },
  flags: [
    { name: 'filter', short: 'f', kind: 'filter', usage: 'Filter output based on conditions provided' },
    { name: 'format', kind: 'string', usage: INSPECT_FORMAT_HELP },
    { name: 'since', kind: 'string', usage: 'Show all events created since timestamp' },
    { name: 'until', kind: 'string', usage: 'Stream events until this timestamp' },
  ],
  run: async (ctx, inv) =>
    (await import('./events.ts')).streamEvents(
      ctx.client(),
      ctx.streams.out,
      {
        since: inv.flags.string('since'),
        until: inv.flags.string('until'),
        filters: inv.flags.filters('filter'),
        format: inv.flags.string('format'),
      },
      ctx.signal,
    ),
};

const systemGroup: Command = {
  name: 'system',
  use: 'system',
  short: 'Manage Berth',
  subcommands: [
    {
      name: 'df',
      use: 'df [OPTIONS]',
      short: 'Show berth disk usage',
      args: { none: true },
      flags: [
        { name: 'verbose', short: 'v', kind: 'bool', usage: 'Show detailed information on space usage' },
        listFormat,
      ],
      run: async (ctx, inv) =>
        (await import('./df.ts')).showDiskUsage(
          ctx.client(),
          ctx.streams.out,
          { verbose: inv.flags.bool('verbose'), format: inv.flags.string('format') },
          ctx.signal,
        ),
    },
    { name: 'events', use: 'events [OPTIONS]', ...events },
    { name: 'info', use: 'info [OPTIONS]', ...info },
    {
      name: 'prune',
      use: 'prune [OPTIONS]',
      short: 'Remove unused data',
      args: { none: true },
      flags: [
        { name: 'all', short: 'a', kind: 'bool', usage: 'Remove all unused images not just dangling ones' },
        { name: 'filter', kind: 'filter', usage: 'Provide filter values (e.g. "label=<key>=<value>")' },
        { name: 'force', short: 'f', kind: 'bool', usage: 'Do not prompt for confirmation' },
        { name: 'volumes', kind: 'bool', usage: 'Prune anonymous volumes' },
      ],
      run: async (ctx, inv) =>
        (await import('./prune.ts')).pruneSystem(
          ctx.client(),
          ctx.streams.in,
          ctx.streams.out,
          {
            all: inv.flags.bool('all'),
            volumes: inv.flags.bool('volumes'),
            force: inv.flags.bool('force'),
            filters: inv.flags.filters('filter'),
          },
          ctx.signal,
        ),
    },
  ],
};

/** The top-level commands this table defines. */
export const TOP: readonly Command[] = [
  systemGroup,
  { name: 'events', use: 'events [OPTIONS]', ...events },
  { name: 'info', use: 'info [OPTIONS]', ...info },
  login,
  logout,
  version,
];
