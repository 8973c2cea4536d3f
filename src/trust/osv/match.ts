/**
 * Matching installed packages against OSV advisories, with each ecosystem's own version ordering. A package is
 * affected when an `affected` entry names its ecosystem (and, when both say, the same release: `Debian:12`) and
 * its name (the source package's for distributions, as their advisories name sources), and its version is in the
 * entry's `versions` list or inside one of its ECOSYSTEM/SEMVER ranges (OSV's evaluation: walk the events in
 * version order; `introduced` opens, `fixed` closes at that version, `last_affected` closes after it).
 */
import { comparatorFor, type Compare } from '../versions/index.ts';
import { type Severity, severityRank } from './cvss.ts';
import { ecosystemBase, type VulnDb } from './db.ts';
import { normalizeName } from './names.ts';
import type { Advisory, OsvAffected, OsvRange } from './record.ts';

/** What matching needs of a package. */
export interface MatchablePackage {
  /** OSV ecosystem, with the release when known: `Debian:12`, `Alpine:v3.19`, `npm`. */
  ecosystem: string;
  name: string;
  version: string;
  /** The source package (distributions), and its version when it differs from the binary's. */
  sourceName?: string;
  sourceVersion?: string;
}

export interface Finding {
  id: string;
  aliases: string[];
  summary: string;
  severity: Severity;
  score?: number;
  /** The lowest fixed version above the installed one, when the advisory names one. */
  fixedVersion?: string;
}

/** Whether two ecosystem strings name the same release (`Alpine:v3.19` and `Alpine:3.19` do). */
function sameRelease(a: string, b: string): boolean {
  const ra = a.slice(a.indexOf(':') + 1).replace(/^v/, '');
  const rb = b.slice(b.indexOf(':') + 1).replace(/^v/, '');
  return ra === rb;
}

function ecosystemMatches(pkgEco: string, advEco: string): boolean {
  if (ecosystemBase(pkgEco) !== ecosystemBase(advEco)) return false;
  if (!pkgEco.includes(':') || !advEco.includes(':')) return true;
  return sameRelease(pkgEco, advEco);
}

function safe(cmp: Compare, a: string, b: string): number | undefined {
  try {
    return cmp(a, b);
  } catch {
    return undefined;
  }
}

/** Whether `version` is inside `range`, and the lowest fixed version above it (OSV's evaluation algorithm). */
export function inRange(version: string, range: OsvRange, cmp: Compare): { affected: boolean; fixed?: string } {
  const key = (e: OsvRange['events'][number]) => e.introduced ?? e.fixed ?? e.last_affected ?? e.limit ?? '';
  const events = [...range.events].sort((x, y) => {
    const a = key(x);
    const b = key(y);
    if (a === '0') return b === '0' ? 0 : -1;
    if (b === '0') return 1;
    return safe(cmp, a, b) ?? 0;
  });
  let affected = false;
  for (const e of events) {
    if (e.introduced !== undefined) {
      if (e.introduced === '0' || (safe(cmp, version, e.introduced) ?? -1) >= 0) affected = true;
    } else if (e.fixed !== undefined) {
      if ((safe(cmp, version, e.fixed) ?? -1) >= 0) affected = false;
    } else if (e.last_affected !== undefined) {
      if ((safe(cmp, version, e.last_affected) ?? -1) > 0) affected = false;
    }
  }
  if (!affected) return { affected };
  const fixes = events
    .map((e) => e.fixed)
    .filter((f): f is string => f !== undefined && (safe(cmp, f, version) ?? -1) > 0)
    .sort((a, b) => safe(cmp, a, b) ?? 0);
  return fixes[0] !== undefined ? { affected, fixed: fixes[0] } : { affected };
}

/** Whether one affected entry covers the package at `version`. */
function entryAffects(entry: OsvAffected, version: string): { affected: boolean; fixed?: string } {
  if (entry.versions.includes(version)) return { affected: true };
  const cmp = comparatorFor(entry.package.ecosystem);
  for (const r of entry.ranges) {
    if (r.type === 'GIT') continue;
    // SEMVER ranges are semver whatever the ecosystem; ECOSYSTEM ranges use the ecosystem's ordering.
    const c = r.type === 'SEMVER' ? comparatorFor('npm')! : cmp;
    if (!c) continue;
    const res = inRange(version, r, c);
    if (res.affected) return res;
  }
  return { affected: false };
}

/** The advisories affecting one package, most severe first. */
export function matchPackage(db: Pick<VulnDb, 'lookup'>, pkg: MatchablePackage): Finding[] {
  const eco = ecosystemBase(pkg.ecosystem);
  const names = [pkg.sourceName, pkg.name].filter((n): n is string => !!n);
  const findings = new Map<string, Finding>();
  for (const n of new Set(names)) {
    const version = n === pkg.sourceName && pkg.sourceVersion ? pkg.sourceVersion : pkg.version;
    for (const adv of db.lookup(pkg.ecosystem, n)) {
      if (findings.has(adv.id)) continue;
      const hit = affects(adv, eco, n, pkg.ecosystem, version);
      if (hit) findings.set(adv.id, hit);
    }
  }
  return [...findings.values()].sort(
    (a, b) => severityRank(b.severity) - severityRank(a.severity) || (a.id < b.id ? -1 : 1),
  );
}

function affects(adv: Advisory, eco: string, name: string, pkgEco: string, version: string): Finding | undefined {
  for (const entry of adv.affected) {
    if (!ecosystemMatches(pkgEco, entry.package.ecosystem)) continue;
    if (normalizeName(eco, entry.package.name) !== normalizeName(eco, name)) continue;
    const res = entryAffects(entry, version);
    if (!res.affected) continue;
    return {
      id: adv.id,
      aliases: adv.aliases,
      summary: adv.summary,
      severity: adv.severity,
      ...(adv.score !== undefined ? { score: adv.score } : {}),
      ...(res.fixed !== undefined ? { fixedVersion: res.fixed } : {}),
    };
  }
  return undefined;
}
