import type { Command, Context, Invocation } from '../command.ts';
import type { FlagSpec } from '../flags.ts';
import { FORMAT_HELP, INSPECT_FORMAT_HELP } from '../formathelp.ts';
import { portCommand } from '../network/commands.ts';
import { CREATE_FLAGS, RUN_FLAGS, UPDATE_FLAGS } from './flagspecs.ts';
import { validateEnv } from './values.ts';

/**
 * The container commands (`berth container …` and their top-level shortcuts `berth run`, `berth ps`, …):
 * docker's names, aliases, flags and help texts. Each `run` only maps flags to an options object; the logic is
 * imported when the command runs.
 */

type Def = Omit<Command, 'name' | 'use'> & { use: string };

const detachKeys: FlagSpec = {
  name: 'detach-keys',
  kind: 'string',
  usage: 'Override the key sequence for detaching a container',
};

function streams(ctx: Context) {
  return { in: ctx.streams.in, out: ctx.streams.out, err: ctx.streams.err };
}

function signalControl(ctx: Context) {
  return ctx.releaseSignals !== undefined ? { releaseSignals: () => ctx.releaseSignals?.() } : {};
}

/** Builds the create request, reporting bad values as docker does (`berth: …`, exit 125). */
async function buildRequest(inv: Invocation, command: 'run' | 'create') {
  const [{ buildCreateRequest }, { withHelp, ExitStatusError }, { readFileSync }] = await Promise.all([
    import('./opts.ts'),
    import('../errors.ts'),
    import('node:fs'),
  ]);
  try {
    return buildCreateRequest(inv.flags, inv.args[0] ?? '', inv.args.slice(1), {
      cwd: process.cwd(),
      lookupEnv: (k) => process.env[k],
      readFile: (p) => readFileSync(p, 'utf8'),
    });
  } catch (err) {
    throw new ExitStatusError(withHelp(err, command), 125, { cause: err });
  }
}

const run: Def = {
  use: 'run [OPTIONS] IMAGE [COMMAND] [ARG...]',
  short: 'Create and run a new container from an image',
  aliasesHelp: 'berth container run, berth run',
  args: { min: 1 },
  interspersed: false,
  flags: RUN_FLAGS,
  run: async (ctx, inv) => {
    const { checkPullOption, runContainer } = await import('./run.ts');
    checkPullOption(inv.flags.string('pull'), 'run');
    const request = await buildRequest(inv, 'run');
    await runContainer(
      ctx.client(),
      streams(ctx),
      {
        request,
        name: inv.flags.string('name'),
        pull: inv.flags.string('pull'),
        quiet: inv.flags.bool('quiet'),
        platform: inv.flags.string('platform'),
        detach: inv.flags.bool('detach'),
        sigProxy: inv.flags.bool('sig-proxy'),
        detachKeys: inv.flags.string('detach-keys'),
        attachGiven: inv.flags.list('attach').length > 0,
      },
      signalControl(ctx),
    );
  },
};

const create: Def = {
  use: 'create [OPTIONS] IMAGE [COMMAND] [ARG...]',
  short: 'Create a new container',
  aliasesHelp: 'berth container create, berth create',
  args: { min: 1 },
  interspersed: false,
  flags: CREATE_FLAGS,
  run: async (ctx, inv) => {
    const { checkPullOption, createOnly } = await import('./run.ts');
    checkPullOption(inv.flags.string('pull'), 'create');
    const request = await buildRequest(inv, 'create');
    await createOnly(ctx.client(), streams(ctx), request, {
      name: inv.flags.string('name'),
      pull: inv.flags.string('pull'),
      quiet: inv.flags.bool('quiet'),
      platform: inv.flags.string('platform'),
    });
  },
};

