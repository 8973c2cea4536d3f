import type { ClientTLS } from '../client/index.ts';
import { BIN, GLOBAL_FLAGS, dispatch, rootHelp, type Context, type Streams } from './command.ts';
import { COMMANDS } from './commands.ts';
import { newEngineClient, runProgram, processStreams } from './entry.ts';
import { ExitStatusError, UsageError } from './errors.ts';
import { FlagError, parseFlags } from './flags.ts';

/**
 * `berth`: global flags, then a command. The engine address comes from `-H`, else `BERTH_HOST`,
 * else the client's default, unix:///run/berth/berth.sock (`DOCKER_HOST` is deliberately not read).
 */

function clientVersion(): string {
  try {
    // node:fs through getBuiltinModule: its ESM facade would load fs streams, which the CLI mostly does not need.
    const { readFileSync } = process.getBuiltinModule('node:fs');
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * TLS to a TCP engine as the docker CLI sets it up: `--tlsverify` (or `DOCKER_TLS_VERIFY` non-empty) verifies the
 * engine against the CA; `--tls` alone encrypts without verifying; the CA, certificate and key default to
 * `ca.pem`, `cert.pem`, `key.pem` in `DOCKER_CERT_PATH` (or ~/.docker). Undefined when TLS is not asked for.
 */
export function clientTLS(
  flags: { has(n: string): boolean; bool(n: string): boolean; string(n: string): string },
  env: NodeJS.ProcessEnv,
): ClientTLS | undefined {
  const verify = flags.has('tlsverify') ? flags.bool('tlsverify') : (env.DOCKER_TLS_VERIFY ?? '') !== '';
  if (!verify && !flags.bool('tls')) return undefined;
  const { readFileSync, existsSync } = process.getBuiltinModule('node:fs');
  const dir = env.DOCKER_CERT_PATH || `${env.HOME ?? ''}/.docker`;
  const file = (flag: string, name: string, needed: boolean): Buffer | undefined => {
    const given = flags.has(flag);
    const path = given ? flags.string(flag) : `${dir}/${name}`;
    if (!given && !needed && !existsSync(path)) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new ExitStatusError(`could not read the TLS file ${path}: ${(err as Error).message}`, 1);
    }
  };
  const ca = file('tlscacert', 'ca.pem', verify);
  const cert = file('tlscert', 'cert.pem', false);
  const key = file('tlskey', 'key.pem', false);
  return { verify, ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
}

const LOG_LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'warning', 'error', 'fatal', 'panic']);

/** Runs the CLI and resolves with the exit status. `started` is told the command's name before it runs. */
export function main(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  streams: Streams,
  started?: (command: string) => void,
): Promise<number> {
  return runProgram(streams, async (run) => {
    let parsed;
    try {
      parsed = parseFlags(GLOBAL_FLAGS, argv, { interspersed: false });
    } catch (err) {
      if (err instanceof FlagError) {
        throw new UsageError(
          `${err.message}\n\nUsage:  ${BIN} [OPTIONS] COMMAND\n\nRun '${BIN} --help' for more information`,
          'flag',
        );
      }
      throw err;
    }
    started?.(parsed.args[0] ?? 'none');
    const version = clientVersion();
    if (parsed.flags.bool('version')) {
      streams.out.write(`Berth version ${version}\n`);
      return 0;
    }
    if (parsed.help || parsed.args.length === 0) {
      (parsed.help ? streams.out : streams.err).write(rootHelp(await COMMANDS.all()));
      return 0;
    }
    if (parsed.args[0] === 'registry') {
      // The registry server and its administration are a program of their own that does not talk to berthd:
      // loaded only for this command, and it handles its own signals (a server stops cleanly on SIGTERM).
      run.releaseSignals();
      const { registryMain } = await import('../registry/index.ts');
      return await registryMain({ argv: parsed.args.slice(1), env, streams, signal: run.signal });
    }
    const logLevel = parsed.flags.string('log-level');
    if (!LOG_LEVELS.has(logLevel)) throw new ExitStatusError(`Unable to parse logging level: ${logLevel}`, 1);
    const host = parsed.flags.has('host') ? parsed.flags.string('host') : env.BERTH_HOST || '';
    const tls = clientTLS(parsed.flags, env);
    const ctx: Context = {
      streams,
      globals: { host, logLevel, debug: parsed.flags.bool('debug') },
      signal: run.signal,
      version,
      client: () =>
        run.client(() =>
          newEngineClient({
            ...(host !== '' ? { host } : {}),
            userAgent: `Berth-Client/${version} (${process.platform})`,
            ...(tls ? { tls } : {}),
          }),
        ),
      releaseSignals: run.releaseSignals,
    };
    if (parsed.args[0] === 'compose') {
      // Loaded on demand: compose and its YAML and schema code cost nothing to the other commands. As one bundle
      // when it is fresh (compose/bundle.ts).
      const { composeCli } = await import('./compose/bundle.ts');
      const cli = await composeCli(env, parsed.args.slice(1));
      await cli.runCompose(ctx, parsed.args.slice(1), `${BIN} compose`, {
        cwd: process.cwd(),
        env,
        ...(cli.started !== undefined ? { started: cli.started } : {}),
      });
      return 0;
    }
    await dispatch(ctx, COMMANDS, parsed.args);
    return 0;
  });
}

export { processStreams };
