/** The distribution, from os-release, and the OSV ecosystem its packages are matched in. */
import type { Distro } from './types.ts';

export function parseOsRelease(text: string): Distro | undefined {
  const vars: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) vars[m[1]!] = m[2]!.replace(/^(["'])(.*)\1$/, '$2');
  }
  if (!vars.ID) return undefined;
  return {
    id: vars.ID,
    versionId: vars.VERSION_ID ?? '',
    ...(vars.PRETTY_NAME ? { prettyName: vars.PRETTY_NAME } : {}),
  };
}

/** `Debian:12`, `Ubuntu:22.04`, `Alpine:v3.19`, `Red Hat`, `Rocky Linux:9`…; the bare name when the release is unknown. */
export function distroEcosystem(kind: 'deb' | 'apk' | 'rpm', d: Distro | undefined): string {
  const v = d?.versionId ?? '';
  switch (kind) {
    case 'deb':
      if (d?.id === 'ubuntu') return v ? `Ubuntu:${v}` : 'Ubuntu';
      return v ? `Debian:${v.split('.')[0]}` : 'Debian';
    case 'apk': {
      const mm = /^(\d+)\.(\d+)/.exec(v);
      return mm ? `Alpine:v${mm[1]}.${mm[2]}` : 'Alpine';
    }
    case 'rpm': {
      const major = v.split('.')[0];
      const name = d?.id === 'rocky' ? 'Rocky Linux' : d?.id === 'almalinux' ? 'AlmaLinux' : 'Red Hat';
      return major && name !== 'Red Hat' ? `${name}:${major}` : name;
    }
  }
}