const start: Def = {
  use: 'start [OPTIONS] CONTAINER [CONTAINER...]',
  short: 'Start one or more stopped containers',
  aliasesHelp: 'berth container start, berth start',
  args: { min: 1 },
  flags: [
    { name: 'attach', short: 'a', kind: 'bool', usage: 'Attach STDOUT/STDERR and forward signals' },
    { name: 'interactive', short: 'i', kind: 'bool', usage: "Attach container's STDIN" },
    detachKeys,
  ],
  run: async (ctx, inv) =>
    (await import('./run.ts')).startContainers(
      ctx.client(),
      streams(ctx),
      {
        containers: inv.args,
        attach: inv.flags.bool('attach'),
        interactive: inv.flags.bool('interactive'),
        detachKeys: inv.flags.string('detach-keys'),
      },
      signalControl(ctx),
    ),
};

const attach: Def = {
  use: 'attach [OPTIONS] CONTAINER',
  short: 'Attach local standard input, output, and error streams to a running container',
  aliasesHelp: 'berth container attach, berth attach',
  args: { exact: 1 },
  flags: [
    detachKeys,
    { name: 'no-stdin', kind: 'bool', usage: 'Do not attach STDIN' },
    { name: 'sig-proxy', kind: 'bool', usage: 'Proxy all received signals to the process', defaultValue: true },
  ],
  run: async (ctx, inv) =>
    (await import('./run.ts')).attachContainer(
      ctx.client(),
      streams(ctx),
      {
        container: inv.args[0] ?? '',
        noStdin: inv.flags.bool('no-stdin'),
        sigProxy: inv.flags.bool('sig-proxy'),
        detachKeys: inv.flags.string('detach-keys'),
      },
      signalControl(ctx),
    ),
};

const stopFlags: FlagSpec[] = [
  { name: 'signal', short: 's', kind: 'string', usage: 'Signal to send to the container' },
  { name: 'timeout', short: 't', kind: 'int', usage: 'Seconds to wait before killing the container' },
  {
    name: 'time',
    kind: 'int',
    usage: 'Seconds to wait before killing the container (deprecated: use --timeout)',
    hidden: true,
  },
];

async function stopOptions(inv: Invocation) {
  if (inv.flags.has('time') && inv.flags.has('timeout')) {
    const { BerthError } = await import('../../util/errors.ts');
    throw new BerthError('conflicting options: cannot specify both --timeout and --time');
  }
  const changed = inv.flags.has('timeout') || inv.flags.has('time');
  return {
    containers: inv.args,
    signal: inv.flags.string('signal'),
    timeout: changed ? (inv.flags.has('timeout') ? inv.flags.int('timeout') : inv.flags.int('time')) : undefined,
  };
}

const stop: Def = {
  use: 'stop [OPTIONS] CONTAINER [CONTAINER...]',
  short: 'Stop one or more running containers',
  aliasesHelp: 'berth container stop, berth stop',
  args: { min: 1 },
  flags: stopFlags,
  run: async (ctx, inv) =>
    (await import('./manage.ts')).stopContainers(ctx.client(), ctx.streams.out, await stopOptions(inv)),
};

const restart: Def = {
  use: 'restart [OPTIONS] CONTAINER [CONTAINER...]',
  short: 'Restart one or more containers',
  aliasesHelp: 'berth container restart, berth restart',
  args: { min: 1 },
  flags: stopFlags,
  run: async (ctx, inv) =>
    (await import('./manage.ts')).restartContainers(ctx.client(), ctx.streams.out, await stopOptions(inv)),
};

const kill: Def = {
  use: 'kill [OPTIONS] CONTAINER [CONTAINER...]',
  short: 'Kill one or more running containers',
  aliasesHelp: 'berth container kill, berth kill',
  args: { min: 1 },
  flags: [{ name: 'signal', short: 's', kind: 'string', usage: 'Signal to send to the container' }],
  run: async (ctx, inv) =>
    (await import('./manage.ts')).killContainers(ctx.client(), ctx.streams.out, {
      containers: inv.args,
      signal: inv.flags.string('signal'),
    }),
};

