import type { Command, Context, Invocation } from '../command.ts';
import type { FlagSpec } from '../flags.ts';
import { FORMAT_HELP, INSPECT_FORMAT_HELP } from '../formathelp.ts';

/**
 * The image commands (`berth image …` and the shortcuts `berth images`, `pull`, `push`, `tag`, …): docker's
 * names, aliases, flags and help texts. Each `run` turns flags into the options object of the logic it calls,
 * which is imported when the command runs.
 */

const listFormat: FlagSpec = { name: 'format', kind: 'string', usage: FORMAT_HELP };

const inspectFormat: FlagSpec = { name: 'format', short: 'f', kind: 'string', usage: INSPECT_FORMAT_HELP };

const noTrunc: FlagSpec = { name: 'no-trunc', kind: 'bool', usage: "Don't truncate output" };

function firstArg(inv: Invocation): string {
  return inv.args[0] ?? '';
}

const images: Omit<Command, 'name' | 'use' | 'aliases'> = {
  short: 'List images',
  aliasesHelp: 'berth image ls, berth image list, berth images',
  args: { max: 1 },
  flags: [
    { name: 'all', short: 'a', kind: 'bool', usage: 'Show all images (default hides intermediate images)' },
    { name: 'digests', kind: 'bool', usage: 'Show digests' },
    { name: 'filter', short: 'f', kind: 'filter', usage: 'Filter output based on conditions provided' },
    listFormat,
    noTrunc,
    { name: 'quiet', short: 'q', kind: 'bool', usage: 'Only show image IDs' },
  ],
};

function runImages(calledAsImages: boolean) {
  return async (ctx: Context, inv: Invocation): Promise<void> =>
    (await import('./list.ts')).listImages(
      ctx.client(),
      ctx.streams.out,
      ctx.streams.err,
      {
        all: inv.flags.bool('all'),
        quiet: inv.flags.bool('quiet'),
        noTrunc: inv.flags.bool('no-trunc'),
        digests: inv.flags.bool('digests'),
        format: inv.flags.string('format'),
        filters: inv.flags.filters('filter'),
        matchName: inv.args[0],
        calledAsImages,
      },
      ctx.signal,
    );
}

const history: Omit<Command, 'name' | 'use' | 'aliases'> = {
  short: 'Show the history of an image',
  aliasesHelp: 'berth image history, berth history',
  args: { exact: 1 },
  flags: [
    listFormat,
    {
      name: 'human',
      short: 'H',
      kind: 'bool',
      usage: 'Print sizes and dates in human readable format',
      defaultValue: true,
    },
    noTrunc,
    { name: 'quiet', short: 'q', kind: 'bool', usage: 'Only show image IDs' },
    { name: 'tags', kind: 'bool', usage: 'Show what the tag NAME:TAG pointed at over time (Berth)' },
  ],
  run: async (ctx, inv) =>
    inv.flags.bool('tags')
      ? (await import('./history.ts')).showTagHistory(
          ctx.client(),
          ctx.streams.out,
          {
            name: firstArg(inv),
            noTrunc: inv.flags.bool('no-trunc'),
            quiet: inv.flags.bool('quiet'),
            format: inv.flags.string('format'),
          },
          ctx.signal,
        )
      : (await import('./history.ts')).showHistory(
          ctx.client(),
          ctx.streams.out,
          {
            image: firstArg(inv),
            human: inv.flags.bool('human'),
            quiet: inv.flags.bool('quiet'),
            noTrunc: inv.flags.bool('no-trunc'),
            format: inv.flags.string('format'),
          },
          ctx.signal,
        ),
};

const tag: Omit<Command, 'name' | 'use' | 'aliases'> = {
  short: 'Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE',
  aliasesHelp: 'berth image tag, berth tag',
  args: { exact: 2 },
  interspersed: false,
  run: async (ctx, inv) =>
    (await import('./manage.ts')).tagImage(
      ctx.client(),
      { source: firstArg(inv), target: inv.args[1] ?? '' },
      ctx.signal,
    ),
};

const rmi: Omit<Command, 'name' | 'use' | 'aliases'> = {
  short: 'Remove one or more images',
  aliasesHelp: 'berth image rm, berth image remove, berth rmi',
  args: { min: 1 },
  flags: [
    { name: 'force', short: 'f', kind: 'bool', usage: 'Force removal of the image' },
    { name: 'no-prune', kind: 'bool', usage: 'Do not delete untagged parents' },
  ],
  run: async (ctx, inv) =>
    (await import('./manage.ts')).removeImages(
      ctx.client(),
      ctx.streams.out,
      ctx.streams.err,
      { images: inv.args, force: inv.flags.bool('force'), noPrune: inv.flags.bool('no-prune') },
      ctx.signal,
    ),
};

