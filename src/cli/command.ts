import type { Readable, Writable } from 'node:stream';
import type { EngineClient } from '../client/index.ts';
import { FlagError, flagUsages, parseFlags, type FlagSpec, type FlagValues } from './flags.ts';
import { UsageError } from './errors.ts';
import { GLOBAL_FLAGS } from './global-flags.ts';

export { GLOBAL_FLAGS };

/**
 * The command tree. A command declares its usage line, flags and argument count, and its `run` only
 * turns parsed flags into a typed options object and calls the logic (which lives beside it).
 */

export const BIN = 'berth';

/** Where output goes; a terminal is told apart by `isTTY` like docker's streams. */
export interface OutStream {
  readonly stream: Writable;
  readonly isTerminal: boolean;
  /** Terminal width, when known. */
  readonly columns: number | undefined;
  write(text: string): void;
}

export interface Streams {
  readonly in: Readable & { isTTY?: boolean };
  readonly out: OutStream;
  readonly err: OutStream;
}

export interface Globals {
  /** `-H` (or `BERTH_HOST`); empty for the engine client's default address. */
  host: string;
  logLevel: string;
  debug: boolean;
}

export interface Context {
  readonly streams: Streams;
  readonly globals: Globals;
  /** The engine client, created on first use. */
  client(): EngineClient;
  /** Aborted on SIGINT/SIGTERM. */
  readonly signal: AbortSignal;
  /** The client's version (package.json). */
  readonly version: string;
  /**
   * Stops the CLI's own SIGINT/SIGTERM handling (abort and exit 128+n), for a command that forwards
   * signals to a container and exits with the container's status instead.
   */
  releaseSignals?(): void;
}

export interface Invocation {
  flags: FlagValues;
  args: string[];
  /** `berth image ls` */
  path: string;
}

export type ArgsRule = { none: true } | { exact: number } | { min: number; max?: number } | { max: number };

export interface Command {
  name: string;
  aliases?: readonly string[];
  /** Usage after the parent path, e.g. `ls [OPTIONS] [REPOSITORY[:TAG]]`. */
  use: string;
  short: string;
  /** Longer description shown by help instead of `short`. */
  long?: string;
  /** The `Aliases:` line of help, e.g. `berth image ls, berth image list, berth images`. */
  aliasesHelp?: string;
  args?: ArgsRule;
  flags?: readonly FlagSpec[];
  /** Flags after the first argument belong to the argument list (`tag`, `run`). */
  interspersed?: boolean;
  hidden?: boolean;
  run?: (ctx: Context, inv: Invocation) => Promise<void>;
  subcommands?: readonly Command[];
}

/** The top-level commands: found by name, each loaded (with the rest of its table) only when it is used. */
export interface RootCommands {
  find(name: string): Promise<Command | undefined>;
  /** Every top-level command, for `berth --help`. */
  all(): Promise<readonly Command[]>;
}

export function findCommand(list: readonly Command[], name: string): Command | undefined {
  return list.find((c) => c.name === name || (c.aliases?.includes(name) ?? false));
}

function useLine(parentPath: string, cmd: Command): string {
  return `${parentPath} ${cmd.use}`;
}

/**
 * Resolves `argv` (after the global flags) down the tree and runs the command.
 * Help goes to stdout; usage errors are thrown as UsageError with docker's wording.
 */
export async function dispatch(ctx: Context, roots: RootCommands, argv: readonly string[]): Promise<void> {
  const first = argv[0];
  if (first === undefined) {
    ctx.streams.err.write(rootHelp(await roots.all()));
    return;
  }
  const top = await roots.find(first);
  if (top === undefined) {
    throw new UsageError(
      `${BIN}: unknown command: ${BIN} ${first}\n\nRun '${BIN} --help' for more information`,
      'args',
    );
  }
  let cmd: Command = top;
  let path = `${BIN} ${cmd.name}`;
  let parentPath = BIN;
  let rest = argv.slice(1);
  while (cmd.subcommands !== undefined) {
    const next = rest[0];
    if (next === undefined || next.startsWith('-')) {
      const { help } = parseGroupFlags(cmd, path, parentPath, rest);
      if (help || next === undefined) {
        // Asked-for help goes to stdout; help shown for a missing subcommand goes to stderr.
        (help ? ctx.streams.out : ctx.streams.err).write(groupHelp(cmd, path));
        return;
      }
    }
    const sub: Command | undefined = next === undefined ? undefined : findCommand(cmd.subcommands, next);
    if (sub === undefined) {
      throw new UsageError(
        `${BIN}: unknown command: ${path} ${next ?? ''}\n\nUsage:  ${path}\n\nRun '${path} --help' for more information`,
        'args',
      );
    }
    parentPath = path;
    path = `${path} ${sub.name}`;
    cmd = sub;
    rest = rest.slice(1);
  }
  const line = useLine(parentPath, cmd);
  let parsed;
  try {
    parsed = parseFlags(cmd.flags ?? [], rest, { interspersed: cmd.interspersed ?? true });
  } catch (err) {
    if (err instanceof FlagError) {
      throw new UsageError(`${err.message}\n\nUsage:  ${line}\n\nRun '${path} --help' for more information`, 'flag');
    }
    throw err;
  }
  if (parsed.help) {
    ctx.streams.out.write(commandHelp(cmd, line, ctx.streams.out.columns));
    return;
  }
  checkArgs(cmd, parsed.args, path, line);
  if (cmd.run === undefined) throw new RangeError(`command ${path} has nothing to run`);
  await cmd.run(ctx, { flags: parsed.flags, args: parsed.args, path });
}

