import { homedir } from 'node:os';
import {
  type ComposeContext,
  loadProject,
  type LoadResult,
  normalizeProjectName,
  type Reporter,
} from '../../compose/index.ts';
import { ComposeFileError, InvalidProjectError } from '../../compose/index.ts';
import type { Context } from '../command.ts';
import { UsageError } from '../errors.ts';
import { FlagError, flagUsages, parseFlags, type FlagValues } from '../flags.ts';
import { COMPOSE_COMMANDS, type ComposeCommand } from './commands.ts';
import { COMPOSE_FLAGS } from './flags.ts';

/**
 * `berth compose …` and `docker compose …` (the docker CLI plugin): compose's own flags (`-f`, `-p`,
 * `--project-directory`, `--env-file`, `--profile`), then a command. Each command turns its flags into options
 * for `src/compose/` and prints what comes back; progress goes to stderr as Docker Compose's plain progress.
 */

/** What a compose command gets: the CLI context, the parsed flags and arguments, and the project loader. */
export interface ComposeInvocation {
  ctx: Context;
  flags: FlagValues;
  args: string[];
  /** `berth compose` or `docker compose`. */
  prog: string;
  compose: ComposeContext;
  /** Loads the project from the files (services named on the command line enable their profiles). */
  load(services?: readonly string[]): LoadResult;
  /** The project name without loading the files when `-p` or COMPOSE_PROJECT_NAME gives it. */
  projectName(): string;
  /** Colours on (a terminal, or --ansi always). */
  ansi: boolean;
}

export interface ComposeEnvironment {
  cwd: string;
  env: Record<string, string | undefined>;
  /** Told the command's name once it is known, before it runs (bundle.ts keeps V8's code for it). */
  started?: (command: string) => void;
}

function reporter(ctx: Context, quiet: boolean): Reporter {
  return {
    event: (kind, name, status, detail) => {
      if (quiet) return;
      ctx.streams.err.write(` ${kind} ${name}  ${status}${detail ? ` ${detail}` : ''}\n`);
    },
    warn: (message) => ctx.streams.err.write(`WARN[0000] ${message}\n`),
  };
}

function help(prog: string): string {
  const cmds = COMPOSE_COMMANDS.filter((c) => !c.hidden);
  const pad = Math.max(...cmds.map((c) => c.name.length));
  return (
    `Usage:  ${prog} [OPTIONS] COMMAND\n\nDefine and run multi-container applications with Docker\n\nOptions:\n` +
    `${flagUsages(
      COMPOSE_FLAGS.filter((f) => !f.hidden),
      119,
    ).trimEnd()}\n\nCommands:\n` +
    cmds.map((c) => `  ${c.name.padEnd(pad)}  ${c.short}\n`).join('') +
    `\nRun '${prog} COMMAND --help' for more information on a command.\n`
  );
}

function commandHelp(prog: string, cmd: ComposeCommand): string {
  const flags = (cmd.flags ?? []).filter((f) => !f.hidden);
  return (
    `Usage:  ${prog} ${cmd.name} ${cmd.use}\n\n${cmd.short}\n` +
    (flags.length > 0 ? `\nOptions:\n${flagUsages(flags, 119).trimEnd()}\n` : '')
  );
}

/** Runs `compose ARGS…`; throws UsageError and friends like the rest of the CLI. */
export async function runCompose(
  ctx: Context,
  argv: readonly string[],
  prog: string,
  where: ComposeEnvironment,
): Promise<void> {
  let top;
  try {
    top = parseFlags(COMPOSE_FLAGS, argv, { interspersed: false });
  } catch (err) {
    if (err instanceof FlagError) throw new UsageError(`${err.message}\n\nUsage:  ${prog} [OPTIONS] COMMAND`, 'flag');
    throw err;
  }
  const name = top.args[0];
  if (top.help || name === undefined) {
    (top.help ? ctx.streams.out : ctx.streams.err).write(help(prog));
    return;
  }
  const cmd = COMPOSE_COMMANDS.find((c) => c.name === name || (c.aliases ?? []).includes(name));
  if (cmd === undefined) {
    throw new UsageError(`unknown ${prog.split(' ')[0]} command: "${prog} ${name}"`, 'args');
  }
  let parsed;
  try {
    parsed = parseFlags(cmd.flags ?? [], top.args.slice(1), { interspersed: cmd.interspersed ?? true });
  } catch (err) {
    if (err instanceof FlagError) {
      throw new UsageError(
        `${err.message}\n\nUsage:  ${prog} ${cmd.name} ${cmd.use}\n\nRun '${prog} ${cmd.name} --help' for more information`,
        'flag',
      );
    }
    throw err;
  }
  if (parsed.help) {
    ctx.streams.out.write(commandHelp(prog, cmd));
    return;
  }
  const g = top.flags;
  const progress = g.string('progress');
  const ansiFlag = g.string('ansi');
  const ansi =
    ansiFlag === 'always' || (ansiFlag === 'auto' && ctx.streams.out.isTerminal && where.env.NO_COLOR === undefined);
  const files = g.list('file');
  const loadOpts = {
    cwd: where.cwd,
    environment: where.env,
    home: where.env.HOME ?? homedir(),
    ...(files.length > 0 ? { files } : {}),
    ...(g.has('project-directory') ? { projectDirectory: g.string('project-directory') } : {}),
    ...(g.has('project-name') ? { projectName: g.string('project-name') } : {}),
    ...(g.list('env-file').length > 0 ? { envFiles: g.list('env-file') } : {}),
    ...(g.list('profile').length > 0 ? { profiles: g.list('profile') } : {}),
    readStdin: () => {
      const { readFileSync } = process.getBuiltinModule('node:fs');
      return readFileSync(0, 'utf8');
    },
  };
  const rep = reporter(ctx, progress === 'quiet');
  const inv: ComposeInvocation = {
    ctx,
    flags: parsed.flags,
    args: parsed.args,
    prog,
    ansi,
    compose: {
      get client() {
        return ctx.client();
      },
      reporter: rep,
      signal: ctx.signal,
    },
    load: (services) => {
      const r = loadProject({ ...loadOpts, ...(services !== undefined ? { services } : {}) });
      for (const w of r.warnings) rep.warn(w);
      return r;
    },
    projectName: () => {
      if (g.has('project-name')) {
        const n = g.string('project-name');
        if (normalizeProjectName(n) !== n) throw new InvalidProjectError(`invalid project name "${n}"`);
        return n;
      }
      const fromEnv = where.env.COMPOSE_PROJECT_NAME;
      if (fromEnv !== undefined && fromEnv !== '') return normalizeProjectName(fromEnv);
      return loadProject(loadOpts).project.name;
    },
  };
  where.started?.(cmd.name);
  await cmd.run(inv);
}

export { ComposeFileError };
export { COMPOSE_VERSION } from '../../compose/index.ts';
