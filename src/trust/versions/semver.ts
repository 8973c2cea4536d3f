/**
 * Semantic Versioning 2.0.0 ordering (§11), as npm, Go modules and Cargo use it: `MAJOR.MINOR.PATCH`, then a
 * version with a pre-release sorts before the release, pre-release identifiers compare numerically when both are
 * numbers, numbers before strings, a shorter list before a longer one with the same prefix; build metadata is
 * ignored. Go's leading `v` and a missing minor or patch (as some advisories write them) are accepted.
 */
import { InvalidArgumentError } from '../../util/errors.ts';

export interface SemVer {
  major: number;
  minor: number;
  patch: number;
  pre: (string | number)[];
}

export function parseSemver(v: string): SemVer {
  const m =
    /^v?(0|[1-9][0-9]*)(?:\.(0|[1-9][0-9]*))?(?:\.(0|[1-9][0-9]*))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/.exec(
      v.trim(),
    );
  if (!m) throw new InvalidArgumentError(`invalid semantic version "${v}"`);
  const pre = m[4] === undefined ? [] : m[4].split('.').map((p) => (/^[0-9]+$/.test(p) ? Number(p) : p));
  if (pre.some((p) => p === ''))
    throw new InvalidArgumentError(`invalid semantic version "${v}": empty pre-release identifier`);
  return { major: Number(m[1]), minor: Number(m[2] ?? 0), patch: Number(m[3] ?? 0), pre };
}

export function compareSemver(a: string, b: string): number {
  const x = parseSemver(a);
  const y = parseSemver(b);
  if (x.major !== y.major) return x.major - y.major;
  if (x.minor !== y.minor) return x.minor - y.minor;
  if (x.patch !== y.patch) return x.patch - y.patch;
  if (x.pre.length === 0 || y.pre.length === 0) return y.pre.length - x.pre.length;
  for (let i = 0; i < Math.max(x.pre.length, y.pre.length); i++) {
    const p = x.pre[i];
    const q = y.pre[i];
    if (p === undefined) return -1;
    if (q === undefined) return 1;
    if (p === q) continue;
    if (typeof p === 'number' && typeof q === 'number') return p - q;
    if (typeof p === 'number') return -1;
    if (typeof q === 'number') return 1;
    return p < q ? -1 : 1;
  }
  return 0;
}
