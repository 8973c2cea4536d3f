import { InvalidArgumentError } from '../../util/errors.ts';
import type { FlagSpec } from '../flags.ts';
import type { ComposeCommand } from './commands.ts';

/**
 * The compose commands' names, help and flags, apart from their code: each command's module is loaded when it
 * runs, so that `config` (or a usage error, or help) loads no engine-facing code and none of the other commands.
 */

const lifecycle = () => import('./lifecycle.ts');
const info = () => import('./info.ts');
const exec = () => import('./exec.ts');

const TIMEOUT: FlagSpec = { name: 'timeout', short: 't', kind: 'int', usage: 'Specify a shutdown timeout in seconds' };

const CREATE_FLAGS: FlagSpec[] = [
  { name: 'build', kind: 'bool', usage: 'Build images before starting containers' },
  { name: 'no-build', kind: 'bool', usage: "Don't build an image, even if it's policy" },
  {
    name: 'pull',
    kind: 'string',
    usage: 'Pull image before running ("always"|"missing"|"never")',
    defaultValue: 'missing',
  },
  {
    name: 'force-recreate',
    kind: 'bool',
    usage: "Recreate containers even if their configuration and image haven't changed",
  },
  { name: 'no-recreate', kind: 'bool', usage: "If containers already exist, don't recreate them" },
  { name: 'remove-orphans', kind: 'bool', usage: 'Remove containers for services not defined in the Compose file' },
  {
    name: 'scale',
    kind: 'list',
    valueName: 'scale',
    usage: 'Scale SERVICE to NUM instances. Overrides the `scale` setting',
  },
  { name: 'quiet-pull', kind: 'bool', usage: 'Pull without printing progress information' },
];

const LOGS_COMMAND: ComposeCommand = {
  name: 'logs',
  use: '[OPTIONS] [SERVICE...]',
  short: 'View output from containers',
  flags: [
    { name: 'follow', short: 'f', kind: 'bool', usage: 'Follow log output' },
    {
      name: 'tail',
      short: 'n',
      kind: 'string',
      usage: 'Number of lines to show from the end of the logs for each container',
      defaultValue: 'all',
    },
    {
      name: 'since',
      kind: 'string',
      usage: 'Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)',
    },
    {
      name: 'until',
      kind: 'string',
      usage: 'Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)',
    },
    { name: 'timestamps', short: 't', kind: 'bool', usage: 'Show timestamps' },
    { name: 'no-color', kind: 'bool', usage: 'Produce monochrome output' },
    { name: 'no-log-prefix', kind: 'bool', usage: "Don't print prefix in logs" },
    { name: 'index', kind: 'int', usage: 'index of the container if service has multiple replicas' },
  ],
  run: async (inv) => (await import('./logs.ts')).runLogs(inv),
};

