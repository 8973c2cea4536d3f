import type { Writable } from 'node:stream';
import { EngineClient, DEFAULT_HOST, type ClientTLS } from '../client/index.ts';
import { BIN, GLOBAL_FLAGS, dispatch, rootHelp, type Context, type OutStream, type Streams } from './command.ts';
import { COMMANDS } from './commands.ts';
import { ExitStatusError, UsageError, exitReport } from './errors.ts';
import { FlagError, parseFlags } from './flags.ts';

/**
 * `berth`: global flags, then a command. The engine address comes from `-H`, else `BERTH_HOST`,
 * else unix:///run/berth/berth.sock (`DOCKER_HOST` is deliberately not read).
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

function outStream(stream: Writable & { isTTY?: boolean; columns?: number }): OutStream {
  return {
    stream,
    isTerminal: stream.isTTY === true,
    columns: stream.isTTY === true ? stream.columns : undefined,
    write: (text: string) => {
      stream.write(text);
    },
  };
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

/** Runs the CLI and resolves with the exit status. */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv, streams: Streams): Promise<number> {
  const controller = new AbortController();
  let signalled: number | undefined;
  const onSignal = (name: NodeJS.Signals, num: number) => () => {
    signalled = 128 + num;
    controller.abort(new Error(`received ${name}`));
  };
  const onInt = onSignal('SIGINT', 2);
  const onTerm = onSignal('SIGTERM', 15);
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  let client: EngineClient | undefined;
  try {
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
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      const { registryMain } = await import('../registry/index.ts');
      return await registryMain({ argv: parsed.args.slice(1), env, streams, signal: controller.signal });
    }
    const logLevel = parsed.flags.string('log-level');
    if (!LOG_LEVELS.has(logLevel)) throw new ExitStatusError(`Unable to parse logging level: ${logLevel}`, 1);
    const host = parsed.flags.has('host') ? parsed.flags.string('host') : env.BERTH_HOST || DEFAULT_HOST;
    const tls = clientTLS(parsed.flags, env);
    const ctx: Context = {
      streams,
      globals: { host, logLevel, debug: parsed.flags.bool('debug') },
      signal: controller.signal,
      version,
      client: () =>
        (client ??= new EngineClient({
          host,
          userAgent: `Berth-Client/${version} (${process.platform})`,
          ...(tls ? { tls } : {}),
        })),
      releaseSignals: () => {
        process.off('SIGINT', onInt);
        process.off('SIGTERM', onTerm);
      },
    };
    if (parsed.args[0] === 'compose') {
      // Loaded on demand: compose and its YAML and schema code cost nothing to the other commands.
      const { runCompose } = await import('./compose/main.ts');
      await runCompose(ctx, parsed.args.slice(1), `${BIN} compose`, { cwd: process.cwd(), env });
      return signalled ?? 0;
    }
    await dispatch(ctx, COMMANDS, parsed.args);
    return signalled ?? 0;
  } catch (err) {
    if (signalled !== undefined) return signalled;
    const report = exitReport(err);
    if (report.message !== undefined) streams.err.write(`${report.message}\n`);
    return report.status;
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    client?.close();
  }
}

if (import.meta.main) {
  // A closed pipe (`berth images | head -1`) ends output quietly, as it does for docker.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  const streams: Streams = {
    // process.stdin is made on first access (several ms): only commands that read it pay for it.
    get in() {
      return process.stdin;
    },
    out: outStream(process.stdout),
    err: outStream(process.stderr),
  };
  process.exitCode = await main(process.argv.slice(2), process.env, streams);
}
