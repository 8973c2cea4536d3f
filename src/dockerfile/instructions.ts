/**
 * Syntax tree → typed instructions grouped into stages, each instruction's flags and argument counts checked with
 * Docker's messages. Nothing is expanded yet: words keep their quotes and `$VAR`s until the planner knows the
 * variables that reach them.
 */
import { parseGoDuration } from '../util/units.ts';
import type { Node, ParseResult } from './ast.ts';
import { DockerfileError } from './errors.ts';
import { Flags, suggestion } from './flags.ts';
import { LineParseError } from './line-parsers.ts';
import { checkMountFrom, parseMount } from './mounts.ts';
import { INSTRUCTIONS, chompHeredocContent, parse, parseHeredoc } from './parser.ts';

interface Base {
  /** The instruction as written (`RUN`, `run`). */
  keyword: string;
  /** The logical line, trimmed: Docker's `String()` of the instruction. */
  original: string;
  startLine: number;
  endLine: number;
}

export interface KeyValue {
  key: string;
  value: string;
  /** The legacy `ENV key value` form (no `=`). */
  noDelim: boolean;
}

/** A file written from a heredoc for RUN (`RUN <<EOF`). */
export interface InlineFile {
  name: string;
  data: string;
  chomp: boolean;
}

/** A file COPY or ADD writes from a heredoc (`COPY <<EOF /dst`). */
export interface SourceContent {
  path: string;
  data: string;
  expand: boolean;
}

export interface FromInstruction extends Base {
  kind: 'from';
  /** The base: an image reference, a stage name, or `scratch` (unexpanded: ARGs before FROM may reach it). */
  image: string;
  /** `AS name`, lower-cased; '' when unnamed. */
  name: string;
  /** `--platform=` (unexpanded), '' when not given. */
  platform: string;
}
export interface RunInstruction extends Base {
  kind: 'run';
  cmdLine: string[];
  /** The shell form: the command line is one string run by the stage's SHELL. */
  prependShell: boolean;
  files: InlineFile[];
  /** The `--mount` values as written; `parseMount` after expansion gives each Mount. */
  mounts: string[];
  network: 'default' | 'none' | 'host';
  security: 'sandbox' | 'insecure';
  flagsUsed: string[];
}
export interface CmdInstruction extends Base {
  kind: 'cmd';
  cmdLine: string[];
  prependShell: boolean;
}
export interface EntrypointInstruction extends Base {
  kind: 'entrypoint';
  /** null for `ENTRYPOINT []` and an empty shell form: the entrypoint is removed. */
  cmdLine: string[] | null;
  prependShell: boolean;
}
export interface EnvInstruction extends Base {
  kind: 'env';
  env: KeyValue[];
}
export interface LabelInstruction extends Base {
  kind: 'label';
  labels: KeyValue[];
}
export interface ArgInstruction extends Base {
  kind: 'arg';
  args: { key: string; value?: string }[];
}
export interface ExposeInstruction extends Base {
  kind: 'expose';
  /** Sorted, as Docker sorts them. */
  ports: string[];
}
export interface VolumeInstruction extends Base {
  kind: 'volume';
  volumes: string[];
}
export interface UserInstruction extends Base {
  kind: 'user';
  user: string;
}
export interface WorkdirInstruction extends Base {
  kind: 'workdir';
  path: string;
}
interface CopyCommon extends Base {
  sources: string[];
  contents: SourceContent[];
  dest: string;
  chown: string;
  chmod: string;
  link: boolean;
  excludes: string[];
}
export interface CopyInstruction extends CopyCommon {
  kind: 'copy';
  /** `--from=` a stage name or index, or an image; '' for the build context. */
  from: string;
  parents: boolean;
}
export interface AddInstruction extends CopyCommon {
  kind: 'add';
  keepGitDir?: boolean;
  checksum: string;
  unpack?: boolean;
}
export interface OnbuildInstruction extends Base {
  kind: 'onbuild';
  /** The trigger as the image config keeps it (`RUN echo hi`). */
  expression: string;
}
export interface HealthcheckInstruction extends Base {
  kind: 'healthcheck';
  /** `["NONE"]`, `["CMD", …]` (exec form) or `["CMD-SHELL", "…"]`. */
  test: string[];
  /** Nanoseconds; 0 when not given. */
  interval: number;
  timeout: number;
  startPeriod: number;
  startInterval: number;
  retries: number;
}
export interface ShellInstruction extends Base {
  kind: 'shell';
  shell: string[];
}
export interface StopsignalInstruction extends Base {
  kind: 'stopsignal';
  signal: string;
}
export interface MaintainerInstruction extends Base {
  kind: 'maintainer';
  maintainer: string;
}