export const LIFECYCLE_COMMANDS: ComposeCommand[] = [
  {
    name: 'up',
    use: '[OPTIONS] [SERVICE...]',
    short: 'Create and start containers',
    flags: [
      { name: 'detach', short: 'd', kind: 'bool', usage: 'Detached mode: Run containers in the background' },
      ...CREATE_FLAGS,
      { name: 'no-deps', kind: 'bool', usage: "Don't start linked services" },
      { name: 'always-recreate-deps', kind: 'bool', usage: 'Recreate dependent containers' },
      { name: 'no-start', kind: 'bool', usage: "Don't start the services after creating them" },
      { name: 'wait', kind: 'bool', usage: 'Wait for services to be running|healthy. Implies detached mode' },
      {
        name: 'wait-timeout',
        kind: 'int',
        usage: 'Maximum duration in seconds to wait for the project to be running|healthy',
      },
      { name: 'abort-on-container-exit', kind: 'bool', usage: 'Stops all containers if any container was stopped' },
      { name: 'exit-code-from', kind: 'string', usage: 'Return the exit code of the selected service container' },
      { name: 'attach', kind: 'list', valueName: 'stringArray', usage: 'Restrict attaching to the specified services' },
      {
        name: 'no-attach',
        kind: 'list',
        valueName: 'stringArray',
        usage: 'Do not attach (stream logs) to the specified services',
      },
      { name: 'no-color', kind: 'bool', usage: 'Produce monochrome output' },
      { name: 'no-log-prefix', kind: 'bool', usage: "Don't print prefix in logs" },
      { name: 'timestamps', kind: 'bool', usage: 'Show timestamps' },
      { name: 'renew-anon-volumes', short: 'V', kind: 'bool', usage: 'Recreate anonymous volumes', hidden: true },
      TIMEOUT,
    ],
    run: async (inv) => (await lifecycle()).runUp(inv),
  },
  {
    name: 'down',
    use: '[OPTIONS] [SERVICES]',
    short: 'Stop and remove containers, networks',
    flags: [
      {
        name: 'volumes',
        short: 'v',
        kind: 'bool',
        usage: 'Remove named volumes declared in the "volumes" section and anonymous volumes',
      },
      {
        name: 'rmi',
        kind: 'string',
        usage: 'Remove images used by services. "local" remove only images that don\'t have a custom tag',
      },
      { name: 'remove-orphans', kind: 'bool', usage: 'Remove containers for services not defined in the Compose file' },
      TIMEOUT,
    ],
    run: async (inv) => (await lifecycle()).runDown(inv),
  },
  {
    name: 'create',
    use: '[OPTIONS] [SERVICE...]',
    short: 'Creates containers for a service',
    flags: CREATE_FLAGS,
    run: async (inv) => (await lifecycle()).runCreate(inv),
  },
  {
    name: 'start',
    use: '[SERVICE...]',
    short: 'Start services',
    flags: [{ name: 'wait', kind: 'bool', usage: 'Wait for services to be running|healthy', hidden: true }],
    run: async (inv) => (await lifecycle()).runStart(inv),
  },
  {
    name: 'stop',
    use: '[OPTIONS] [SERVICE...]',
    short: 'Stop services',
    flags: [TIMEOUT],
    run: async (inv) => (await lifecycle()).runStop(inv),
  },
  {
    name: 'restart',
    use: '[OPTIONS] [SERVICE...]',
    short: 'Restart service containers',
    flags: [TIMEOUT, { name: 'no-deps', kind: 'bool', usage: "Don't restart dependent services" }],
    run: async (inv) => (await lifecycle()).runRestart(inv),
  },
  {
    name: 'rm',
    use: '[OPTIONS] [SERVICE...]',
    short: 'Removes stopped service containers',
    flags: [
      { name: 'force', short: 'f', kind: 'bool', usage: "Don't ask to confirm removal" },
      { name: 'stop', short: 's', kind: 'bool', usage: 'Stop the containers, if required, before removing' },
      { name: 'volumes', short: 'v', kind: 'bool', usage: 'Remove any anonymous volumes attached to containers' },
    ],
    run: async (inv) => (await lifecycle()).runRm(inv),
  },
  {
    name: 'kill',
    use: '[OPTIONS] [SERVICE...]',
    short: 'Force stop service containers',
    flags: [
      { name: 'signal', short: 's', kind: 'string', usage: 'SIGNAL to send to the container', defaultValue: 'SIGKILL' },
      { name: 'remove-orphans', kind: 'bool', usage: 'Remove containers for services not defined in the Compose file' },
    ],
    run: async (inv) => (await lifecycle()).simple('kill', 'Killed')(inv),
  },
  {
    name: 'pause',
    use: '[SERVICE...]',
    short: 'Pause services',
    run: async (inv) => (await lifecycle()).simple('pause', 'Paused')(inv),
  },
  {
    name: 'unpause',
    use: '[SERVICE...]',
    short: 'Unpause services',
    run: async (inv) => (await lifecycle()).simple('unpause', 'Unpaused')(inv),
  },
  {
    name: 'build',
    use: '[OPTIONS] [SERVICE...]',
    short: 'Build or rebuild services',
    flags: [
      { name: 'no-cache', kind: 'bool', usage: 'Do not use cache when building the image' },
      { name: 'pull', kind: 'bool', usage: 'Always attempt to pull a newer version of the image' },
      { name: 'quiet', short: 'q', kind: 'bool', usage: "Don't print anything to STDOUT" },
      { name: 'build-arg', kind: 'list', valueName: 'stringArray', usage: 'Set build-time variables for services' },
    ],
    run: async (inv) => (await lifecycle()).runBuild(inv),
  },
  {
    name: 'pull',
    use: '[OPTIONS] [SERVICE...]',
    short: 'Pull service images',
    flags: [
      { name: 'quiet', short: 'q', kind: 'bool', usage: 'Pull without printing progress information' },
      { name: 'ignore-pull-failures', kind: 'bool', usage: 'Pull what it can and ignores images with pull failures' },
      { name: 'ignore-buildable', kind: 'bool', usage: 'Ignore images that can be built' },
    ],
    run: async (inv) => (await lifecycle()).runPull(inv),
  },
  {
    name: 'push',
    use: '[OPTIONS] [SERVICE...]',
    short: 'Push service images',
    flags: [
      { name: 'ignore-push-failures', kind: 'bool', usage: 'Push what it can and ignores images with push failures' },
    ],
    run: async (inv) => (await lifecycle()).runPush(inv),
  },
];

