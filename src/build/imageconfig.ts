/**
 * What each instruction does to the image config, and the history entry it leaves, as Docker's classic builder
 * (dockerd 20.10, `DOCKER_BUILDKIT=0`) does both: a pure function of the stage's state and one typed instruction.
 * Metadata instructions (ENV, LABEL, CMD, …) change only the config and leave an `empty_layer` entry
 * `<shell> #(nop)  <TEXT>`; RUN, COPY, ADD and WORKDIR leave a layer (empty_layer only when their diff is empty,
 * which the executor sees) and are returned as work for the executor with their words expanded.
 *
 * Words are expanded with the config's Env plus the ARG values no ENV hides (args.ts). CMD, ENTRYPOINT, RUN,
 * SHELL, HEALTHCHECK, ONBUILD and MAINTAINER are taken literally, as Docker does.
 */
import { posix } from 'node:path';
import type { HealthConfig, ImageRunConfig } from '../oci/types.ts';
import { applyToConfig, type ConfigInstruction, DEFAULT_SHELL, shellOf } from '../images/index.ts';
import { processShellWord, processWords } from '../util/shellwords.ts';
import { type ArgScope, expansionEnv } from './args.ts';
import { InvalidArgumentError } from '../util/errors.ts';
import {
  type AddInstruction,
  type CopyInstruction,
  DockerfileError,
  LineParseError,
  type Instruction,
  type Mount,
  parseHeredoc,
  chompHeredocContent,
  parseMount,
  type SourceContent,
} from '../dockerfile/index.ts';
import { goDuration, goList, goQuoteList, goQuoteRune } from './gofmt.ts';

export { DEFAULT_SHELL };
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface StageState {
  /** The config the stage's image will have. */
  config: ImageRunConfig;
  /** MAINTAINER: the image's and the following history entries' author ('' when none). */
  author: string;
  /** A CMD with arguments was given in this stage: a later ENTRYPOINT keeps it. */
  cmdSet: boolean;
  args: ArgScope;
  escapeToken: string;
  /** The Dockerfile's name, for errors. */
  file: string;
}

/** A history entry as the step leaves it (`created` is the executor's). */
export interface HistoryStep {
  createdBy: string;
  /** true: the step made no layer. false: it made one, and the entry is `empty_layer` only if its diff is empty. */
  emptyLayer: boolean;
  author?: string;
}

/** What RUN needs from the executor, with everything resolved. */
export interface RunWork {
  kind: 'run';
  /** The process: the shell prepended for the shell form; heredocs folded in as BuildKit does. */
  cmd: string[];
  /** The config's Env, then the build arguments in reach (ARG values, the proxy build arguments). */
  env: string[];
  /** The same without the proxy build arguments the stage did not declare: what the cache key covers. */
  keyEnv: string[];
  user: string;
  workingDir: string;
  mounts: Mount[];
  network: 'default' | 'none' | 'host';
  security: 'sandbox' | 'insecure';
  /** A `RUN <<EOF` script starting with `#!`: written to /dev/pipes/NAME (mode 0755) and run from there. */
  script?: { path: string; data: string };
}

/** What COPY and ADD need, words expanded; `createdBy` takes the sources' hash (see cachekey.ts). */
export interface CopyWork {
  kind: 'copy' | 'add';
  sources: string[];
  contents: SourceContent[];
  dest: string;
  from: string;
  chown: string;
  chmod: string;
  link: boolean;
  parents: boolean;
  excludes: string[];
  checksum: string;
  keepGitDir?: boolean;
  unpack?: boolean;
  /** The working directory a relative destination is under. */
  workingDir: string;
  createdBy(sourceHash: string): string;
}

/** WORKDIR: the directory to create (it is already in the config). */
export interface WorkdirWork {
  kind: 'workdir';
  path: string;
  user: string;
}

export interface StepResult {
  state: StageState;
  history: HistoryStep;
  work?: RunWork | CopyWork | WorkdirWork;
}

/**
 * A stage's starting state from its base's config (undefined for scratch): Docker's default PATH added when the
 * base has none, stdin settings cleared, and the base's ONBUILD triggers taken out (returned, to run first).
 */
export function beginStage(
  base: ImageRunConfig | undefined,
  args: ArgScope,
  options: { escapeToken?: string; file?: string } = {},
): { state: StageState; triggers: string[] } {
  const config: ImageRunConfig = structuredClone(base ?? {});
  const env = config.Env ?? [];
  if (!env.some((e) => e.split('=', 1)[0] === 'PATH')) config.Env = [...env, `PATH=${DEFAULT_PATH}`];
  config.OpenStdin = false;
  config.StdinOnce = false;
  const triggers = config.OnBuild ?? [];
  if (triggers.length > 0) config.OnBuild = null;
  const state: StageState = {
    config,
    author: '',
    cmdSet: false,
    args,
    escapeToken: options.escapeToken ?? '\\',
    file: options.file ?? 'Dockerfile',
  };
  return { state, triggers: [...triggers] };
}

