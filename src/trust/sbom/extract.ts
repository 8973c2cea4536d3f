/**
 * An image's packages, from its root filesystem (a directory: the image's layers mounted read-only by the
 * caller, or a plain tree in tests): the distribution's database (dpkg, apk or rpm) at its fixed place, and
 * language manifests and Go binaries found by walking the tree. The walk does not follow symbolic links, does not
 * enter node_modules (a project's lockfile describes it) or trees that hold no packages (/proc, /sys, /dev,
 * /usr/share, /usr/include, caches and logs), and reads of a binary only its ELF headers.
 */
import type { Dirent } from 'node:fs';
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { resolveInRoot } from '../../util/rootpath.ts';
import { apkPackages } from './apk.ts';
import { parseOsRelease } from './distro.ts';
import { dpkgPackages } from './dpkg.ts';
import { goBinaryPackages } from './gobinary.ts';
import {
  cargoLockPackages,
  goSumPackages,
  npmLockPackages,
  pythonMetadataPackage,
  requirementsPackages,
} from './lang.ts';
import { rpmPackages } from './rpm.ts';
import type { Distro, Package, Sbom } from './types.ts';

const SKIP_DIRS = new Set([
  '/proc',
  '/sys',
  '/dev',
  '/usr/share',
  '/usr/include',
  '/var/cache',
  '/var/log',
  '/var/lib/dpkg',
  '/var/lib/apt',
  '/run',
  '/tmp',
  '/var/tmp',
  '/boot',
]);
/** Extensions of files that are never Go executables: not worth a stat. */
const NOT_BINARY =
  /\.(?:so(?:\.\d+)*|a|o|py|pyc|pl|pm|sh|txt|md|json|ya?ml|xml|html?|css|js|mjs|cjs|ts|h|c|gz|xz|bz2|zst|zip|tar|conf|cfg|ini|png|svg|mo|pem|crt|desc|list|md5sums)$/;
const MAX_MANIFEST = 64 << 20;

async function readIfFile(root: string, path: string): Promise<string | undefined> {
  try {
    const host = await resolveInRoot(root, path);
    const st = await lstat(host);
    if (!st.isFile() || st.size > MAX_MANIFEST) return undefined;
    return await readFile(host, 'utf8');
  } catch {
    return undefined;
  }
}

async function distroOf(root: string): Promise<Distro | undefined> {
  const text = (await readIfFile(root, '/etc/os-release')) ?? (await readIfFile(root, '/usr/lib/os-release'));
  const d = text ? parseOsRelease(text) : undefined;
  if (d) return d;
  // Alpine-like trees without os-release still carry their version here.
  const alpine = await readIfFile(root, '/etc/alpine-release');
  return alpine ? { id: 'alpine', versionId: alpine.trim() } : undefined;
}

async function distroPackages(root: string, distro: Distro | undefined): Promise<Package[]> {
  const out: Package[] = [];
  const status = await readIfFile(root, '/var/lib/dpkg/status');
  if (status) out.push(...dpkgPackages(status, '/var/lib/dpkg/status', distro));
  try {
    const statusD = await resolveInRoot(root, '/var/lib/dpkg/status.d');
    for (const name of await readdir(statusD)) {
      const text = await readIfFile(root, `/var/lib/dpkg/status.d/${name}`);
      if (text && !name.endsWith('.md5sums'))
        out.push(...dpkgPackages(text, `/var/lib/dpkg/status.d/${name}`, distro, false));
    }
  } catch {}
  const apk = await readIfFile(root, '/lib/apk/db/installed');
  if (apk) out.push(...apkPackages(apk, '/lib/apk/db/installed', distro));
  for (const p of ['/var/lib/rpm/rpmdb.sqlite', '/usr/lib/sysimage/rpm/rpmdb.sqlite']) {
    try {
      const host = await resolveInRoot(root, p);
      if ((await lstat(host)).isFile()) {
        out.push(...rpmPackages(host, p, distro));
        break;
      }
    } catch {}
  }
  return out;
}

