import { isAbsolute, resolve } from 'node:path';
import { splitVolumeShort } from './merge.ts';

/**
 * Relative paths in a raw (interpolated) document made absolute against a directory. An `include`d project
 * and a service `extends`'d from another file keep paths relative to their own directory, so theirs are
 * rebased before they are merged into the including document; the main files' paths are made absolute by
 * normalisation, against the project directory.
 */

type Dict = Record<string, unknown>;
const isDict = (v: unknown): v is Dict => v !== null && typeof v === 'object' && !Array.isArray(v);

function isRemote(p: string): boolean {
  return /^(https?:\/\/|git@|git:\/\/|github\.com\/|[a-z]+:\/\/)/.test(p) || p.endsWith('.git');
}

function abs(p: string, dir: string, home: string): string {
  if (p === '~' || p.startsWith('~/')) return resolve(home, p.slice(2));
  return isAbsolute(p) ? p : resolve(dir, p);
}

function rebaseVolume(v: unknown, dir: string, home: string): unknown {
  if (typeof v === 'string') {
    const parts = splitVolumeShort(v);
    const src = parts[0]!;
    if (parts.length >= 2 && (src.startsWith('.') || src.startsWith('~'))) {
      return [abs(src, dir, home), ...parts.slice(1)].join(':');
    }
    return v;
  }
  if (isDict(v) && v.type === 'bind' && typeof v.source === 'string') return { ...v, source: abs(v.source, dir, home) };
  return v;
}

function rebaseEnvFile(e: unknown, dir: string, home: string): unknown {
  if (typeof e === 'string') return abs(e, dir, home);
  if (isDict(e) && typeof e.path === 'string') return { ...e, path: abs(e.path, dir, home) };
  return e;
}

/** One service's relative paths made absolute against `dir`. */
export function rebaseService(svc: Dict, dir: string, home: string): Dict {
  const out: Dict = { ...svc };
  if (typeof out.build === 'string') {
    if (!isRemote(out.build)) out.build = abs(out.build, dir, home);
  } else if (isDict(out.build)) {
    const ctx = typeof out.build.context === 'string' ? out.build.context : '.';
    out.build = { ...out.build, context: isRemote(ctx) ? ctx : abs(ctx, dir, home) };
  }
  if (out.env_file !== undefined) {
    out.env_file = Array.isArray(out.env_file)
      ? out.env_file.map((e) => rebaseEnvFile(e, dir, home))
      : rebaseEnvFile(out.env_file, dir, home);
  }
  if (Array.isArray(out.volumes)) out.volumes = out.volumes.map((v) => rebaseVolume(v, dir, home));
  if (isDict(out.extends) && typeof out.extends.file === 'string') {
    out.extends = { ...out.extends, file: abs(out.extends.file, dir, home) };
  }
  if (isDict(out.develop) && Array.isArray(out.develop.watch)) {
    out.develop = {
      ...out.develop,
      watch: out.develop.watch.map((w) =>
        isDict(w) && typeof w.path === 'string' ? { ...w, path: abs(w.path, dir, home) } : w,
      ),
    };
  }
  return out;
}

/** Every relative path of a document (services, secrets and configs files) made absolute against `dir`. */
export function rebaseDocument(doc: Dict, dir: string, home: string): Dict {
  const out: Dict = { ...doc };
  if (isDict(doc.services)) {
    const services: Dict = {};
    for (const [name, svc] of Object.entries(doc.services)) {
      services[name] = isDict(svc) ? rebaseService(svc, dir, home) : svc;
    }
    out.services = services;
  }
  for (const kind of ['secrets', 'configs'] as const) {
    const group = doc[kind];
    if (!isDict(group)) continue;
    const next: Dict = {};
    for (const [name, def] of Object.entries(group)) {
      next[name] = isDict(def) && typeof def.file === 'string' ? { ...def, file: abs(def.file, dir, home) } : def;
    }
    out[kind] = next;
  }
  return out;
}