const rm: Def = {
  use: 'rm [OPTIONS] CONTAINER [CONTAINER...]',
  short: 'Remove one or more containers',
  aliasesHelp: 'berth container rm, berth container remove, berth rm',
  args: { min: 1 },
  flags: [
    { name: 'force', short: 'f', kind: 'bool', usage: 'Force the removal of a running container (uses SIGKILL)' },
    { name: 'link', short: 'l', kind: 'bool', usage: 'Remove the specified link' },
    { name: 'volumes', short: 'v', kind: 'bool', usage: 'Remove anonymous volumes associated with the container' },
  ],
  run: async (ctx, inv) =>
    (await import('./manage.ts')).removeContainers(ctx.client(), ctx.streams.out, ctx.streams.err, {
      containers: inv.args,
      force: inv.flags.bool('force'),
      volumes: inv.flags.bool('volumes'),
      link: inv.flags.bool('link'),
    }),
};

const pause: Def = {
  use: 'pause CONTAINER [CONTAINER...]',
  short: 'Pause all processes within one or more containers',
  aliasesHelp: 'berth container pause, berth pause',
  args: { min: 1 },
  run: async (ctx, inv) => (await import('./manage.ts')).pauseContainers(ctx.client(), ctx.streams.out, inv.args),
};

const unpause: Def = {
  use: 'unpause CONTAINER [CONTAINER...]',
  short: 'Unpause all processes within one or more containers',
  aliasesHelp: 'berth container unpause, berth unpause',
  args: { min: 1 },
  run: async (ctx, inv) => (await import('./manage.ts')).unpauseContainers(ctx.client(), ctx.streams.out, inv.args),
};

const rename: Def = {
  use: 'rename CONTAINER NEW_NAME',
  short: 'Rename a container',
  aliasesHelp: 'berth container rename, berth rename',
  args: { exact: 2 },
  run: async (ctx, inv) =>
    (await import('./manage.ts')).renameContainer(ctx.client(), ctx.streams.err, inv.args[0] ?? '', inv.args[1] ?? ''),
};

const wait: Def = {
  use: 'wait CONTAINER [CONTAINER...]',
  short: 'Block until one or more containers stop, then print their exit codes',
  aliasesHelp: 'berth container wait, berth wait',
  args: { min: 1 },
  run: async (ctx, inv) =>
    (await import('./manage.ts')).waitContainers(ctx.client(), ctx.streams.out, inv.args, ctx.signal),
};

const update: Def = {
  use: 'update [OPTIONS] CONTAINER [CONTAINER...]',
  short: 'Update configuration of one or more containers',
  aliasesHelp: 'berth container update, berth update',
  args: { min: 1 },
  flags: UPDATE_FLAGS,
  run: async (ctx, inv) => {
    const values: Record<string, string> = {};
    let count = 0;
    for (const f of UPDATE_FLAGS) {
      if (!inv.flags.has(f.name)) continue;
      count++;
      values[f.name] = inv.flags.string(f.name);
    }
    await (await import('./manage.ts')).updateContainers(ctx.client(), ctx.streams.out, {
      containers: inv.args,
      flagCount: count,
      values,
    });
  },
};

const logs: Def = {
  use: 'logs [OPTIONS] CONTAINER',
  short: 'Fetch the logs of a container',
  aliasesHelp: 'berth container logs, berth logs',
  args: { exact: 1 },
  flags: [
    { name: 'details', kind: 'bool', usage: 'Show extra details provided to logs' },
    { name: 'follow', short: 'f', kind: 'bool', usage: 'Follow log output' },
    {
      name: 'since',
      kind: 'string',
      usage: 'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)',
    },
    {
      name: 'tail',
      short: 'n',
      kind: 'string',
      usage: 'Number of lines to show from the end of the logs',
      defaultValue: 'all',
    },
    { name: 'timestamps', short: 't', kind: 'bool', usage: 'Show timestamps' },
    {
      name: 'until',
      kind: 'string',
      usage: 'Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)',
    },
  ],
  run: async (ctx, inv) =>
    (await import('./logs.ts')).showLogs(
      ctx.client(),
      ctx.streams.out,
      ctx.streams.err,
      {
        container: inv.args[0] ?? '',
        follow: inv.flags.bool('follow'),
        since: inv.flags.string('since'),
        until: inv.flags.string('until'),
        timestamps: inv.flags.bool('timestamps'),
        details: inv.flags.bool('details'),
        tail: inv.flags.string('tail'),
      },
      ctx.signal,
    ),
};

