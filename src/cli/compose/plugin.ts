import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Context, Streams } from '../command.ts';
import { newEngineClient, processStreams, runProgram } from '../entry.ts';
import { parseFlags, type FlagSpec } from '../flags.ts';
import { composeCli } from './bundle.ts';

/**
 * `docker-compose`, the docker CLI plugin (`~/.docker/cli-plugins/docker-compose`): answers the plugin metadata
 * call, then runs `docker compose …`. The docker CLI runs a plugin with its own arguments, global flags
 * included (`docker -H unix:///x compose up` runs `docker-compose -H unix:///x compose up`); the engine is found as
 * the docker CLI finds it: `-H`, else `--context`, else DOCKER_HOST, else DOCKER_CONTEXT or the config's
 * `currentContext`, else unix:///var/run/docker.sock. Also runs on its own as `docker-compose up …`.
 */

const DOCKER_FLAGS: readonly FlagSpec[] = [
  { name: 'host', short: 'H', kind: 'list', usage: 'Daemon socket to connect to' },
  { name: 'context', short: 'c', kind: 'string', usage: 'Name of the context to use' },
  { name: 'config', kind: 'string', usage: 'Location of client config files' },
  { name: 'debug', short: 'D', kind: 'bool', usage: 'Enable debug mode' },
  { name: 'log-level', short: 'l', kind: 'string', usage: 'Set the logging level' },
  { name: 'tls', kind: 'bool', usage: 'Use TLS' },
  { name: 'tlsverify', kind: 'bool', usage: 'Use TLS and verify the remote' },
  { name: 'tlscacert', kind: 'string', usage: 'Trust certs signed only by this CA' },
  { name: 'tlscert', kind: 'string', usage: 'Path to TLS certificate file' },
  { name: 'tlskey', kind: 'string', usage: 'Path to TLS key file' },
];

/** The answer to the docker CLI's plugin metadata call. */
export function metadata(composeVersion: string): Record<string, string> {
  return {
    SchemaVersion: '0.1.0',
    Vendor: 'Berth',
    Version: `v${composeVersion}`,
    ShortDescription: 'Docker Compose',
    URL: 'https://github.com/berth',
  };
}

/** The engine address for a docker context name, from `<config>/contexts/meta/<sha256(name)>/meta.json`. */
export function contextHost(configDir: string, name: string): string | undefined {
  if (name === 'default') return undefined;
  const id = createHash('sha256').update(name).digest('hex');
  try {
    const meta = JSON.parse(readFileSync(join(configDir, 'contexts', 'meta', id, 'meta.json'), 'utf8')) as {
      Endpoints?: { docker?: { Host?: string } };
    };
    const host = meta.Endpoints?.docker?.Host;
    if (host === undefined) throw new Error(`context "${name}" has no docker endpoint`);
    return host;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`context "${name}": context not found`);
    throw err;
  }
}

/** The docker CLI's engine resolution (see the module comment). */
export function dockerHost(flags: { host: string[]; context: string; config: string }, env: NodeJS.ProcessEnv): string {
  const configDir = flags.config || env.DOCKER_CONFIG || join(env.HOME ?? homedir(), '.docker');
  if (flags.host.length > 0) return flags.host[0]!;
  if (flags.context !== '')
    return contextHost(configDir, flags.context) ?? env.DOCKER_HOST ?? 'unix:///var/run/docker.sock';
  if (env.DOCKER_HOST !== undefined && env.DOCKER_HOST !== '') return env.DOCKER_HOST;
  let current = env.DOCKER_CONTEXT ?? '';
  if (current === '') {
    try {
      current =
        (JSON.parse(readFileSync(join(configDir, 'config.json'), 'utf8')) as { currentContext?: string })
          .currentContext ?? '';
    } catch {
      current = '';
    }
  }
  return (current !== '' ? contextHost(configDir, current) : undefined) ?? 'unix:///var/run/docker.sock';
}

/** The compose arguments after the docker CLI's own (a guess, used only to name the bundle's code cache). */
function composeArgs(argv: readonly string[]): readonly string[] {
  const i = argv.indexOf('compose');
  return i >= 0 ? argv.slice(i + 1) : argv;
}

export async function pluginMain(argv: readonly string[], env: NodeJS.ProcessEnv, streams: Streams): Promise<number> {
  // The compose code (src/compose and this folder), as one bundle when it is fresh (bundle.ts).
  const { runCompose, COMPOSE_VERSION, started } = await composeCli(env, composeArgs(argv));
  if (argv[0] === 'docker-cli-plugin-metadata') {
    streams.out.write(`${JSON.stringify(metadata(COMPOSE_VERSION), null, 2)}\n`);
    return 0;
  }
  return runProgram(streams, async (run) => {
    const g = parseFlags(DOCKER_FLAGS, argv, { interspersed: false });
    const rest = g.args[0] === 'compose' ? g.args.slice(1) : g.args;
    const host = dockerHost(
      { host: g.flags.list('host'), context: g.flags.string('context'), config: g.flags.string('config') },
      env,
    );
    const ctx: Context = {
      streams,
      globals: { host, logLevel: 'info', debug: g.flags.bool('debug') },
      signal: run.signal,
      version: COMPOSE_VERSION,
      client: () => run.client(() => newEngineClient({ host, userAgent: `Docker-Compose/${COMPOSE_VERSION} (Berth)` })),
      releaseSignals: run.releaseSignals,
    };
    await runCompose(ctx, rest, 'docker compose', {
      cwd: process.cwd(),
      env,
      ...(started !== undefined ? { started } : {}),
    });
    return 0;
  });
}

if (import.meta.main) {
  process.exitCode = await pluginMain(process.argv.slice(2), process.env, processStreams());
}
