import { InvalidArgumentError } from '../../util/errors.ts';
import { bool, type FlagSpec, int, list, str } from '../flags.ts';
import type { ComposeCommand } from './commands.ts';

/**
 * The compose commands' names, help and flags, apart from their code: each command's module is loaded when it
 * runs, so that `config` (or a usage error, or help) loads no engine-facing code and none of the other commands.
 */

const lifecycle = () => import('./lifecycle.ts');
const info = () => import('./info.ts');
const exec = () => import('./exec.ts');

/** Flags that several commands share, with the same help. */
const TIMEOUT = int('timeout', 'Specify a shutdown timeout in seconds', { short: 't' });
const REMOVE_ORPHANS = bool('remove-orphans', 'Remove containers for services not defined in the Compose file');
const NO_COLOR = bool('no-color', 'Produce monochrome output');
const NO_LOG_PREFIX = bool('no-log-prefix', "Don't print prefix in logs");
const NO_DEPS = bool('no-deps', "Don't start linked services");
const ENV = list('env', 'Set environment variables', { short: 'e', valueName: 'stringArray' });
const INDEX = int('index', 'Index of the container if service has multiple replicas');
const QUIET_IDS = bool('quiet', 'Only display IDs', { short: 'q' });
const FORMAT_TABLE = str('format', 'Format the output. Values: [table | json]', { defaultValue: 'table' });

const CREATE_FLAGS: FlagSpec[] = [
  bool('build', 'Build images before starting containers'),
  bool('no-build', "Don't build an image, even if it's policy"),
  str('pull', 'Pull image before running ("always"|"missing"|"never")', { defaultValue: 'missing' }),
  bool('force-recreate', "Recreate containers even if their configuration and image haven't changed"),
  bool('no-recreate', "If containers already exist, don't recreate them"),
  REMOVE_ORPHANS,
  list('scale', 'Scale SERVICE to NUM instances. Overrides the `scale` setting', { valueName: 'scale' }),
  bool('quiet-pull', 'Pull without printing progress information'),
];

const LOGS_COMMAND: ComposeCommand = {
  name: 'logs',
  use: '[OPTIONS] [SERVICE...]',
  short: 'View output from containers',
  flags: [
    bool('follow', 'Follow log output', { short: 'f' }),
    str('tail', 'Number of lines to show from the end of the logs for each container', {
      short: 'n',
      defaultValue: 'all',
    }),
    str('since', 'Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)'),
    str('until', 'Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)'),
    bool('timestamps', 'Show timestamps', { short: 't' }),
    NO_COLOR,
    NO_LOG_PREFIX,
    int('index', 'index of the container if service has multiple replicas'),
  ],
  run: async (inv) => (await import('./logs.ts')).runLogs(inv),
};