const exec: Def = {
  use: 'exec [OPTIONS] CONTAINER COMMAND [ARG...]',
  short: 'Execute a command in a running container',
  aliasesHelp: 'berth container exec, berth exec',
  args: { min: 2 },
  interspersed: false,
  flags: [
    { name: 'detach', short: 'd', kind: 'bool', usage: 'Detached mode: run command in the background' },
    detachKeys,
    {
      name: 'env',
      short: 'e',
      kind: 'list',
      usage: 'Set environment variables',
      validate: (v) => validateEnv(v, (k) => process.env[k]),
    },
    { name: 'env-file', kind: 'list', usage: 'Read in a file of environment variables' },
    { name: 'interactive', short: 'i', kind: 'bool', usage: 'Keep STDIN open even if not attached' },
    { name: 'privileged', kind: 'bool', usage: 'Give extended privileges to the command' },
    { name: 'tty', short: 't', kind: 'bool', usage: 'Allocate a pseudo-TTY' },
    { name: 'user', short: 'u', kind: 'string', usage: 'Username or UID (format: "<name|uid>[:<group|gid>]")' },
    { name: 'workdir', short: 'w', kind: 'string', usage: 'Working directory inside the container' },
  ],
  run: async (ctx, inv) => {
    const { execInContainer, readEnvFiles } = await import('./exec.ts');
    const env = [...readEnvFiles(inv.flags.list('env-file'), (k) => process.env[k]), ...inv.flags.list('env')];
    await execInContainer(ctx.client(), streams(ctx), {
      container: inv.args[0] ?? '',
      command: inv.args.slice(1),
      detach: inv.flags.bool('detach'),
      interactive: inv.flags.bool('interactive'),
      tty: inv.flags.bool('tty'),
      user: inv.flags.string('user'),
      privileged: inv.flags.bool('privileged'),
      env,
      workdir: inv.flags.string('workdir'),
      detachKeys: inv.flags.string('detach-keys'),
    });
  },
};

const ps: Omit<Def, 'use'> = {
  short: 'List containers',
  aliasesHelp: 'berth container ls, berth container list, berth container ps, berth ps',
  args: { none: true },
  flags: [
    { name: 'all', short: 'a', kind: 'bool', usage: 'Show all containers (default shows just running)' },
    { name: 'filter', short: 'f', kind: 'filter', usage: 'Filter output based on conditions provided' },
    { name: 'format', kind: 'string', usage: FORMAT_HELP },
    {
      name: 'last',
      short: 'n',
      kind: 'int',
      usage: 'Show n last created containers (includes all states)',
      defaultValue: '-1',
    },
    { name: 'latest', short: 'l', kind: 'bool', usage: 'Show the latest created container (includes all states)' },
    { name: 'no-trunc', kind: 'bool', usage: "Don't truncate output" },
    { name: 'quiet', short: 'q', kind: 'bool', usage: 'Only display container IDs' },
    { name: 'size', short: 's', kind: 'bool', usage: 'Display total file sizes' },
  ],
  run: async (ctx, inv) =>
    (await import('./list.ts')).listContainers(
      ctx.client(),
      ctx.streams.out,
      ctx.streams.err,
      {
        all: inv.flags.bool('all'),
        quiet: inv.flags.bool('quiet'),
        size: inv.flags.bool('size'),
        sizeGiven: inv.flags.has('size'),
        noTrunc: inv.flags.bool('no-trunc'),
        latest: inv.flags.bool('latest'),
        last: inv.flags.int('last'),
        format: inv.flags.string('format'),
        filters: inv.flags.filters('filter'),
      },
      ctx.signal,
    ),
};