/** Every instruction but FROM, which starts a stage. */
export type Instruction =
  | RunInstruction
  | CmdInstruction
  | EntrypointInstruction
  | EnvInstruction
  | LabelInstruction
  | ArgInstruction
  | ExposeInstruction
  | VolumeInstruction
  | UserInstruction
  | WorkdirInstruction
  | CopyInstruction
  | AddInstruction
  | OnbuildInstruction
  | HealthcheckInstruction
  | ShellInstruction
  | StopsignalInstruction
  | MaintainerInstruction;

export interface Stage {
  /** Position in the file, from 0: what `COPY --from=0` names. */
  index: number;
  from: FromInstruction;
  commands: Instruction[];
}

export interface Dockerfile {
  /** ARGs before the first FROM: they reach FROM lines only, unless a stage declares them again. */
  metaArgs: ArgInstruction[];
  stages: Stage[];
  escapeToken: string;
  directives: Map<string, string>;
}

/** Types a parsed Dockerfile into stages. Throws DockerfileError naming the file, line and instruction. */
export function parseInstructions(parsed: ParseResult, options: { file?: string } = {}): Dockerfile {
  const file = options.file ?? 'Dockerfile';
  const metaArgs: ArgInstruction[] = [];
  const stages: Stage[] = [];
  for (const node of parsed.nodes) {
    const ins = parseNode(node, file);
    if (ins.kind === 'from') {
      stages.push({ index: stages.length, from: ins, commands: [] });
    } else if (stages.length === 0) {
      if (ins.kind !== 'arg') {
        throw new DockerfileError('no build stage in current context', {
          file,
          line: node.startLine,
          endLine: node.endLine,
          instruction: node.keyword.toUpperCase(),
        });
      }
      metaArgs.push(ins);
    } else {
      stages[stages.length - 1]!.commands.push(ins);
    }
  }
  return { metaArgs, stages, escapeToken: parsed.escapeToken, directives: parsed.directives };
}

/** One node typed; throws DockerfileError. */
export function parseNode(node: Node, file = 'Dockerfile'): FromInstruction | Instruction {
  try {
    return parseNodeInner(node);
  } catch (err) {
    if (err instanceof LineParseError) {
      throw new DockerfileError(err.message, {
        file,
        line: node.startLine,
        endLine: node.endLine,
        instruction: node.keyword.toUpperCase(),
      });
    }
    throw err;
  }
}

/** Docker's nodeArgs: the arguments, with ONBUILD's instruction flattened into them. */
function nodeArgs(node: Node): string[] {
  return node.sub ? [node.sub.keyword, ...nodeArgs(node.sub)] : node.args;
}