/**
 * Applies one instruction; the input state is not modified. Throws DockerfileError naming the instruction (a bad
 * expansion, port, signal, mount, an empty VOLUME or WORKDIR).
 */
export function applyInstruction(input: StageState, ins: Instruction): StepResult {
  try {
    return apply(input, ins);
  } catch (err) {
    if (err instanceof DockerfileError || !(err instanceof InvalidArgumentError || err instanceof LineParseError)) {
      throw err;
    }
    throw new DockerfileError(err.message, {
      file: input.file,
      line: ins.startLine,
      endLine: ins.endLine,
      instruction: ins.keyword.toUpperCase(),
    });
  }
}

function apply(input: StageState, ins: Instruction): StepResult {
  const state: StageState = { ...input, config: structuredClone(input.config) };
  const cfg = state.config;
  const env = expansionEnv(cfg.Env ?? [], state.args);
  const word = (w: string) => processShellWord(w, env, { escapeToken: state.escapeToken }).result;
  const nop = (text: string): StepResult => ({
    state,
    history: historyOf(state, `${shellOf(cfg).join(' ')} #(nop)  ${text}`, true),
  });
  // The instructions that only set the config follow the rules `--change` follows too (src/images/configrules.ts).
  const config = (i: ConfigInstruction): string[] | null => {
    const applied = applyToConfig(cfg, i, {
      word,
      words: (w) => processWords(w, env, { escapeToken: state.escapeToken }),
      cmdSet: state.cmdSet,
    });
    state.cmdSet = applied.cmdSet;
    return applied.values;
  };
  switch (ins.kind) {
    case 'env':
    case 'label':
    case 'expose':
      return nop(`${ins.keyword.toUpperCase()} ${config(ins)!.join(' ')}`);
    case 'volume':
      return nop(`VOLUME ${goList(config(ins)!)}`);
    case 'user':
    case 'stopsignal':
    case 'onbuild':
      return nop(`${ins.keyword.toUpperCase()} ${config(ins)![0]}`);
    case 'cmd':
    case 'entrypoint':
      return nop(`${ins.keyword.toUpperCase()} ${goQuoteList(config(ins))}`);
    case 'maintainer':
      state.author = ins.maintainer;
      return nop(`MAINTAINER ${ins.maintainer}`);
    case 'arg': {
      state.args = state.args.clone();
      const parts: string[] = [];
      for (const a of ins.args) {
        const key = word(a.key);
        const def = a.value === undefined ? undefined : word(a.value);
        state.args.declare(key, def);
        parts.push(def === undefined ? key : `${key}=${def}`);
      }
      return nop(`ARG ${parts.join(' ')}`);
    }
    case 'shell':
      cfg.Shell = [...ins.shell];
      return nop(`SHELL ${goList(cfg.Shell)}`);
    case 'healthcheck':
      return applyHealthcheck(state, ins, nop);
    case 'workdir': {
      const dir = config(ins)![0]!;
      return {
        state,
        history: historyOf(state, `${shellOf(cfg).join(' ')} #(nop) WORKDIR ${dir}`, false),
        work: { kind: 'workdir', path: dir, user: cfg.User ?? '' },
      };
    }
    case 'run':
      return applyRun(state, ins, word);
    case 'copy':
    case 'add':
      return applyCopy(state, ins, env, word);
  }
}

function applyHealthcheck(
  state: StageState,
  ins: Extract<Instruction, { kind: 'healthcheck' }>,
  nop: (text: string) => StepResult,
): StepResult {
  const cfg = state.config;
  const own = [goQuoteList(ins.test), `"${goDuration(ins.interval)}"`, `"${goDuration(ins.timeout)}"`];
  own.push(`"${goDuration(ins.startPeriod)}"`);
  if (ins.startInterval !== 0) own.push(`"${goDuration(ins.startInterval)}"`);
  own.push(goQuoteRune(ins.retries));
  // Docker merges the new check with the previous one when it creates the step's container: a field the
  // instruction leaves at zero keeps the previous value (even for NONE), though the history shows the zeros.
  const prev = cfg.Healthcheck ?? {};
  const hc: HealthConfig = { Test: [...ins.test] };
  const pick = (mine: number, old: number | undefined) => (mine !== 0 ? mine : (old ?? 0));
  const fields: [keyof HealthConfig, number][] = [
    ['Interval', pick(ins.interval, prev.Interval)],
    ['Timeout', pick(ins.timeout, prev.Timeout)],
    ['StartPeriod', pick(ins.startPeriod, prev.StartPeriod)],
    ['StartInterval', pick(ins.startInterval, prev.StartInterval)],
    ['Retries', pick(ins.retries, prev.Retries)],
  ];
  for (const [k, v] of fields) if (v !== 0) (hc as Record<string, unknown>)[k] = v;
  cfg.Healthcheck = hc;
  return nop(`HEALTHCHECK &{${own.join(' ')}}`);
}