const load: Omit<Command, 'name' | 'use' | 'aliases'> = {
  short: 'Load an image from a tar archive or STDIN',
  aliasesHelp: 'berth image load, berth load',
  args: { none: true },
  flags: [
    { name: 'input', short: 'i', kind: 'string', usage: 'Read from tar archive file, instead of STDIN' },
    { name: 'quiet', short: 'q', kind: 'bool', usage: 'Suppress the load output' },
  ],
  run: async (ctx, inv) =>
    (await import('./transfer.ts')).loadImages(
      ctx.client(),
      ctx.streams.in,
      ctx.streams.out,
      ctx.streams.err,
      { input: inv.flags.string('input') || undefined, quiet: inv.flags.bool('quiet') },
      ctx.signal,
    ),
};

const pull: Omit<Command, 'name' | 'use' | 'aliases'> = {
  short: 'Download an image from a registry',
  aliasesHelp: 'berth image pull, berth pull',
  args: { exact: 1 },
  flags: [
    { name: 'all-tags', short: 'a', kind: 'bool', usage: 'Download all tagged images in the repository' },
    { name: 'disable-content-trust', kind: 'bool', usage: 'Skip image verification (default true)' },
    { name: 'platform', kind: 'string', usage: 'Set platform if server is multi-platform capable' },
    { name: 'quiet', short: 'q', kind: 'bool', usage: 'Suppress verbose output' },
  ],
  run: async (ctx, inv) =>
    (await import('./registry.ts')).pullImage(
      ctx.client(),
      ctx.streams.out,
      {
        name: firstArg(inv),
        allTags: inv.flags.bool('all-tags'),
        platform: inv.flags.string('platform'),
        quiet: inv.flags.bool('quiet'),
      },
      ctx.signal,
    ),
};

const push: Omit<Command, 'name' | 'use' | 'aliases'> = {
  short: 'Upload an image to a registry',
  aliasesHelp: 'berth image push, berth push',
  args: { exact: 1 },
  flags: [
    { name: 'all-tags', short: 'a', kind: 'bool', usage: 'Push all tags of an image to the repository' },
    { name: 'disable-content-trust', kind: 'bool', usage: 'Skip image signing (default true)' },
    { name: 'quiet', short: 'q', kind: 'bool', usage: 'Suppress verbose output' },
  ],
  run: async (ctx, inv) =>
    (await import('./registry.ts')).pushImage(
      ctx.client(),
      ctx.streams.out,
      { name: firstArg(inv), allTags: inv.flags.bool('all-tags'), quiet: inv.flags.bool('quiet') },
      ctx.signal,
    ),
};

const save: Omit<Command, 'name' | 'use' | 'aliases'> = {
  short: 'Save one or more images to a tar archive (streamed to STDOUT by default)',
  aliasesHelp: 'berth image save, berth save',
  args: { min: 1 },
  flags: [{ name: 'output', short: 'o', kind: 'string', usage: 'Write to a file, instead of STDOUT' }],
  run: async (ctx, inv) =>
    (await import('./transfer.ts')).saveImages(
      ctx.client(),
      ctx.streams.out,
      ctx.streams.err,
      { images: inv.args, output: inv.flags.string('output') || undefined },
      ctx.signal,
    ),
};

const importCmd: Omit<Command, 'name' | 'use' | 'aliases'> = {
  short: 'Import the contents from a tarball to create a filesystem image',
  aliasesHelp: 'berth image import, berth import',
  args: { min: 1 },
  flags: [
    { name: 'change', short: 'c', kind: 'list', usage: 'Apply Dockerfile instruction to the created image' },
    { name: 'message', short: 'm', kind: 'string', usage: 'Set commit message for imported image' },
  ],
  run: async (ctx, inv) =>
    (await import('./transfer.ts')).importImage(
      ctx.client(),
      ctx.streams.in,
      ctx.streams.out,
      ctx.streams.err,
      {
        source: firstArg(inv),
        reference: inv.args[1],
        changes: inv.flags.list('change'),
        message: inv.flags.string('message'),
      },
      ctx.signal,
    ),
};