function parseNodeInner(node: Node): FromInstruction | Instruction {
  const lower = node.keyword.toLowerCase();
  const args = nodeArgs(node);
  const flags = new Flags(node.flags);
  const base: Base = {
    keyword: node.keyword,
    original: node.original.trim(),
    startLine: node.startLine,
    endLine: node.endLine,
  };
  const fail = (msg: string): never => {
    throw new LineParseError(msg);
  };
  const exactlyOne = () => args.length !== 1 && fail(`${lower.toUpperCase()} requires exactly one argument`);
  const atLeastOne = () => args.length === 0 && fail(`${lower.toUpperCase()} requires at least one argument`);
  const shellForm = (emptyAsNull: boolean) => {
    const cmd = node.json ? [...args] : args.length === 0 ? [] : [args.join(' ')];
    return { cmdLine: emptyAsNull && cmd.length === 0 ? null : cmd, prependShell: !node.json };
  };
  switch (lower) {
    case 'from': {
      let name = '';
      if (args.length === 3 && args[1]!.toLowerCase() === 'as') {
        name = args[2]!.toLowerCase();
        if (!/^[a-z][a-z0-9\-_.]*$/.test(name)) {
          fail(`invalid name for build stage: "${args[2]}", name can't start with a number or contain symbols`);
        }
      } else if (args.length !== 1) {
        fail('FROM requires either one or three arguments');
      }
      flags.string('platform').parse();
      return { kind: 'from', ...base, image: args[0]!, name, platform: flags.getString('platform') };
    }
    case 'run': {
      flags.strings('mount').string('network').string('security').parse();
      const network = flags.getString('network', 'default');
      if (network !== 'default' && network !== 'none' && network !== 'host') fail(`invalid network mode "${network}"`);
      const security = flags.getString('security', 'sandbox');
      if (security !== 'sandbox' && security !== 'insecure') fail(`security mode "${security}" is not valid`);
      const mounts = flags.getStrings('mount');
      for (const spec of mounts) {
        checkMountFrom(spec);
        if (!spec.includes('$')) parseMount(spec);
      }
      return {
        kind: 'run',
        ...base,
        ...(shellForm(false) as { cmdLine: string[]; prependShell: boolean }),
        files: node.heredocs.map((h) => ({ name: h.name, data: h.content, chomp: h.chomp })),
        mounts,
        network: network as RunInstruction['network'],
        security: security as RunInstruction['security'],
        flagsUsed: flags.usedNames(),
      };
    }
    case 'cmd':
      flags.parse();
      return { kind: 'cmd', ...base, ...(shellForm(false) as { cmdLine: string[]; prependShell: boolean }) };
    case 'entrypoint':
      flags.parse();
      return { kind: 'entrypoint', ...base, ...shellForm(true) };
    case 'env':
    case 'label': {
      flags.parse();
      atLeastOne();
      if (args.length % 3 !== 0) fail(`Bad input to ${lower.toUpperCase()}, too many arguments`);
      const pairs: KeyValue[] = [];
      for (let j = 0; j < args.length; j += 3) {
        if (args[j] === '') fail(`${lower.toUpperCase()} names can not be blank`);
        pairs.push({ key: args[j]!, value: args[j + 1]!, noDelim: args[j + 2] === '' });
      }
      return lower === 'env' ? { kind: 'env', ...base, env: pairs } : { kind: 'label', ...base, labels: pairs };
    }
    case 'arg': {
      // Docker does not check ARG's flags
      atLeastOne();
      const out: ArgInstruction['args'] = [];
      for (const a of args) {
        const eq = a.indexOf('=');
        if (eq < 0) {
          out.push({ key: a });
          continue;
        }
        if (eq === 0) fail('ARG names can not be blank');
        out.push({ key: a.slice(0, eq), value: a.slice(eq + 1) });
      }
      return { kind: 'arg', ...base, args: out };
    }
    case 'expose':
      atLeastOne();
      flags.parse();
      return { kind: 'expose', ...base, ports: [...args].sort() };
    case 'volume': {
      atLeastOne();
      flags.parse();
      const volumes = args.map((v) => v.trim());
      if (volumes.some((v) => v === '')) fail('VOLUME specified can not be an empty string');
      return { kind: 'volume', ...base, volumes };
    }
    case 'user':
      exactlyOne();
      flags.parse();
      return { kind: 'user', ...base, user: args[0]! };
    case 'workdir':
      exactlyOne();
      flags.parse();
      return { kind: 'workdir', ...base, path: args[0]! };
    case 'maintainer':
      exactlyOne();
      flags.parse();
      return { kind: 'maintainer', ...base, maintainer: args[0]! };
    case 'stopsignal':
      // Docker does not check STOPSIGNAL's flags
      exactlyOne();
      return { kind: 'stopsignal', ...base, signal: args[0]! };
    case 'copy':
    case 'add':
      return parseCopyOrAdd(node, lower, args, flags, base);
    case 'onbuild': {
      atLeastOne();
      flags.parse();
      const trigger = args[0]!.trim().toUpperCase();
      if (trigger === 'ONBUILD') fail("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
      if (trigger === 'MAINTAINER' || trigger === 'FROM') fail(`${trigger} isn't allowed as an ONBUILD trigger`);
      let expression = node.original.replace(/^[\t\n\f\r ]*ONBUILD[\t\n\f\r ]*/i, '');
      for (const h of node.heredocs) expression += `\n${h.content}${h.name}`;
      return { kind: 'onbuild', ...base, expression };
    }
    case 'healthcheck':
      return parseHealthcheck(node, args, flags, base);
    case 'shell': {
      flags.parse();
      const { cmdLine } = shellForm(false);
      if (!cmdLine || cmdLine.length === 0) fail('SHELL requires at least one argument');
      if (!node.json) fail('SHELL requires the arguments to be in JSON form');
      return { kind: 'shell', ...base, shell: cmdLine! };
    }
  }
  return fail(`unknown instruction: ${node.keyword}${suggestion(node.keyword, [...INSTRUCTIONS], false)}`);
}

function parseCopyOrAdd(
  node: Node,
  lower: string,
  args: string[],
  flags: Flags,
  base: Base,
): CopyInstruction | AddInstruction {
  const name = lower.toUpperCase();
  if (args.length < 2) {
    throw new LineParseError(
      `${name} requires at least two arguments, but only one was provided. Destination could not be determined`,
    );
  }
  flags.string('chown').string('chmod').bool('link').strings('exclude');
  if (lower === 'copy') flags.string('from').bool('parents');
  else flags.bool('keep-git-dir').string('checksum').bool('unpack');
  flags.parse();
  const dest = args[args.length - 1]!;
  if (heredocMarker(dest)) throw new LineParseError(`${name} cannot accept a heredoc as a destination`);
  const byName = new Map(node.heredocs.map((h) => [h.name, h]));
  const sources: string[] = [];
  const contents: SourceContent[] = [];
  for (const src of args.slice(0, -1)) {
    const marker = heredocMarker(src);
    if (!marker) {
      sources.push(src);
      continue;
    }
    let data = byName.get(marker.name)?.content ?? '';
    if (marker.chomp) data = chompHeredocContent(data);
    contents.push({ path: marker.name, data, expand: marker.expand });
  }
  const common = {
    ...base,
    sources,
    contents,
    dest,
    chown: flags.getString('chown'),
    chmod: flags.getString('chmod'),
    link: flags.getBool('link'),
    excludes: flags.getStrings('exclude'),
  };
  if (lower === 'copy') {
    return { kind: 'copy', ...common, from: flags.getString('from'), parents: flags.getBool('parents') };
  }
  return {
    kind: 'add',
    ...common,
    ...(flags.isUsed('keep-git-dir') ? { keepGitDir: flags.getBool('keep-git-dir') } : {}),
    checksum: flags.getString('checksum'),
    ...(flags.isUsed('unpack') ? { unpack: flags.getBool('unpack') } : {}),
  };
}

function heredocMarker(word: string) {
  try {
    return parseHeredoc(word);
  } catch {
    return undefined;
  }
}

function parseHealthcheck(node: Node, args: string[], flags: Flags, base: Base): HealthcheckInstruction {
  if (args.length === 0) throw new LineParseError('HEALTHCHECK requires at least one argument');
  const type = args[0]!.toUpperCase();
  const rest = args.slice(1);
  const none = { interval: 0, timeout: 0, startPeriod: 0, startInterval: 0, retries: 0 };
  if (type === 'NONE') {
    if (rest.length !== 0) throw new LineParseError('HEALTHCHECK NONE takes no arguments');
    return { kind: 'healthcheck', ...base, test: ['NONE'], ...none };
  }
  flags.string('interval').string('timeout').string('start-period').string('start-interval').string('retries').parse();
  if (type !== 'CMD') throw new LineParseError(`Unknown type "${type}" in HEALTHCHECK (try CMD)`);
  const cmd = node.json ? rest : rest.length === 0 ? [] : [rest.join(' ')];
  if (cmd.length === 0) throw new LineParseError('Missing command after HEALTHCHECK CMD');
  const interval = (name: string): number => {
    const v = flags.getString(name);
    if (v === '') return 0;
    let d: number;
    try {
      d = parseGoDuration(v);
    } catch (err) {
      throw new LineParseError((err as Error).message);
    }
    if (d === 0) return 0;
    if (d < 1e6) throw new LineParseError(`Interval "${name}" cannot be less than 1ms`);
    return d;
  };
  let retries = 0;
  const r = flags.getString('retries');
  if (r !== '') {
    if (!/^[+-]?\d+$/.test(r)) throw new LineParseError(`strconv.ParseInt: parsing "${r}": invalid syntax`);
    retries = Number(r);
    if (retries > 2 ** 31 - 1 || retries < -(2 ** 31)) {
      throw new LineParseError(`strconv.ParseInt: parsing "${r}": value out of range`);
    }
    if (retries < 0) throw new LineParseError(`--retries cannot be negative (${retries})`);
  }
  return {
    kind: 'healthcheck',
    ...base,
    test: [node.json ? 'CMD' : 'CMD-SHELL', ...cmd],
    interval: interval('interval'),
    timeout: interval('timeout'),
    startPeriod: interval('start-period'),
    startInterval: interval('start-interval'),
    retries,
  };
}

/**
 * The ONBUILD triggers of a base image (`RUN echo hi`, as its config keeps them) typed as instructions of the child
 * build. `file` names them in errors (say `ONBUILD of busybox:latest`). Throws DockerfileError.
 */
export function parseTriggers(triggers: readonly string[], file = 'ONBUILD'): Instruction[] {
  const out: Instruction[] = [];
  for (const t of triggers) {
    for (const node of parse(t, { file }).nodes) {
      const ins = parseNode(node, file);
      if (ins.kind === 'from') {
        throw new DockerfileError("FROM isn't allowed as an ONBUILD trigger", {
          file,
          line: node.startLine,
          instruction: 'FROM',
        });
      }
      out.push(ins);
    }
  }
  return out;
}