const stats: Def = {
  use: 'stats [OPTIONS] [CONTAINER...]',
  short: 'Display a live stream of container(s) resource usage statistics',
  aliasesHelp: 'berth container stats, berth stats',
  flags: [
    { name: 'all', short: 'a', kind: 'bool', usage: 'Show all containers (default shows just running)' },
    { name: 'format', kind: 'string', usage: FORMAT_HELP },
    { name: 'no-stream', kind: 'bool', usage: 'Disable streaming stats and only pull the first result' },
    { name: 'no-trunc', kind: 'bool', usage: 'Do not truncate output' },
  ],
  run: async (ctx, inv) =>
    (await import('./stats.ts')).showStats(
      ctx.client(),
      ctx.streams.out,
      {
        containers: inv.args,
        all: inv.flags.bool('all'),
        noStream: inv.flags.bool('no-stream'),
        noTrunc: inv.flags.bool('no-trunc'),
        format: inv.flags.string('format'),
      },
      ctx.signal,
    ),
};

const top: Def = {
  use: 'top CONTAINER [ps OPTIONS]',
  short: 'Display the running processes of a container',
  aliasesHelp: 'berth container top, berth top',
  args: { min: 1 },
  interspersed: false,
  run: async (ctx, inv) =>
    (await import('./manage.ts')).topContainer(ctx.client(), ctx.streams.out, inv.args[0] ?? '', inv.args.slice(1)),
};

const diff: Def = {
  use: 'diff CONTAINER',
  short: "Inspect changes to files or directories on a container's filesystem",
  aliasesHelp: 'berth container diff, berth diff',
  args: { exact: 1 },
  run: async (ctx, inv) =>
    (await import('./manage.ts')).diffContainer(ctx.client(), ctx.streams.out, inv.args[0] ?? ''),
};

const exportCmd: Def = {
  use: 'export [OPTIONS] CONTAINER',
  short: "Export a container's filesystem as a tar archive",
  aliasesHelp: 'berth container export, berth export',
  args: { exact: 1 },
  flags: [{ name: 'output', short: 'o', kind: 'string', usage: 'Write to a file, instead of STDOUT' }],
  run: async (ctx, inv) =>
    (await import('./manage.ts')).exportContainer(
      ctx.client(),
      ctx.streams.out,
      { container: inv.args[0] ?? '', output: inv.flags.string('output') },
      ctx.signal,
    ),
};

