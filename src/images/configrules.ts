/**
 * What the Dockerfile instructions that only set the run config do to it: one set of rules for a build's steps
 * (src/build/imageconfig.ts, which adds their history entries) and for `docker commit/import --change`
 * (changes.ts), as dockerd runs both through the classic builder's dispatchers.
 */
import { posix } from 'node:path';
import type { Instruction } from '../dockerfile/index.ts';
import { exposedPortKeys, isValidSignal } from '../oci/configvalues.ts';
import type { ImageRunConfig } from '../oci/types.ts';
import { InvalidArgumentError } from '../util/errors.ts';

export const DEFAULT_SHELL: readonly string[] = ['/bin/sh', '-c'];

/** The instructions whose whole effect is on the run config. */
export type ConfigInstruction = Extract<
  Instruction,
  { kind: 'cmd' | 'entrypoint' | 'env' | 'expose' | 'label' | 'onbuild' | 'stopsignal' | 'user' | 'volume' | 'workdir' }
>;

export interface ConfigContext {
  /** A word expanded with the environment before the instruction (a build adds the ARGs in reach). */
  word(w: string): string;
  /** A word expanded and split into words (EXPOSE). */
  words(w: string): string[];
  /** A CMD with arguments came before in the same stage (or the same changes): ENTRYPOINT keeps it. */
  cmdSet: boolean;
}

export interface ConfigApplied {
  /**
   * The values as applied, which a build's history entry shows: `key=value` pairs (ENV, LABEL), the ports, the
   * volumes, the command (CMD, ENTRYPOINT: null for `ENTRYPOINT []`), or the one value of the others.
   */
  values: string[] | null;
  cmdSet: boolean;
}

/**
 * Applies one instruction to `cfg` (changed in place). Throws InvalidArgumentError with dockerd's words for an
 * empty VOLUME or WORKDIR, a bad port or signal, or a failed expansion.
 *
 * CMD and ENTRYPOINT take the exec form as written and run the shell form with the config's Shell (else
 * `/bin/sh -c`), and clear ArgsEscaped (absent, as Go's omitempty writes a false one); ENTRYPOINT clears Cmd unless a CMD with arguments came before it. A
 * relative WORKDIR is joined to the current one and cleaned, an absolute one kept as written. Labels, exposed ports
 * and volumes are kept in sorted order, as dockerd's Go maps are written.
 */
export function applyToConfig(cfg: ImageRunConfig, ins: ConfigInstruction, cx: ConfigContext): ConfigApplied {
  const { word } = cx;
  const one = (v: string): ConfigApplied => ({ values: [v], cmdSet: cx.cmdSet });
  switch (ins.kind) {
    case 'env': {
      const pairs = ins.env.map((e) => `${word(e.key)}=${word(e.value)}`);
      const list = [...(cfg.Env ?? [])];
      for (const kv of pairs) {
        const key = kv.slice(0, kv.indexOf('='));
        const i = list.findIndex((x) => x.split('=', 1)[0] === key);
        if (i >= 0) list[i] = kv;
        else list.push(kv);
      }
      cfg.Env = list;
      return { values: pairs, cmdSet: cx.cmdSet };
    }
    case 'label': {
      const labels = { ...(cfg.Labels ?? {}) };
      const pairs: string[] = [];
      for (const l of ins.labels) {
        const k = word(l.key);
        const v = word(l.value);
        labels[k] = v;
        pairs.push(`${k}=${v}`);
      }
      cfg.Labels = sortedRecord(labels);
      return { values: pairs, cmdSet: cx.cmdSet };
    }
    case 'expose': {
      const ports = ins.ports.flatMap(cx.words);
      const exposed: Record<string, object> = { ...(cfg.ExposedPorts ?? {}) };
      for (const p of ports) for (const k of exposedPortKeys(p)) exposed[k] = {};
      cfg.ExposedPorts = sortedRecord(exposed);
      return { values: ports, cmdSet: cx.cmdSet };
    }
    case 'volume': {
      const vols = ins.volumes.map(word);
      const volumes: Record<string, object> = { ...(cfg.Volumes ?? {}) };
      for (const v of vols) {
        if (v === '') throw new InvalidArgumentError('VOLUME specified can not be an empty string');
        volumes[v] = {};
      }
      cfg.Volumes = sortedRecord(volumes);
      return { values: vols, cmdSet: cx.cmdSet };
    }
    case 'user':
      cfg.User = word(ins.user);
      return one(cfg.User);
    case 'stopsignal': {
      const sig = word(ins.signal);
      if (!isValidSignal(sig)) throw new InvalidArgumentError(`Invalid signal: ${sig}`);
      cfg.StopSignal = sig;
      return one(sig);
    }
    case 'onbuild':
      cfg.OnBuild = [...(cfg.OnBuild ?? []), ins.expression];
      return one(ins.expression);
    case 'workdir': {
      const path = word(ins.path);
      if (path === '') throw new InvalidArgumentError('cannot normalize nothing');
      // 20.10 keeps an absolute path as written and cleans a relative one joined to the current directory
      cfg.WorkingDir = path.startsWith('/') ? path : cleanPath(posix.join('/', cfg.WorkingDir ?? '', path));
      return one(cfg.WorkingDir);
    }
    case 'cmd': {
      const cmd = commandLine(ins.cmdLine, ins.prependShell, cfg);
      cfg.Cmd = cmd;
      delete cfg.ArgsEscaped;
      return { values: cmd, cmdSet: cx.cmdSet || ins.cmdLine.length > 0 };
    }
    case 'entrypoint': {
      const ep = ins.cmdLine === null ? null : commandLine(ins.cmdLine, ins.prependShell, cfg);
      cfg.Entrypoint = ep;
      delete cfg.ArgsEscaped;
      if (!cx.cmdSet) cfg.Cmd = null;
      return { values: ep, cmdSet: cx.cmdSet };
    }
  }
}

/** The config's Shell, else `/bin/sh -c`. */
export function shellOf(cfg: ImageRunConfig): string[] {
  return cfg.Shell && cfg.Shell.length > 0 ? [...cfg.Shell] : [...DEFAULT_SHELL];
}

/** The shell form gets the Shell in front (even when empty: `CMD` alone is `/bin/sh -c`); the exec form as is. */
function commandLine(cmdLine: string[], prependShell: boolean, cfg: ImageRunConfig): string[] {
  return prependShell ? [...shellOf(cfg), ...cmdLine] : [...cmdLine];
}

/** Go's path.Clean for an absolute path: no `.`/`..`, no repeated or trailing slash. */
function cleanPath(p: string): string {
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

function sortedRecord<T>(r: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
