import type { Command } from '../command.ts';
import type { FlagSpec } from '../flags.ts';
import { FORMAT_HELP, INSPECT_FORMAT_HELP } from '../formathelp.ts';

/** The `volume` command group: docker's names, flags and help texts; the logic in volume.ts is imported when run. */

const inspectFormat: FlagSpec = { name: 'format', short: 'f', kind: 'string', usage: INSPECT_FORMAT_HELP };

export const volumeGroup: Command = {
  name: 'volume',
  use: 'volume COMMAND',
  short: 'Manage volumes',
  subcommands: [
    {
      name: 'create',
      use: 'create [OPTIONS] [VOLUME]',
      short: 'Create a volume',
      args: { max: 1 },
      flags: [
        { name: 'driver', short: 'd', kind: 'string', usage: 'Specify volume driver name', defaultValue: 'local' },
        { name: 'label', kind: 'list', usage: 'Set metadata for a volume' },
        { name: 'name', kind: 'string', usage: 'Specify volume name', hidden: true },
        {
          name: 'opt',
          short: 'o',
          kind: 'list',
          usage: 'Set driver specific options',
          valueName: 'map',
          defaultText: 'map[]',
        },
      ],
      run: async (ctx, inv) =>
        (await import('./volume.ts')).createVolume(ctx.client(), ctx.streams.out, {
          name: inv.args[0] ?? '',
          nameFlag: inv.flags.string('name'),
          driver: inv.flags.string('driver'),
          opts: inv.flags.list('opt'),
          labels: inv.flags.list('label'),
        }),
    },
    {
      name: 'inspect',
      use: 'inspect [OPTIONS] VOLUME [VOLUME...]',
      short: 'Display detailed information on one or more volumes',
      args: { min: 1 },
      flags: [inspectFormat],
      run: async (ctx, inv) =>
        (await import('./volume.ts')).inspectVolumes(ctx.client(), ctx.streams.out, {
          names: inv.args,
          format: inv.flags.string('format'),
        }),
    },
    {
      name: 'ls',
      aliases: ['list'],
      use: 'ls [OPTIONS]',
      short: 'List volumes',
      aliasesHelp: 'berth volume ls, berth volume list',
      args: { none: true },
      flags: [
        { name: 'filter', short: 'f', kind: 'filter', usage: 'Provide filter values (e.g. "dangling=true")' },
        { name: 'format', kind: 'string', usage: FORMAT_HELP },
        { name: 'quiet', short: 'q', kind: 'bool', usage: 'Only display volume names' },
      ],
      run: async (ctx, inv) =>
        (await import('./volume.ts')).listVolumes(ctx.client(), ctx.streams.out, {
          quiet: inv.flags.bool('quiet'),
          format: inv.flags.string('format'),
          filters: inv.flags.filters('filter'),
        }),
    },
    {
      name: 'prune',
      use: 'prune [OPTIONS]',
      short: 'Remove unused local volumes',
      args: { none: true },
      flags: [
        { name: 'all', short: 'a', kind: 'bool', usage: 'Remove all unused volumes, not just anonymous ones' },
        { name: 'filter', kind: 'filter', usage: 'Provide filter values (e.g. "label=<label>")' },
        { name: 'force', short: 'f', kind: 'bool', usage: 'Do not prompt for confirmation' },
      ],
      run: async (ctx, inv) =>
        (await import('./volume.ts')).pruneVolumes(ctx.client(), ctx.streams.in, ctx.streams.out, {
          all: inv.flags.bool('all'),
          force: inv.flags.bool('force'),
          filters: inv.flags.filters('filter'),
        }),
    },
    {
      name: 'rm',
      aliases: ['remove'],
      use: 'rm [OPTIONS] VOLUME [VOLUME...]',
      short: 'Remove one or more volumes',
      long: 'Remove one or more volumes. You cannot remove a volume that is in use by a container.',
      aliasesHelp: 'berth volume rm, berth volume remove',
      args: { min: 1 },
      flags: [{ name: 'force', short: 'f', kind: 'bool', usage: 'Force the removal of one or more volumes' }],
      run: async (ctx, inv) =>
        (await import('./volume.ts')).removeVolumes(ctx.client(), ctx.streams.out, {
          names: inv.args,
          force: inv.flags.bool('force'),
        }),
    },
  ],
};

/** The top-level commands this table defines. */
export const TOP: readonly Command[] = [volumeGroup];
