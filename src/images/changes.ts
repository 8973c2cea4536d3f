/**
 * `docker import --change` and `docker commit --change`: Dockerfile instructions applied to an image's run config,
 * read by the Dockerfile frontend (src/dockerfile/) as dockerd's BuildFromConfig reads them with the builder's parser.
 */
import { posix } from 'node:path';
import type { Instruction } from '../dockerfile/index.ts';
import { exposedPortKeys, isValidSignal } from '../oci/configvalues.ts';
import type { ImageRunConfig } from '../oci/types.ts';
import { InvalidArgumentError } from '../util/errors.ts';
import { processWord, processWords } from '../util/shellwords.ts';

/** The Dockerfile instructions `docker import --change` and `docker commit --change` accept (moby's validCommitCommands). */
const CHANGE_COMMANDS = new Set([
  'cmd',
  'entrypoint',
  'env',
  'expose',
  'label',
  'onbuild',
  'stopsignal',
  'user',
  'volume',
  'workdir',
]);
const DEFAULT_SHELL = ['/bin/sh', '-c'];

/**
 * Applies `--change` lines (Dockerfile instructions) to an image's run config, as dockerd's BuildFromConfig does,
 * and returns the new config (the input is not modified). All lines are parsed and checked before any is applied:
 * an instruction outside CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME and WORKDIR is an
 * InvalidArgumentError `<instr> is not a valid change command`, a malformed one an InvalidArgumentError with the
 * Dockerfile frontend's message for it.
 *
 * CMD and ENTRYPOINT take the JSON (exec) form or the shell form (run by the config's Shell, else `/bin/sh -c`);
 * ENTRYPOINT clears Cmd unless a CMD came before it in the same changes. ENV, LABEL, USER, WORKDIR, VOLUME,
 * EXPOSE and STOPSIGNAL expand variables from the environment so far and remove quotes, with the Dockerfile
 * builder's word rules (src/util/shellwords.ts).
 *
 * The Dockerfile frontend is loaded on the first change to parse: berthd's start does not load it.
 */
export async function applyChanges(base: ImageRunConfig, changes: readonly string[]): Promise<ImageRunConfig> {
  const { instructions, escapeToken } = await parseChanges(changes);
  const cfg: ImageRunConfig = structuredClone(base);
  let cmdSet = false;
  for (const ins of instructions) {
    const env = envMap(cfg.Env ?? []);
    const word = (w: string) => processWord(w, env, { escapeToken });
    switch (ins.kind) {
      case 'cmd':
        cfg.Cmd = commandLine(ins.cmdLine, ins.prependShell, cfg);
        cmdSet = true;
        break;
      case 'entrypoint':
        cfg.Entrypoint = ins.cmdLine === null ? null : commandLine(ins.cmdLine, ins.prependShell, cfg);
        if (!cmdSet) cfg.Cmd = null;
        break;
      case 'env':
        for (const e of ins.env) setEnv(cfg, word(e.key), word(e.value));
        break;
      case 'label': {
        const labels = { ...(cfg.Labels ?? {}) };
        for (const l of ins.labels) labels[word(l.key)] = word(l.value);
        cfg.Labels = labels;
        break;
      }
      case 'expose': {
        const exposed = { ...(cfg.ExposedPorts ?? {}) };
        for (const p of ins.ports.flatMap((p) => processWords(p, env, { escapeToken }))) {
          for (const key of exposedPortKeys(p)) exposed[key] = {};
        }
        cfg.ExposedPorts = exposed;
        break;
      }
      case 'user':
        cfg.User = word(ins.user);
        break;
      case 'workdir': {
        const dir = word(ins.path);
        cfg.WorkingDir = dir.startsWith('/') ? posix.normalize(dir) : posix.join('/', cfg.WorkingDir ?? '', dir);
        break;
      }
      case 'volume': {
        const volumes = { ...(cfg.Volumes ?? {}) };
        for (const v of ins.volumes.map(word)) {
          if (v.trim() === '') throw new InvalidArgumentError('VOLUME specified can not be an empty string');
          volumes[v.trim()] = {};
        }
        cfg.Volumes = volumes;
        break;
      }
      case 'stopsignal': {
        const sig = word(ins.signal);
        if (!isValidSignal(sig)) throw new InvalidArgumentError(`Invalid signal: ${sig}`);
        cfg.StopSignal = sig;
        break;
      }
      case 'onbuild':
        cfg.OnBuild = [...(cfg.OnBuild ?? []), ins.expression];
        break;
    }
  }
  return cfg;
}

/** The changes as typed instructions, every one checked; a fault is an InvalidArgumentError with Docker's text. */
async function parseChanges(changes: readonly string[]): Promise<{ instructions: Instruction[]; escapeToken: string }> {
  if (changes.length === 0) return { instructions: [], escapeToken: '\\' };
  const { DockerfileError, parse, parseNode } = await import('../dockerfile/index.ts');
  try {
    const parsed = parse(changes.join('\n'), { allowEmpty: true });
    for (const node of parsed.nodes) {
      const name = node.keyword.toLowerCase();
      if (!CHANGE_COMMANDS.has(name)) throw new InvalidArgumentError(`${name} is not a valid change command`);
    }
    // only FROM is not an Instruction, and FROM is not a change command
    const instructions = parsed.nodes.map((node) => parseNode(node) as Instruction);
    return { instructions, escapeToken: parsed.escapeToken };
  } catch (err) {
    if (err instanceof DockerfileError) throw new InvalidArgumentError(err.detail, { cause: err });
    throw err;
  }
}

function envMap(env: readonly string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of env) {
    const i = e.indexOf('=');
    if (i < 0) m.set(e, '');
    else m.set(e.slice(0, i), e.slice(i + 1));
  }
  return m;
}

function setEnv(cfg: ImageRunConfig, key: string, value: string): void {
  const env = [...(cfg.Env ?? [])];
  const i = env.findIndex((e) => e === key || e.startsWith(`${key}=`));
  if (i >= 0) env[i] = `${key}=${value}`;
  else env.push(`${key}=${value}`);
  cfg.Env = env;
}

/** The exec form as written; the shell form run by the config's Shell (else `/bin/sh -c`). */
function commandLine(cmdLine: string[], prependShell: boolean, cfg: ImageRunConfig): string[] {
  if (!prependShell) return cmdLine;
  return [...(cfg.Shell && cfg.Shell.length > 0 ? cfg.Shell : DEFAULT_SHELL), ...cmdLine];
}
