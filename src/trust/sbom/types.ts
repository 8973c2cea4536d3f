/** What an SBOM holds: the distribution and the packages found, each with its purl and where it was found. */

export type PackageType = 'deb' | 'apk' | 'rpm' | 'npm' | 'pypi' | 'golang' | 'cargo';

export interface Package {
  type: PackageType;
  name: string;
  version: string;
  /** The OSV ecosystem it is matched in: `Debian:12`, `Alpine:v3.19`, `npm`, `PyPI`, `Go`, `crates.io`. */
  ecosystem: string;
  purl: string;
  /** Distribution packages: the source package and its version when they differ from the binary's. */
  sourceName?: string;
  sourceVersion?: string;
  arch?: string;
  license?: string;
  /** Files it was found in (`/var/lib/dpkg/status`, `/app/package-lock.json`, `/usr/bin/runc`). */
  locations: string[];
}

export interface Distro {
  /** os-release ID: debian, ubuntu, alpine, rhel, rocky, almalinux… */
  id: string;
  versionId: string;
  prettyName?: string;
}

export interface Sbom {
  distro?: Distro;
  packages: Package[];
}