export const INFO_COMMANDS: ComposeCommand[] = [
  LOGS_COMMAND,
  {
    name: 'ps',
    use: '[OPTIONS] [SERVICE...]',
    short: 'List containers',
    flags: [
      {
        name: 'all',
        short: 'a',
        kind: 'bool',
        usage: 'Show all stopped containers (including those created by the run command)',
      },
      { name: 'quiet', short: 'q', kind: 'bool', usage: 'Only display IDs' },
      { name: 'services', kind: 'bool', usage: 'Display services' },
      { name: 'status', kind: 'list', valueName: 'stringArray', usage: 'Filter services by status' },
      {
        name: 'filter',
        kind: 'list',
        valueName: 'string',
        usage: 'Filter services by a property (supported filters: status)',
      },
      { name: 'format', kind: 'string', usage: 'Format the output. Values: [table | json]', defaultValue: 'table' },
      { name: 'no-trunc', kind: 'bool', usage: "Don't truncate output" },
    ],
    run: async (inv) => (await info()).runPs(inv),
  },
  {
    name: 'ls',
    use: '[OPTIONS]',
    short: 'List running compose projects',
    flags: [
      { name: 'all', short: 'a', kind: 'bool', usage: 'Show all stopped Compose projects' },
      { name: 'quiet', short: 'q', kind: 'bool', usage: 'Only display project names' },
      { name: 'format', kind: 'string', usage: 'Format the output. Values: [table | json]', defaultValue: 'table' },
      { name: 'filter', kind: 'list', valueName: 'filter', usage: 'Filter output based on conditions provided' },
    ],
    run: async (inv) => (await info()).runLs(inv),
  },
  {
    name: 'images',
    use: '[OPTIONS] [SERVICE...]',
    short: 'List images used by the created containers',
    flags: [{ name: 'quiet', short: 'q', kind: 'bool', usage: 'Only display IDs' }],
    run: async (inv) => (await info()).runImages(inv),
  },
  {
    name: 'top',
    use: '[SERVICES...]',
    short: 'Display the running processes',
    run: async (inv) => (await info()).runTop(inv),
  },
  {
    name: 'port',
    use: '[OPTIONS] SERVICE PRIVATE_PORT',
    short: 'Print the public port for a port binding',
    flags: [
      { name: 'protocol', kind: 'string', usage: 'tcp or udp', defaultValue: 'tcp' },
      { name: 'index', kind: 'int', usage: 'Index of the container if service has multiple replicas' },
    ],
    run: async (inv) => {
      if (inv.args.length !== 2) throw new InvalidArgumentError(`"${inv.prog} port" requires exactly 2 arguments`);
      await (await info()).runPort(inv);
    },
  },
  {
    name: 'config',
    use: '[OPTIONS] [SERVICE...]',
    short: 'Parse, resolve and render compose file in canonical format',
    flags: [
      { name: 'format', kind: 'string', usage: 'Format the output. Values: [yaml | json]', defaultValue: 'yaml' },
      { name: 'services', kind: 'bool', usage: 'Print the service names, one per line' },
      { name: 'volumes', kind: 'bool', usage: 'Print the volume names, one per line' },
      { name: 'networks', kind: 'bool', usage: 'Print the network names, one per line' },
      { name: 'profiles', kind: 'bool', usage: 'Print the profile names, one per line' },
      { name: 'images', kind: 'bool', usage: 'Print the image names, one per line' },
      { name: 'hash', kind: 'string', usage: 'Print the service config hash, one per line' },
      { name: 'quiet', short: 'q', kind: 'bool', usage: "Only validate the configuration, don't print anything" },
      { name: 'output', short: 'o', kind: 'string', usage: 'Save to file (default to stdout)' },
    ],
    run: async (inv) => (await info()).runConfig(inv),
  },
  {
    name: 'version',
    use: '[OPTIONS]',
    short: 'Show the Docker Compose version information',
    flags: [
      { name: 'format', short: 'f', kind: 'string', usage: 'Format the output. Values: [pretty | json]' },
      { name: 'short', kind: 'bool', usage: "Shows only Compose's version number" },
    ],
    run: async (inv) => (await info()).runVersion(inv),
  },
  {
    name: 'events',
    use: '[OPTIONS] [SERVICE...]',
    short: 'Receive real time events from containers',
    flags: [{ name: 'json', kind: 'bool', usage: 'Output events as a stream of json objects' }],
    run: async (inv) => (await info()).runEvents(inv),
  },
];