async function langFile(root: string, path: string, name: string, parent: string): Promise<Package[]> {
  switch (name) {
    case 'package-lock.json': {
      const t = await readIfFile(root, path);
      return t ? npmLockPackages(t, path) : [];
    }
    case 'requirements.txt': {
      const t = await readIfFile(root, path);
      return t ? requirementsPackages(t, path) : [];
    }
    case 'go.sum': {
      const t = await readIfFile(root, path);
      return t ? goSumPackages(t, path) : [];
    }
    case 'Cargo.lock': {
      const t = await readIfFile(root, path);
      return t ? cargoLockPackages(t, path) : [];
    }
    case 'METADATA':
    case 'PKG-INFO': {
      if (!(name === 'METADATA' ? parent.endsWith('.dist-info') : parent.endsWith('.egg-info'))) return [];
      const t = await readIfFile(root, path);
      const p = t ? pythonMetadataPackage(t, path) : undefined;
      return p ? [p] : [];
    }
    default:
      return [];
  }
}

const MANIFESTS = new Set(['package-lock.json', 'requirements.txt', 'go.sum', 'Cargo.lock', 'METADATA', 'PKG-INFO']);
/** The files at fixed places that `extractSbom` reads (the distribution, its package database). */
const FIXED_INPUTS = new Set([
  '/etc/os-release',
  '/usr/lib/os-release',
  '/etc/alpine-release',
  '/var/lib/dpkg/status',
  '/lib/apk/db/installed',
  '/var/lib/rpm/rpmdb.sqlite',
  '/usr/lib/sysimage/rpm/rpmdb.sqlite',
]);

/**
 * Whether `extractSbom` may read the file at `path` (absolute, in the image): `file` for package databases, the
 * distribution's release files and language manifests, `binary` for a file that may be a Go executable (when it
 * is executable and larger than 4 KiB), undefined for a file it never reads. What a tree built from layer tars
 * keeps (`sbomFromLayers`).
 */
export function sbomInput(path: string): 'file' | 'binary' | undefined {
  if (FIXED_INPUTS.has(path) || path.startsWith('/var/lib/dpkg/status.d/')) return 'file';
  const name = path.slice(path.lastIndexOf('/') + 1);
  if (MANIFESTS.has(name)) return path.includes('/node_modules/') ? undefined : 'file';
  return NOT_BINARY.test(name) ? undefined : 'binary';
}

async function walk(root: string, dir: string, out: Package[]): Promise<void> {
  let entries: Dirent[];
  try {
    entries = await readdir(join(root, dir), { withFileTypes: true });
  } catch {
    return;
  }
  const subdirs: string[] = [];
  for (const e of entries) {
    const path = dir === '/' ? `/${e.name}` : `${dir}/${e.name}`;
    if (e.isDirectory()) {
      if (e.name !== 'node_modules' && !SKIP_DIRS.has(path)) subdirs.push(path);
    } else if (e.isFile()) {
      if (MANIFESTS.has(e.name)) out.push(...(await langFile(root, path, e.name, dir)));
      else if (!NOT_BINARY.test(e.name)) {
        try {
          const st = await lstat(join(root, path));
          if ((st.mode & 0o111) !== 0 && st.size > 4096)
            out.push(...(await goBinaryPackages(join(root, path), path, st.size)));
        } catch {}
      }
    }
  }
  for (let i = 0; i < subdirs.length; i += 8) {
    await Promise.all(subdirs.slice(i, i + 8).map((d) => walk(root, d, out)));
  }
}

/** The SBOM of the tree at `root`; packages sorted by type, name and version, duplicates merged. */
export async function extractSbom(root: string): Promise<Sbom> {
  const distro = await distroOf(root);
  const found = await distroPackages(root, distro);
  await walk(root, '/', found);
  const merged = new Map<string, Package>();
  for (const p of found) {
    const prev = merged.get(p.purl);
    if (prev) {
      for (const l of p.locations) if (!prev.locations.includes(l)) prev.locations.push(l);
    } else merged.set(p.purl, { ...p, locations: [...p.locations] });
  }
  const packages = [...merged.values()].sort((a, b) =>
    a.type < b.type
      ? -1
      : a.type > b.type
        ? 1
        : a.name < b.name
          ? -1
          : a.name > b.name
            ? 1
            : a.version < b.version
              ? -1
              : a.version > b.version
                ? 1
                : 0,
  );
  return distro ? { distro, packages } : { packages };
}
