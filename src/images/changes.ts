import { posix } from 'node:path';
import { exposedPortKeys, isValidSignal } from '../oci/configvalues.ts';
import type { ImageRunConfig } from '../oci/types.ts';
import { InvalidArgumentError } from '../util/errors.ts';
import { processWord } from '../util/shellwords.ts';

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
 * and returns the new config (the input is not modified). All lines are checked before any is applied:
 * an instruction outside CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME and WORKDIR is an
 * InvalidArgumentError `<instr> is not a valid change command`.
 *
 * CMD and ENTRYPOINT take the JSON (exec) form or the shell form (run by the config's Shell, else `/bin/sh -c`);
 * ENTRYPOINT clears Cmd unless a CMD came before it in the same changes. ENV, LABEL, USER, WORKDIR, VOLUME,
 * EXPOSE and STOPSIGNAL expand variables from the environment so far and remove quotes, with the Dockerfile
 * builder's word rules (src/util/shellwords.ts).
 */
export function applyChanges(base: ImageRunConfig, changes: readonly string[]): ImageRunConfig {
  const cfg: ImageRunConfig = structuredClone(base);
  const steps = logicalLines(changes.join('\n')).map((line) => {
    const m = /^\s*(\S+)\s*([\s\S]*)$/.exec(line)!;
    return { instruction: m[1]!.toLowerCase(), rest: m[2]!.trim(), line };
  });
  for (const s of steps) {
    if (!CHANGE_COMMANDS.has(s.instruction))
      throw new InvalidArgumentError(`${s.instruction} is not a valid change command`);
  }
  let cmdSet = false;
  for (const { instruction, rest } of steps) {
    const env = envMap(cfg.Env ?? []);
    switch (instruction) {
      case 'cmd':
        cfg.Cmd = commandLine(rest, cfg);
        cmdSet = true;
        break;
      case 'entrypoint':
        cfg.Entrypoint = commandLine(rest, cfg);
        if (!cmdSet) cfg.Cmd = null;
        break;
      case 'env':
        for (const [k, v] of nameValues('ENV', rest, env)) setEnv(cfg, k, v);
        break;
      case 'label': {
        const labels = { ...(cfg.Labels ?? {}) };
        for (const [k, v] of nameValues('LABEL', rest, env)) labels[k] = v;
        cfg.Labels = labels;
        break;
      }
      case 'expose': {
        const ports = shellWords(rest, env);
        if (ports.length === 0) throw new InvalidArgumentError('EXPOSE requires at least one argument');
        const exposed = { ...(cfg.ExposedPorts ?? {}) };
        for (const p of ports) for (const key of exposedPortKeys(p)) exposed[key] = {};
        cfg.ExposedPorts = exposed;
        break;
      }
      case 'user':
        cfg.User = oneWord('USER', rest, env);
        break;
      case 'workdir': {
        const dir = oneWord('WORKDIR', rest, env);
        cfg.WorkingDir = dir.startsWith('/') ? posix.normalize(dir) : posix.join('/', cfg.WorkingDir ?? '', dir);
        break;
      }
      case 'volume': {
        const paths = jsonArray(rest) ?? shellWords(rest, env);
        if (paths.length === 0) throw new InvalidArgumentError('VOLUME requires at least one argument');
        const volumes = { ...(cfg.Volumes ?? {}) };
        for (const p of paths) {
          if (p.trim() === '') throw new InvalidArgumentError('VOLUME specified can not be an empty string');
          volumes[p.trim()] = {};
        }
        cfg.Volumes = volumes;
        break;
      }
      case 'stopsignal': {
        const sig = oneWord('STOPSIGNAL', rest, env);
        if (!isValidSignal(sig)) throw new InvalidArgumentError(`Invalid signal: ${sig}`);
        cfg.StopSignal = sig;
        break;
      }
      case 'onbuild': {
        const trigger = (/^\S*/.exec(rest)?.[0] ?? '').toUpperCase();
        if (trigger === '') throw new InvalidArgumentError('ONBUILD requires at least one argument');
        if (trigger === 'ONBUILD')
          throw new InvalidArgumentError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
        if (trigger === 'FROM' || trigger === 'MAINTAINER')
          throw new InvalidArgumentError(`${trigger} isn't allowed as an ONBUILD trigger`);
        cfg.OnBuild = [...(cfg.OnBuild ?? []), rest];
        break;
      }
    }
  }
  return cfg;
}

/** Joins backslash-continued lines and drops blank and comment lines. */
function logicalLines(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (cur === '' && /^\s*(#.*)?$/.test(line)) continue;
    if (line.endsWith('\\')) {
      cur += line.slice(0, -1);
      continue;
    }
    cur += line;
    if (cur.trim() !== '') out.push(cur);
    cur = '';
  }
  if (cur.trim() !== '') out.push(cur);
  return out;
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

/** A JSON array of strings (the exec form), or undefined when the text is not one. */
function jsonArray(rest: string): string[] | undefined {
  if (!rest.startsWith('[')) return undefined;
  try {
    const v: unknown = JSON.parse(rest);
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
  } catch {
    // not JSON: the shell form
  }
  return undefined;
}

function commandLine(rest: string, cfg: ImageRunConfig): string[] {
  return jsonArray(rest) ?? [...(cfg.Shell && cfg.Shell.length > 0 ? cfg.Shell : DEFAULT_SHELL), rest];
}

function oneWord(instr: string, rest: string, env: Map<string, string>): string {
  if (rest === '') throw new InvalidArgumentError(`${instr} requires exactly one argument`);
  return processWord(rest, env);
}

/**
 * `key=value ...` pairs (values keep spaces inside quotes), or the legacy `key value with spaces` form when the
 * first word has no '='.
 */
function nameValues(instr: string, rest: string, env: Map<string, string>): [string, string][] {
  if (rest === '') throw new InvalidArgumentError(`${instr} requires at least one argument`);
  const words = rawWords(rest);
  if (!words[0]!.includes('=')) {
    const m = /^(\S+)\s+([\s\S]+)$/.exec(rest);
    if (!m)
      throw new InvalidArgumentError(
        `${instr} names only "${rest}": it needs a value (${instr} key value, or ${instr} key=value)`,
      );
    return [[processWord(m[1]!, env), processWord(m[2]!, env)]];
  }
  return words.map((w) => {
    const i = w.indexOf('=');
    if (i <= 0)
      throw new InvalidArgumentError(`Syntax error - can't find = in "${w}". Must be of the form: name=value`);
    return [processWord(w.slice(0, i), env), processWord(w.slice(i + 1), env)];
  });
}

/** Splits on whitespace outside quotes, keeping quotes and escapes in the words. */
function rawWords(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote = '';
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quote === '' && /\s/.test(ch)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
      continue;
    }
    inWord = true;
    cur += ch;
    if (ch === '\\' && quote !== "'" && i + 1 < text.length) {
      cur += text[++i];
    } else if (quote === '' && (ch === '"' || ch === "'")) {
      quote = ch;
    } else if (ch === quote) {
      quote = '';
    }
  }
  if (quote !== '') throw new InvalidArgumentError(`unmatched ${quote} in "${text}"`);
  if (inWord) out.push(cur);
  return out;
}

function shellWords(text: string, env: Map<string, string>): string[] {
  return rawWords(text).map((w) => processWord(w, env));
}
