import { BerthError, CanceledError, errorMessage, isDaemonError } from '../util/errors.ts';

/**
 * The one place where failures become exit statuses and stderr text, matching the docker CLI:
 * - flag errors (unknown flag, missing value, bad filter): 125, with the usage hint
 * - wrong number of arguments, unknown command: 1, with the usage hint
 * - a template that does not parse in inspect/version/info/events: 64 (docker's StatusError)
 * - an engine answer (any HTTP error): 1, `Error response from daemon: <message>`
 * - a canceled prompt or operation: 0, nothing printed
 * - anything else: 1, the message
 * `docker run`'s 125/126/127 belong to the container commands and use ExitStatusError.
 */

/** A failure that carries its own exit status (docker's `cli.StatusError`). */
export class ExitStatusError extends BerthError {
  readonly status: number;
  constructor(message: string, status: number, options?: { cause?: unknown }) {
    super(message, options);
    this.status = status;
  }
}

/** A command-line mistake; `flag` ones exit 125, argument-count ones exit 1. */
export class UsageError extends BerthError {
  readonly status: number;
  constructor(message: string, kind: 'flag' | 'args') {
    super(message);
    this.status = kind === 'flag' ? 125 : 1;
  }
}

/** A `--format` template that does not parse (or fails) where docker exits 64. */
export class TemplateError extends ExitStatusError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 64, options);
  }
}

/** Several independent failures (e.g. `rmi a b`), reported one per line. */
export class MultiError extends BerthError {
  readonly errors: readonly unknown[];
  constructor(errors: readonly unknown[]) {
    super(errors.map(describeError).join('\n'));
    this.errors = errors;
  }
}

export interface ExitReport {
  status: number;
  /** Text for stderr, without the trailing newline; undefined prints nothing. */
  message: string | undefined;
}

/** How an error looks on stderr. */
export function describeError(err: unknown): string {
  if (err instanceof MultiError) return err.message;
  if (isDaemonError(err)) return `Error response from daemon: ${err.message}`;
  return errorMessage(err);
}

export function exitReport(err: unknown): ExitReport {
  if (err instanceof CanceledError) return { status: 0, message: undefined };
  const message = describeError(err);
  const text = message === '' ? undefined : message;
  if (err instanceof UsageError || err instanceof ExitStatusError) return { status: err.status, message: text };
  if (err instanceof MultiError) {
    const statuses = err.errors.map((e) => exitReport(e).status);
    return { status: statuses.find((s) => s !== 0 && s !== 1) ?? 1, message: text };
  }
  return { status: 1, message: text };
}

/** docker's `withHelp`: `berth: <message>\n\nRun 'berth <command> --help' for more information`. */
export function withHelp(err: unknown, command: string): string {
  return `berth: ${describeError(err)}\n\nRun 'berth ${command} --help' for more information`;
}

/**
 * docker's `toStatusError` for `run` (and bad `run`/`create` options): 127 when the command was not found,
 * 126 when it could not be invoked, else 125 — told apart by the engine's message text, as docker does.
 */
export function runStatusError(err: unknown, command = 'run'): ExitStatusError {
  const text = describeError(err);
  let status = 125;
  if (/executable file not found|no such file or directory|system cannot find the file specified/.test(text))
    status = 127;
  else if (/permission denied|is a directory/.test(text)) status = 126;
  return new ExitStatusError(withHelp(err, command), status, { cause: err });
}
