/**
 * What each command-line program (`berth`, and `docker compose` through the CLI plugin) does around its command:
 * SIGINT and SIGTERM abort the command's signal and make the exit status 130 or 143; an error becomes docker's
 * message and exit status (errors.ts); the engine client, when one was made, is closed at the end. And the process's
 * own streams, for a program's `import.meta.main`.
 */
import type { Writable } from 'node:stream';
import type { EngineClient, EngineClientOptions } from '../client/index.ts';
import type { OutStream, Streams } from './command.ts';
import { exitReport } from './errors.ts';

export interface ProgramRun {
  /** Aborted by SIGINT or SIGTERM. */
  signal: AbortSignal;
  /** Leaves SIGINT and SIGTERM to the command from now on (`run` forwards them to the container). */
  releaseSignals(): void;
  /** The one engine client of this run, made on first use by `make`, closed when the run ends. */
  client(make: () => EngineClient): EngineClient;
}

/** Runs `body` and resolves with the exit status: the body's, 128 + the signal's number, or the error's. */
export async function runProgram(streams: Streams, body: (run: ProgramRun) => Promise<number>): Promise<number> {
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
  const releaseSignals = () => {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  };
  let client: EngineClient | undefined;
  try {
    const status = await body({ signal: controller.signal, releaseSignals, client: (make) => (client ??= make()) });
    return signalled ?? status;
  } catch (err) {
    if (signalled !== undefined) return signalled;
    const report = exitReport(err);
    if (report.message !== undefined) streams.err.write(`${report.message}\n`);
    return report.status;
  } finally {
    releaseSignals();
    client?.close();
  }
}

/**
 * An engine client whose code is loaded only now, when a command talks to an engine (not by `compose config`,
 * help, a usage error): synchronously, as require() of an ES module allows, since the context's getter is sync.
 * Run from source (an ES module, where `require` is not defined) it is required by path; inside the CLI's bundle
 * (a CommonJS script) the plain `require(…)` is the one esbuild copies the client in for and runs in place.
 */
export function newEngineClient(options: EngineClientOptions): EngineClient {
  const { EngineClient } = (
    typeof require === 'function'
      ? require('../client/index.ts')
      : process.getBuiltinModule('node:module').createRequire(import.meta.url)('../client/index.ts')
  ) as typeof import('../client/index.ts');
  return new EngineClient(options);
}

/**
 * One of the process's output streams, made on first use: Node builds `process.stdout` and `process.stderr` when
 * they are first read (node:stream, a tty, pipe or file writer: ~3 ms of a CLI start), so a command that writes only
 * once its engine has answered (`pull -q`, `run -d`) builds them while it waits for the answer, not before its
 * request. `ready` runs on the stream before its first use (the EPIPE handler). Whether it is a terminal and its
 * width are read once, at first use, as they were at the start.
 */
function lazyOutStream(
  get: () => Writable & { isTTY?: boolean; columns?: number },
  ready?: (stream: Writable) => void,
): OutStream {
  let made: { stream: Writable; isTerminal: boolean; columns: number | undefined } | undefined;
  const make = () => {
    if (made === undefined) {
      const stream = get();
      ready?.(stream);
      const tty = stream.isTTY === true;
      made = { stream, isTerminal: tty, columns: tty ? stream.columns : undefined };
    }
    return made;
  };
  return {
    get stream() {
      return make().stream;
    },
    get isTerminal() {
      return make().isTerminal;
    },
    get columns() {
      return make().columns;
    },
    write: (text: string) => {
      make().stream.write(text);
    },
  };
}

/** The process's streams. A closed pipe (`berth images | head -1`) ends output quietly, as it does for docker. */
export function processStreams(): Streams {
  const onStdoutError = (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  };
  const out = lazyOutStream(
    () => process.stdout,
    (stream) => stream.on('error', onStdoutError),
  );
  const err = lazyOutStream(() => process.stderr);
  return {
    // process.stdin is made on first access (several ms): only commands that read it pay for it.
    get in() {
      return process.stdin;
    },
    out,
    err,
  };
}
