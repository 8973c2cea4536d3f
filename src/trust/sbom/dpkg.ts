/**
 * Debian packages from dpkg's status database (`/var/lib/dpkg/status`, and the one-file-per-package
 * `/var/lib/dpkg/status.d/` that distroless images use): RFC 822 stanzas, of which those whose `Status` says
 * `install ok installed` are installed. `Source: name (version)` names the source package (and its version
 * when it differs from the binary's).
 */
import { distroEcosystem } from './distro.ts';
import { purl } from './purl.ts';
import type { Distro, Package } from './types.ts';

export function parseStanzas(text: string): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const fields: Record<string, string> = {};
    let last = '';
    for (const line of block.split('\n')) {
      if (/^\s/.test(line)) {
        if (last) fields[last] += `\n${line.trim()}`;
        continue;
      }
      const c = line.indexOf(':');
      if (c <= 0) continue;
      last = line.slice(0, c);
      fields[last] = line.slice(c + 1).trim();
    }
    if (Object.keys(fields).length > 0) out.push(fields);
  }
  return out;
}

export function dpkgPackages(
  text: string,
  location: string,
  distro: Distro | undefined,
  requireStatus = true,
): Package[] {
  const ecosystem = distroEcosystem('deb', distro);
  const ns = distro?.id === 'ubuntu' ? 'ubuntu' : 'debian';
  const distroQ = distro?.versionId ? `${distro.id}-${distro.versionId}` : undefined;
  const out: Package[] = [];
  for (const f of parseStanzas(text)) {
    if (!f.Package || !f.Version) continue;
    if (requireStatus && !/\binstalled$/.test(f.Status ?? '')) continue;
    if (requireStatus && !/^install ok/.test(f.Status ?? '')) continue;
    let sourceName: string | undefined;
    let sourceVersion: string | undefined;
    if (f.Source) {
      const m = /^(\S+)(?:\s+\((\S+)\))?$/.exec(f.Source);
      if (m) {
        sourceName = m[1];
        sourceVersion = m[2];
      }
    }
    const arch = f.Architecture;
    out.push({
      type: 'deb',
      name: f.Package,
      version: f.Version,
      ecosystem,
      purl: purl('deb', ns, f.Package, f.Version, {
        arch,
        distro: distroQ,
        upstream: sourceName && sourceName !== f.Package ? sourceName : undefined,
      }),
      ...(sourceName ? { sourceName } : {}),
      ...(sourceVersion ? { sourceVersion } : {}),
      ...(arch ? { arch } : {}),
      locations: [location],
    });
  }
  return out;
}