export const LIFECYCLE_COMMANDS: ComposeCommand[] = [
  {
    name: 'up',
    use: '[OPTIONS] [SERVICE...]',
    short: 'Create and start containers',
    flags: [
      bool('detach', 'Detached mode: Run containers in the background', { short: 'd' }),
      ...CREATE_FLAGS,
      NO_DEPS,
      bool('always-recreate-deps', 'Recreate dependent containers'),
      bool('no-start', "Don't start the services after creating them"),
      bool('wait', 'Wait for services to be running|healthy. Implies detached mode'),
      int('wait-timeout', 'Maximum duration in seconds to wait for the project to be running|healthy'),
      bool('abort-on-container-exit', 'Stops all containers if any container was stopped'),
      str('exit-code-from', 'Return the exit code of the selected service container'),
      list('attach', 'Restrict attaching to the specified services', { valueName: 'stringArray' }),
      list('no-attach', 'Do not attach (stream logs) to the specified services', { valueName: 'stringArray' }),
      NO_COLOR,
      NO_LOG_PREFIX,
      bool('timestamps', 'Show timestamps'),
      bool('renew-anon-volumes', 'Recreate anonymous volumes', { short: 'V', hidden: true }),
      TIMEOUT,
    ],
    run: async (inv) => (await lifecycle()).runUp(inv),
  },
  {
    name: 'down',
    use: '[OPTIONS] [SERVICES]',
    short: 'Stop and remove containers, networks',
    flags: [
      bool('volumes', 'Remove named volumes declared in the "volumes" section and anonymous volumes', { short: 'v' }),
      str('rmi', 'Remove images used by services. "local" remove only images that don\'t have a custom tag'),
      REMOVE_ORPHANS,
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
    flags: [bool('wait', 'Wait for services to be running|healthy', { hidden: true })],
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
    flags: [TIMEOUT, bool('no-deps', "Don't restart dependent services")],
    run: async (inv) => (await lifecycle()).runRestart(inv),
  },
  {
    name: 'rm',
    use: '[OPTIONS] [SERVICE...]',
    short: 'Removes stopped service containers',
    flags: [
      bool('force', "Don't ask to confirm removal", { short: 'f' }),
      bool('stop', 'Stop the containers, if required, before removing', { short: 's' }),
      bool('volumes', 'Remove any anonymous volumes attached to containers', { short: 'v' }),
    ],
    run: async (inv) => (await lifecycle()).runRm(inv),
  },
  {
    name: 'kill',
    use: '[OPTIONS] [SERVICE...]',
    short: 'Force stop service containers',
    flags: [str('signal', 'SIGNAL to send to the container', { short: 's', defaultValue: 'SIGKILL' }), REMOVE_ORPHANS],
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
      bool('no-cache', 'Do not use cache when building the image'),
      bool('pull', 'Always attempt to pull a newer version of the image'),
      bool('quiet', "Don't print anything to STDOUT", { short: 'q' }),
      list('build-arg', 'Set build-time variables for services', { valueName: 'stringArray' }),
    ],
    run: async (inv) => (await lifecycle()).runBuild(inv),
  },
  {
    name: 'pull',
    use: '[OPTIONS] [SERVICE...]',
    short: 'Pull service images',
    flags: [
      bool('quiet', 'Pull without printing progress information', { short: 'q' }),
      bool('ignore-pull-failures', 'Pull what it can and ignores images with pull failures'),
      bool('ignore-buildable', 'Ignore images that can be built'),
    ],
    run: async (inv) => (await lifecycle()).runPull(inv),
  },
  {
    name: 'push',
    use: '[OPTIONS] [SERVICE...]',
    short: 'Push service images',
    flags: [bool('ignore-push-failures', 'Push what it can and ignores images with push failures')],
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
      bool('all', 'Show all stopped containers (including those created by the run command)', { short: 'a' }),
      QUIET_IDS,
      bool('services', 'Display services'),
      list('status', 'Filter services by status', { valueName: 'stringArray' }),
      list('filter', 'Filter services by a property (supported filters: status)', { valueName: 'string' }),
      FORMAT_TABLE,
      bool('no-trunc', "Don't truncate output"),
    ],
    run: async (inv) => (await info()).runPs(inv),
  },
  {
    name: 'ls',
    use: '[OPTIONS]',
    short: 'List running compose projects',
    flags: [
      bool('all', 'Show all stopped Compose projects', { short: 'a' }),
      bool('quiet', 'Only display project names', { short: 'q' }),
      FORMAT_TABLE,
      list('filter', 'Filter output based on conditions provided', { valueName: 'filter' }),
    ],
    run: async (inv) => (await info()).runLs(inv),
  },
  {
    name: 'images',
    use: '[OPTIONS] [SERVICE...]',
    short: 'List images used by the created containers',
    flags: [QUIET_IDS],
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
    flags: [str('protocol', 'tcp or udp', { defaultValue: 'tcp' }), INDEX],
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
      str('format', 'Format the output. Values: [yaml | json]', { defaultValue: 'yaml' }),
      bool('services', 'Print the service names, one per line'),
      bool('volumes', 'Print the volume names, one per line'),
      bool('networks', 'Print the network names, one per line'),
      bool('profiles', 'Print the profile names, one per line'),
      bool('images', 'Print the image names, one per line'),
      str('hash', 'Print the service config hash, one per line'),
      bool('quiet', "Only validate the configuration, don't print anything", { short: 'q' }),
      str('output', 'Save to file (default to stdout)', { short: 'o' }),
    ],
    run: async (inv) => (await info()).runConfig(inv),
  },
  {
    name: 'version',
    use: '[OPTIONS]',
    short: 'Show the Docker Compose version information',
    flags: [
      str('format', 'Format the output. Values: [pretty | json]', { short: 'f' }),
      bool('short', "Shows only Compose's version number"),
    ],
    run: async (inv) => (await info()).runVersion(inv),
  },
  {
    name: 'events',
    use: '[OPTIONS] [SERVICE...]',
    short: 'Receive real time events from containers',
    flags: [bool('json', 'Output events as a stream of json objects')],
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
      bool('detach', 'Detached mode: Run command in the background', { short: 'd' }),
      bool('no-TTY', 'Disable pseudo-TTY allocation. By default `docker compose exec` allocates a TTY', { short: 'T' }),
      ENV,
      str('user', 'Run the command as this user', { short: 'u' }),
      str('workdir', 'Path to workdir directory for this command', { short: 'w' }),
      INDEX,
      bool('privileged', 'Give extended privileges to the process'),
    ],
    run: async (inv) => (await exec()).runExec(inv),
  },
  {
    name: 'run',
    use: '[OPTIONS] SERVICE [COMMAND] [ARGS...]',
    short: 'Run a one-off command on a service',
    interspersed: false,
    flags: [
      bool('detach', 'Run container in background and print container ID', { short: 'd' }),
      bool('rm', 'Automatically remove the container when it exits'),
      ENV,
      NO_DEPS,
      str('entrypoint', 'Override the entrypoint of the image'),
      list('publish', "Publish a container's port(s) to the host", { short: 'p', valueName: 'stringArray' }),
      bool('service-ports', "Run command with all service's ports enabled and mapped to the host", { short: 'P' }),
      str('name', 'Assign a name to the container'),
      bool('no-TTY', 'Disable pseudo-TTY allocation (default: auto-detected)', { short: 'T' }),
      str('user', 'Run as specified username or uid', { short: 'u' }),
      str('workdir', 'Working directory inside the container', { short: 'w' }),
      bool('interactive', 'Keep STDIN open even if not attached', { short: 'i', defaultValue: true }),
    ],
    run: async (inv) => (await exec()).runRun(inv),
  },
  {
    name: 'cp',
    use: '[OPTIONS] SERVICE:SRC_PATH DEST_PATH|-\n\t' + 'docker compose cp [OPTIONS] SRC_PATH|- SERVICE:DEST_PATH',
    short: 'Copy files/folders between a service container and the local filesystem',
    flags: [
      bool('archive', 'Archive mode (copy all uid/gid information)', { short: 'a' }),
      bool('follow-link', 'Always follow symbol link in SRC_PATH', { short: 'L' }),
      INDEX,
    ],
    run: async (inv) => (await exec()).runCp(inv),
  },
  {
    name: 'wait',
    use: 'SERVICE [SERVICE...] [OPTIONS]',
    short: 'Block until containers of all (or specified) services stop.',
    flags: [bool('down-project', 'Drops project when the first container stops')],
    run: async (inv) => (await exec()).runWait(inv),
  },
  {
    name: 'watch',
    use: '[SERVICE...]',
    short: 'Watch build context for service and rebuild/refresh containers when files are updated',
    flags: [bool('no-up', 'Do not build & start services before watching')],
    run: async (inv) => (await import('./watch.ts')).runWatch(inv),
  },
];