const build: Omit<Command, 'name' | 'use' | 'aliases'> = {
  short: 'Build an image from a Dockerfile',
  aliasesHelp: 'berth image build, berth build',
  args: { exact: 1 },
  flags: [
    { name: 'add-host', kind: 'list', usage: 'Add a custom host-to-IP mapping ("host:ip")' },
    { name: 'build-arg', kind: 'list', usage: 'Set build-time variables' },
    { name: 'cache-from', kind: 'list', usage: 'Images to consider as cache sources' },
    { name: 'file', short: 'f', kind: 'string', usage: 'Name of the Dockerfile (default: "PATH/Dockerfile")' },
    { name: 'iidfile', kind: 'string', usage: 'Write the image ID to the file' },
    { name: 'label', kind: 'list', usage: 'Set metadata for an image' },
    { name: 'network', kind: 'string', usage: 'Set the networking mode for the RUN instructions during build' },
    { name: 'no-cache', kind: 'bool', usage: 'Do not use cache when building the image' },
    {
      name: 'output',
      short: 'o',
      kind: 'list',
      usage: 'Output destination (format: "type=local,dest=path" or "type=tar,dest=file")',
    },
    { name: 'platform', kind: 'string', usage: 'Set target platform for build (the native one)' },
    {
      name: 'progress',
      kind: 'string',
      usage: 'Set type of progress output ("auto", "plain", "tty")',
      defaultValue: 'auto',
    },
    { name: 'pull', kind: 'bool', usage: 'Always attempt to pull a newer version of the image' },
    { name: 'quiet', short: 'q', kind: 'bool', usage: 'Suppress the build output and print image ID on success' },
    { name: 'rm', kind: 'bool', usage: 'Remove intermediate containers after a successful build', defaultValue: true },
    { name: 'force-rm', kind: 'bool', usage: 'Always remove intermediate containers' },
    {
      name: 'secret',
      kind: 'list',
      usage: 'Secret to expose to the build (format: "id=mysecret[,src=/local/secret|,env=VAR]")',
    },
    { name: 'shm-size', kind: 'string', usage: 'Size of "/dev/shm"' },
    { name: 'tag', short: 't', kind: 'list', usage: 'Name and optionally a tag in the "name:tag" format' },
    { name: 'target', kind: 'string', usage: 'Set the target build stage to build' },
  ],
  run: async (ctx, inv) =>
    (await import('./build.ts')).buildImage(
      ctx.client(),
      { stdin: ctx.streams.in, out: ctx.streams.out, err: ctx.streams.err, env: process.env },
      {
        context: firstArg(inv),
        tags: inv.flags.list('tag'),
        file: inv.flags.string('file'),
        buildArgs: inv.flags.list('build-arg'),
        target: inv.flags.string('target'),
        noCache: inv.flags.bool('no-cache'),
        pull: inv.flags.bool('pull'),
        labels: inv.flags.list('label'),
        iidfile: inv.flags.string('iidfile'),
        quiet: inv.flags.bool('quiet'),
        network: inv.flags.string('network'),
        secrets: inv.flags.list('secret'),
        addHosts: inv.flags.list('add-host'),
        shmSize: inv.flags.string('shm-size'),
        progress: inv.flags.string('progress'),
        platform: inv.flags.string('platform'),
        outputs: inv.flags.list('output'),
        cacheFrom: inv.flags.list('cache-from'),
      },
      ctx.signal,
    ),
};

const builderGroup: Command = {
  name: 'builder',
  use: 'builder',
  short: 'Manage builds',
  subcommands: [
    { name: 'build', use: 'build [OPTIONS] PATH | URL | -', ...build },
    {
      name: 'prune',
      use: 'prune',
      short: 'Remove build cache',
      args: { none: true },
      flags: [
        { name: 'all', short: 'a', kind: 'bool', usage: 'Remove all unused build cache, not just dangling ones' },
        { name: 'filter', kind: 'filter', usage: 'Provide filter values (e.g. "until=24h")' },
        { name: 'force', short: 'f', kind: 'bool', usage: 'Do not prompt for confirmation' },
        { name: 'keep-storage', kind: 'string', usage: 'Amount of disk space to keep for cache' },
      ],
      run: async (ctx, inv) =>
        (await import('./buildprune.ts')).pruneBuildCache(
          ctx.client(),
          ctx.streams.in,
          ctx.streams.out,
          {
            all: inv.flags.bool('all'),
            force: inv.flags.bool('force'),
            filters: inv.flags.filters('filter'),
            keepStorage: inv.flags.string('keep-storage'),
          },
          ctx.signal,
        ),
    },
  ],
};