const commit: Def = {
  use: 'commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]',
  short: "Create a new image from a container's changes",
  aliasesHelp: 'berth container commit, berth commit',
  args: { min: 1, max: 2 },
  interspersed: false,
  flags: [
    { name: 'author', short: 'a', kind: 'string', usage: 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")' },
    { name: 'change', short: 'c', kind: 'list', usage: 'Apply Dockerfile instruction to the created image' },
    { name: 'message', short: 'm', kind: 'string', usage: 'Commit message' },
    { name: 'pause', short: 'p', kind: 'bool', usage: 'Pause container during commit', defaultValue: true },
  ],
  run: async (ctx, inv) =>
    (await import('./manage.ts')).commitContainer(ctx.client(), ctx.streams.out, {
      container: inv.args[0] ?? '',
      reference: inv.args[1],
      message: inv.flags.string('message'),
      author: inv.flags.string('author'),
      changes: inv.flags.list('change'),
      pause: inv.flags.bool('pause'),
    }),
};

const cp: Def = {
  use: 'cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH',
  short: 'Copy files/folders between a container and the local filesystem',
  long: `Copy files/folders between a container and the local filesystem

Use '-' as the source to read a tar archive from stdin
and extract it to a directory destination in a container.
Use '-' as the destination to stream a tar archive of a
container source to stdout.`,
  aliasesHelp: 'berth container cp, berth cp',
  args: { exact: 2 },
  flags: [
    { name: 'archive', short: 'a', kind: 'bool', usage: 'Archive mode (copy all uid/gid information)' },
    { name: 'follow-link', short: 'L', kind: 'bool', usage: 'Always follow symbol link in SRC_PATH' },
    {
      name: 'quiet',
      short: 'q',
      kind: 'bool',
      usage:
        'Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached',
    },
  ],
  run: async (ctx, inv) =>
    (await import('./cp.ts')).copyFiles(ctx.client(), ctx.streams.in, ctx.streams.out, ctx.streams.err, {
      source: inv.args[0] ?? '',
      destination: inv.args[1] ?? '',
      followLink: inv.flags.bool('follow-link'),
      copyUIDGID: inv.flags.bool('archive'),
      quiet: inv.flags.has('quiet') ? inv.flags.bool('quiet') : !ctx.streams.out.isTerminal,
    }),
};

const inspectFormat: FlagSpec = { name: 'format', short: 'f', kind: 'string', usage: INSPECT_FORMAT_HELP };

const inspect: Def = {
  use: 'inspect [OPTIONS] NAME|ID [NAME|ID...]',
  short: 'Return low-level information on Berth objects',
  args: { min: 1 },
  flags: [
    inspectFormat,
    { name: 'size', short: 's', kind: 'bool', usage: 'Display total file sizes if the type is container' },
    { name: 'type', kind: 'string', usage: 'Only inspect objects of the given type' },
  ],
  run: async (ctx, inv) =>
    (await import('./inspect.ts')).inspectAny(ctx.client(), ctx.streams.out, ctx.streams.err, {
      refs: inv.args,
      format: inv.flags.string('format'),
      size: inv.flags.bool('size'),
      type: inv.flags.string('type'),
    }),
};

const containerInspect: Def = {
  use: 'inspect [OPTIONS] CONTAINER [CONTAINER...]',
  short: 'Display detailed information on one or more containers',
  args: { min: 1 },
  flags: [inspectFormat, { name: 'size', short: 's', kind: 'bool', usage: 'Display total file sizes' }],
  run: async (ctx, inv) =>
    (await import('./inspect.ts')).inspectContainers(ctx.client(), ctx.streams.out, {
      refs: inv.args,
      format: inv.flags.string('format'),
      size: inv.flags.bool('size'),
    }),
};

const containerPrune: Def = {
  use: 'prune [OPTIONS]',
  short: 'Remove all stopped containers',
  args: { none: true },
  flags: [
    { name: 'filter', kind: 'filter', usage: 'Provide filter values (e.g. "until=<timestamp>")' },
    { name: 'force', short: 'f', kind: 'bool', usage: 'Do not prompt for confirmation' },
  ],
  run: async (ctx, inv) =>
    (await import('./manage.ts')).pruneContainers(ctx.client(), ctx.streams.in, ctx.streams.out, {
      force: inv.flags.bool('force'),
      filters: inv.flags.filters('filter'),
    }),
};

/** A definition under its name: the first word of its usage line. */
function named(def: Def, aliases?: readonly string[]): Command {
  return { name: def.use.split(' ')[0]!, ...def, ...(aliases !== undefined ? { aliases } : {}) };
}

export const containerGroup: Command = {
  name: 'container',
  use: 'container',
  short: 'Manage containers',
  subcommands: [
    ...[attach, commit, cp, create, diff, exec, exportCmd, containerInspect, kill, logs].map((d) => named(d)),
    { name: 'ls', aliases: ['ps', 'list'], use: 'ls [OPTIONS]', ...ps },
    ...[pause, portCommand, containerPrune, rename, restart].map((d) => named(d)),
    named(rm, ['remove']),
    ...[run, start, stats, stop, top, unpause, update, wait].map((d) => named(d)),
  ],
};

/** The top-level commands this table defines: the group and the shortcuts. */
export const TOP: readonly Command[] = [
  containerGroup,
  ...[attach, commit, cp, create, diff, exec, exportCmd, inspect, kill, logs, pause, portCommand].map((d) => named(d)),
  { name: 'ps', use: 'ps [OPTIONS]', ...ps },
  ...[rename, restart, rm, run, start, stats, stop, top, unpause, update, wait].map((d) => named(d)),
];
