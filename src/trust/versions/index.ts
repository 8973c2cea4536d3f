/** Each ecosystem's own version ordering, by OSV ecosystem name. */
import { compareApk } from './apk.ts';
import { compareDpkg } from './dpkg.ts';
import { comparePep440 } from './pep440.ts';
import { compareRpm } from './rpm.ts';
import { compareSemver } from './semver.ts';

export { compareApk, compareDpkg, comparePep440, compareRpm, compareSemver };
export type Compare = (a: string, b: string) => number;

/**
 * The comparison for an OSV ecosystem (`Debian:12` → Debian's), or undefined for one Berth has no ordering for
 * (then only the advisory's explicit version list can match).
 */
export function comparatorFor(ecosystem: string): Compare | undefined {
  const base = ecosystem.split(':')[0]!;
  switch (base) {
    case 'Debian':
    case 'Ubuntu':
      return compareDpkg;
    case 'Alpine':
    case 'Wolfi':
    case 'Chainguard':
      return compareApk;
    case 'npm':
    case 'Go':
    case 'crates.io':
    case 'Packagist':
    case 'Hex':
    case 'Pub':
      return compareSemver;
    case 'PyPI':
      return comparePep440;
    case 'Red Hat':
    case 'Rocky Linux':
    case 'AlmaLinux':
    case 'openSUSE':
    case 'SUSE':
    case 'Mageia':
      return compareRpm;
    default:
      return undefined;
  }
}