export const EXEC_COMMANDS: ComposeCommand[] = [
  {
    name: 'exec',
    use: '[OPTIONS] SERVICE COMMAND [ARGS...]',
    short: 'Execute a command in a running container',
    interspersed: false,
    flags: [
      { name: 'detach', short: 'd', kind: 'bool', usage: 'Detached mode: Run command in the background' },
      {
        name: 'no-TTY',
        short: 'T',
        kind: 'bool',
        usage: 'Disable pseudo-TTY allocation. By default `docker compose exec` allocates a TTY',
      },
      { name: 'env', short: 'e', kind: 'list', valueName: 'stringArray', usage: 'Set environment variables' },
      { name: 'user', short: 'u', kind: 'string', usage: 'Run the command as this user' },
      { name: 'workdir', short: 'w', kind: 'string', usage: 'Path to workdir directory for this command' },
      { name: 'index', kind: 'int', usage: 'Index of the container if service has multiple replicas' },
      { name: 'privileged', kind: 'bool', usage: 'Give extended privileges to the process' },
    ],
    run: async (inv) => (await exec()).runExec(inv),
  },
  {
    name: 'run',
    use: '[OPTIONS] SERVICE [COMMAND] [ARGS...]',
    short: 'Run a one-off command on a service',
    interspersed: false,
    flags: [
      { name: 'detach', short: 'd', kind: 'bool', usage: 'Run container in background and print container ID' },
      { name: 'rm', kind: 'bool', usage: 'Automatically remove the container when it exits' },
      { name: 'env', short: 'e', kind: 'list', valueName: 'stringArray', usage: 'Set environment variables' },
      { name: 'no-deps', kind: 'bool', usage: "Don't start linked services" },
      { name: 'entrypoint', kind: 'string', usage: 'Override the entrypoint of the image' },
      {
        name: 'publish',
        short: 'p',
        kind: 'list',
        valueName: 'stringArray',
        usage: "Publish a container's port(s) to the host",
      },
      {
        name: 'service-ports',
        short: 'P',
        kind: 'bool',
        usage: "Run command with all service's ports enabled and mapped to the host",
      },
      { name: 'name', kind: 'string', usage: 'Assign a name to the container' },
      { name: 'no-TTY', short: 'T', kind: 'bool', usage: 'Disable pseudo-TTY allocation (default: auto-detected)' },
      { name: 'user', short: 'u', kind: 'string', usage: 'Run as specified username or uid' },
      { name: 'workdir', short: 'w', kind: 'string', usage: 'Working directory inside the container' },
      {
        name: 'interactive',
        short: 'i',
        kind: 'bool',
        usage: 'Keep STDIN open even if not attached',
        defaultValue: true,
      },
    ],
    run: async (inv) => (await exec()).runRun(inv),
  },
  {
    name: 'cp',
    use: '[OPTIONS] SERVICE:SRC_PATH DEST_PATH|-\n\t' + 'docker compose cp [OPTIONS] SRC_PATH|- SERVICE:DEST_PATH',
    short: 'Copy files/folders between a service container and the local filesystem',
    flags: [
      { name: 'archive', short: 'a', kind: 'bool', usage: 'Archive mode (copy all uid/gid information)' },
      { name: 'follow-link', short: 'L', kind: 'bool', usage: 'Always follow symbol link in SRC_PATH' },
      { name: 'index', kind: 'int', usage: 'Index of the container if service has multiple replicas' },
    ],
    run: async (inv) => (await exec()).runCp(inv),
  },
  {
    name: 'wait',
    use: 'SERVICE [SERVICE...] [OPTIONS]',
    short: 'Block until containers of all (or specified) services stop.',
    flags: [{ name: 'down-project', kind: 'bool', usage: 'Drops project when the first container stops' }],
    run: async (inv) => (await exec()).runWait(inv),
  },
  {
    name: 'watch',
    use: '[SERVICE...]',
    short: 'Watch build context for service and rebuild/refresh containers when files are updated',
    flags: [{ name: 'no-up', kind: 'bool', usage: 'Do not build & start services before watching' }],
    run: async (inv) => (await import('./watch.ts')).runWatch(inv),
  },
];
