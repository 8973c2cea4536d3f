import type { Command } from '../command.ts';
import { bool, type FlagSpec, list, str } from '../flags.ts';
import { FORMAT_HELP, INSPECT_FORMAT_HELP } from '../formathelp.ts';

/**
 * The `network` command group and `port`: docker's names, flags and help texts (docker/cli
 * `command/network`, `container/port.go`). Each `run` maps flags to options; the logic in `network.ts` is
 * imported when a command runs.
 */

/** pflag's StringSlice: repeatable, each value comma-separated; help shows `strings`. */
const slice = (name: string, usage: string): FlagSpec => list(name, usage, { valueName: 'strings', defaultText: '[]' });

const logic = () => import('./network.ts');

export const networkGroup: Command = {
  name: 'network',
  use: 'network COMMAND',
  short: 'Manage networks',
  subcommands: [
    {
      name: 'connect',
      use: 'connect [OPTIONS] NETWORK CONTAINER',
      short: 'Connect a container to a network',
      args: { exact: 2 },
      flags: [
        slice('alias', 'Add network-scoped alias for the container'),
        slice('driver-opt', 'driver options for the network'),
        {
          name: 'gw-priority',
          kind: 'int',
          usage: 'Highest gw-priority provides the default gateway. Accepts positive and negative values.',
        },
        str('ip', 'IPv4 address (e.g., "172.30.100.104")'),
        str('ip6', 'IPv6 address (e.g., "2001:db8::33")'),
        list('link', 'Add link to another container'),
        slice('link-local-ip', 'Add a link-local address for the container'),
      ],
      run: async (ctx, inv) => {
        const { connectNetwork, splitSlice } = await logic();
        await connectNetwork(ctx.client(), {
          network: inv.args[0] ?? '',
          container: inv.args[1] ?? '',
          ip: inv.flags.string('ip'),
          ip6: inv.flags.string('ip6'),
          links: inv.flags.list('link'),
          aliases: splitSlice(inv.flags.list('alias')),
          linkLocalIPs: splitSlice(inv.flags.list('link-local-ip')),
          driverOpts: splitSlice(inv.flags.list('driver-opt')),
          gwPriority: inv.flags.int('gw-priority'),
        });
      },
    },
    {
      name: 'create',
      use: 'create [OPTIONS] NETWORK',
      short: 'Create a network',
      args: { exact: 1 },
      flags: [
        bool('attachable', 'Enable manual container attachment'),
        list('aux-address', 'Auxiliary IPv4 or IPv6 addresses used by Network driver', {
          valueName: 'map',
          defaultText: 'map[]',
        }),
        str('config-from', 'The network from which to copy the configuration'),
        bool('config-only', 'Create a configuration only network'),
        str('driver', 'Driver to manage the Network', { short: 'd', defaultValue: 'bridge' }),
        slice('gateway', 'IPv4 or IPv6 Gateway for the master subnet'),
        bool('ingress', 'Create swarm routing-mesh network'),
        bool('internal', 'Restrict external access to the network'),
        slice('ip-range', 'Allocate container ip from a sub-range'),
        str('ipam-driver', 'IP Address Management Driver', { defaultValue: 'default' }),
        list('ipam-opt', 'Set IPAM driver specific options', { valueName: 'map', defaultText: 'map[]' }),
        bool('ipv4', 'Enable or disable IPv4 address assignment', { defaultValue: true }),
        bool('ipv6', 'Enable or disable IPv6 address assignment'),
        list('label', 'Set metadata on a network'),
        list('opt', 'Set driver specific options', { short: 'o', valueName: 'map', defaultText: 'map[]' }),
        str('scope', "Control the network's scope"),
        slice('subnet', 'Subnet in CIDR format that represents a network segment'),
      ],
      run: async (ctx, inv) => {
        const { createNetwork, splitSlice } = await logic();
        await createNetwork(ctx.client(), ctx.streams.out, {
          name: inv.args[0] ?? '',
          driver: inv.flags.string('driver'),
          opts: inv.flags.list('opt'),
          labels: inv.flags.list('label'),
          internal: inv.flags.bool('internal'),
          ...(inv.flags.has('ipv4') ? { ipv4: inv.flags.bool('ipv4') } : {}),
          ...(inv.flags.has('ipv6') ? { ipv6: inv.flags.bool('ipv6') } : {}),
          attachable: inv.flags.bool('attachable'),
          ingress: inv.flags.bool('ingress'),
          scope: inv.flags.string('scope'),
          configOnly: inv.flags.bool('config-only'),
          configFrom: inv.flags.string('config-from'),
          ipamDriver: inv.flags.string('ipam-driver'),
          subnets: splitSlice(inv.flags.list('subnet')),
          ipRanges: splitSlice(inv.flags.list('ip-range')),
          gateways: splitSlice(inv.flags.list('gateway')),
          auxAddresses: inv.flags.list('aux-address'),
          ipamOpts: inv.flags.list('ipam-opt'),
        });
      },
    },
    {
      name: 'disconnect',
      use: 'disconnect [OPTIONS] NETWORK CONTAINER',
      short: 'Disconnect a container from a network',
      args: { exact: 2 },
      flags: [bool('force', 'Force the container to disconnect from a network', { short: 'f' })],
      run: async (ctx, inv) =>
        (await logic()).disconnectNetwork(ctx.client(), {
          network: inv.args[0] ?? '',
          container: inv.args[1] ?? '',
          force: inv.flags.bool('force'),
        }),
    },
    {
      name: 'inspect',
      use: 'inspect [OPTIONS] NETWORK [NETWORK...]',
      short: 'Display detailed information on one or more networks',
      args: { min: 1 },
      flags: [
        { name: 'format', short: 'f', kind: 'string', usage: INSPECT_FORMAT_HELP },
        bool('verbose', 'Verbose output for diagnostics', { short: 'v' }),
      ],
      run: async (ctx, inv) =>
        (await logic()).inspectNetworks(ctx.client(), ctx.streams.out, {
          names: inv.args,
          format: inv.flags.string('format'),
        }),
    },
    {
      name: 'ls',
      aliases: ['list'],
      use: 'ls [OPTIONS]',
      short: 'List networks',
      aliasesHelp: 'berth network ls, berth network list',
      args: { none: true },
      flags: [
        { name: 'filter', short: 'f', kind: 'filter', usage: 'Provide filter values (e.g. "driver=bridge")' },
        str('format', FORMAT_HELP),
        bool('no-trunc', 'Do not truncate the output'),
        bool('quiet', 'Only display network IDs', { short: 'q' }),
      ],
      run: async (ctx, inv) =>
        (await logic()).listNetworks(ctx.client(), ctx.streams.out, {
          quiet: inv.flags.bool('quiet'),
          noTrunc: inv.flags.bool('no-trunc'),
          format: inv.flags.string('format'),
          filters: inv.flags.filters('filter'),
        }),
    },
    {
      name: 'prune',
      use: 'prune [OPTIONS]',
      short: 'Remove all unused networks',
      args: { none: true },
      flags: [
        { name: 'filter', kind: 'filter', usage: 'Provide filter values (e.g. "until=<timestamp>")' },
        bool('force', 'Do not prompt for confirmation', { short: 'f' }),
      ],
      run: async (ctx, inv) =>
        (await logic()).pruneNetworks(ctx.client(), ctx.streams.in, ctx.streams.out, {
          force: inv.flags.bool('force'),
          filters: inv.flags.filters('filter'),
        }),
    },
    {
      name: 'rm',
      aliases: ['remove'],
      use: 'rm NETWORK [NETWORK...]',
      short: 'Remove one or more networks',
      aliasesHelp: 'berth network rm, berth network remove',
      args: { min: 1 },
      flags: [bool('force', 'Do not error if the network does not exist', { short: 'f' })],
      run: async (ctx, inv) =>
        (await logic()).removeNetworks(ctx.client(), ctx.streams.out, ctx.streams.err, {
          names: inv.args,
          force: inv.flags.bool('force'),
        }),
    },
  ],
};

/** `port CONTAINER [PRIVATE_PORT[/PROTO]]`, without its name (top level and `container port`). */
export const portCommand: Omit<Command, 'name'> = {
  use: 'port CONTAINER [PRIVATE_PORT[/PROTO]]',
  short: 'List port mappings or a specific mapping for the container',
  aliasesHelp: 'berth container port, berth port',
  args: { min: 1, max: 2 },
  run: async (ctx, inv) =>
    (await logic()).showPorts(ctx.client(), ctx.streams.out, { container: inv.args[0] ?? '', port: inv.args[1] ?? '' }),
};

/** The top-level commands this table defines (`port` is the container table's, which takes it from here). */
export const TOP: readonly Command[] = [networkGroup];