function applyRun(
  state: StageState,
  ins: Extract<Instruction, { kind: 'run' }>,
  word: (w: string) => string,
): StepResult {
  const cfg = state.config;
  let args = [...ins.cmdLine];
  let script: RunWork['script'];
  if (ins.files.length > 0) {
    if (args.length !== 1 || !ins.prependShell) {
      throw new InvalidArgumentError(`parsing produced an invalid run command: ${goList(args)}`);
    }
    const first = ins.files[0]!;
    if (parseHeredoc(args[0]!)) {
      const data = first.chomp ? chompHeredocContent(first.data) : first.data;
      if (data.startsWith('#!')) {
        script = { path: posix.join('/dev/pipes', first.name), data };
        args = [script.path];
      } else {
        args = [data];
      }
    } else {
      args = [args[0] + ins.files.map((f) => `\n${f.data}${f.name}`).join('')];
    }
  }
  const cmd = ins.prependShell ? [...shellOf(cfg), ...args] : args;
  // build arguments in reach: ARG values and proxy build arguments that no ENV hides
  const configEnv = cfg.Env ?? [];
  const envKeys = new Set(configEnv.map((e) => e.split('=', 1)[0]!));
  const buildArgs = [...state.args.values()].filter(([k]) => !envKeys.has(k));
  let createdBy = cmd.join(' ');
  if (buildArgs.length > 0) {
    const recorded = buildArgs
      .filter(([k]) => state.args.isRecorded(k))
      .map(([k, v]) => `${k}=${v}`)
      .sort();
    createdBy = [`|${recorded.length}`, ...recorded, createdBy].join(' ');
  }
  return {
    state,
    history: historyOf(state, createdBy, false),
    work: {
      kind: 'run',
      cmd,
      env: [...configEnv, ...buildArgs.map(([k, v]) => `${k}=${v}`)],
      keyEnv: [...configEnv, ...buildArgs.filter(([k]) => state.args.isRecorded(k)).map(([k, v]) => `${k}=${v}`)],
      user: cfg.User ?? '',
      workingDir: cfg.WorkingDir ?? '',
      mounts: ins.mounts.map((spec) => parseMount(spec, word)),
      network: ins.network,
      security: ins.security,
      ...(script ? { script } : {}),
    },
  };
}

function applyCopy(
  state: StageState,
  ins: CopyInstruction | AddInstruction,
  env: Map<string, string>,
  word: (w: string) => string,
): StepResult {
  const cfg = state.config;
  const contents = ins.contents.map((c) => ({
    ...c,
    data: c.expand ? processShellWord(c.data, env, { skipProcessQuotes: true }).result : c.data,
  }));
  const chown = word(ins.chown);
  const chmod = word(ins.chmod);
  const dest = word(ins.dest);
  const name = ins.kind.toUpperCase();
  const prefix = `${shellOf(cfg).join(' ')} #(nop) `;
  const createdBy = (sourceHash: string) => {
    // 20.10 writes no space between --chown=… and the hash; flags it lacks are written with one
    const flags = `${chmod !== '' ? `--chmod=${chmod} ` : ''}${chown !== '' ? `--chown=${chown}` : ''}`;
    return `${prefix}${name} ${flags}${sourceHash} in ${dest} `;
  };
  const work: CopyWork = {
    kind: ins.kind,
    sources: ins.sources.map(word),
    contents,
    dest,
    from: ins.kind === 'copy' ? ins.from : '',
    chown,
    chmod,
    link: ins.link,
    parents: ins.kind === 'copy' ? ins.parents : false,
    excludes: [...ins.excludes],
    checksum: ins.kind === 'add' ? word(ins.checksum) : '',
    ...(ins.kind === 'add' && ins.keepGitDir !== undefined ? { keepGitDir: ins.keepGitDir } : {}),
    ...(ins.kind === 'add' && ins.unpack !== undefined ? { unpack: ins.unpack } : {}),
    workingDir: cfg.WorkingDir ?? '',
    createdBy,
  };
  return { state, history: historyOf(state, createdBy('<sources>'), false), work };
}

function historyOf(state: StageState, createdBy: string, emptyLayer: boolean): HistoryStep {
  return { createdBy, emptyLayer, ...(state.author !== '' ? { author: state.author } : {}) };
}
