/**
 * Lookaside stores for GPG simple signatures, configured as containers-registries.d(5) says: every `*.yaml` in the
 * directory (default /etc/containers/registries.d) may have `default-docker` and `docker` (namespace → settings)
 * with `lookaside` (read, and write unless `lookaside-staging` is set) and `lookaside-staging` (write), or the
 * older `sigstore` / `sigstore-staging`. The most specific namespace wins: the reference with its tag, the
 * repository, each parent namespace, the host. A signature lives at
 * `<base>/<repository path>@sha256=<hex>/signature-<n>`, n counting from 1; readers stop at the first missing one.
 */
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Reference } from '../oci/reference.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { InvalidArgumentError, isErrno, UnavailableError } from '../util/errors.ts';
import { dockerScopes } from './policy.ts';

interface Namespace {
  lookaside?: string;
  'lookaside-staging'?: string;
  sigstore?: string;
  'sigstore-staging'?: string;
}

export interface RegistriesD {
  defaultDocker?: Namespace;
  docker: Record<string, Namespace>;
}

const NS_KEYS = ['lookaside', 'lookaside-staging', 'sigstore', 'sigstore-staging', 'use-sigstore-attachments'];

function namespace(v: unknown, where: string): Namespace {
  if (v === null || v === undefined) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new InvalidArgumentError(`${where}: not a mapping`);
  const out: Namespace = {};
  for (const [k, val] of Object.entries(v)) {
    if (!NS_KEYS.includes(k)) throw new InvalidArgumentError(`${where}: unknown key "${k}"`);
    if (k === 'use-sigstore-attachments') continue;
    if (typeof val !== 'string') throw new InvalidArgumentError(`${where}.${k}: not a string`);
    (out as Record<string, string>)[k] = val;
  }
  return out;
}

/** Reads every `*.yaml` of `dir` (none, if it does not exist). A namespace configured twice is an error. */
export async function loadRegistriesD(dir: string): Promise<RegistriesD> {
  const out: RegistriesD = { docker: {} };
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.yaml')).sort();
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return out;
    throw err;
  }
  // The YAML parser (72 modules) is loaded only when there is a file to read: berthd reads this at every start.
  const { parse: parseYaml } = names.length > 0 ? await import('yaml') : { parse: () => undefined };
  for (const name of names) {
    const path = `${dir}/${name}`;
    let doc: unknown;
    try {
      doc = parseYaml(await readFile(path, 'utf8'));
    } catch (err) {
      throw new InvalidArgumentError(`${path}: not valid YAML: ${(err as Error).message}`);
    }
    if (doc === null || doc === undefined) continue;
    if (typeof doc !== 'object' || Array.isArray(doc)) throw new InvalidArgumentError(`${path}: not a mapping`);
    const d = doc as Record<string, unknown>;
    if (d['default-docker'] !== undefined) {
      if (out.defaultDocker)
        throw new InvalidArgumentError(`${path}: default-docker is configured in more than one file`);
      out.defaultDocker = namespace(d['default-docker'], `${path}: default-docker`);
    }
    if (d.docker !== undefined && d.docker !== null) {
      if (typeof d.docker !== 'object' || Array.isArray(d.docker))
        throw new InvalidArgumentError(`${path}: docker is not a mapping`);
      for (const [ns, v] of Object.entries(d.docker)) {
        if (out.docker[ns])
          throw new InvalidArgumentError(`${path}: docker namespace "${ns}" is configured in more than one file`);
        out.docker[ns] = namespace(v, `${path}: docker["${ns}"]`);
      }
    }
  }
  return out;
}

function pick(ns: Namespace | undefined, write: boolean): string | undefined {
  if (!ns) return undefined;
  if (write) return ns['lookaside-staging'] ?? ns['sigstore-staging'] ?? ns.lookaside ?? ns.sigstore;
  return ns.lookaside ?? ns.sigstore;
}

/** The lookaside base URL for `ref` (read or write), or undefined when none is configured. */
export function lookasideBase(config: RegistriesD, ref: Reference, write: boolean): string | undefined {
  for (const scope of dockerScopes(ref)) {
    if (scope.startsWith('*.')) continue;
    const url = pick(config.docker[scope], write);
    if (url) return url;
  }
  return pick(config.defaultDocker, write);
}

/** The URL of signature `n` (from 1) of `digest` in repository `ref` under `base`. */
export function signatureUrl(base: string, ref: Reference, digest: string, n: number): string {
  const [algo, hex] = digest.split(':');
  if (!algo || !hex || !/^[a-f0-9]+$/.test(hex)) throw new InvalidArgumentError(`invalid manifest digest "${digest}"`);
  return `${base.replace(/\/+$/, '')}/${ref.path}@${algo}=${hex}/signature-${n}`;
}

/** The signatures stored for `digest`, in order, each with its URL. */
export async function readLookaside(
  base: string,
  ref: Reference,
  digest: string,
  signal?: AbortSignal,
): Promise<{ bytes: Buffer; url: string }[]> {
  const out: { bytes: Buffer; url: string }[] = [];
  for (let n = 1; n <= 1000; n++) {
    const url = signatureUrl(base, ref, digest, n);
    const u = new URL(url);
    if (u.protocol === 'file:') {
      try {
        out.push({ bytes: await readFile(fileURLToPath(u)), url });
      } catch (err) {
        if (isErrno(err, 'ENOENT')) break;
        throw err;
      }
    } else if (u.protocol === 'http:' || u.protocol === 'https:') {
      const res = await fetch(url, signal ? { signal } : {});
      if (res.status === 404) break;
      if (!res.ok) throw new UnavailableError(`reading ${url}: the server answered ${res.status}`);
      out.push({ bytes: Buffer.from(await res.arrayBuffer()), url });
    } else {
      throw new InvalidArgumentError(`lookaside ${base}: unsupported URL scheme "${u.protocol}"`);
    }
  }
  return out;
}

/** Adds a signature to a file:// lookaside store, after the ones there (unless the same bytes are there). */
export async function writeLookaside(base: string, ref: Reference, digest: string, signature: Buffer): Promise<string> {
  const u = new URL(base);
  if (u.protocol !== 'file:')
    throw new InvalidArgumentError(`writing signatures to ${base}: only file:// lookaside stores can be written`);
  const existing = await readLookaside(base, ref, digest);
  const same = existing.find((e) => e.bytes.equals(signature));
  if (same) return same.url;
  const url = signatureUrl(base, ref, digest, existing.length + 1);
  const path = fileURLToPath(url);
  await mkdir(dirname(path), { recursive: true });
  await writeFileAtomic(path, signature, { tmp: `${path}.tmp-${process.pid}` });
  return url;
}
