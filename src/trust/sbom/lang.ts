/**
 * Language packages from their manifests: npm's package-lock.json (v1 nested `dependencies`, v2/v3 `packages`),
 * Python's installed `*.dist-info/METADATA` (and `*.egg-info/PKG-INFO`) and pinned `requirements.txt` lines,
 * Go's go.sum, Cargo.lock.
 */
import { golangPurl, npmPurl, purl } from './purl.ts';
import type { Package } from './types.ts';

export function npmLockPackages(text: string, location: string): Package[] {
  let doc: { lockfileVersion?: number; packages?: Record<string, unknown>; dependencies?: Record<string, unknown> };
  try {
    doc = JSON.parse(text);
  } catch {
    return [];
  }
  const seen = new Map<string, Package>();
  const add = (name: string, version: unknown) => {
    if (!name || typeof version !== 'string' || !/^\d/.test(version)) return;
    const key = `${name}@${version}`;
    if (!seen.has(key))
      seen.set(key, {
        type: 'npm',
        name,
        version,
        ecosystem: 'npm',
        purl: npmPurl(name, version),
        locations: [location],
      });
  };
  if (doc.packages && typeof doc.packages === 'object') {
    for (const [path, p] of Object.entries(doc.packages)) {
      if (path === '' || !p || typeof p !== 'object') continue;
      const e = p as { version?: unknown; name?: unknown; link?: unknown };
      if (e.link === true) continue;
      const i = path.lastIndexOf('node_modules/');
      const name = typeof e.name === 'string' ? e.name : i >= 0 ? path.slice(i + 'node_modules/'.length) : '';
      add(name, e.version);
    }
  } else if (doc.dependencies) {
    const walk = (deps: Record<string, unknown>) => {
      for (const [name, d] of Object.entries(deps)) {
        if (!d || typeof d !== 'object') continue;
        const e = d as { version?: unknown; dependencies?: Record<string, unknown> };
        add(name, e.version);
        if (e.dependencies) walk(e.dependencies);
      }
    };
    walk(doc.dependencies);
  }
  return [...seen.values()];
}

function pypi(name: string, version: string, location: string): Package {
  const norm = name.toLowerCase().replace(/[-_.]+/g, '-');
  return {
    type: 'pypi',
    name,
    version,
    ecosystem: 'PyPI',
    purl: purl('pypi', undefined, norm, version),
    locations: [location],
  };
}

/** Core metadata (`Name:`, `Version:`, `License:`) of an installed distribution. */
export function pythonMetadataPackage(text: string, location: string): Package | undefined {
  const head = text.split(/\r?\n\r?\n/)[0] ?? '';
  const field = (k: string) => new RegExp(`^${k}:\\s*(.+)$`, 'mi').exec(head)?.[1]?.trim();
  const name = field('Name');
  const version = field('Version');
  if (!name || !version) return undefined;
  const p = pypi(name, version, location);
  const license = field('License');
  return license && license !== 'UNKNOWN' ? { ...p, license } : p;
}

/** Lines pinned with `==` (`name==1.2`, `name[extra]==1.2 ; marker`); the rest cannot name one version. */
export function requirementsPackages(text: string, location: string): Package[] {
  const out: Package[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\s+#.*$/, '').trim();
    const m = /^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*===?\s*([^\s;,]+)/.exec(line);
    if (m) out.push(pypi(m[1]!, m[2]!, location));
  }
  return out;
}

/** Modules whose content go.sum pins (the `/go.mod`-only lines are for the module graph, not built code). */
export function goSumPackages(text: string, location: string): Package[] {
  const seen = new Map<string, Package>();
  for (const line of text.split('\n')) {
    const [mod, ver] = line.trim().split(/\s+/);
    if (!mod || !ver || ver.endsWith('/go.mod')) continue;
    const key = `${mod}@${ver}`;
    if (!seen.has(key))
      seen.set(key, {
        type: 'golang',
        name: mod,
        version: ver,
        ecosystem: 'Go',
        purl: golangPurl(mod, ver),
        locations: [location],
      });
  }
  return [...seen.values()];
}

/** Cargo.lock's `[[package]]` tables (name, version); path dependencies (no `source`) are the project's own. */
export function cargoLockPackages(text: string, location: string): Package[] {
  const out: Package[] = [];
  for (const block of text.split(/^\[\[package\]\]\s*$/m).slice(1)) {
    const get = (k: string) => new RegExp(`^${k}\\s*=\\s*"([^"]*)"`, 'm').exec(block)?.[1];
    const name = get('name');
    const version = get('version');
    if (!name || !version || get('source') === undefined) continue;
    out.push({
      type: 'cargo',
      name,
      version,
      ecosystem: 'crates.io',
      purl: purl('cargo', undefined, name, version),
      locations: [location],
    });
  }
  return out;
}