function parseGroupFlags(cmd: Command, path: string, parentPath: string, rest: readonly string[]): { help: boolean } {
  try {
    return {
      help: parseFlags(
        [],
        rest.filter((a) => a.startsWith('-')),
        {},
      ).help,
    };
  } catch (err) {
    if (err instanceof FlagError) {
      throw new UsageError(
        `${err.message}\n\nUsage:  ${useLine(parentPath, cmd)}\n\nRun '${path} --help' for more information`,
        'flag',
      );
    }
    throw err;
  }
}

function plural(word: string, n: number): string {
  return n === 1 ? word : `${word}s`;
}

/** cobra positional-argument checks with docker's messages (exit status 1). */
export function checkArgs(cmd: Command, args: readonly string[], path: string, line: string): void {
  const rule = cmd.args;
  if (rule === undefined) return;
  const n = args.length;
  const tail = (verb: 'Run' | 'See'): string => `\n\nUsage:  ${line}\n\n${verb} '${path} --help' for more information`;
  if ('none' in rule) {
    if (n > 0) throw new UsageError(`${BIN}: '${path}' accepts no arguments${tail('Run')}`, 'args');
    return;
  }
  if ('exact' in rule) {
    if (n !== rule.exact) {
      throw new UsageError(
        `${BIN}: '${path}' requires ${rule.exact} ${plural('argument', rule.exact)}${tail('Run')}`,
        'args',
      );
    }
    return;
  }
  if ('min' in rule) {
    if (rule.max !== undefined && (n < rule.min || n > rule.max)) {
      throw new UsageError(
        `${BIN}: '${path}' requires at least ${rule.min} and at most ${rule.max} ${plural('argument', rule.max)}${tail('Run')}`,
        'args',
      );
    }
    if (n < rule.min) {
      throw new UsageError(
        `${BIN}: '${path}' requires at least ${rule.min} ${plural('argument', rule.min)}${tail('See')}`,
        'args',
      );
    }
    return;
  }
  if (n > rule.max) {
    throw new UsageError(
      `${BIN}: '${path}' requires at most ${rule.max} ${plural('argument', rule.max)}${tail('Run')}`,
      'args',
    );
  }
}

const DEFAULT_TERM_WIDTH = 80;

/** Help for a runnable command, laid out like docker's usage template. */
export function commandHelp(cmd: Command, line: string, columns: number | undefined): string {
  let s = `Usage:  ${line}\n\n${cmd.long ?? cmd.short}\n`;
  if (cmd.aliasesHelp !== undefined) s += `\nAliases:\n  ${cmd.aliasesHelp}\n`;
  const flags = (cmd.flags ?? []).filter((f) => f.hidden !== true);
  if (flags.length > 0) {
    s += `\nOptions:\n${flagUsages(flags, (columns ?? DEFAULT_TERM_WIDTH) - 1).trimEnd()}\n`;
  }
  return s;
}

function commandList(list: readonly Command[]): string {
  const visible = list.filter((c) => c.hidden !== true);
  const pad = Math.max(11, ...visible.map((c) => c.name.length));
  return visible.map((c) => `  ${c.name.padEnd(pad)} ${c.short}\n`).join('');
}

/** Help for a command group such as `berth image`. */
export function groupHelp(cmd: Command, path: string): string {
  return (
    `Usage:  ${path} COMMAND\n\n${cmd.short}\n\nCommands:\n${commandList(cmd.subcommands ?? [])}` +
    `\nRun '${path} COMMAND --help' for more information on a command.\n`
  );
}

/** `berth --help`. */
export function rootHelp(roots: readonly Command[]): string {
  const groups = roots.filter((c) => c.subcommands !== undefined);
  const leaves = roots.filter((c) => c.subcommands === undefined);
  return (
    `Usage:  ${BIN} [OPTIONS] COMMAND\n\nA Docker-compatible container engine client\n` +
    `\nManagement Commands:\n${commandList(groups)}` +
    `\nCommands:\n${commandList(leaves)}` +
    `\nGlobal Options:\n${flagUsages(GLOBAL_FLAGS, DEFAULT_TERM_WIDTH - 1).trimEnd()}\n` +
    `\nRun '${BIN} COMMAND --help' for more information on a command.\n`
  );
}
