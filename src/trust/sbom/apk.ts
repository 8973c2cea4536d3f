/**
 * Alpine packages from apk's database (`/lib/apk/db/installed`): blocks separated by blank lines, one field per
 * line as `X:value` — `P` name, `V` version, `A` arch, `o` origin (the source package), `L` license.
 */
import { distroEcosystem } from './distro.ts';
import { purl } from './purl.ts';
import type { Distro, Package } from './types.ts';

export function apkPackages(text: string, location: string, distro: Distro | undefined): Package[] {
  const ecosystem = distroEcosystem('apk', distro);
  const distroQ = distro?.versionId ? `${distro.id}-${distro.versionId}` : undefined;
  const out: Package[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const f: Record<string, string> = {};
    for (const line of block.split('\n')) {
      const m = /^([A-Za-z]):(.*)$/.exec(line);
      if (m && f[m[1]!] === undefined) f[m[1]!] = m[2]!;
    }
    if (!f.P || !f.V) continue;
    out.push({
      type: 'apk',
      name: f.P,
      version: f.V,
      ecosystem,
      purl: purl('apk', distro?.id ?? 'alpine', f.P, f.V, { arch: f.A, distro: distroQ }),
      ...(f.o ? { sourceName: f.o } : {}),
      ...(f.A ? { arch: f.A } : {}),
      ...(f.L ? { license: f.L } : {}),
      locations: [location],
    });
  }
  return out;
}