const imageGroup: Command = {
  name: 'image',
  use: 'image',
  short: 'Manage images',
  subcommands: [
    { name: 'build', use: 'build [OPTIONS] PATH | URL | -', ...build },
    { name: 'history', use: 'history [OPTIONS] IMAGE', ...history },
    { name: 'import', use: 'import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]', ...importCmd },
    {
      name: 'inspect',
      use: 'inspect [OPTIONS] IMAGE [IMAGE...]',
      short: 'Display detailed information on one or more images',
      args: { min: 1 },
      flags: [inspectFormat],
      run: async (ctx, inv) =>
        (await import('./inspect.ts')).inspectImages(
          ctx.client(),
          ctx.streams.out,
          { refs: inv.args, format: inv.flags.string('format') },
          ctx.signal,
        ),
    },
    { name: 'load', use: 'load [OPTIONS]', ...load },
    { name: 'pull', use: 'pull [OPTIONS] NAME[:TAG|@DIGEST]', ...pull },
    { name: 'push', use: 'push [OPTIONS] NAME[:TAG]', ...push },
    { name: 'ls', aliases: ['list'], use: 'ls [OPTIONS] [REPOSITORY[:TAG]]', ...images, run: runImages(false) },
    {
      name: 'prune',
      use: 'prune [OPTIONS]',
      short: 'Remove unused images',
      args: { none: true },
      flags: [
        { name: 'all', short: 'a', kind: 'bool', usage: 'Remove all unused images, not just dangling ones' },
        { name: 'filter', kind: 'filter', usage: 'Provide filter values (e.g. "until=<timestamp>")' },
        { name: 'force', short: 'f', kind: 'bool', usage: 'Do not prompt for confirmation' },
        { name: 'history', kind: 'bool', usage: "Also remove old versions kept for tags' history (rollback)" },
      ],
      run: async (ctx, inv) =>
        (await import('./manage.ts')).pruneImages(
          ctx.client(),
          ctx.streams.in,
          ctx.streams.out,
          {
            all: inv.flags.bool('all'),
            force: inv.flags.bool('force'),
            history: inv.flags.bool('history'),
            filters: inv.flags.filters('filter'),
          },
          ctx.signal,
        ),
    },
    { name: 'rm', aliases: ['rmi', 'remove'], use: 'rm [OPTIONS] IMAGE [IMAGE...]', ...rmi },
    {
      name: 'rollback',
      use: 'rollback [OPTIONS] NAME:TAG',
      short: 'Point a tag back at an image it referred to before (Berth)',
      args: { exact: 1 },
      flags: [{ name: 'to', kind: 'string', usage: 'Digest to point the tag at (default: the previous one)' }],
      run: async (ctx, inv) =>
        (await import('./manage.ts')).rollbackImage(
          ctx.client(),
          ctx.streams.out,
          { name: firstArg(inv), to: inv.flags.string('to') || undefined },
          ctx.signal,
        ),
    },
    { name: 'save', use: 'save [OPTIONS] IMAGE [IMAGE...]', ...save },
    { name: 'tag', use: 'tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]', ...tag },
  ],
};

/** The top-level commands this table defines. */
export const TOP: readonly Command[] = [
  imageGroup,
  builderGroup,
  { name: 'build', use: 'build [OPTIONS] PATH | URL | -', ...build },
  { name: 'history', use: 'history [OPTIONS] IMAGE', ...history },
  { name: 'images', use: 'images [OPTIONS] [REPOSITORY[:TAG]]', ...images, run: runImages(true) },
  { name: 'import', use: 'import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]', ...importCmd },
  { name: 'load', use: 'load [OPTIONS]', ...load },
  { name: 'pull', use: 'pull [OPTIONS] NAME[:TAG|@DIGEST]', ...pull },
  { name: 'push', use: 'push [OPTIONS] NAME[:TAG]', ...push },
  { name: 'rmi', use: 'rmi [OPTIONS] IMAGE [IMAGE...]', ...rmi },
  { name: 'save', use: 'save [OPTIONS] IMAGE [IMAGE...]', ...save },
  { name: 'tag', use: 'tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]', ...tag },
];
